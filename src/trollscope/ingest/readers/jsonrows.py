"""Tweets to canonical Arrow tables: the rows the tweet readers (`twarc2`, `twitter_v1`)
build, and how they become Arrow.

A reader's `parse_block` makes a `Rows` and hands each JSON object of a block of lines to
its own function (`parse_lines`), which appends one tuple per post and per profile.

Why tuples: appending one tuple per post and transposing a few thousand with `zip` is the
cheapest way from Python values to Arrow columns. Times stay text until a whole column is
cast by Arrow (in C); only when a cast or a conversion fails are values looked at one by
one, and the rows at fault become rejects naming their line and field.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from trollscope.errors import MappingError
from trollscope.ingest.batches import Batch
from trollscope.ingest.readers.base import ReadOptions
from trollscope.ingest.readers.lines import content_lines
from trollscope.model import (
    ACCOUNTS_SCHEMA,
    POSTS_SCHEMA,
    REJECTS_SCHEMA,
    STRING_LIST,
    UTC_TIMESTAMP,
    TimeRange,
    count_value,
    key_problem,
    keys_bad_arrow,
    shown,
)

# One post: the POSTS_SCHEMA columns without platform and domains (added per chunk), the
# time as text, then the physical line and where in that line's JSON the tweet sits.
PostRow: TypeAlias = tuple[Any, ...]
# One profile: the ACCOUNTS_SCHEMA columns without platform and extra (the time as text),
# then the four values `extra` is made of (tweet_count, listed_count, verified, protected):
# `extra` is written only for the rows that are kept, not for every repeat of a profile.
AccountRow: TypeAlias = tuple[Any, ...]
RejectRow: TypeAlias = tuple[int | None, str | None, str, str | None]
# Where a tweet sits inside a line: () for the line itself, else (parent, key, index),
# index None for an object that is not in a list.
Where: TypeAlias = tuple[Any, ...]
ToIso: TypeAlias = Callable[[str], str | None]

POST_COLUMNS = tuple(n for n in POSTS_SCHEMA.names if n not in ("platform", "domains"))
ACCOUNT_COLUMNS = tuple(n for n in ACCOUNTS_SCHEMA.names if n not in ("platform", "extra"))
ACCOUNT_WIDTH = len(ACCOUNT_COLUMNS) + 4
_LINE = len(POST_COLUMNS)
_WHERE = _LINE + 1
_TIME = POST_COLUMNS.index("created_at")
_ACCOUNT_TIME = ACCOUNT_COLUMNS.index("created_at")
_HANDLE = ACCOUNT_COLUMNS.index("handle")
# The counts of a profile row: followers, following, then tweet_count and listed_count.
_COUNTS = (
    ACCOUNT_COLUMNS.index("followers"),
    ACCOUNT_COLUMNS.index("following"),
    len(ACCOUNT_COLUMNS),
    len(ACCOUNT_COLUMNS) + 1,
)
# The posts' keys (model.py: no control characters).
_KEYS = ("post_id", "account_id", "ref_post_id", "ref_account_id")
_UTC = pa.timestamp("us", tz="UTC")
_NAIVE = pa.timestamp("us")
_NO_STRINGS = pa.array([], pa.string())

RAW_CHARS = 500  # of a bad line or value, kept with its reject
SPILL_ROWS = 2048  # posts held as Python rows before they become Arrow (see Rows)

EMPTY: list[Any] = []  # shared by rows with no hashtags etc.; never mutated


# Embedded tweets are read to this depth (real data has two levels: a retweet of a quote);
# deeper nesting is hostile input and must not exhaust the stack.
MAX_DEPTH = 3


def depth(where: Where) -> int:
    levels = 0
    while where:
        where = where[0]
        levels += 1
    return levels


def where_path(where: Where, name: str | None) -> str | None:
    """`data[3].created_at` for a tweet at ((), 'data', 3) and the field 'created_at'."""
    parts: list[str] = []
    while where:
        where, key, index = where
        parts.append(f"{key}." if index is None else f"{key}[{index}].")
    prefix = "".join(reversed(parts))
    if name is None:
        return prefix.rstrip(".") or None
    return prefix + name


def snippet(value: object) -> str:
    """A short text form of a value for a reject's `raw` (JSON where it can be)."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
    else:
        try:
            text = orjson.dumps(value).decode()
        except TypeError:
            text = repr(value)
    return text[:RAW_CHARS]


def id_text(value: object) -> str | None:
    """An id as text: ids are strings in both Twitter APIs; a number is taken as written."""
    if type(value) is str:
        return value or None
    if type(value) is int:
        return str(value)
    return None


_BOOL = {True: "true", False: "false"}


def account_extra(
    tweets: object, listed: object, verified: object, protected: object
) -> str | None:
    """The `extra` of a Twitter account: `{"tweet_count", "listed_count", "verified",
    "protected"}`, each only when the profile has it."""
    usual = type(tweets) is int and type(listed) is int
    if usual and type(verified) is bool and type(protected) is bool:
        # The usual profile, formatted without building a dict.
        return (
            f'{{"tweet_count":{tweets},"listed_count":{listed},'
            f'"verified":{_BOOL[verified]},"protected":{_BOOL[protected]}}}'
        )
    values = (
        ("tweet_count", tweets),
        ("listed_count", listed),
        ("verified", verified),
        ("protected", protected),
    )
    extra = {key: value for key, value in values if value is not None}
    return orjson.dumps(extra).decode() if extra else None


# Profiles and embedded posts already emitted by this process while reading one file. A
# profile equal to one already emitted adds nothing, nor does an embedded post (a viral
# tweet is embedded in every retweet of it). Bounded: when full, it starts over, which
# only costs repeats. Scoped to one read, so a file read again (a rolled-back ingest, a
# case) is read whole.
MAX_SEEN_USERS = 100_000
MAX_SEEN_POSTS = 500_000


class Seen:
    __slots__ = ("posts", "read_id", "users")

    def __init__(self) -> None:
        self.read_id = ""
        self.posts: set[str] = set()
        self.users: dict[str, AccountRow | None] = {}


_SEEN = Seen()


def seen_for(read_id: str) -> Seen:
    """This process's memory of what the read `read_id` has emitted."""
    if _SEEN.read_id != read_id:
        _SEEN.read_id = read_id
        _SEEN.posts.clear()
        _SEEN.users.clear()
    if len(_SEEN.users) > MAX_SEEN_USERS:
        _SEEN.users.clear()
    if len(_SEEN.posts) > MAX_SEEN_POSTS:
        _SEEN.posts.clear()
    return _SEEN


class Rows:
    """The canonical rows of one chunk, on their way to Arrow tables.

    Rows are turned into Arrow every SPILL_ROWS posts (`spill`), and the pieces are
    joined when the chunk is taken (`take`): with a few thousand Python rows alive at a
    time rather than a whole chunk's, the memory of parsed tweets is reused while it is
    still in the CPU's caches.

    `fields` names, for each canonical post column, the source field a reject should
    name when a value has the wrong type (`text` -> `text`, `hashtags` ->
    `entities.hashtags`). `to_iso` turns the format's times into ISO 8601 (None: they
    are). `seen` is what the read has emitted so far (`seen_for`). `times` is the range
    posts' and profiles' times must lie in.
    """

    __slots__ = (
        "accounts",
        "fields",
        "platform",
        "posts",
        "rejects",
        "repeats",
        "seen_posts",
        "seen_users",
        "spilled",
        "spilled_records",
        "times",
        "to_iso",
    )

    def __init__(
        self,
        fields: dict[str, str],
        platform: str,
        to_iso: ToIso | None = None,
        seen: Seen | None = None,
        times: TimeRange | None = None,
    ) -> None:
        self.fields = fields
        self.platform = platform
        self.to_iso = to_iso
        self.times = times or TimeRange()
        self.posts: list[PostRow] = []
        self.accounts: list[AccountRow] = []
        self.rejects: list[RejectRow] = []
        seen = seen or Seen()
        # Embedded posts already taken: a repeat is counted, not parsed again.
        self.seen_posts = seen.posts
        # The account row last taken per account id: an equal row adds nothing; a
        # different one is kept too and the case merges them field by field. None: only
        # the id is known.
        self.seen_users = seen.users
        self.repeats = 0
        # Arrow pieces of this chunk: (posts, accounts, rejects) tables, and their records.
        self.spilled: list[tuple[pa.Table, pa.Table, pa.Table]] = []
        self.spilled_records = 0

    @property
    def records(self) -> int:
        return len(self.posts) + len(self.rejects) + self.repeats + self.spilled_records

    @property
    def pending(self) -> int:
        return self.records + len(self.accounts)

    def spill(self) -> None:
        """Turn the rows held so far into Arrow (see the class's docstring)."""
        self.spilled_records += len(self.posts) + len(self.rejects)
        posts = self._posts_table()  # may move rows to the rejects
        accounts = self._accounts_table()
        rejects = pa.Table.from_arrays(
            [
                pa.array(col, f.type)
                for col, f in zip(_columns(self.rejects, 4), REJECTS_SCHEMA, strict=True)
            ],
            schema=REJECTS_SCHEMA,
        )
        self.spilled.append((posts, accounts, rejects))
        self.posts, self.accounts, self.rejects = [], [], []

    def take(self) -> Batch:
        """The chunk as a Batch; the rows are emptied for the next chunk."""
        self.spill()
        posts, accounts, rejects = (
            pa.concat_tables([piece[i] for piece in self.spilled]) for i in range(3)
        )
        batch = Batch(
            posts=posts,
            accounts=accounts,
            rejects=rejects,
            records=self.spilled_records + self.repeats,
            repeats=self.repeats,
        )
        self.spilled, self.spilled_records, self.repeats = [], 0, 0
        return batch

    def reject(self, line: int, field: str | None, reason: str, raw: str | None) -> None:
        self.rejects.append((line, field, reason, raw))

    def bad_line(self, line: int, data: bytes, exc: orjson.JSONDecodeError) -> None:
        """Set aside a line that is not JSON, saying whether its bytes or its syntax is bad."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as bad:
            reason = (
                f"invalid UTF-8 bytes at byte {bad.start + 1} of the line; the file must be "
                "UTF-8: re-save or re-export it as UTF-8"
            )
        else:
            # orjson counts characters, as does `text`.
            cut = exc.pos >= len(text.rstrip())
            reason = f"invalid JSON at column {exc.colno}: {exc.msg}" + (
                "; the line is cut short (a truncated file?)" if cut else ""
            )
        self.reject(line, None, reason, snippet(data))

    def not_an_object(self, line: int, value: object) -> None:
        self.reject(
            line,
            None,
            f"expected one JSON object per line, got a JSON {_json_type(value)}",
            snippet(value),
        )

    def _posts_table(self) -> pa.Table:
        rows, platform, to_iso = self.posts, self.platform, self.to_iso
        while True:
            cols = _columns(rows, len(POST_COLUMNS))
            times, bad = _times(cols[_TIME], to_iso, self.times)
            arrays: dict[str, pa.Array] = {"created_at": times}
            for index, name in enumerate(POST_COLUMNS):
                if name == "created_at":
                    continue
                type_ = POSTS_SCHEMA.field(name).type
                try:
                    arrays[name] = pa.array(cols[index], type_)
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    for row in _bad_values(cols[index], type_):
                        bad.setdefault(row, (name, _type_reason(type_, cols[index][row])))
            for name in _KEYS:
                if name in arrays and pc.any(keys_bad_arrow(arrays[name])).as_py():
                    source = self.fields.get(name, name)
                    for row in _true_rows(keys_bad_arrow(arrays[name])):
                        value = cols[POST_COLUMNS.index(name)][row]
                        bad.setdefault(row, (name, key_problem(source, value) or ""))
            if not bad:
                break
            for row, (name, reason) in sorted(bad.items()):
                post = rows[row]
                source = self.fields.get(name, name)
                raw = snippet(post[POST_COLUMNS.index(name)])
                self.rejects.append((post[_LINE], where_path(post[_WHERE], source), reason, raw))
            rows = [post for row, post in enumerate(rows) if row not in bad]
        count = len(rows)
        arrays["platform"] = _constant(count, platform)
        arrays["domains"] = _empty_lists(count)
        return pa.Table.from_arrays([arrays[n] for n in POSTS_SCHEMA.names], schema=POSTS_SCHEMA)

    def profile(
        self, row: AccountRow, names: Mapping[int, str]
    ) -> tuple[AccountRow, tuple[str, str] | None]:
        """A profile row as it is stored (its creation time parsed, its counts whole
        numbers), or the (field, reason) of the first value in it that a record may not
        hold (model.py): a handle with a control character, a count that is not one, a
        creation time that is unreadable or outside the range. `names` names the source
        field of each of those values (by its index in the row).

        Callers reject the record that carries a bad profile (a tweet with its author),
        and leave out a bad profile that comes with no record of its own.
        """
        handle = row[_HANDLE]
        if handle is not None:
            name = names[_HANDLE]
            if type(handle) is not str:
                return row, (name, f"expected {name} as text, got {snippet(handle)}")
            if problem := key_problem(name, handle):
                return row, (name, problem)
        fixed = list(row)
        for index in _COUNTS:
            count, problem = count_value(names[index], row[index])
            if problem:
                return row, (names[index], problem)
            fixed[index] = count
        created = row[_ACCOUNT_TIME]
        if created is not None:
            when, problem = self._profile_time(names[_ACCOUNT_TIME], created)
            if problem:
                return row, (names[_ACCOUNT_TIME], problem)
            fixed[_ACCOUNT_TIME] = when
        return tuple(fixed), None

    def _profile_time(self, name: str, value: object) -> tuple[datetime | None, str | None]:
        text = self.to_iso(value) if self.to_iso and type(value) is str else value
        try:
            when = datetime.fromisoformat(text) if type(text) is str else None
        except ValueError:
            when = None
        if when is None:
            return None, f"expected {name} like {_example(self.to_iso)}, got {shown(value)}"
        if when.tzinfo is not None:
            when = when.replace(tzinfo=None) - (when.utcoffset() or timedelta(0))
        if not self.times.contains(when):
            return None, f"{name} {shown(value)} is not {self.times.words}"
        return when, None

    def _accounts_table(self) -> pa.Table:
        platform = self.platform
        cols = _columns(self.accounts, ACCOUNT_WIDTH)
        arrays = {"platform": _constant(len(self.accounts), platform)}
        for index, name in enumerate(ACCOUNT_COLUMNS):
            if index == _ACCOUNT_TIME:
                # Parsed and checked by `profile`, as every value a record may not hold.
                arrays[name] = pa.array(cols[index], UTC_TIMESTAMP)
                continue
            arrays[name] = _clean_array(cols[index], ACCOUNTS_SCHEMA.field(name).type)
        counts = zip(*cols[len(ACCOUNT_COLUMNS) :], strict=True)
        arrays["extra"] = pa.array([account_extra(*values) for values in counts], pa.string())
        return pa.Table.from_arrays(
            [arrays[n] for n in ACCOUNTS_SCHEMA.names], schema=ACCOUNTS_SCHEMA
        )


def _clean_array(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """The values as an Arrow array, those of the wrong type (hostile input) dropped."""
    try:
        return pa.array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        bad = set(_bad_values(values, type_))
        return pa.array([None if i in bad else v for i, v in enumerate(values)], type_)


def parse_lines(
    block: bytes,
    first_line: int,
    rows: Rows,
    chunk_size: int,
    add: Callable[[Rows, dict[str, Any], int], None],
) -> list[Batch]:
    """The batches of a block of JSON lines; `add(rows, object, line)` takes each object.

    The cyclic garbage collector is paused meanwhile: parsed JSON holds no cycles (reference
    counting frees it), and a collector scanning thousands of live rows costs a sixth of the
    parse time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_lines(block, first_line, rows, chunk_size, add)
    finally:
        if was_enabled:
            gc.enable()


def _parse_lines(
    block: bytes,
    first_line: int,
    rows: Rows,
    chunk_size: int,
    add: Callable[[Rows, dict[str, Any], int], None],
) -> list[Batch]:
    out: list[Batch] = []
    loads = orjson.loads
    # Looking at the chunk's size costs a little; with big chunks, every 64 lines will do.
    every = 63 if chunk_size >= 4096 else 0
    # Blank lines are not records: content_lines passes over them in C.
    for seen, (line, data) in enumerate(content_lines(block, first_line)):
        try:
            obj = loads(data)
        except orjson.JSONDecodeError as exc:
            rows.bad_line(line, data, exc)
            continue
        if type(obj) is dict:
            add(rows, obj, line)
        else:
            rows.not_an_object(line, obj)
        if not seen & every:
            if rows.pending >= chunk_size:
                out.append(rows.take())
            elif len(rows.posts) >= SPILL_ROWS:
                rows.spill()
    if rows.pending or not out:
        out.append(rows.take())
    return out


def _json_type(value: object) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[tuple[Any, ...]]:
    if not rows:
        return [() for _ in range(width)]
    return list(zip(*rows, strict=False))[:width]


def _empty_lists(count: int) -> pa.Array:
    # Built from zero offsets: filling nulls with an empty list costs a microsecond a row.
    offsets = pc.fill_null(pa.nulls(count + 1, pa.int32()), 0)
    return pa.ListArray.from_arrays(offsets, _NO_STRINGS, type=STRING_LIST)


def _constant(count: int, value: str) -> pa.Array:
    return pc.fill_null(pa.nulls(count, pa.string()), value)


def _true_rows(mask: pa.Array) -> list[int]:
    return [i for i, flag in enumerate(mask.to_pylist()) if flag]


def _times(
    values: Sequence[Any] | pa.Array, to_iso: ToIso | None, times: TimeRange
) -> tuple[pa.Array, dict[int, Any]]:
    """Times as naive UTC timestamps, and the rows whose time is not one (with why, quoting
    the value as the file has it)."""
    originals: Sequence[Any] | pa.Array = values
    if to_iso is None:
        texts = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    else:
        if isinstance(originals, pa.Array):
            originals = originals.to_pylist()
        texts = pa.array([None if v is None else to_iso(v) for v in originals], pa.string())
    read = _cast_times(texts)
    parsed = times.arrow(read)
    bad: dict[int, Any] = {}
    if parsed.null_count:
        if isinstance(originals, pa.Array):
            originals = originals.to_pylist()
        valid = parsed.is_valid().to_pylist()
        was_read = read.is_valid().to_pylist()
        for row, (value, ok) in enumerate(zip(originals, valid, strict=True)):
            if not ok and value is not None:
                bad[row] = (
                    "created_at",
                    f"the time {snippet(value)} is not {times.words}"
                    if was_read[row]
                    else f"expected a time like {_example(to_iso)}, got {snippet(value)}",
                )
    return parsed, bad


def _example(to_iso: ToIso | None) -> str:
    return "2022-03-23T15:47:42.000Z" if to_iso is None else "'Wed Oct 10 20:19:24 +0000 2018'"


def _cast_times(texts: pa.Array) -> pa.Array:
    """ISO 8601 text with an offset to naive UTC; a value Arrow cannot read becomes null.

    The whole column is cast at once; only a failing cast is split in halves to find the
    bad values, so a clean chunk costs one C call.
    """
    try:
        return texts.cast(_UTC).cast(_NAIVE)
    except pa.ArrowInvalid:
        if len(texts) == 1:
            return pa.nulls(1, _NAIVE)
        middle = len(texts) // 2
        return pa.concat_arrays(
            [_cast_times(texts.slice(0, middle)), _cast_times(texts.slice(middle))]
        )


def _bad_values(values: Sequence[Any], type_: pa.DataType) -> list[int]:
    if type_ == STRING_LIST:
        return [
            i
            for i, v in enumerate(values)
            if v is not None and not (type(v) is list and all(type(x) is str for x in v))
        ]
    if type_ == pa.int64():
        return [
            i
            for i, v in enumerate(values)
            if v is not None and not (type(v) is int and -(2**63) <= v < 2**63)
        ]
    return [i for i, v in enumerate(values) if v is not None and type(v) is not str]


def _type_reason(type_: pa.DataType, value: object) -> str:
    if type_ == STRING_LIST:
        return f"expected a list of texts, got {snippet(value)}"
    wanted = "a whole number" if type_ == pa.int64() else "text"
    return f"expected {wanted}, got a JSON {_json_type(value)}"


def no_mapping(path: Path, options: ReadOptions, fmt: str) -> None:
    """A fixed-shape format takes no --map: say so rather than silently ignore it."""
    if options.mapping:
        raise MappingError(
            f"{path}: --map does not apply to the {fmt} format, whose fields are fixed. Drop --map."
        )
