"""How the case keeps co-action edges: the view `edges` over five tables.

Readers (pair tests, the report, exports, a user's own SQL) read the view `edges`: one row
per account pair and trace, with account ids, counts, score, median delay and evidence as
texts. Behind it, an edge is stored in one of two forms:

- `edges_whole`: an edge whose pair co-acted on several rows (post pairs), stored with
  every column of the view. The aggregates (distinct counts, median, evidence sample)
  need those rows, and such pairs are few (at 10M simulated posts, 1.5% of the pairs).
- `edges_single`: an edge of one co-action (the other 98.5%), stored as the numbers of its
  two rows in `edge_rows`. Its account ids, key, post ids, score (the key's IDF) and delay
  all follow from those two rows, so the view derives them there.

The dictionaries the numbers refer to, per trace, are the engine's own (`coaction.py`):
`edge_rows` (rid -> account number, key number, time, post id), `edge_accounts`
(aid -> platform, account id) and `edge_keys` (kid -> key, IDF).

Why: writing 183M edges at 10M posts as texts (account ids, a list of post-id structs)
was two thirds of every action trace's time there; two integers a row are written several
times faster, and the dictionaries hold millions of rows, not hundreds of millions. The
view turns them back into the texts with plain joins (no aggregation), so what a reader
sees is exactly what the whole form would hold.

A case written before this layout has `edges` as a table of whole edges: it becomes
`edges_whole`, and the view is put over it.
"""

from __future__ import annotations

import duckdb

from trollscope.case.schema import (
    EDGE_ACCOUNTS,
    EDGE_KEYS,
    EDGE_ROWS,
    EDGE_TRACES,
    EDGES_SINGLE,
    EDGES_WHOLE,
    migrate_edges,
)

WHOLE = EDGES_WHOLE
SINGLE = EDGES_SINGLE
TRACES = EDGE_TRACES
ROWS = EDGE_ROWS
ACCOUNTS = EDGE_ACCOUNTS
KEYS = EDGE_KEYS
# Tables keyed by the trace's number (`tid`), not its name.
NUMBERED = (SINGLE, ROWS, ACCOUNTS, KEYS)

# The largest row number `edges_single` holds: its numbers are 32-bit.
MAX_ROWS = 2**31 - 1


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Create the edge tables if missing and (re)define the view (`case.schema`). Call
    inside the transaction that writes the edges."""
    migrate_edges(con)


def replace(con: duckdb.DuckDBPyConnection, trace: str, window: float) -> int:
    """Remove a trace's edges and dictionaries (before its new ones are inserted) and
    return its number, the one it had or the next free one, now with `window`."""
    con.execute(f"DELETE FROM {WHOLE} WHERE trace = ?", [trace])
    row = con.execute(f"SELECT tid FROM {TRACES} WHERE trace = ?", [trace]).fetchone()
    if row is None:
        row = con.execute(f"SELECT coalesce(max(tid) + 1, 0) FROM {TRACES}").fetchone()
        tid = int(row[0]) if row else 0
        con.execute(f"INSERT INTO {TRACES} VALUES (?, ?, ?)", [tid, trace, window])
        return tid
    tid = int(row[0])
    con.execute(f"UPDATE {TRACES} SET window_s = ? WHERE tid = ?", [window, tid])
    for name in NUMBERED:
        con.execute(f"DELETE FROM {name} WHERE tid = ?", [tid])
    return tid
