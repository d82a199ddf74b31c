"""`trollscope case convert`: a DuckDB case file to a Parquet case folder, and back.

Every table goes across, derived ones included (edges, signals, tests, networks, ...),
with their definitions (keys, NOT NULL, the `edges` view), so that the converted case
answers every command as the original did. The target is made whole under a temporary
name beside it and renamed into place: a failure leaves nothing, and an existing target
is never overwritten.
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import suppress
from pathlib import Path

import duckdb

from trollscope.case import parquet
from trollscope.case.schema import CANONICAL, canonical_ddl
from trollscope.case.store import Case, transaction
from trollscope.errors import CaseError, writing
from trollscope.sql import ident, literal

_TARGET = "target"  # the attached target database, in the source's connection


def convert(source: Path | str, target: Path | str) -> str:
    """Convert the case at `source` to the other kind at `target`; the kind made ("parquet"
    or "duckdb")."""
    source, target = Path(source), Path(target)
    if target.exists():
        raise CaseError(
            f"{target} exists: `case convert` never overwrites. Give a new path, or move "
            f"that one away first."
        )
    with Case.open(source, read_only=True) as case:
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            with writing(target):
                if case.parquet_root is None:
                    _to_parquet(case, temp)
                else:
                    _to_duckdb(case, temp)
                _rename(temp, target)
        finally:
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            for leftover in (temp, temp.with_name(temp.name + ".wal")):
                with suppress(OSError):
                    leftover.unlink(missing_ok=True)
        return "duckdb" if case.parquet_root else "parquet"


def _rename(temp: Path, target: Path) -> None:
    """Put the finished `temp` at `target`, unless something appeared there meanwhile."""
    if target.exists():
        raise CaseError(f"{target} appeared while converting: it was left as it is.")
    os.rename(temp, target)


def _copy_rest(con: duckdb.DuckDBPyConnection, source: str, skip: set[str]) -> None:
    """Define every table and view of catalog `source` in the target, then fill every
    table; the tables and views named in `skip` (which the target gets another way) are
    dropped from the target."""
    con.execute(f"COPY FROM DATABASE {ident(source)} TO {_TARGET} (SCHEMA)")
    kinds = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_catalog = ? AND table_schema = 'main' ORDER BY table_name",
        [source],
    ).fetchall()
    for name, kind in ((str(n), str(k)) for n, k in kinds):
        what = "VIEW" if kind == "VIEW" else "TABLE"
        if name in skip:
            con.execute(f"DROP {what} {_TARGET}.main.{ident(name)}")
        elif what == "TABLE":
            con.execute(
                f"INSERT INTO {_TARGET}.main.{ident(name)} "
                f"SELECT * FROM {ident(source)}.main.{ident(name)}"
            )


def _attach(con: duckdb.DuckDBPyConnection, file: Path) -> None:
    # A case opened read-only attaches read-only unless told otherwise.
    con.execute(f"ATTACH {literal(file)} AS {_TARGET} (READ_WRITE)")


def _to_parquet(case: Case, temp: Path) -> None:
    """The DuckDB case `case` as a Parquet case folder at `temp`."""
    temp.mkdir(parents=True)
    con = case.con
    source = parquet.current_catalog(con)
    _attach(con, temp / parquet.INNER)
    try:
        parquet.point(con, temp.resolve())  # the new views' paths resolve in the new folder
        with transaction(con):
            _copy_rest(con, source, skip=set(CANONICAL))
            con.execute(parquet.MANIFEST_DDL.replace("TABLE ", f"TABLE {_TARGET}.main.", 1))
            con.execute(f"INSERT INTO {_TARGET}.main.meta VALUES (?, ?)", list(parquet.LAYOUT))
        # `Writes` lists the files it writes in the manifest of the current database.
        con.execute(f"USE {_TARGET}")
        try:
            writes = parquet.Writes(con, temp.resolve())
            with transaction(con):
                for dataset in CANONICAL:
                    extra = parquet.EXTRA.get(dataset, "")
                    writes.stage(dataset, f"SELECT *{extra} FROM {ident(source)}.main.{dataset}")
                writes.place()
            writes.finish()  # the staging folder, now empty (a failure removes `temp` whole)
        finally:
            con.execute(f"USE {ident(source)}")
        con.execute(f"CHECKPOINT {_TARGET}")
    finally:
        con.execute(f"DETACH {_TARGET}")


def _to_duckdb(case: Case, temp: Path) -> None:
    """The Parquet case `case` as a DuckDB case file at `temp`."""
    con = case.con
    source = parquet.current_catalog(con)
    _attach(con, temp)
    try:
        with transaction(con):
            _copy_rest(con, source, skip={parquet.MANIFEST, *CANONICAL})
            for dataset, ddl in canonical_ddl().items():
                con.execute(ddl.replace("TABLE ", f"TABLE {_TARGET}.main.", 1))
                # The case's view: the Parquet files as the manifest lists them.
                con.execute(
                    f"INSERT INTO {_TARGET}.main.{dataset} "
                    f"SELECT * FROM {ident(source)}.main.{dataset}"
                )
            con.execute(f"DELETE FROM {_TARGET}.main.meta WHERE key = ?", [parquet.LAYOUT[0]])
        con.execute(f"CHECKPOINT {_TARGET}")
    finally:
        con.execute(f"DETACH {_TARGET}")
