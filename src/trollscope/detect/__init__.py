"""Detection: which accounts co-act beyond chance, in which networks, with what evidence.

`pairtest` tests account pairs under the popularity null, `networks` fuses the traces and
finds Leiden communities, `describe` characterises each network, `evidence` scores and
words each account's evidence, and `run.detect` does it all into the case.
"""

from trollscope.detect.run import DEFAULT_TRACES, DetectParams, DetectResult, detect

__all__ = ["DEFAULT_TRACES", "DetectParams", "DetectResult", "detect"]
