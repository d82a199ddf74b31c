"""The canonical, platform-neutral data model.

Every reader turns its format into these records; nothing downstream knows the platform.
The Arrow schemas below are the single source of truth: the DuckDB tables of a case
(`case.py`) and the batch builders (`batches.py`) are derived from them, so a column is
added in exactly one place.

Times are UTC. In Arrow and DuckDB they are naive timestamps with microsecond precision
whose meaning is always UTC (readers convert; nothing stores local time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pyarrow as pa
import pyarrow.compute as pc

UTC_TIMESTAMP = pa.timestamp("us")
STRING_LIST = pa.list_(pa.string())

# The times a record may hold (docs/formats.md, "What a record may hold"). Social
# platforms begin in 2004 (Facebook; Twitter 2006) and nothing is posted tomorrow; a time
# outside that is a parsing accident (POSIX 0, the year 0 or 10000, 'infinity', 'epoch')
# that would break every later command (rhythm and creation signals, `info`). Every
# reader passes its times through the checks below, so the record is rejected, naming the
# value, instead of stored.
EARLIEST = datetime(2004, 1, 1)
TIME_RANGE = "between 2004-01-01 and tomorrow (UTC)"


def latest() -> datetime:
    """The latest time a record may hold: a day from now, UTC (clock skew, time zones)."""
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)


def time_in_range(when: datetime | None) -> bool:
    return when is None or EARLIEST <= when.replace(tzinfo=None) <= latest()


def times_in_range(times: pa.Array) -> pa.Array:
    """`times` (naive UTC timestamps) with every value outside the range made null."""
    low = pa.scalar(EARLIEST, UTC_TIMESTAMP)
    high = pa.scalar(latest(), UTC_TIMESTAMP)
    inside = pc.and_(pc.greater_equal(times, low), pc.less_equal(times, high))
    return pc.if_else(inside, times, pa.nulls(len(times), times.type))


def time_in_range_sql(expr: str) -> str:
    """SQL: the TIMESTAMP `expr` if it lies in the range (finite), else NULL."""
    high = latest().strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"(CASE WHEN ({expr}) BETWEEN TIMESTAMP '{EARLIEST:%Y-%m-%d}' "
        f"AND TIMESTAMP '{high}' THEN ({expr}) END)"
    )


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
