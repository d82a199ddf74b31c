"""Ingest: files in, canonical rows out, into the case.

`run.py` is the command (sniff each file's format, stage its records, merge them into the
case in one transaction, count read = stored + duplicate + rejected); `readers/` holds one
module per input format, `writers/` the same formats written out (for the simulator and
the round-trip tests), `staging.py` and `batches.py` the staging tables and Arrow batches
they share.
"""
