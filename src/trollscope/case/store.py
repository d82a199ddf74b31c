"""Opening, creating and guarding a case: a DuckDB file, or a Parquet case folder.

The schema is versioned (`schema.py`). Opening a case written by another schema version is
a clear error rather than a silent misread. A Parquet case (`parquet.py`) is a folder with
a DuckDB file inside; opened, its connection reads the canonical tables through views, so
every command reads either kind alike.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

import duckdb

from trollscope import __version__
from trollscope.case import parquet
from trollscope.case.schema import META_DDL, SCHEMA_VERSION, ingest_ddl
from trollscope.errors import CaseError, TrollscopeError, write_error, writing


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection, path: Path | str | None = None) -> Iterator[None]:
    """Everything inside commits together or not at all: a failure (an interrupt
    included) rolls back, so the case is left as it was. With the case's `path`, an error
    the OS gave (a full disk, a read-only folder) is said in one sentence naming it."""
    con.execute("BEGIN")
    try:
        yield
        con.execute("COMMIT")
    except BaseException as exc:
        # A commit the disk refused ends the transaction itself: a ROLLBACK then fails,
        # and must not hide the error that says why.
        with suppress(duckdb.Error):
            con.execute("ROLLBACK")
        translated = write_error(path, exc) if path is not None else None
        if translated is None:
            raise
        raise translated from exc


def file_of(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The case file `con` writes to (None for an in-memory database): what a write error
    met deep inside a computation is said about."""
    found = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return Path(found[0][0]) if found and found[0][0] else None


def rows_written(cursor: duckdb.DuckDBPyConnection) -> int:
    """The row count DuckDB returns for an INSERT."""
    row = cursor.fetchone()
    return int(row[0]) if row else 0


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B", re.IGNORECASE)
# Below this DuckDB fails on ordinary queries with an out-of-memory error.
MIN_MEMORY = 64 * 2**20


def limit_resources(
    con: duckdb.DuckDBPyConnection, case_path: Path | str, memory_limit: str | None = None
) -> None:
    """Bound a long computation on the case. DuckDB spills to disk without bound by
    default: leave a fifth of the free space, so that a run too big for the machine fails
    with an error, not a full disk. `memory_limit` (like '6GB') caps what DuckDB holds in
    memory before it spills (None: DuckDB's default, 80% of the RAM); Python's own work
    (pair tests, networks) comes on top."""
    free = shutil.disk_usage(Path(case_path).resolve().parent).free
    con.execute(f"SET max_temp_directory_size = '{int(free * 0.8) // 2**20}MiB'")
    if memory_limit is None:
        return
    size = _SIZE.fullmatch(memory_limit.strip())
    if not size:
        raise TrollscopeError(
            f"memory limit {memory_limit!r} is not a size: write it like 6GB, 6GiB or 500MB."
        )
    number, unit, binary = size.groups()
    power = "KMGT".find(unit.upper()) + 1 if unit else 0
    if float(number) * (1024 if binary else 1000) ** power < MIN_MEMORY:
        raise TrollscopeError(
            f"memory limit {memory_limit!r} is too small: DuckDB needs at least 64 MiB."
        )
    con.execute(f"SET memory_limit = '{number}{unit}{binary}B'")


# DuckDB 2.0's common-subplan optimizer can merge two join subtrees that read different
# columns (duckdb/duckdb#25819, open): a query that reads the view `edges` twice, say
# account_a UNION account_b, got account_a's ids in both arms. It only saves work, so
# every case connection turns it off.
SAFE_OPTIMIZERS = "SET disabled_optimizers = 'common_subplan'"


def _session(con: duckdb.DuckDBPyConnection) -> None:
    """Every connection to a case: times in UTC, no progress bar of DuckDB's own
    (library code never prints; the CLI draws its own bars), no common-subplan optimizer
    (see SAFE_OPTIMIZERS)."""
    con.execute("SET TimeZone = 'UTC'")
    # In Jupyter without ipywidgets DuckDB starts with its bar off and refuses any change
    # to the setting, even to off (an InvalidInputException): change it only when it is on.
    if con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]:
        con.execute("SET enable_progress_bar = false")
    con.execute(SAFE_OPTIMIZERS)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the case (or the connection's temp schema) has a table `name`: the optional
    tables (edges, signals, detection results) exist only after their command ran."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()
    return bool(found[0][0])


class Case:
    """An open case. Use as a context manager; write through `transaction()`.
    `path`: the case as given (a DuckDB file or a Parquet case folder); `file`: the DuckDB
    file `con` is open on (the folder's `case.duckdb` for a Parquet case); `parquet_root`:
    the Parquet case's folder, absolute (None for a DuckDB case), where an engine can read
    the datasets itself. `created`: this process made the case (ingest removes it again if
    it fails); `made_folder`: and the folder it is in."""

    def __init__(
        self,
        path: Path,
        con: duckdb.DuckDBPyConnection,
        created: bool = False,
        *,
        file: Path | None = None,
        parquet_root: Path | None = None,
    ) -> None:
        self.path = path
        self.con = con
        self.created = created
        self.file = file or path
        self.parquet_root = parquet_root
        self.made_folder = False

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        create: bool = False,
        read_only: bool = False,
        parquet: bool = False,
    ) -> Case:
        """Open the case at `path`; with `create`, make a missing one (a Parquet case
        folder if `parquet`, else a DuckDB file). An empty folder becomes a Parquet case."""
        path = Path(path)
        if path.is_dir():
            return cls._open_folder(path, create=create, read_only=read_only)
        if not path.exists():
            if not create:
                raise CaseError(
                    f"{path}: no such case file. Create one with "
                    f"`trollscope ingest FILES --into {path}`."
                )
            return cls._create_folder(path) if parquet else cls._create(path)
        _require_duckdb(path)
        case = cls(path, _connect(path, read_only))
        case._check_version()
        _session(case.con)
        if _parquet_inside(case):
            case.close()
            raise CaseError(
                f"{path} is the inside of a Parquet case: give its folder, {path.parent}."
            )
        return case

    @classmethod
    def _open_folder(cls, path: Path, *, create: bool, read_only: bool) -> Case:
        inner = path / parquet.INNER
        if not inner.exists():
            if create and not any(path.iterdir()):
                return cls._create_folder(path)
            raise CaseError(
                f"{path} is a folder but not a trollscope case (no {parquet.INNER} in it): "
                f"give a case file or a Parquet case folder, or ingest into a new or empty "
                f"folder with `trollscope ingest FILES --into {path}/`."
            )
        _require_duckdb(inner)
        case = cls(path, _connect(inner, read_only), file=inner)
        case._check_version()
        _session(case.con)
        if not _parquet_inside(case):
            case.close()
            raise CaseError(
                f"{path}: its {parquet.INNER} is a DuckDB case, not a Parquet case's inside: "
                f"give the file itself, {inner}."
            )
        case.parquet_root = path.resolve()
        case._attach()
        return case

    def _attach(self) -> None:
        """Point the views of the Parquet datasets at the case folder (the connection is
        closed if that fails)."""
        assert self.parquet_root is not None
        try:
            parquet.point(self.con, self.parquet_root)
        except BaseException:
            self.con.close()
            raise

    @classmethod
    def _create_folder(cls, path: Path) -> Case:
        """A new Parquet case in the folder `path` (made if missing): its inner file is
        made whole and then put in place, as `_create` does for a case file."""
        made = not path.exists()
        with writing(path):
            path.mkdir(parents=True, exist_ok=True)
        try:
            case = cls._create(path / parquet.INNER, layout_parquet=True)
        except BaseException:
            if made:
                with suppress(OSError):
                    path.rmdir()
            raise
        if not case.created:  # another process made it first: `_create` opened that one
            return case
        case.path = path
        case.parquet_root = path.resolve()
        case.made_folder = made
        case._attach()
        return case

    @classmethod
    def _create(cls, path: Path, layout_parquet: bool = False) -> Case:
        """A new case at `path`, made whole beside it and then put in place, so that no
        other process sees a case without its tables, and a failure (a full disk, no
        permission) leaves no file. If another process put its new case there first,
        that case is opened instead. `layout_parquet`: the inner file of a Parquet case
        (meta and the manifest; the canonical tables are Parquet)."""
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            with writing(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                con = duckdb.connect(str(temp))
                try:
                    _session(con)
                    with transaction(con):
                        for statement in [META_DDL] if layout_parquet else ingest_ddl():
                            con.execute(statement)
                        con.execute(
                            "INSERT INTO meta VALUES ('schema_version', ?), ('created_with', ?)",
                            [str(SCHEMA_VERSION), f"trollscope {__version__}"],
                        )
                        if layout_parquet:
                            parquet.init(con)
                    con.execute("CHECKPOINT")  # all in the file: its WAL is not moved with it
                finally:
                    con.close()
                placed = _place(temp, path)
        finally:
            for leftover in (temp, temp.with_name(temp.name + ".wal")):
                # Cleaning up must not hide why the case could not be made.
                with suppress(OSError):
                    leftover.unlink(missing_ok=True)
        if not placed:
            return cls.open(path.parent if layout_parquet else path)
        case = cls(path, _connect(path, read_only=False), created=True)
        _session(case.con)
        return case

    def _check_version(self) -> None:
        try:
            row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except duckdb.CatalogException:
            self.con.close()
            raise CaseError(
                f"{self.path}: a DuckDB file but not a trollscope case (no meta table)."
            ) from None
        found = row[0] if row else "unknown"
        if found != str(SCHEMA_VERSION):
            self.con.close()
            raise CaseError(
                f"{self.path}: case schema version {found}, but this trollscope "
                f"({__version__}) reads version {SCHEMA_VERSION}. Re-ingest the source files "
                f"into a new case, or use the trollscope version that wrote it."
            )

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Case:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _parquet_inside(case: Case) -> bool:
    """Whether the case's DuckDB file is a Parquet case's inner file (the connection is
    closed if even that cannot be read)."""
    try:
        return parquet.is_parquet_case(case.con)
    except BaseException:
        case.con.close()
        raise


# A DuckDB database file says "DUCK" at bytes 8-11 (its main header).
_DUCKDB_MAGIC = (8, b"DUCK")


def _require_duckdb(path: Path) -> None:
    """Refuse a file that is not a DuckDB database before DuckDB sees it: DuckDB 2 opens a
    .jsonl, .csv or .parquet file as an in-memory database with a view over it (then says
    "Cannot launch in-memory database in read-only mode"), so a data file given as CASE
    would be answered in DuckDB's words, or not at all."""
    offset, magic = _DUCKDB_MAGIC
    try:
        with path.open("rb") as handle:
            head = handle.read(offset + len(magic))
    except IsADirectoryError:
        raise CaseError(f"{path} is a folder, not a trollscope case: give the case file.") from None
    except OSError:
        return  # unreadable: DuckDB's own attempt says why (permission, a lock)
    if head[offset:] != magic:
        raise CaseError(
            f"{path} is not a trollscope case (not a DuckDB file): give the case that "
            f"`trollscope ingest FILES --into CASE` made, or read this file into one with "
            f"`trollscope ingest {path} --into CASE`."
        )


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection to an existing case file. A file another process holds is a
    CaseBusyError; one the OS will not open for writing, a WriteError; anything else
    DuckDB cannot open, a CaseError."""
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        refused = write_error(path, exc)
        if isinstance(refused, CaseError) or (refused is not None and not read_only):
            raise refused from exc
        raise CaseError(f"{path}: not a readable DuckDB case file ({exc}).") from exc


def _place(temp: Path, path: Path) -> bool:
    """Move the finished new case `temp` to `path` unless a file is there already (then
    False: another process made it meanwhile). A hard link cannot replace a file, so two
    processes creating one case cannot overwrite each other's; where the file system has
    no hard links, a check and a rename come close."""
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    except OSError:
        if path.exists():
            return False
        os.replace(temp, path)
    return True
