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
from datetime import datetime
from enum import StrEnum

import pyarrow as pa

UTC_TIMESTAMP = pa.timestamp("us")
STRING_LIST = pa.list_(pa.string())


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
