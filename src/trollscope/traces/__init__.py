"""Traces: every co-action signal as rows (platform, account_id, key, us, post_id).

A trace says "this account did this keyed thing at this time" (`us`: microseconds since
the epoch, UTC). Two accounts that share a key within a window are co-actors (see
`engine/`). One registry, `TRACES` (registry.py), feeds the CLI choices, dispatch, docs
and tests.

Each trace is written once, as an Ibis expression over the engine's input tables
(`inputs.py`), so the same definition compiles to DuckDB SQL (the default engine) and to
Spark SQL. A trace may also `prepare` small lookup tables in Python from the case first
(hashtag folding needs NFKC, which neither engine has built in; near-duplicate text needs
MinHash signatures): the engine hands those tables to whichever backend runs the join.
"""

from trollscope.traces.base import Trace
from trollscope.traces.registry import TRACES

__all__ = ["TRACES", "Trace"]
