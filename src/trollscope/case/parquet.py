"""A case that lives in Parquet: a folder whose data any engine that reads Parquet can read.

    DIR/case.duckdb                                  meta, the manifest, derived tables
    DIR/posts/platform=P/day=YYYY-MM-DD/part-*.parquet
    DIR/accounts/platform=P/part-*.parquet
    DIR/sources/part-*.parquet
    DIR/rejects/part-*.parquet

The canonical tables (`schema.CANONICAL`) are Parquet datasets, hive-partitioned (posts by
platform and UTC day, accounts by platform). Everything else stays in the small DuckDB file
inside: `meta` (the schema version, and `layout = parquet`), every derived table (edges,
tests, networks, scores: small next to the posts, and written transactionally by their
commands), and the manifest `parquet_files`.

The manifest says which files make up each dataset; a glob does not. A write puts its new
files in place first, then lists them (and unlists the files it replaces) in the DuckDB
transaction of the command: that commit is the one moment the case changes, so a failed,
interrupted or killed ingest leaves the case as it was, whatever files it had moved. Files
no commit listed are invisible to trollscope, and the next write removes them. An engine
that reads the folder directly (Spark) should read the listed files (`listed`); a glob
reads the same unless a write was killed midway.

The inner file holds views named like the canonical tables (`define_views`, redefined by
each write in the transaction that changes the manifest) with exactly the DuckDB tables'
columns and types (the partition columns come back typed, `day` is not a column), so
every command, and every cursor of its connection, reads a Parquet case as it reads a
DuckDB one. The views' paths are relative to the case folder, which `Case.open` makes
DuckDB's `file_search_path` (`point`): the folder can be moved, copied or mounted
elsewhere whole. (Plain DuckDB reads it the same way: `SET file_search_path = 'DIR'`,
then `ATTACH 'DIR/case.duckdb'`.) DuckDB writes partition values percent-encoded ("a/b"
as `platform=a%2Fb`) and reads them back decoded; their types are set, so a platform
named "123" stays a string.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

import duckdb

from trollscope.case.schema import CANONICAL, canonical_ddl
from trollscope.sql import ident, literal

INNER = "case.duckdb"
LAYOUT = ("layout", "parquet")  # the meta row that marks the inner file of a Parquet case
MANIFEST = "parquet_files"
MANIFEST_DDL = f"""CREATE TABLE {MANIFEST} (
    dataset VARCHAR NOT NULL, file VARCHAR PRIMARY KEY, platform VARCHAR)"""

# Each dataset's partition columns and their types. `day` is not a column of `posts`: it
# is the UTC day of `created_at`, written only into the path.
PARTITIONS: dict[str, dict[str, str]] = {
    "posts": {"platform": "VARCHAR", "day": "DATE"},
    "accounts": {"platform": "VARCHAR"},
    "sources": {},
    "rejects": {},
}
# What a posts SELECT adds for `Writes.stage`: the day it is partitioned by.
EXTRA = {"posts": ", CAST(created_at AS DATE) AS day"}
_STAGING = ".staging-"


@cache
def columns(table: str) -> tuple[tuple[str, str], ...]:
    """(name, DuckDB type) of a canonical table's columns, in order, from its DDL."""
    con = duckdb.connect()
    try:
        con.execute(canonical_ddl()[table])
        return tuple((str(n), str(t)) for n, t, *_ in con.execute(f"DESCRIBE {table}").fetchall())
    finally:
        con.close()


def is_parquet_case(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the case file `con` is open on is the inner file of a Parquet case."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", [LAYOUT[0]]).fetchone()
    return row is not None and row[0] == LAYOUT[1]


def init(con: duckdb.DuckDBPyConnection) -> None:
    """Make a new inner file a Parquet case's (inside the transaction that creates it)."""
    con.execute(MANIFEST_DDL)
    con.execute("INSERT INTO meta VALUES (?, ?)", list(LAYOUT))
    define_views(con)


def listed(con: duckdb.DuckDBPyConnection, dataset: str) -> list[str]:
    """The files (relative to the case folder, with /) that make up `dataset` now."""
    rows = con.execute(
        f"SELECT file FROM {MANIFEST} WHERE dataset = ? ORDER BY file", [dataset]
    ).fetchall()
    return [str(r[0]) for r in rows]


def stored(con: duckdb.DuckDBPyConnection, dataset: str) -> str:
    """A SELECT of `dataset` as the manifest lists it, with the DuckDB table's columns and
    types. No file (a new case, a case without rejects) reads as an empty table of that
    shape. The paths are relative to the case folder (see `point`)."""
    cols = columns(dataset)
    files = listed(con, dataset)
    if not files:
        typed = ", ".join(f"CAST(NULL AS {t}) AS {ident(n)}" for n, t in cols)
        return f"SELECT {typed} WHERE false"
    typed = ", ".join(f"CAST({ident(n)} AS {t}) AS {ident(n)}" for n, t in cols)
    paths = ", ".join(literal(f) for f in files)
    parts = PARTITIONS[dataset]
    hive = (
        "hive_partitioning = true, hive_types = {"
        + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in parts.items())
        + "}"
        if parts
        else "hive_partitioning = false"
    )
    return f"SELECT {typed} FROM read_parquet([{paths}], {hive})"


def define_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)define the canonical views of the current database from its manifest, in the
    transaction that changed the manifest. Stored in the file, not TEMP: cursors (new
    connections to the same database, which detection's threads use) see them too."""
    catalog = ident(current_catalog(con))
    for dataset in CANONICAL:
        con.execute(f"CREATE OR REPLACE VIEW {catalog}.main.{dataset} AS {stored(con, dataset)}")


def point(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Let the views' relative paths resolve in the case folder `root`, for `con` and its
    cursors. Relative, so that the folder can be moved or mounted elsewhere whole."""
    con.execute(f"SET GLOBAL file_search_path = {literal(root)}")


def current_catalog(con: duckdb.DuckDBPyConnection) -> str:
    """The name of the database `con` reads and writes by default."""
    row = con.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])


class Writes:
    """One command's writes to the canonical tables of a Parquet case.

    `begin` (inside the command's transaction) turns the views into what the ingest code
    expects: `posts`, `rejects` and `sources` read stored + `added_*` (temp tables the new
    rows go into: `into` names them), and `accounts` becomes a temp table holding every
    stored account, which ingest may add to and fill gaps in. `publish` (last, inside the
    same transaction) writes the new rows, and the accounts of every platform that changed,
    as Parquet files, puts them in place and updates the manifest; the commit makes them the
    case. `abandon` after a failure removes what this write put anywhere; `finish` after the
    commit removes the files it replaced.
    """

    into: ClassVar[dict[str, str]] = {
        "posts": "added_posts",
        "rejects": "added_rejects",
        "sources": "added_sources",
    }

    def __init__(self, con: duckdb.DuckDBPyConnection, root: Path) -> None:
        self.con = con
        self.root = root
        self.staging = root / f"{_STAGING}{uuid.uuid4().hex[:12]}"
        self.new: list[tuple[str, str, Path, str | None]] = []  # dataset, file, staged, platform
        self.placed: list[Path] = []
        self.replaced: list[Path] = []

    def begin(self) -> None:
        sweep(self.con, self.root)
        con = self.con
        catalog = ident(current_catalog(con))
        # TEMP objects shadow the case's views of the same name on this connection.
        for dataset, added in self.into.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {added} ({_columns_ddl(dataset)})")
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {dataset} AS "
                f"SELECT * FROM {catalog}.main.{dataset} UNION ALL SELECT * FROM {added}"
            )
        con.execute(f"CREATE OR REPLACE TEMP TABLE accounts ({_columns_ddl('accounts')})")
        con.execute(f"INSERT INTO accounts SELECT * FROM {catalog}.main.accounts")

    def publish(self) -> None:
        """Write what this ingest added and changed, put it in place, list it."""
        con = self.con
        for dataset, added in self.into.items():
            self.stage(dataset, f"SELECT *{EXTRA.get(dataset, '')} FROM {added}")
        # A platform whose accounts changed (one added, or a gap filled) is written whole
        # again and its old files replaced: Parquet files are not updated in place.
        changed = [
            str(r[0])
            for r in con.execute(
                f"""SELECT DISTINCT platform
                    FROM (SELECT * FROM temp.main.accounts
                          EXCEPT SELECT * FROM {ident(current_catalog(con))}.main.accounts)"""
            ).fetchall()
        ]
        if changed:
            con.execute("CREATE OR REPLACE TEMP TABLE changed_platforms (platform VARCHAR)")
            con.executemany("INSERT INTO changed_platforms VALUES (?)", [[p] for p in changed])
            self.stage(
                "accounts", "SELECT * FROM accounts SEMI JOIN changed_platforms USING (platform)"
            )
            con.execute("DROP TABLE changed_platforms")
        self.place(replacing=changed)

    def stage(self, dataset: str, select: str) -> None:
        """Write the rows of `select` as `dataset` files under the staging folder (no file
        for no rows). Posts' `select` ends with their `day`."""
        counted = self.con.execute(f"SELECT count(*) FROM ({select})").fetchone()
        if not counted or not counted[0]:
            return
        out = self.staging / dataset / uuid.uuid4().hex[:8]  # one folder per COPY
        out.mkdir(parents=True)
        parts = PARTITIONS[dataset]
        if parts:
            target = literal(out)
            how = f", PARTITION_BY ({', '.join(parts)}), FILENAME_PATTERN 'part-{{uuid}}'"
        else:
            target, how = literal(out / f"part-{uuid.uuid4()}.parquet"), ""
        self.con.execute(f"COPY ({select}) TO {target} (FORMAT PARQUET{how})")
        for file in sorted(out.rglob("*.parquet")):
            rel = Path(dataset, file.relative_to(out)).as_posix()
            self.new.append((dataset, rel, file, _platform(file)))

    def place(self, replacing: list[str] | None = None) -> None:
        """Move the staged files into the case and list them, unlisting the accounts
        files of the platforms `replacing` (inside the transaction that commits them)."""
        for _, rel, file, _ in self.new:
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(file, target)
            self.placed.append(target)
        if replacing:
            for platform in replacing:
                gone = self.con.execute(
                    f"DELETE FROM {MANIFEST} WHERE dataset = 'accounts' AND platform = ? "
                    "RETURNING file",
                    [platform],
                ).fetchall()
                self.replaced += [self.root / str(r[0]) for r in gone]
        if self.new:
            self.con.executemany(
                f"INSERT INTO {MANIFEST} VALUES (?, ?, ?)",
                [[dataset, rel, platform] for dataset, rel, _, platform in self.new],
            )
        self.new = []
        define_views(self.con)

    def abandon(self) -> None:
        """After a failure: remove the files this write staged or placed (none is listed:
        the transaction that would have listed them did not commit)."""
        for file in self.placed:
            with suppress(OSError):
                file.unlink(missing_ok=True)
                _prune(file.parent, self.root)
        shutil.rmtree(self.staging, ignore_errors=True)

    def finish(self) -> None:
        """After the commit: remove the files the commit unlisted, and the staging folder."""
        for file in self.replaced:
            with suppress(OSError):
                file.unlink(missing_ok=True)
                _prune(file.parent, self.root)
        shutil.rmtree(self.staging, ignore_errors=True)


def _columns_ddl(dataset: str) -> str:
    return ", ".join(f"{ident(n)} {t}" for n, t in columns(dataset))


def _platform(file: Path) -> str | None:
    """The platform partition a written file is in, decoded (None: not partitioned)."""
    for part in file.parts:
        if part.startswith("platform="):
            return unquote(part.removeprefix("platform="))
    return None


def _prune(folder: Path, root: Path) -> None:
    """Remove `folder` and its parents up to `root` while they are empty."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _files(root: Path) -> Iterator[Path]:
    """The data files trollscope may have written (named as `Writes.stage` names them):
    a file someone else put in the folder is never swept away."""
    for dataset in CANONICAL:
        yield from (root / dataset).rglob("part-*.parquet")


def sweep(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Remove what a killed write left: its staging folder, and files it placed that no
    commit listed. Only a writer calls this, and DuckDB lets one process write the inner
    file and no other read it meanwhile, so no one is reading or writing them."""
    for leftover in root.glob(f"{_STAGING}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    known = {str(r[0]) for r in con.execute(f"SELECT file FROM {MANIFEST}").fetchall()}
    for file in list(_files(root)):
        if file.relative_to(root).as_posix() not in known:
            file.unlink(missing_ok=True)
            _prune(file.parent, root)
