"""Shared machinery for tabular readers: DuckDB parses, SQL maps columns, Arrow carries.

A tabular reader describes its format as a `TablePlan` (which source columns it needs, one
SQL expression per canonical column, and checks that set a bad row aside) and lets
`stream_table` do the rest. Parsing runs in DuckDB's C++ CSV reader on a private
in-memory connection, streaming in chunks; rows come out as Arrow batches.

Where a reject's line comes from: DuckDB reports malformed rows (wrong column count, bad
quoting, invalid UTF-8) with their row number. Rows that parse but fail a check get their
number from a streaming `row_number() OVER ()`, corrected for the malformed rows DuckDB
skipped. Row numbers count the header as row 1 and a quoted multi-line field as one row,
as a spreadsheet does; in a header-less file (`csv_source(..., has_header=False)` with
`TablePlan.header_rows=0`) the first record is row 1.
"""

from __future__ import annotations

import csv
import io
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from trollscope.errors import FormatError
from trollscope.ingest import staging
from trollscope.ingest.batches import Batch
from trollscope.ingest.readers.base import (
    GZIP_ERRORS,
    Reader,
    ReadOptions,
    damaged_gzip,
    is_gzip,
    open_input,
)
from trollscope.ingest.readers.csvlines import emptied_copy, has_space_lines
from trollscope.model import (
    ACCOUNTS_SCHEMA,
    POSTS_SCHEMA,
    REJECTS_SCHEMA,
    TimeRange,
    count_bad_sql,
    count_reason_sql,
    key_bad_sql,
    key_reason_sql,
)
from trollscope.sql import ident, literal

ORDINAL = "__ord"
REJECT_FIELD = "__reject_field"
REJECT_REASON = "__reject_reason"
REJECT_RAW = "__reject_raw"
REPEATS = "__repeats"
MAX_LINE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Check:
    """A row is set aside when `bad` (SQL, over source columns) is true.

    `reason` is a SQL expression for the message, so it can quote the offending value.
    """

    field: str
    bad: str
    reason: str


def key_check(field: str, expr: str, guard: str | None = None) -> Check:
    """Set a row aside when the id or handle `expr` (SQL) holds a control character.

    `guard`, when given, is a column that is true when any of a row's keys holds one
    (`keys_guard_sql`): a row's checks run one after another, and one test of all its
    keys together spares every good row a test per key (a tenth of a CSV's read time).
    """
    bad = key_bad_sql(expr)
    return Check(field, f"({guard} AND {bad})" if guard else bad, key_reason_sql(field, expr))


def keys_guard_sql(exprs: Sequence[str]) -> str:
    """SQL: true when any of the keys `exprs` holds a control character (see key_check)."""
    return key_bad_sql(f"concat({', '.join(exprs)})")


def count_check(field: str, text: str, parsed: str | None = None) -> Check:
    """Set a row aside when the text `text` holds something that is not a count;
    `parsed`, when given, is the column already holding model.count_sql(text)."""
    return Check(field, count_bad_sql(text, parsed), count_reason_sql(field, text))


@dataclass(frozen=True, slots=True)
class TablePlan:
    """How one tabular format maps to the canonical tables.

    `posts` and `accounts` map canonical column -> SQL expression over the source columns
    (quote them with `ident`). A column left out is NULL. `posts=None` means the format
    holds accounts only. `group_by`, when set, turns several source rows into one post
    (the rows of one post in an object-share table); expressions must then aggregate.
    """

    posts: Mapping[str, str] | None
    accounts: Mapping[str, str]
    checks: Sequence[Check] = ()
    group_by: Sequence[str] = ()
    # SQL over the source columns naming the raw value shown with a reject.
    raw: str = "NULL"
    # With group_by: SQL naming a source row's content; a row repeated exactly within a
    # group is counted as a duplicate record instead of silently merging.
    row_identity: str = "NULL"
    extra_where: str | None = None
    types: Mapping[str, str] = field(default_factory=dict)
    # Rows before the first record: 1 (a header row), or 0 for a header-less file.
    header_rows: int = 1


def read_csv_header(path: Path, format_label: str) -> list[str]:
    """The header row of a CSV file, or a FormatError saying why there is none.

    Only the header's own bytes are decoded: a bad byte further down is a row's problem
    (a reject), not the file's.
    """
    with open_input(path) as raw:
        first = raw.readline(MAX_LINE_BYTES)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(
            path,
            f"the header row is not valid UTF-8 (byte {exc.start}), so this is not a "
            f"{format_label} file as exported.",
            "Re-save the file as UTF-8.",
        ) from exc
    try:
        row = next(csv.reader(io.StringIO(text)), None)
    except csv.Error as exc:
        raise FormatError(
            path,
            f"the header row cannot be read as CSV ({exc}), so this is not a "
            f"{format_label} file as exported.",
            "Check the file, or name its format with --format.",
        ) from exc
    if row is None or not any(cell.strip() for cell in row):
        raise FormatError(path, f"the file is empty; expected a {format_label} with a header row.")
    return [cell.strip() for cell in row]


def require_columns(
    path: Path, header: Sequence[str], required: Sequence[str], format_label: str
) -> None:
    """Raise a FormatError naming the missing columns, the expected and the found header."""
    missing = [name for name in required if name not in header]
    if missing:
        shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
        raise FormatError(
            path,
            f"this is not a {format_label}: column(s) {', '.join(missing)} missing from the "
            f"header (found: {shown}).",
            "Check the file, or pick its format with --format / map its columns with --map.",
        )


def csv_source(path: Path, header: Sequence[str], *, has_header: bool = True) -> str:
    """A DuckDB table expression reading every column of `path` as text, strictly.

    With `has_header=False` the first row is a record and `header` only names the columns.
    """
    columns = ", ".join(f"{literal(name)}: 'VARCHAR'" for name in header)
    path = _READ_AS.get(path, path)
    compression = "gzip" if is_gzip(path) else "none"
    return (
        f"read_csv({literal(str(path))}, columns={{{columns}}}, "
        f"header={'true' if has_header else 'false'}, "
        "auto_detect=false, delim=',', quote='\"', escape='\"', strict_mode=true, "
        f"store_rejects=true, rejects_table='__rejects', rejects_scan='__reject_scans', "
        f"max_line_size={MAX_LINE_BYTES}, encoding='utf-8', compression='{compression}')"
    )


# An input DuckDB reads in the form of its copy with whitespace-only lines emptied, while
# it is being read (`_spaces_emptied`).
_READ_AS: dict[Path, Path] = {}


@contextmanager
def _spaces_emptied(path: Path) -> Iterator[None]:
    """While `path` is read, have `csv_source` read a copy of it with its whitespace-only
    lines emptied, when it has any (csvlines.py: they are not records, and cost DuckDB's
    parser a reject per missing column)."""
    with path.open("rb") as handle:
        parquet = handle.read(4) == b"PAR1"
    if parquet or not has_space_lines(path):
        yield
        return
    copy = emptied_copy(path)
    _READ_AS[path] = copy
    try:
        yield
    finally:
        del _READ_AS[path]
        copy.unlink(missing_ok=True)


def parquet_source(path: Path) -> str:
    return f"read_parquet({literal(str(path))})"


_OFFSET = "(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_BAD_OFFSET = "[+-](1[5-9]|[2-9][0-9]):?[0-9]{2}$"  # no zone is 15 hours off UTC
_MAX_SECONDS = 253402300800  # 10000-01-01 in POSIX seconds


def time_sql(column: str, times: TimeRange, timezone: str | None = None) -> str:
    """SQL turning a text time into a naive UTC TIMESTAMP, or NULL if it is not one or
    lies outside `times`.

    Accepts POSIX seconds (integer or fractional) and ISO 8601 with or without an offset
    (the connection runs in UTC, so TIMESTAMPTZ -> TIMESTAMP gives UTC wall time). A time
    without an offset is UTC, or local time in `timezone` (an IANA name) when given.
    """
    offset_less = (
        f"WHEN NOT regexp_matches(trim({column}), {literal(_OFFSET)}) "
        f"THEN CAST(timezone({literal(timezone)}, try_cast(trim({column}) AS TIMESTAMP)) "
        "AS TIMESTAMP) "
        if timezone
        else ""
    )
    # POSIX seconds beyond the year 9999 would make make_timestamp fail for the whole
    # file; they are left NULL here (a reject), like every time outside the record's range.
    return times.sql(
        f"CASE WHEN regexp_matches(trim({column}), {literal(_BAD_OFFSET)}) THEN NULL "
        f"WHEN regexp_full_match(trim({column}), '-?[0-9]+(\\.[0-9]+)?') "
        f"THEN CASE WHEN abs(CAST(trim({column}) AS DOUBLE)) < {_MAX_SECONDS} "
        f"THEN make_timestamp(CAST(round(CAST(trim({column}) AS DOUBLE) * 1000000) AS BIGINT)) "
        f"END {offset_less}ELSE CAST(try_cast(trim({column}) AS TIMESTAMPTZ) AS TIMESTAMP) END"
    )


def id_sql(column: str) -> str:
    """SQL for an id column: trimmed text, NULL when empty, and `123.0` (an integer id
    that went through a float column in R or pandas) written back as `123`."""
    return (
        f"nullif(regexp_replace(trim(CAST({column} AS VARCHAR)), '^(-?[0-9]+)\\.0+$', '\\1'), '')"
    )


def _select_list(mapping: Mapping[str, str] | None, schema: pa.Schema, prefix: str) -> list[str]:
    if mapping is None:
        return []
    unknown = set(mapping) - set(schema.names)
    if unknown:
        raise ValueError(f"plan maps unknown canonical columns: {sorted(unknown)}")
    return [f"{mapping.get(name, 'NULL')} AS {ident(prefix + name)}" for name in schema.names]


def build_query(source: str, plan: TablePlan, *, numbered: bool = True) -> str:
    """The SELECT that turns source rows into canonical columns plus reject markers.

    `numbered=False` (for a plan without `group_by`) leaves out the row numbers: a
    `row_number() OVER ()` makes DuckDB run the whole query on one thread, and a caller
    that materialises the result can number the rows from their rowid instead.
    """
    reason_cases = " ".join(f"WHEN {c.bad} THEN {c.reason}" for c in plan.checks)
    field_cases = " ".join(f"WHEN {c.bad} THEN {literal(c.field)}" for c in plan.checks)
    reason = f"CASE {reason_cases} END" if plan.checks else "NULL"
    field_ = f"CASE {field_cases} END" if plan.checks else "NULL"
    numbered_rows = (
        f"SELECT *, row_number() OVER () + {plan.header_rows} AS {ORDINAL} FROM {source}"
    )
    where = f"WHERE {plan.extra_where}" if plan.extra_where else ""
    if plan.group_by:
        # One scan: good rows group by post; a bad row forms a group of its own (keyed by
        # its ordinal) and is set aside with its reason. Reading the file once matters.
        keys = ", ".join(plan.group_by)
        checked = (
            f"SELECT *, {field_} AS {REJECT_FIELD}, {reason} AS {REJECT_REASON}, "
            f"{plan.raw} AS {REJECT_RAW} FROM ({numbered_rows}) {where}"
        )
        cols = _select_list(plan.posts, POSTS_SCHEMA, "p.") + _select_list(
            plan.accounts, ACCOUNTS_SCHEMA, "a."
        )
        return (
            f"SELECT {', '.join(cols)}, min({ORDINAL}) AS {ORDINAL}, "
            f"any_value({REJECT_FIELD}) AS {REJECT_FIELD}, "
            f"any_value({REJECT_REASON}) AS {REJECT_REASON}, "
            f"any_value({REJECT_RAW}) AS {REJECT_RAW}, "
            f"count(*) - count(DISTINCT {plan.row_identity}) AS {REPEATS} "
            f"FROM ({checked}) GROUP BY {keys}, "
            f"CASE WHEN {REJECT_REASON} IS NULL THEN NULL ELSE {ORDINAL} END "
            f"ORDER BY {ORDINAL}"
        )
    cols = _select_list(plan.posts, POSTS_SCHEMA, "p.") + _select_list(
        plan.accounts, ACCOUNTS_SCHEMA, "a."
    )
    if not numbered:
        return (
            f"SELECT {', '.join(cols)}, {field_} AS {REJECT_FIELD}, "
            f"{reason} AS {REJECT_REASON}, {plan.raw} AS {REJECT_RAW}, 0 AS {REPEATS} "
            f"FROM {source} {where}"
        )
    return (
        f"SELECT {', '.join(cols)}, {ORDINAL}, {field_} AS {REJECT_FIELD}, "
        f"{reason} AS {REJECT_REASON}, {plan.raw} AS {REJECT_RAW}, 0 AS {REPEATS} "
        f"FROM ({numbered_rows}) {where}"
    )


def _sub_table(batch: pa.RecordBatch, schema: pa.Schema, prefix: str) -> pa.Table:
    arrays = [batch.column(prefix + f.name).cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _true_lines(ordinals: Sequence[int], skipped: Sequence[int]) -> list[int]:
    """Row numbers of the `ordinals`-th parsed rows (header = 1; both sorted), given the
    malformed rows' numbers that the parser skipped: each skipped row at or before a row
    shifts it. One walk over both lists: a file with many bad rows stays linear."""
    lines, passed = [], 0
    for ordinal in ordinals:
        while passed < len(skipped) and skipped[passed] <= ordinal + passed:
            passed += 1
        lines.append(ordinal + passed)
    return lines


def stream_table(
    path: Path,
    source: str,
    plan: TablePlan,
    chunk_size: int,
    *,
    is_csv: bool,
) -> Iterator[Batch]:
    """Run `plan` over `source` and yield canonical batches, rejects last.

    Parsed rows that fail a check are held until the end (they are few, and their row
    numbers can only be corrected once the parser has reported every malformed row).
    """
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    try:
        query = build_query(source, plan)
        reader = con.sql(query).to_arrow_reader(chunk_size)
        held: list[tuple[int, str | None, str, str | None]] = []
        for batch in reader:
            reasons = batch.column(REJECT_REASON)
            good_mask = pc.is_null(reasons)
            # Most batches have no bad row: filtering would copy every column for nothing.
            good = batch if reasons.null_count == batch.num_rows else batch.filter(good_mask)
            bad_count = batch.num_rows - good.num_rows
            if bad_count:
                bad = batch.filter(pc.invert(good_mask))
                held.extend(
                    zip(
                        bad.column(ORDINAL).to_pylist(),
                        bad.column(REJECT_FIELD).to_pylist(),
                        bad.column(REJECT_REASON).to_pylist(),
                        bad.column(REJECT_RAW).to_pylist(),
                        strict=True,
                    )
                )
            posts = (
                _sub_table(good, POSTS_SCHEMA, "p.")
                if plan.posts is not None
                else POSTS_SCHEMA.empty_table()
            )
            # One profile row per source row; the case merges them (first value wins).
            accounts = _sub_table(good, ACCOUNTS_SCHEMA, "a.")
            repeats = int(pc.sum(good.column(REPEATS)).as_py() or 0)
            yield Batch(
                posts=posts,
                accounts=accounts,
                rejects=REJECTS_SCHEMA.empty_table(),
                records=good.num_rows + repeats,
                repeats=repeats,
            )
        rejects = _rejects(_malformed_rows(con) if is_csv else [], held)
        if rejects.num_rows:
            yield Batch(
                posts=POSTS_SCHEMA.empty_table(),
                accounts=ACCOUNTS_SCHEMA.empty_table(),
                rejects=rejects,
                records=rejects.num_rows,
            )
    except duckdb.Error as exc:
        raise _read_error(path, exc) from exc
    finally:
        con.close()


_PARSER_REASONS = {
    "INVALID ENCODING": "invalid UTF-8 bytes; re-save the file as UTF-8",
    "TOO MANY COLUMNS": "more fields than the header has; check quoting of commas",
    "MISSING COLUMNS": "fewer fields than the header has; the row may be cut short",
    "UNQUOTED VALUE": "a quote is opened and never closed; the rest of the file is this row",
    "LINE SIZE OVER MAXIMUM": "the row is longer than the reader allows",
}


RejectRow = tuple[int, str | None, str, str | None]


def _malformed_rows(con: duckdb.DuckDBPyConnection) -> list[RejectRow]:
    """One reject per malformed row, however many errors the parser found in it (a
    short row is one error per missing column): its fields joined with ", ", the
    problems with "; ". One rejected record is one row in `rejects`."""
    try:
        found = con.execute(
            """SELECT line, error_type, any_value(error_message), any_value(csv_line),
                      string_agg(column_name, ', ' ORDER BY column_idx)
               FROM (SELECT DISTINCT line, column_idx, column_name, error_type,
                                     error_message, csv_line FROM __rejects)
               GROUP BY line, error_type ORDER BY line, min(column_idx) NULLS FIRST"""
        ).fetchall()
    except duckdb.CatalogException:
        return []
    rows: dict[int, tuple[list[str], list[str], str]] = {}
    for line, error_type, message, csv_line, columns in found:
        fields, reasons, _ = rows.setdefault(int(line), ([], [], (csv_line or "")[:500]))
        reasons.append(_PARSER_REASONS.get(str(error_type), str(message)))
        fields += [c for c in (columns or "").split(", ") if c and c not in fields]
    return [
        (line, ", ".join(fields) or None, "; ".join(dict.fromkeys(reasons)), raw)
        for line, (fields, reasons, raw) in rows.items()
    ]


def _rejects(malformed: list[RejectRow], held: Sequence[RejectRow]) -> pa.Table:
    """The rejects of a table: the malformed rows the parser skipped, and the parsed rows
    that failed a check (`held`, by ordinal, sorted), renumbered as rows of the file."""
    held = sorted(held, key=lambda row: row[0])
    lines = _true_lines([row[0] for row in held], [row[0] for row in malformed])
    rows = malformed + [(line, *row[1:]) for line, row in zip(lines, held, strict=True)]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in REJECTS_SCHEMA]
    return pa.Table.from_arrays(
        [pa.array(col, f.type) for col, f in zip(columns, REJECTS_SCHEMA, strict=True)],
        schema=REJECTS_SCHEMA,
    )


@dataclass(frozen=True, slots=True)
class TableQuery:
    """A tabular file, ready to run: the source expression and the plan over it."""

    path: Path
    source: str
    plan: TablePlan
    is_csv: bool


class SqlTableReader(Reader):
    """A reader whose format is a table parsed and mapped by DuckDB.

    Subclasses implement `query` (check the header, build the plan). `read` streams Arrow
    batches from a private connection; `stage`, used by ingest, runs the same SQL on the
    case's connection and never brings the rows into Python.
    """

    @abstractmethod
    def query(self, path: Path, options: ReadOptions) -> TableQuery:
        """The query for `path`; raise FormatError when the file is not this format."""

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        with _spaces_emptied(path):
            q = self.query(path, options)
            yield from stream_table(q.path, q.source, q.plan, options.chunk_size, is_csv=q.is_csv)

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        options: ReadOptions,
        progress: staging.Progress | None = None,
    ) -> staging.Staged:
        with _spaces_emptied(path):
            return stage_table(con, self.query(path, options))


def stage_table(con: duckdb.DuckDBPyConnection, q: TableQuery) -> staging.Staged:
    """Run `q` on `con` (the case, inside the ingest transaction) into the staging tables.

    One scan of the file into a temporary table (`staging.SOURCE`); `stage_posts` and
    `stage_accounts` become views of its good rows (copying a million rows into tables
    of their own cost a second write and read of the whole file); the bad ones (few) go
    through Python, where their row numbers are corrected for the malformed rows the
    parser skipped.
    """
    con.execute("DROP TABLE IF EXISTS __rejects")
    con.execute("DROP TABLE IF EXISTS __reject_scans")
    grouped = bool(q.plan.group_by)
    source = staging.SOURCE
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {source} AS "
            + build_query(q.source, q.plan, numbered=grouped)
        )
    except duckdb.Error as exc:
        raise _read_error(q.path, exc) from exc
    # Without grouping the query ran in parallel, unnumbered; insertion order is kept,
    # so rowids follow the file (from an offset: rows of an open transaction are numbered
    # from a high base).
    ordinal = ORDINAL
    if not grouped:
        base = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {source}").fetchone()
        ordinal = f"(rowid - {int(base[0]) if base else 0} + {q.plan.header_rows + 1})"
    try:
        good = f"FROM {source} WHERE {REJECT_REASON} IS NULL"
        post_cols = ", ".join(f"{ident('p.' + n)} AS {ident(n)}" for n in POSTS_SCHEMA.names)
        account_cols = ", ".join(f"{ident('a.' + n)} AS {ident(n)}" for n in ACCOUNTS_SCHEMA.names)
        staged = staging.Staged()
        # Both views hold the good rows: one count serves for both, and for the repeats.
        [(good_rows, repeats)] = con.execute(
            f"SELECT count(*), coalesce(sum({REPEATS}), 0) {good}"
        ).fetchall()
        if q.plan.posts is not None:
            staging.stage_view(con, "stage_posts", f"SELECT {post_cols}, {ordinal} AS ord {good}")
            staged.posts = int(good_rows)
        staging.stage_view(con, "stage_accounts", f"SELECT {account_cols}, {ordinal} AS ord {good}")
        staged.accounts = int(good_rows)
        staged.repeats = int(repeats)
        held = con.execute(
            f"SELECT {ordinal} AS o, {REJECT_FIELD}, {REJECT_REASON}, {REJECT_RAW} "
            f"FROM {source} WHERE {REJECT_REASON} IS NOT NULL ORDER BY o"
        ).fetchall()
        rejects = _rejects(_malformed_rows(con) if q.is_csv else [], held)
        if rejects.num_rows:
            # Through Arrow: executemany took 0.4 ms a row (13 s for 30,000).
            con.register("incoming_rejects", rejects)
            try:
                con.execute("INSERT INTO stage_rejects SELECT * FROM incoming_rejects")
            finally:
                con.unregister("incoming_rejects")
        kept = staged.posts if q.plan.posts is not None else staged.accounts
        staged.records = kept + staged.repeats + rejects.num_rows
        return staged
    finally:
        for table in ("__rejects", "__reject_scans"):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _read_error(path: Path, exc: duckdb.Error) -> FormatError:
    """DuckDB's error reading a table, in words; a damaged gzip stream says so."""
    if is_gzip(path) and "gzip" in str(exc).lower():
        return damaged_gzip(path, exc)
    if _doubled_carriage_returns(path):
        return FormatError(
            path,
            "has lines that end in two carriage returns (\\r\\r\\n, as after a second "
            "CRLF conversion), which the CSV parser cannot follow;",
            "strip them first, e.g. `sed -i 's/\\r*$//' FILE`.",
        )
    # DuckDB's first line says what failed; the rest is its reader's settings dump.
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return FormatError(path, f"could not be read as a table: {first}")


def _doubled_carriage_returns(path: Path, limit: int = 64 * 1024 * 1024) -> bool:
    """Whether the file's first `limit` bytes hold a line that ends in \\r\\r\\n (a cheap
    look after a parse error, never on the way of a good file). A file that mixes CRLF
    and LF line ends alone reads well."""
    try:
        with open_input(path) as handle:
            data = handle.read(limit)
    except (OSError, *GZIP_ERRORS):
        return False
    return b"\r\r\n" in data
