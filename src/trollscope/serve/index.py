"""The dashboard's connection: the case attached read-only to an in-memory database that
holds an index of the posts by account.

A read-only case cannot be given an index, and `posts` is stored in ingest order, so
DuckDB's zone maps cannot skip anything when a page asks for one account's posts: on the
10M-post case, one such scan took 550 ms (2 cores), and an account page makes three. So
the server builds, once at start, a copy of three narrow columns in memory: each post's
account as a number, its time and its row id, sorted by account and time. An account's
posts are then one zone-map-pruned range of that table (about 1 ms), fetched from the
case by row id. It costs 20 bytes per post (about 200 MB at 10M posts) and a start-up
scan (8.3 s at 10M posts on 2 busy cores, docs/benchmarks.md); the case file is
only read.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from trollscope.errors import CaseError
from trollscope.sql import literal

CASE = "case_db"  # the attached case's name in every query's catalog
ACCOUNTS = "memory.main.post_accounts"  # aid, platform, account_id
KEYS = "memory.main.post_keys"  # aid, created_at, rid: sorted by aid, created_at
# Posts and accounts per platform and the posts' time span: a scan of every post (200 ms
# at 10M), done once, since a served case cannot change (it is locked against writers).
COVERAGE = "memory.main.coverage"


def connect(case_path: Path | str) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the case attached read-only as the default catalog,
    and the posts' account index built."""
    if Path(case_path).is_dir():
        # The index fetches posts by rowid, which a Parquet case's views do not have.
        raise CaseError(
            f"{case_path} is a Parquet case: the dashboard reads DuckDB cases only for now. "
            f"Convert it with `trollscope case convert {case_path} CASE.duckdb` and serve that."
        )
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {literal(str(case_path))} AS {CASE} (READ_ONLY)")
        con.execute(f"USE {CASE}")
        # Accounts numbered in (platform, account_id) order: a lookup by id is one range.
        con.execute(
            f"""CREATE TABLE {ACCOUNTS} AS
                SELECT (row_number() OVER (ORDER BY platform, account_id))::INTEGER AS aid,
                       platform, account_id
                FROM (SELECT DISTINCT platform, account_id FROM {CASE}.main.posts)"""
        )
        con.execute(
            f"""CREATE TABLE {KEYS} AS
                SELECT a.aid, p.created_at, p.rowid AS rid
                FROM {CASE}.main.posts p JOIN {ACCOUNTS} a USING (platform, account_id)
                ORDER BY a.aid, p.created_at"""
        )
        con.execute(
            f"""CREATE TABLE {COVERAGE} AS
                SELECT p.platform, p.posts, coalesce(a.accounts, 0) AS accounts, p.first, p.last
                FROM (SELECT platform, count(*) AS posts, min(created_at) AS first,
                             max(created_at) AS last FROM {CASE}.main.posts GROUP BY platform) p
                LEFT JOIN (SELECT platform, count(DISTINCT account_id) AS accounts
                           FROM {CASE}.main.accounts GROUP BY platform) a USING (platform)"""
        )
    except BaseException:
        con.close()
        raise
    return con


def session(cur: duckdb.DuckDBPyConnection) -> None:
    """A request's cursor reads the case by default (a new cursor starts in `memory`)."""
    cur.execute(f"USE {CASE}")
