"""The dashboard's connection: the case attached read-only to an in-memory database that
holds an index of the posts by account.

A read-only case cannot be given an index, and `posts` is stored in ingest order, so
DuckDB's zone maps cannot skip anything when a page asks for one account's posts: on the
10M-post case, one such scan took 550 ms (2 cores), and an account page makes three. So
the server builds, once at start, a copy of three narrow columns in memory: each post's
account as a number, its time and a handle on its row, sorted by account and time. An
account's posts are then one zone-map-pruned range of that table (about 1 ms), and a page
of them is fetched from the case by handle (`fetch`). It costs 20 bytes per post (about
200 MB at 10M posts) and a start-up scan (8.3 s at 10M posts on 2 busy cores,
docs/benchmarks.md); the case is only read.

The handle is the row's place in the case. In a DuckDB case it is the `rowid`, and a page
is fetched `WHERE rowid = ANY(...)`. A Parquet case's `posts` is a view, which has no
rowid: there the handle is the file (its index in the manifest's list of posts files) and
the row's number in it, `file << 40 | row`, as DuckDB's `read_parquet` gives them
(`file_index`, `file_row_number`); a page reads only the files its posts are in, each
filtered by row number, which the Parquet reader turns into row-group skipping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from trollscope.case import parquet
from trollscope.sql import ident, literal

CASE = "case_db"  # the attached case's name in every query's catalog
ACCOUNTS = "memory.main.post_accounts"  # aid, platform, account_id
KEYS = "memory.main.post_keys"  # aid, created_at, rid: sorted by aid, created_at
# Posts and accounts per platform and the posts' time span: a scan of every post (200 ms
# at 10M), done once, since a served case cannot change (it is locked against writers).
COVERAGE = "memory.main.coverage"
# A Parquet case's handle: the file's index in `PostFiles.paths`, shifted past the row's
# number in the file (2^40 rows a file, 2^23 files: far beyond any case).
FILE_SHIFT = 40
# What a page shows of a post, in this order.
POST_COLUMNS = (
    "post_id", "created_at", "kind", "text", "lang", "ref_post_id", "ref_account_id",
    "hashtags", "urls",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PostFiles:
    """Where a served case's posts are: a DuckDB case's table (`paths` None), or a Parquet
    case's files, absolute, in the order their handles number them."""

    paths: tuple[str, ...] | None = None

    def fetch(self, cur: duckdb.DuckDBPyConnection, rids: Sequence[int]) -> list[dict[str, Any]]:
        """The posts whose handles are `rids` (POST_COLUMNS and `rid`), in no order."""
        if not rids:
            return []
        if self.paths is None:
            sql = (
                f"SELECT rowid AS rid, {', '.join(POST_COLUMNS)} FROM {CASE}.main.posts "
                f"WHERE rowid = ANY(?::BIGINT[])"
            )
            return _dicts(cur, sql, [list(rids)])
        by_file: dict[int, list[int]] = {}
        for rid in rids:
            by_file.setdefault(rid >> FILE_SHIFT, []).append(rid & ((1 << FILE_SHIFT) - 1))
        # One read per file, each filtered by its rows' numbers: a filter the reader pushes
        # down (a filename filter across one read of all the files would not be per file).
        types = dict(parquet.columns("posts"))
        typed = ", ".join(f"CAST({ident(c)} AS {types[c]}) AS {ident(c)}" for c in POST_COLUMNS)
        parts = [
            f"""SELECT ({fid}::BIGINT << {FILE_SHIFT}) | file_row_number AS rid, {typed}
                FROM read_parquet({literal(self.paths[fid])}, file_row_number = true,
                                  hive_partitioning = false)
                WHERE file_row_number = ANY(?::BIGINT[])"""
            for fid in by_file
        ]
        return _dicts(cur, " UNION ALL ".join(parts), list(by_file.values()))


def _dicts(cur: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> list[dict[str, Any]]:
    cursor = cur.execute(sql, params)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def connect(case_path: Path | str) -> tuple[duckdb.DuckDBPyConnection, PostFiles]:
    """An in-memory connection with the case (a DuckDB file or a Parquet case's folder)
    attached read-only as the default catalog, and the posts' account index built; and
    where a page's posts are fetched from."""
    folder = Path(case_path) if Path(case_path).is_dir() else None
    con = duckdb.connect()
    try:
        if folder is not None:
            # The views' relative paths resolve in the folder, as `Case.open` has them.
            parquet.point(con, folder.resolve())
            # The case cannot change while it is served: the files' footers can be kept.
            con.execute("SET parquet_metadata_cache = true")
        inner = folder / parquet.INNER if folder is not None else Path(case_path)
        con.execute(f"ATTACH {literal(str(inner))} AS {CASE} (READ_ONLY)")
        con.execute(f"USE {CASE}")
        # Accounts numbered in (platform, account_id) order: a lookup by id is one range.
        con.execute(
            f"""CREATE TABLE {ACCOUNTS} AS
                SELECT (row_number() OVER (ORDER BY platform, account_id))::INTEGER AS aid,
                       platform, account_id
                FROM (SELECT DISTINCT platform, account_id FROM {CASE}.main.posts)"""
        )
        files = PostFiles()
        if folder is None:
            handles = (
                f"SELECT platform, account_id, created_at, rowid AS rid FROM {CASE}.main.posts"
            )
        else:
            root = folder.resolve()
            paths = tuple(str(root / f) for f in parquet.listed(con, "posts"))
            files = PostFiles(paths)
            handles = _parquet_handles(paths)
        con.execute(
            f"""CREATE TABLE {KEYS} AS
                SELECT a.aid, p.created_at, p.rid
                FROM ({handles}) p JOIN {ACCOUNTS} a USING (platform, account_id)
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
    return con, files


def _parquet_handles(paths: Sequence[str]) -> str:
    """A SELECT of every post's platform, account, time and handle from a Parquet case's
    posts files, typed as the case's `posts` view types them."""
    if not paths:
        return (
            "SELECT NULL::VARCHAR AS platform, NULL::VARCHAR AS account_id, "
            "NULL::TIMESTAMP AS created_at, NULL::BIGINT AS rid WHERE false"
        )
    types = dict(parquet.columns("posts"))
    hive = ", ".join(f"{literal(k)}: {literal(v)}" for k, v in parquet.PARTITIONS["posts"].items())
    typed = ", ".join(
        f"CAST({ident(c)} AS {types[c]}) AS {ident(c)}"
        for c in ("platform", "account_id", "created_at")
    )
    listed = ", ".join(literal(p) for p in paths)
    return f"""SELECT {typed}, (file_index::BIGINT << {FILE_SHIFT}) | file_row_number AS rid
               FROM read_parquet([{listed}], file_row_number = true, hive_partitioning = true,
                                 hive_types = {{{hive}}})"""


def session(cur: duckdb.DuckDBPyConnection) -> None:
    """A request's cursor reads the case by default (a new cursor starts in `memory`)."""
    cur.execute(f"USE {CASE}")
