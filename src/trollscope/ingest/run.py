"""Ingest: files -> readers -> staging -> the case, in one transaction.

Every record is accounted for: read = stored + duplicate + rejected, per file. Records are
keyed on (platform, post_id) (accounts on (platform, account_id)), so re-ingesting the
same data stores nothing new. A file-level error (not the format, empty, nothing
readable) rolls back the whole command: the case is left exactly as it was, and a case
file this command created is removed.

Into a Parquet case (`case/parquet.py`) the same SQL runs against temp tables, and the
rows it added are written as Parquet files that the commit lists (`parquet.Writes`): the
same rows, the same accounting, the same all-or-nothing.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from trollscope import __version__
from trollscope.case import Case, parquet, rows_written, transaction
from trollscope.case.info import odd_times
from trollscope.case.schema import CANONICAL
from trollscope.errors import FormatError, NothingReadError, TrollscopeError, write_error
from trollscope.ingest import staging
from trollscope.ingest.readers import Reader, ReadOptions, get, sniff
from trollscope.ingest.readers.base import GZIP_ERRORS, Head, check_timezone, damaged_gzip
from trollscope.ingest.readers.kinds import refuse_unreadable
from trollscope.ingest.readers.table import CoortweetReader, TableReader
from trollscope.model import ACCOUNT_COLUMNS, POST_COLUMNS

Progress = Callable[[int], None]
"""Called with the number of input bytes just consumed."""


@dataclass(slots=True)
class FileResult:
    path: str
    format: str
    sha256: str
    read: int = 0
    stored: int = 0
    duplicate: int = 0
    rejected: int = 0
    accounts_new: int = 0
    unit: str = "posts"
    source_id: int = 0


@dataclass(slots=True)
class IngestResult:
    case: str
    files: list[FileResult] = field(default_factory=list)
    # Posts and accounts of the whole case dated before 2000 or after tomorrow (case/info.py
    # says why).
    odd_times: dict[str, int] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    def as_dict(self) -> dict[str, object]:
        return {
            "case": self.case,
            "files": [asdict(f) for f in self.files],
            **{k: self.total(k) for k in ("read", "stored", "duplicate", "rejected")},
            "accounts_new": self.total("accounts_new"),
            "odd_times": self.odd_times,
        }


def choose_reader(path: Path, fmt: str | None, options: ReadOptions) -> Reader:
    """--format wins; else the content decides; a mapping alone means a generic table.

    A file no reader takes (an archive, a database, UTF-16 text, ...) is refused first,
    whatever was asked: a reader would fail on it with less to say.
    """
    as_table = fmt in (TableReader.name, CoortweetReader.name) or (not fmt and options.mapping)
    refuse_unreadable(Head.of(path), table=bool(as_table))
    if fmt:
        return get(fmt)
    try:
        return sniff(path)
    except FormatError:
        if options.mapping:
            return TableReader()
        raise


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ingest(
    case_path: Path | str,
    paths: Sequence[Path | str],
    *,
    fmt: str | None = None,
    options: ReadOptions | None = None,
    progress: Progress | None = None,
    parquet_case: bool | None = None,
) -> IngestResult:
    """Ingest `paths` into the case at `case_path` (created if missing), atomically.
    A missing case is made a Parquet case folder if `parquet_case`, or (None) if
    `case_path` is text ending in a path separator ("out/"); else a DuckDB file."""
    if parquet_case is None:
        parquet_case = isinstance(case_path, str) and case_path.endswith(("/", os.sep))
    case_path = Path(case_path)
    options = options or ReadOptions()
    files = [Path(p) for p in paths]
    for path in files:
        if not path.is_file():
            raise FormatError(path, "no such file (or it is a folder).")
    result = IngestResult(case=str(case_path))
    case = Case.open(case_path, create=True, parquet=parquet_case)
    writes = parquet.Writes(case.con, case.parquet_root) if case.parquet_root else None
    into = {t: t for t in CANONICAL} | (writes.into if writes else {})
    # Readers make millions of small tuples and no reference cycles; the cyclic garbage
    # collector would only rescan them (a third of a JSON reader's time, measured).
    collecting = gc.isenabled()
    gc.disable()
    try:
        con = case.con
        with transaction(con):
            if writes:
                writes.begin()
            for path in files:
                reader = choose_reader(path, fmt, options)
                check_timezone(path, reader, options.timezone)
                result.files.append(_ingest_file(con, into, path, reader, options, progress))
            result.odd_times = odd_times(con)
            if writes:
                writes.publish()
    except BaseException as exc:
        if writes:
            writes.abandon()
        _give_up(case)
        refused = _refused(case_path, exc)
        if refused is not None:
            raise refused from exc
        raise
    finally:
        if collecting:
            gc.enable()
    if writes:
        writes.finish()
    case.close()
    return result


def _give_up(case: Case) -> None:
    """Close the case after a failed ingest (rolled back), and remove it if this ingest
    created it. On POSIX the file goes while it is still open, so that no other process
    can open it, ingest into it and lose its data to this removal. A Parquet case this
    ingest made goes with its folder, if this ingest made that too."""
    files = (case.file, case.file.with_name(case.file.name + ".wal"))
    early = case.created and os.name == "posix"
    for leftover in files if early else ():
        leftover.unlink(missing_ok=True)
    with suppress(duckdb.Error):  # after a failed write DuckDB may refuse even this
        case.close()
    for leftover in files if case.created and not early else ():
        leftover.unlink(missing_ok=True)
    if case.created and case.made_folder:
        with suppress(OSError):
            case.path.rmdir()  # empty now: its files were never placed, or were removed


def _refused(case_path: Path, error: BaseException) -> TrollscopeError | None:
    """A write to the case that the OS refused (a full disk, say) in one sentence. DuckDB
    names the file in its message: only the case's own files (the file, its WAL, its
    temporary folder) make it the case's error, not an input file DuckDB was reading."""
    if isinstance(error, duckdb.Error) and case_path.name in str(error):
        return write_error(case_path, error)
    return None


def _ingest_file(
    con: duckdb.DuckDBPyConnection,
    into: dict[str, str],
    path: Path,
    reader: Reader,
    options: ReadOptions,
    progress: Progress | None,
) -> FileResult:
    size = path.stat().st_size
    # hashlib releases the GIL: the file is hashed for provenance while it is being read.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(sha256_of, path)
        res = _stage_and_merge(con, into, path, reader, options, progress, size)
        res.sha256 = digest.result()
    _store_rejects(con, into["rejects"], res, path)
    _record_source(con, into["sources"], res, path, size, reader, options)
    staging.drop(con)
    return res


def _stage_and_merge(
    con: duckdb.DuckDBPyConnection,
    into: dict[str, str],
    path: Path,
    reader: Reader,
    options: ReadOptions,
    progress: Progress | None,
    size: int,
) -> FileResult:
    res = FileResult(path=str(path), format=reader.name, sha256="", unit=reader.unit)
    reported = 0

    def advance(n: int) -> None:
        nonlocal reported
        reported += n
        if progress:
            progress(n)

    staging.create(con)
    try:
        staged = reader.stage(con, path, options, advance)
    except GZIP_ERRORS as error:
        raise damaged_gzip(path, error) from None
    if progress and size > reported:
        progress(size - reported)
    res.read = staged.records
    kept = (staged.posts if reader.unit == "posts" else staged.accounts) + staged.repeats
    res.rejected = res.read - kept
    if kept == 0:
        raise NothingReadError(path, _nothing_read(con, reader, res.read))
    res.source_id = _next_source_id(con)
    stored_posts = _merge_posts(con, into["posts"], res.source_id)
    res.accounts_new = _merge_accounts(con, res.source_id)
    res.stored = stored_posts if reader.unit == "posts" else res.accounts_new
    res.duplicate = kept - res.stored
    return res


def _nothing_read(con: duckdb.DuckDBPyConnection, reader: Reader, read: int) -> str:
    if read == 0:
        return f"no records found; expected a {reader.description}."
    examples = con.execute(
        "SELECT line, field, reason FROM stage_rejects ORDER BY line LIMIT 3"
    ).fetchall()
    shown = "; ".join(f"line {ln}, field {fld or '-'}: {why}" for ln, fld, why in examples)
    return (
        f"nothing could be read: all {read} records were rejected as a "
        f"{reader.description} (first: {shown})."
    )


def _next_source_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(source_id), 0) + 1 FROM sources").fetchone()
    assert row is not None
    return int(row[0])


def _merge_posts(con: duckdb.DuckDBPyConnection, table: str, source_id: int) -> int:
    cols = ", ".join(f's."{c}"' for c in POST_COLUMNS)
    # The first copy of a post within the file wins (a grouped min and a semi-join are
    # cheaper than a window over every row); a post already in the case is kept. Row
    # order in `posts` carries no meaning, so DuckDB may insert in parallel.
    con.execute("SET preserve_insertion_order = false")
    try:
        return _insert_first_copies(con, table, cols, source_id)
    finally:
        con.execute("SET preserve_insertion_order = true")


def _insert_first_copies(
    con: duckdb.DuckDBPyConnection, table: str, cols: str, source_id: int
) -> int:
    """Insert into `table` (`posts`, or the new rows of a Parquet case's posts) the first
    copy of each staged post that `posts` does not hold."""
    return rows_written(
        con.execute(
            f"""INSERT INTO {table} SELECT {cols}, ? FROM stage_posts s
                SEMI JOIN (SELECT min(ord) AS ord FROM stage_posts GROUP BY platform, post_id)
                    f USING (ord)
                ANTI JOIN posts p USING (platform, post_id)""",
            [source_id],
        )
    )


def _merge_accounts(con: duckdb.DuckDBPyConnection, source_id: int) -> int:
    """New accounts are added; an account already known keeps its values and only has
    its empty fields filled. First value seen wins, so re-ingesting changes nothing."""
    fields = [c for c in ACCOUNT_COLUMNS if c not in ("platform", "account_id")]
    firsts = ", ".join(
        f'arg_min("{c}", ord) FILTER (WHERE "{c}" IS NOT NULL) AS "{c}"' for c in fields
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE merged_accounts AS
            SELECT platform, account_id, {firsts} FROM stage_accounts GROUP BY ALL"""
    )
    cols = ", ".join(f'"{c}"' for c in ACCOUNT_COLUMNS)
    new = rows_written(
        con.execute(
            f"""INSERT INTO accounts SELECT {cols}, ? FROM merged_accounts m
                ANTI JOIN accounts a USING (platform, account_id)""",
            [source_id],
        )
    )
    gaps = " OR ".join(f'(a."{c}" IS NULL AND m."{c}" IS NOT NULL)' for c in fields)
    sets = ", ".join(f'"{c}" = coalesce(a."{c}", m."{c}")' for c in fields)
    con.execute(
        f"""UPDATE accounts a SET {sets} FROM merged_accounts m
            WHERE a.platform = m.platform AND a.account_id = m.account_id AND ({gaps})"""
    )
    con.execute("DROP TABLE merged_accounts")
    return new


def _store_rejects(con: duckdb.DuckDBPyConnection, table: str, res: FileResult, path: Path) -> None:
    # The same bad row of the same file is recorded once, however often it is ingested.
    con.execute(
        f"""INSERT INTO {table} SELECT ?, ?, ?, s.line, s.field, s.reason, s.raw
           FROM stage_rejects s WHERE NOT EXISTS (
             SELECT 1 FROM rejects r WHERE r.sha256 = ? AND r.line IS NOT DISTINCT FROM s.line
             AND r.field IS NOT DISTINCT FROM s.field AND r.reason = s.reason)""",
        [res.source_id, str(path), res.sha256, res.sha256],
    )


def _record_source(
    con: duckdb.DuckDBPyConnection,
    table: str,
    res: FileResult,
    path: Path,
    size: int,
    reader: Reader,
    options: ReadOptions,
) -> None:
    # What the file was read with, so that a reader of the case can tell what a reject
    # or a missing row was measured against: the time range as it stood that day.
    times = options.times
    opts = json.dumps(
        {
            "platform": options.platform,
            "mapping": dict(options.mapping),
            "timezone": options.timezone,
            "times": [f"{times.low():%Y-%m-%d}", f"{times.high():%Y-%m-%d}"],
        },
        sort_keys=True,
    )
    con.execute(
        f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            res.source_id,
            str(path),
            res.sha256,
            size,
            reader.name,
            reader.version,
            opts,
            __version__,
            datetime.now(UTC).replace(tzinfo=None),
            res.read,
            res.stored,
            res.duplicate,
            res.rejected,
            res.accounts_new,
        ],
    )
