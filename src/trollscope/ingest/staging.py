"""Staging: where one file's records wait, inside the ingest transaction, to be merged.

Three temporary tables on the case's connection: `stage_posts` and `stage_accounts` (the
canonical columns plus `ord`, the record's position in the file, so that the first copy
of a duplicate wins) and `stage_rejects`. A row-wise reader's Arrow batches are appended
here; a SQL reader (csvsql) writes its output once, to `SOURCE`, and turns `stage_posts`
and `stage_accounts` into views of it, never leaving DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from trollscope.case.schema import duck_columns
from trollscope.ingest.batches import Batch
from trollscope.model import ACCOUNTS_SCHEMA, POSTS_SCHEMA

Progress = Callable[[int], None]
"""Called with the number of input bytes just consumed."""

TABLES = ("stage_posts", "stage_accounts", "stage_rejects")
# A SQL reader's output, of which `stage_posts` and `stage_accounts` are then views.
SOURCE = "stage_source"


@dataclass(slots=True)
class Staged:
    """What a reader staged: `records` read in all (including rejected rows and exact
    repeats it merged), `repeats` of them, and the rows now in the staging tables."""

    records: int = 0
    repeats: int = 0
    posts: int = 0
    accounts: int = 0


def create(con: duckdb.DuckDBPyConnection) -> None:
    posts = ", ".join([*duck_columns(POSTS_SCHEMA), "ord BIGINT NOT NULL"])
    accounts = ", ".join([*duck_columns(ACCOUNTS_SCHEMA), "ord BIGINT NOT NULL"])
    con.execute(f"CREATE OR REPLACE TEMP TABLE stage_posts ({posts})")
    con.execute(f"CREATE OR REPLACE TEMP TABLE stage_accounts ({accounts})")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stage_rejects "
        "(line BIGINT, field VARCHAR, reason VARCHAR NOT NULL, raw VARCHAR)"
    )


def drop(con: duckdb.DuckDBPyConnection) -> None:
    views = {
        name
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal "
            "AND view_name IN (?, ?)",
            ["stage_posts", "stage_accounts"],
        ).fetchall()
    }
    for name in views:
        con.execute(f"DROP VIEW {name}")
    for table in (*TABLES, SOURCE):
        if table not in views:
            con.execute(f"DROP TABLE IF EXISTS {table}")


def stage_view(con: duckdb.DuckDBPyConnection, name: str, select: str) -> None:
    """Make the staging table `name` a view (of a SQL reader's output, `SOURCE`)."""
    con.execute(f"DROP TABLE {name}")
    con.execute(f"CREATE TEMP VIEW {name} AS {select}")


def _append(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, offset: int) -> None:
    if data.num_rows == 0:
        return
    if table != "stage_rejects":
        # Numbered here, in Arrow: cheaper than a window function in the INSERT.
        data = data.append_column("ord", pa.array(np.arange(offset, offset + data.num_rows)))
    con.register("incoming", data)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
    finally:
        con.unregister("incoming")


def append_batches(
    con: duckdb.DuckDBPyConnection, batches: Iterable[Batch], progress: Progress | None
) -> Staged:
    """Stage a row-wise reader's batches; report progress as the reader reports bytes."""
    staged = Staged()
    reported = 0
    for batch in batches:
        _append(con, "stage_posts", batch.posts, staged.posts)
        _append(con, "stage_accounts", batch.accounts, staged.accounts)
        _append(con, "stage_rejects", batch.rejects, 0)
        staged.records += batch.records
        staged.repeats += batch.repeats
        staged.posts += batch.posts.num_rows
        staged.accounts += batch.accounts.num_rows
        if progress and batch.bytes_done is not None and batch.bytes_done > reported:
            progress(batch.bytes_done - reported)
            reported = batch.bytes_done
    return staged
