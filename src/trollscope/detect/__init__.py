"""Detection: which accounts co-act beyond chance, in which networks, with what evidence.

`pairtest` tests account pairs under the popularity null, `networks` fuses the traces and
finds Leiden communities, `describe` characterises each network, `evidence` scores and
words each account's evidence, `fdr` controls the false discovery rate over every test,
and `run.detect` does it all into the case with the `params.DetectParams` it is given.
"""
