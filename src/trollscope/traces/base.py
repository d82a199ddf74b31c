"""What a trace is: a key and a time per account action, written once as an Ibis expression.

A trace says "this account did this keyed thing at this time" (`us`: microseconds since
the epoch, UTC). Two accounts that share a key within a window are co-actors (see
`engine/`). Each trace is written once, as an Ibis expression over the engine's input
tables (`inputs.py`), so the same definition compiles to DuckDB SQL (the default engine)
and to Spark SQL. A trace may also `prepare` tables that `rows` reads by name, on the
engine, first: lookup tables made in Python from the case (hashtag folding needs NFKC,
which neither engine has built in), or rows made by Python that the engine runs where
the posts are (near-duplicate text's MinHash, `Backend.map_batches`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import ibis.expr.types as ir

from trollscope.inputs import Backend, Inputs

Prepare = Callable[[duckdb.DuckDBPyConnection, Backend], None]
"""Puts the tables a trace's `rows` read by name on the engine (the case's connection
for what is made from the case in Python)."""


@dataclass(frozen=True, slots=True)
class Trace:
    """One co-action signal.

    `rows` builds, from the engine's input tables, an expression with the columns
    platform, account_id, key, us (int64 microseconds, UTC) and post_id.
    `window` is the default co-action window in seconds (0: same key, any time).
    `meaning` says what sharing the key means and what it does not prove.
    `prepare` puts on the engine the tables `rows` reads by name (see `Prepare`).
    `said` words a pair's evidence for a reader: `{n}` keys shared with `{partner}`;
    `acted` what the accounts did together, for evidence without one partner ("posted
    the same texts").
    `keys_checked`: `rows` never yields a null or empty key, so the engine need not filter
    them out (see `coaction.trace_rows`).
    """

    name: str
    window: float
    rows: Callable[[Inputs], ir.Table]
    meaning: str
    prepare: Prepare | None = field(default=None)
    said: str = "shared {n} keys with {partner}"
    acted: str = "acted on the same keys"
    keys_checked: bool = False
