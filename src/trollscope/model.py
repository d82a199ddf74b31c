"""The canonical, platform-neutral data model.

Every reader turns its format into these records; nothing downstream knows the platform.
The Arrow schemas below are the single source of truth: the DuckDB tables of a case
(`case.py`) and the batch builders (`batches.py`) are derived from them, so a column is
added in exactly one place.

Times are UTC. In Arrow and DuckDB they are naive timestamps with microsecond precision
whose meaning is always UTC (readers convert; nothing stores local time).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

import pyarrow as pa
import pyarrow.compute as pc

from trollscope.errors import MappingError

UTC_TIMESTAMP = pa.timestamp("us")
STRING_LIST = pa.list_(pa.string())

# What a record may hold (docs/formats.md, "What a record may hold"): the one boundary
# every reader passes its values through, so that a value no platform could give is a
# reject naming its record's line, field and value, never a stored value and never a
# whole-file refusal. Each check comes in the forms the readers need: Python values (JSON
# readers), Arrow arrays, and SQL over text columns (tabular readers, run in DuckDB).

# Social platforms begin in 2004 (Facebook; Twitter 2006) and nothing is posted tomorrow;
# a time outside that is a parsing accident (POSIX 0, the year 0 or 10000, 'infinity',
# 'epoch') that would break every later command (rhythm and creation signals, `info`).
EARLIEST = datetime(2004, 1, 1)
EARLIEST_DAY = EARLIEST.date()


@dataclass(frozen=True, slots=True)
class TimeRange:
    """The times a record may hold (UTC): from the start of the day `earliest` to the end
    of the day `latest`, or to a day from now when `latest` is None (clock skew, time
    zones). `--earliest` and `--latest` set it; every reader's time checks take it from
    its ReadOptions. It bounds post times and accounts' creation times alike."""

    earliest: date = EARLIEST_DAY
    latest: date | None = None

    def __post_init__(self) -> None:
        if self.latest is not None and self.latest < self.earliest:
            raise MappingError(
                f"--earliest {self.earliest:%Y-%m-%d} is after --latest {self.latest:%Y-%m-%d}; "
                "give a range that starts before it ends."
            )

    def low(self) -> datetime:
        return datetime.combine(self.earliest, time())

    def high(self) -> datetime:
        if self.latest is None:
            return datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
        return datetime.combine(self.latest, time.max)

    @property
    def words(self) -> str:
        """'between 2004-01-01 and tomorrow (UTC)', as reject reasons say it."""
        end = "tomorrow" if self.latest is None else f"{self.latest:%Y-%m-%d}"
        return f"between {self.earliest:%Y-%m-%d} and {end} (UTC)"

    def contains(self, when: datetime | None) -> bool:
        """Whether a naive UTC time lies in the range (no time at all is not outside it)."""
        return when is None or self.low() <= when.replace(tzinfo=None) <= self.high()

    def arrow(self, times: pa.Array) -> pa.Array:
        """`times` (naive UTC timestamps) with every value outside the range made null."""
        low = pa.scalar(self.low(), UTC_TIMESTAMP)
        high = pa.scalar(self.high(), UTC_TIMESTAMP)
        inside = pc.and_(pc.greater_equal(times, low), pc.less_equal(times, high))
        return pc.if_else(inside, times, pa.nulls(len(times), times.type))

    def sql(self, expr: str) -> str:
        """SQL: the TIMESTAMP `expr` if it lies in the range (finite), else NULL."""
        low = f"{self.low():%Y-%m-%d %H:%M:%S}"
        high = f"{self.high():%Y-%m-%d %H:%M:%S.%f}"
        return (
            f"(CASE WHEN ({expr}) BETWEEN TIMESTAMP '{low}' AND TIMESTAMP '{high}' "
            f"THEN ({expr}) END)"
        )


# How a reject's reason shows a value: text in quotes with its backslashes and control
# characters escaped ('al\x1bice'), so that a reason never carries a terminal escape and
# always shows what is wrong; at most SHOWN_CHARS characters of it.
SHOWN_CHARS = 80
# C0 controls, DEL and C1 controls, as a regular expression (Python's re and DuckDB's RE2
# read it alike).
CONTROL = "[\\x00-\\x1f\\x7f-\\x9f]"
_CONTROL = re.compile(CONTROL)


def shown(value: object) -> str:
    """A value for a reject's reason: text quoted and escaped (see SHOWN_CHARS), anything
    else (a JSON number, a list) as JSON."""
    if isinstance(value, str):
        text = value[:SHOWN_CHARS].replace("\\", "\\\\")
        return "'" + _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text) + "'"
    try:
        return json.dumps(value)[:SHOWN_CHARS]
    except (TypeError, ValueError):
        return repr(value)[:SHOWN_CHARS]


def shown_sql(expr: str) -> str:
    """SQL for `shown` of a text column: 'value' escaped as `shown` does, or nothing."""
    chars = (
        f"list_transform(string_split(left({expr}, {SHOWN_CHARS}), ''), lambda c: CASE "
        "WHEN c = '\\' THEN '\\\\' "
        "WHEN ord(c) < 32 OR ord(c) BETWEEN 127 AND 159 "
        "THEN '\\x' || lpad(lower(hex(ord(c))), 2, '0') ELSE c END)"
    )
    return f"coalesce('''' || array_to_string({chars}, '') || '''', 'nothing')"


# Ids and handles are keys: traces group by them and the report links them. Text fields
# may hold anything (they are data; what prints them escapes them), but a key holding a
# control character is damage or an attack, and is rejected with its record.
KEY_RULE = "holds a control character; ids and handles may not"


def key_problem(name: str, value: object) -> str | None:
    """Why the id or handle `value` (of the field `name`) cannot be stored, or None."""
    if isinstance(value, str) and _CONTROL.search(value):
        return f"{name} {shown(value)} {KEY_RULE}"
    return None


def key_bad_sql(expr: str) -> str:
    """SQL: true when the text `expr` holds a control character (see key_problem)."""
    return f"coalesce(regexp_matches({expr}, '{CONTROL}'), false)"


def key_reason_sql(name: str, expr: str) -> str:
    return f"{_text_sql(name + ' ')} || {shown_sql(expr)} || ' {KEY_RULE}'"


def _text_sql(text: str) -> str:
    """A SQL string literal (sql.literal, which this module sits beside)."""
    return "'" + text.replace("'", "''") + "'"


def keys_bad_arrow(values: pa.Array) -> pa.Array:
    """A boolean array: which of the text `values` hold a control character."""
    return pc.fill_null(pc.match_substring_regex(values, CONTROL), False)


# Counts (followers, likes, ...) are whole numbers from 0 to the largest 64-bit integer.
# A negative count, a fraction or 1.2e29 is damage, not a count: it is rejected with its
# record, not stored as NULL or wrapped around. An absent or empty count is NULL.
MAX_COUNT = 2**63 - 1
COUNT_RULE = f"is not a count (a whole number from 0 to {MAX_COUNT})"


def count_value(name: str, value: object) -> tuple[int | None, str | None]:
    """A JSON count as (the count, None), or (None, why it is not one); absent is (None,
    None). A whole float (17.0, 1e3) is taken as the integer it is."""
    if value is None:
        return None, None
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value, None
    if type(value) is float and value.is_integer() and 0 <= value <= MAX_COUNT:
        return int(value), None
    return None, f"{name} {shown(value)} {COUNT_RULE}"


# A count as text: digits (with '+', or a '.0' a float column adds), or a whole number in
# scientific notation. Locale separators are the formats' own business (CrowdTangle).
_WHOLE_TEXT = "\\+?[0-9]+(\\.0*)?"
_SCIENTIFIC_TEXT = "\\+?([0-9]+\\.?[0-9]*|\\.[0-9]+)[eE]\\+?[0-9]+"


def count_sql(expr: str) -> str:
    """SQL: the count in the text `expr` as a BIGINT; NULL when it is empty or not a count
    (`count_bad_sql` tells the two apart)."""
    value = f"trim({expr})"
    number = f"try_cast({value} AS DOUBLE)"
    return (
        f"CASE WHEN regexp_full_match({value}, '{_WHOLE_TEXT}') "
        f"THEN try_cast(ltrim(split_part({value}, '.', 1), '+') AS BIGINT) "
        f"WHEN regexp_full_match({value}, '{_SCIENTIFIC_TEXT}') "
        f"AND {number} = floor({number}) AND {number} < 9.223372036854775807e18 "
        f"THEN CAST({number} AS BIGINT) END"
    )


def count_bad_sql(expr: str, parsed: str | None = None) -> str:
    """SQL: true when the text `expr` holds something that is not a count. `parsed` is
    the column holding count_sql(expr), when the query has one."""
    return f"(nullif(trim({expr}), '') IS NOT NULL AND ({parsed or count_sql(expr)}) IS NULL)"


def count_reason_sql(name: str, expr: str) -> str:
    return f"{_text_sql(name + ' ')} || {shown_sql(f'trim({expr})')} || ' {COUNT_RULE}'"


class Kind(StrEnum):
    """What a post does. A repost, reply or quote points at `ref_post_id`."""

    POST = "post"
    REPOST = "repost"
    REPLY = "reply"
    QUOTE = "quote"


POSTS_SCHEMA = pa.schema(
    [
        pa.field("platform", pa.string(), nullable=False),
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("created_at", UTC_TIMESTAMP, nullable=False),
        pa.field("text", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("ref_post_id", pa.string()),
        pa.field("ref_account_id", pa.string()),
        pa.field("hashtags", STRING_LIST),
        pa.field("urls", STRING_LIST),
        pa.field("mentions", STRING_LIST),
        pa.field("media", STRING_LIST),
        pa.field("domains", STRING_LIST),
        pa.field("client", pa.string()),
        # Source-specific fields a reader wants to keep (a JSON object as text).
        pa.field("extra", pa.string()),
    ]
)

ACCOUNTS_SCHEMA = pa.schema(
    [
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("handle", pa.string()),
        pa.field("display_name", pa.string()),
        pa.field("bio", pa.string()),
        pa.field("location", pa.string()),
        pa.field("created_at", UTC_TIMESTAMP),
        pa.field("followers", pa.int64()),
        pa.field("following", pa.int64()),
        pa.field("avatar", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("extra", pa.string()),
    ]
)

# A row a reader could not turn into a canonical record, with where and why.
REJECTS_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64()),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ]
)

POST_COLUMNS: tuple[str, ...] = tuple(POSTS_SCHEMA.names)
ACCOUNT_COLUMNS: tuple[str, ...] = tuple(ACCOUNTS_SCHEMA.names)
REJECT_COLUMNS: tuple[str, ...] = tuple(REJECTS_SCHEMA.names)


@dataclass(slots=True)
class Post:
    """One canonical post. `created_at` is a naive datetime in UTC."""

    platform: str
    post_id: str
    account_id: str
    created_at: datetime
    kind: Kind = Kind.POST
    text: str | None = None
    lang: str | None = None
    ref_post_id: str | None = None
    ref_account_id: str | None = None
    hashtags: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    client: str | None = None
    extra: str | None = None


@dataclass(slots=True)
class Account:
    """One canonical account profile, as the data saw it."""

    platform: str
    account_id: str
    handle: str | None = None
    display_name: str | None = None
    bio: str | None = None
    location: str | None = None
    created_at: datetime | None = None
    followers: int | None = None
    following: int | None = None
    avatar: str | None = None
    lang: str | None = None
    extra: str | None = None


@dataclass(slots=True, frozen=True)
class Reject:
    """A record set aside: `line` is 1-based (for CSV, the row with the header as row 1)."""

    line: int | None
    field: str | None
    reason: str
    raw: str | None = None
