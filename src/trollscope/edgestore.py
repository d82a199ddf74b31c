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

WHOLE = "edges_whole"
SINGLE = "edges_single"
TRACES = "edge_traces"
ROWS = "edge_rows"
ACCOUNTS = "edge_accounts"
KEYS = "edge_keys"
# Tables keyed by the trace's number (`tid`), not its name.
NUMBERED = (SINGLE, ROWS, ACCOUNTS, KEYS)

# The columns of the view and of `edges_whole`, in this order.
EDGE_COLUMNS = (
    "trace",
    "window_s",
    "platform",
    "account_a",
    "account_b",
    "coactions",
    "keys",
    "score",
    "median_delay",
    "evidence",
    "evidence_total",
)

# The largest row number `edges_single` holds: its numbers are 32-bit.
MAX_ROWS = 2**31 - 1

# The one-row edges are hundreds of millions of rows at scale, so every byte a row costs
# counts: the trace is a one-byte number (its name and window are in `edge_traces`; the
# trace registry holds a few dozen at most) and
# the row numbers are 32-bit. A row with the trace's name and window and 64-bit numbers
# took 10.6 s to write for 83M rows, one with a trace number and 32-bit numbers 4.2 s.
_DDL = {
    WHOLE: """trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL, platform VARCHAR NOT NULL,
        account_a VARCHAR NOT NULL, account_b VARCHAR NOT NULL, coactions BIGINT NOT NULL,
        keys BIGINT NOT NULL, score DOUBLE NOT NULL, median_delay DOUBLE NOT NULL,
        evidence STRUCT(key VARCHAR, post_a VARCHAR, post_b VARCHAR)[],
        evidence_total BIGINT NOT NULL""",
    TRACES: "tid UTINYINT PRIMARY KEY, trace VARCHAR NOT NULL UNIQUE, window_s DOUBLE NOT NULL",
    SINGLE: "tid UTINYINT NOT NULL, ra INTEGER NOT NULL, rb INTEGER NOT NULL",
    ROWS: """tid UTINYINT NOT NULL, rid INTEGER NOT NULL, aid INTEGER NOT NULL,
        kid INTEGER NOT NULL, us BIGINT NOT NULL, post_id VARCHAR NOT NULL""",
    ACCOUNTS: """tid UTINYINT NOT NULL, aid INTEGER NOT NULL, platform VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL""",
    KEYS: "tid UTINYINT NOT NULL, kid INTEGER NOT NULL, key VARCHAR NOT NULL, idf DOUBLE NOT NULL",
}

_VIEW = f"""CREATE OR REPLACE VIEW edges AS
SELECT {", ".join(EDGE_COLUMNS)} FROM {WHOLE}
UNION ALL
SELECT t.trace, t.window_s, x.platform, x.account_id, y.account_id,
       1::BIGINT, 1::BIGINT, k.idf, abs(ra.us - rb.us) / 1e6,
       [{{'key': k.key, 'post_a': ra.post_id, 'post_b': rb.post_id}}], 1::BIGINT
FROM {SINGLE} s
JOIN {TRACES} t ON t.tid = s.tid
JOIN {ROWS} ra ON ra.tid = s.tid AND ra.rid = s.ra
JOIN {ROWS} rb ON rb.tid = s.tid AND rb.rid = s.rb
JOIN {KEYS} k ON k.tid = s.tid AND k.kid = ra.kid
JOIN {ACCOUNTS} x ON x.tid = s.tid AND x.aid = ra.aid
JOIN {ACCOUNTS} y ON y.tid = s.tid AND y.aid = rb.aid"""


def _kind(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ?",
        [name],
    ).fetchone()
    return str(row[0]) if row else None


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Create the edge tables if missing and (re)define the view, so that a case written by
    an older version reads through this version's view; an older case's table `edges`
    (whole edges) becomes `edges_whole`. Call inside the transaction that writes the
    edges."""
    if _kind(con, "edges") == "BASE TABLE":
        con.execute(f"ALTER TABLE edges RENAME TO {WHOLE}")
    for name, columns in _DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    con.execute(_VIEW)


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
