"""Every table the tool writes into a case, in one place.

The case is one DuckDB file (or a folder where the ingest tables but `meta` are Parquet
datasets and the rest a DuckDB file: `parquet.py`). Its tables come in three groups,
each created by the stage that fills it (and replaced whole by that stage's next run):

- ingest: `meta`, `sources`, `posts`, `accounts`, `rejects` (created with the case);
- edges: the view `edges` over `edges_whole`, `edges_single` and their dictionaries
  (`edge_traces`, `edge_rows`, `edge_accounts`, `edge_keys`; `engine/edgestore.py` says
  why two forms), and `skipped_keys`;
- signals and detection: `account_signals`, the signals' own tables (`SIGNAL_TABLES`, whose
  columns are the Arrow schemas of the signal that writes them), `pair_tests`,
  `account_tests`, `burst_tests`, `cohort_tests`, `join_tests`, `networks`, `network_edges`,
  `account_scores`, `account_evidence`, `detect_runs`.

`SCHEMA_VERSION` is the version of the whole file; `Case.open` refuses another one with a
clear error. Version 1 covers every table below. A change a case of version 1 can absorb
in place is a migration here (`migrate_edges`), run by the stage that owns the tables;
anything else raises the version.

`TABLES` lists every table with the stage that writes it: the docs and a test (every
table a demo case holds is listed) read it.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from trollscope.model import ACCOUNTS_SCHEMA, POSTS_SCHEMA

SCHEMA_VERSION = 1

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.timestamp("us"): "TIMESTAMP",
    pa.list_(pa.string()): "VARCHAR[]",
}


def duck_columns(schema: pa.Schema) -> list[str]:
    """DuckDB column definitions for an Arrow schema of the canonical model."""
    cols = []
    for f in schema:
        null = "" if f.nullable else " NOT NULL"
        cols.append(f'"{f.name}" {_DUCK_TYPES[f.type]}{null}')
    return cols


# -- ingest -------------------------------------------------------------------------------


META_DDL = "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"

# The tables ingest fills from the data; in a Parquet case (case/parquet.py) these are
# Parquet datasets, and everything else (meta and every derived table) is DuckDB.
CANONICAL = ("sources", "posts", "accounts", "rejects")


def canonical_ddl() -> dict[str, str]:
    """CREATE TABLE of each canonical table, by name."""
    posts = ", ".join([*duck_columns(POSTS_SCHEMA), "source_id INTEGER NOT NULL"])
    accounts = ", ".join([*duck_columns(ACCOUNTS_SCHEMA), "source_id INTEGER NOT NULL"])
    return {
        # Provenance: one row per file ingested (and per re-ingest, with its counts).
        "sources": """CREATE TABLE sources (
            source_id INTEGER PRIMARY KEY, path VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
            size_bytes BIGINT NOT NULL, format VARCHAR NOT NULL, reader_version VARCHAR NOT NULL,
            options VARCHAR NOT NULL, tool_version VARCHAR NOT NULL,
            ingested_at TIMESTAMP NOT NULL, read BIGINT NOT NULL, stored BIGINT NOT NULL,
            duplicate BIGINT NOT NULL, rejected BIGINT NOT NULL, accounts_new BIGINT NOT NULL)""",
        "posts": f"CREATE TABLE posts ({posts})",
        "accounts": f"CREATE TABLE accounts ({accounts})",
        "rejects": """CREATE TABLE rejects (
            source_id INTEGER NOT NULL, file VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
            line BIGINT, field VARCHAR, reason VARCHAR NOT NULL, raw VARCHAR)""",
    }


def ingest_ddl() -> list[str]:
    """The tables a new case starts with."""
    return [META_DDL, *canonical_ddl().values()]


# -- edges (engine/edgestore.py) ----------------------------------------------------------

EDGES_WHOLE = "edges_whole"
EDGES_SINGLE = "edges_single"
EDGE_TRACES = "edge_traces"
EDGE_ROWS = "edge_rows"
EDGE_ACCOUNTS = "edge_accounts"
EDGE_KEYS = "edge_keys"

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

# The one-row edges are hundreds of millions of rows at scale, so every byte a row costs
# counts: the trace is a one-byte number (its name and window are in `edge_traces`; the
# trace registry holds a few dozen at most) and
# the row numbers are 32-bit. A row with the trace's name and window and 64-bit numbers
# took 10.6 s to write for 83M rows, one with a trace number and 32-bit numbers 4.2 s.
EDGE_TABLES = {
    EDGES_WHOLE: """trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL, platform VARCHAR NOT NULL,
        account_a VARCHAR NOT NULL, account_b VARCHAR NOT NULL, coactions BIGINT NOT NULL,
        keys BIGINT NOT NULL, score DOUBLE NOT NULL, median_delay DOUBLE NOT NULL,
        evidence STRUCT(key VARCHAR, post_a VARCHAR, post_b VARCHAR)[],
        evidence_total BIGINT NOT NULL""",
    EDGE_TRACES: """tid UTINYINT PRIMARY KEY, trace VARCHAR NOT NULL UNIQUE,
        window_s DOUBLE NOT NULL""",
    EDGES_SINGLE: "tid UTINYINT NOT NULL, ra INTEGER NOT NULL, rb INTEGER NOT NULL",
    EDGE_ROWS: """tid UTINYINT NOT NULL, rid INTEGER NOT NULL, aid INTEGER NOT NULL,
        kid INTEGER NOT NULL, us BIGINT NOT NULL, post_id VARCHAR NOT NULL""",
    EDGE_ACCOUNTS: """tid UTINYINT NOT NULL, aid INTEGER NOT NULL, platform VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL""",
    EDGE_KEYS: """tid UTINYINT NOT NULL, kid INTEGER NOT NULL, key VARCHAR NOT NULL,
        idf DOUBLE NOT NULL""",
}

EDGES_VIEW = f"""CREATE OR REPLACE VIEW edges AS
SELECT {", ".join(EDGE_COLUMNS)} FROM {EDGES_WHOLE}
UNION ALL
SELECT t.trace, t.window_s, x.platform, x.account_id, y.account_id,
       1::BIGINT, 1::BIGINT, k.idf, abs(ra.us - rb.us) / 1e6,
       [{{'key': k.key, 'post_a': ra.post_id, 'post_b': rb.post_id}}], 1::BIGINT
FROM {EDGES_SINGLE} s
JOIN {EDGE_TRACES} t ON t.tid = s.tid
JOIN {EDGE_ROWS} ra ON ra.tid = s.tid AND ra.rid = s.ra
JOIN {EDGE_ROWS} rb ON rb.tid = s.tid AND rb.rid = s.rb
JOIN {EDGE_KEYS} k ON k.tid = s.tid AND k.kid = ra.kid
JOIN {EDGE_ACCOUNTS} x ON x.tid = s.tid AND x.aid = ra.aid
JOIN {EDGE_ACCOUNTS} y ON y.tid = s.tid AND y.aid = rb.aid"""

SKIPPED_KEYS_DDL = """CREATE TABLE IF NOT EXISTS skipped_keys (
    trace VARCHAR NOT NULL, platform VARCHAR NOT NULL, key VARCHAR NOT NULL,
    burst BIGINT NOT NULL)"""


def _kind(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ?",
        [name],
    ).fetchone()
    return str(row[0]) if row else None


def migrate_edges(con: duckdb.DuckDBPyConnection) -> None:
    """Create the edge tables if missing and (re)define the view, so that a case written by
    an older version reads through this version's view. Migration: a case written before
    the two-form layout has `edges` as a table of whole edges; it becomes `edges_whole`."""
    if _kind(con, "edges") == "BASE TABLE":
        con.execute(f"ALTER TABLE edges RENAME TO {EDGES_WHOLE}")
    for name, columns in EDGE_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    con.execute(EDGES_VIEW)


# -- signals ------------------------------------------------------------------------------

ACCOUNT_SIGNALS_DDL = """CREATE TABLE IF NOT EXISTS account_signals (
    signal VARCHAR NOT NULL, platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL,
    value DOUBLE, flagged BOOLEAN NOT NULL, p_value DOUBLE, evidence VARCHAR)"""

# Tables a signal writes beside `account_signals`, replaced on each run; their columns are
# the Arrow tables the signal returns (see the signal's module).
SIGNAL_TABLES = {
    "avatar_hashes": "`trollscope avatars`: one row per picture hashed (signals/avatar.py)",
    "avatar_reuse": "avatar: accounts wearing a picture worn by others",
    "creation_bursts": "creation-burst: the bursts found, with their windows",
    "creation_histogram": "creation-burst: creations per bin, for the report",
    "rhythm_profiles": "rhythm: posts per hour of the week, per account",
    "rhythm_scores": "rhythm: office-hours fit per account",
    "profile_features": "profile: handle shape, location key, bio cluster per account",
    "profile_templates": "profile: template counts against the background",
    "content_mix": "content-mix: per-account shares and tails",
    "content_rates": "content-mix: the background rates",
}

# -- detection ----------------------------------------------------------------------------

PAIR_TESTS_DDL = """CREATE TABLE pair_tests (
    trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL, platform VARCHAR NOT NULL,
    account_a VARCHAR NOT NULL, account_b VARCHAR NOT NULL, keys BIGINT NOT NULL,
    coactions BIGINT NOT NULL, shared BIGINT NOT NULL, expected DOUBLE NOT NULL,
    sync_periods BIGINT NOT NULL, sync_expected DOUBLE NOT NULL, repeat_log_p DOUBLE NOT NULL,
    sync_log_p DOUBLE NOT NULL, log_p DOUBLE NOT NULL, weight DOUBLE NOT NULL,
    q_value DOUBLE NOT NULL, significant BOOLEAN NOT NULL)"""

ACCOUNT_TESTS_DDL = """CREATE TABLE account_tests (
    trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL, platform VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL, units BIGINT NOT NULL, met BIGINT NOT NULL,
    expected DOUBLE NOT NULL, partners BIGINT NOT NULL, log_p DOUBLE NOT NULL,
    weight DOUBLE NOT NULL, q_value DOUBLE NOT NULL, significant BOOLEAN NOT NULL)"""

BURST_TESTS_DDL = """CREATE TABLE burst_tests (
    trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL, platform VARCHAR NOT NULL,
    key VARCHAR NOT NULL, accounts BIGINT NOT NULL, burst BIGINT NOT NULL,
    expected DOUBLE NOT NULL, start_us BIGINT NOT NULL, members VARCHAR[], log_p DOUBLE NOT NULL,
    weight DOUBLE NOT NULL, q_value DOUBLE NOT NULL, significant BOOLEAN NOT NULL)"""

COHORT_TESTS_DDL = """CREATE TABLE cohort_tests (
    trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL, platform VARCHAR NOT NULL,
    cohort VARCHAR NOT NULL, signal VARCHAR NOT NULL, members VARCHAR[], keys BIGINT NOT NULL,
    periods BIGINT NOT NULL, best_burst BIGINT NOT NULL, best_window_s DOUBLE NOT NULL,
    log_p DOUBLE NOT NULL, weight DOUBLE NOT NULL, q_value DOUBLE NOT NULL,
    significant BOOLEAN NOT NULL)"""

# Two networks of Leiden's tested for acting on the same keys in the same minutes, period
# after period (detect/joins.py); a significant test made them one `network`.
JOIN_TESTS_DDL = """CREATE TABLE join_tests (
    trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL, platform VARCHAR NOT NULL,
    network_a BIGINT NOT NULL, network_b BIGINT NOT NULL, members_a VARCHAR[],
    members_b VARCHAR[], keys BIGINT NOT NULL, periods BIGINT NOT NULL, met BIGINT NOT NULL,
    expected DOUBLE NOT NULL, log_p DOUBLE NOT NULL, q_value DOUBLE NOT NULL,
    significant BOOLEAN NOT NULL, network BIGINT NOT NULL)"""

# The links Leiden grouped the networks by, one row per account pair and the test that
# links them: a significant pair ("pair"), or two accounts significant in their account
# tests that co-acted ("account"); a significant burst or cohort links its members
# ("burst", "cohort"); a significant join test links the first members of the two
# networks it joined ("join").
NETWORK_EDGES_DDL = """CREATE TABLE network_edges (
    network BIGINT NOT NULL, platform VARCHAR NOT NULL, account_a VARCHAR NOT NULL,
    account_b VARCHAR NOT NULL, test VARCHAR NOT NULL, trace VARCHAR NOT NULL)"""

NETWORKS_DDL = """CREATE TABLE networks (
    network BIGINT NOT NULL, rank BIGINT NOT NULL, size BIGINT NOT NULL,
    pairs BIGINT NOT NULL, density DOUBLE NOT NULL, log_p DOUBLE NOT NULL,
    traces STRUCT(trace VARCHAR, pairs BIGINT)[],
    found_by STRUCT(test VARCHAR, trace VARCHAR, found BIGINT)[],
    signals STRUCT(signal VARCHAR, flagged BIGINT, share DOUBLE, background DOUBLE,
                   p_value DOUBLE)[],
    inauthentic BOOLEAN NOT NULL, verdict VARCHAR NOT NULL,
    hashtags STRUCT(tag VARCHAR, members BIGINT, posts BIGINT)[],
    amplified STRUCT(account_id VARCHAR, handle VARCHAR, members BIGINT, posts BIGINT)[],
    attacked STRUCT(account_id VARCHAR, handle VARCHAR, members BIGINT, posts BIGINT)[],
    languages STRUCT(lang VARCHAR, posts BIGINT)[])"""

ACCOUNT_SCORES_DDL = """CREATE TABLE account_scores (
    platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL, handle VARCHAR,
    network BIGINT NOT NULL, score DOUBLE NOT NULL, partners BIGINT NOT NULL,
    traces VARCHAR[] NOT NULL, identity_signals VARCHAR[] NOT NULL)"""

ACCOUNT_EVIDENCE_DDL = """CREATE TABLE account_evidence (
    platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL, rank BIGINT NOT NULL,
    test VARCHAR NOT NULL, trace VARCHAR NOT NULL, partner_id VARCHAR, partner_handle VARCHAR,
    keys BIGINT NOT NULL, shared BIGINT NOT NULL, expected DOUBLE NOT NULL,
    log_p DOUBLE NOT NULL, line VARCHAR NOT NULL)"""

DETECT_RUNS_DDL = """CREATE TABLE IF NOT EXISTS detect_runs (
    run_at TIMESTAMP, version VARCHAR, params VARCHAR)"""

# -- the catalogue ------------------------------------------------------------------------

_INGEST = "ingest"
_EDGES = "edges, detect"
_SIGNALS = "signals, detect"
_DETECT = "detect"

TABLES: dict[str, str] = {
    "meta": _INGEST,
    "sources": _INGEST,
    "posts": _INGEST,
    "accounts": _INGEST,
    "rejects": _INGEST,
    "edges": _EDGES,
    **dict.fromkeys(EDGE_TABLES, _EDGES),
    "skipped_keys": _EDGES,
    "account_signals": _SIGNALS,
    **{name: "avatars" if name == "avatar_hashes" else _SIGNALS for name in SIGNAL_TABLES},
    "pair_tests": _DETECT,
    "account_tests": _DETECT,
    "burst_tests": _DETECT,
    "cohort_tests": _DETECT,
    "join_tests": _DETECT,
    "network_edges": _DETECT,
    "networks": _DETECT,
    "account_scores": _DETECT,
    "account_evidence": _DETECT,
    "detect_runs": _DETECT,
    # Only in a Parquet case: which Parquet files make up each canonical table.
    "parquet_files": "ingest, case convert",
}
