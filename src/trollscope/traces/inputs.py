"""The engine's input tables: what the traces read, the same on every engine.

The case (DuckDB) is the store; the traces and the band join run on an engine (DuckDB or
Spark). Between them sit a few narrow tables, defined here once: `POSTS_SQL` and
`ACCOUNTS_SQL` select from the case the columns the traces need, with times as int64
microseconds since the epoch (one integer type every engine compares exactly). The DuckDB
engine reads them as views of the case; the Spark engine reads them as Parquet files
exported from it. Traces see them as unbound Ibis tables (`Inputs`), bound by name when
the engine runs the compiled SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pyarrow as pa

POSTS = "ts_posts"
ACCOUNTS = "ts_accounts"
HASHTAG_KEYS = "ts_hashtag_keys"
NEARDUP_ROWS = "ts_neardup_rows"
PROFILE_ROWS = "ts_profile_rows"
AVATAR_ROWS = "ts_avatar_rows"

POSTS_SQL = (
    "SELECT post_id, platform, account_id, epoch_us(created_at) AS us, kind, text, "
    "ref_post_id, ref_account_id, lang, hashtags, urls, mentions, media FROM posts"
)
ACCOUNTS_SQL = (
    "SELECT account_id, platform, epoch_us(created_at) AS us, handle, display_name, bio, "
    "location, avatar FROM accounts"
)

CASE_VIEWS = {POSTS: POSTS_SQL, ACCOUNTS: ACCOUNTS_SQL}

_STRINGS = "array<string>"
POSTS_SCHEMA = ibis.schema(
    {
        "post_id": "string",
        "platform": "string",
        "account_id": "string",
        "us": "int64",
        "kind": "string",
        "text": "string",
        "ref_post_id": "string",
        "ref_account_id": "string",
        "lang": "string",
        "hashtags": _STRINGS,
        "urls": _STRINGS,
        "mentions": _STRINGS,
        "media": _STRINGS,
    }
)
ACCOUNTS_SCHEMA = ibis.schema(
    {
        "account_id": "string",
        "platform": "string",
        "us": "int64",
        "handle": "string",
        "display_name": "string",
        "bio": "string",
        "location": "string",
        "avatar": "string",
    }
)
# Rows computed in Python by a trace's `prepare` (near-dup text, profile templates): already
# trace rows, read as they are.
_TRACE_ROWS = {
    "platform": "string",
    "account_id": "string",
    "key": "string",
    "us": "int64",
    "post_id": "string",
}
# The same columns as Arrow, for traces computed in Python (near-dup text, profiles,
# avatars) before they are handed to an engine.
TRACE_ROWS_SCHEMA = pa.schema(
    [
        ("platform", pa.string()),
        ("account_id", pa.string()),
        ("key", pa.string()),
        ("us", pa.int64()),
        ("post_id", pa.string()),
    ]
)


@dataclass(frozen=True)
class Inputs:
    """Unbound Ibis tables the traces are written against."""

    posts: ir.Table = field(default_factory=lambda: ibis.table(POSTS_SCHEMA, name=POSTS))
    accounts: ir.Table = field(default_factory=lambda: ibis.table(ACCOUNTS_SCHEMA, name=ACCOUNTS))
    hashtag_keys: ir.Table = field(
        default_factory=lambda: ibis.table({"tag": "string", "key": "string"}, name=HASHTAG_KEYS)
    )
    neardup_rows: ir.Table = field(
        default_factory=lambda: ibis.table(_TRACE_ROWS, name=NEARDUP_ROWS)
    )
    avatar_rows: ir.Table = field(default_factory=lambda: ibis.table(_TRACE_ROWS, name=AVATAR_ROWS))
    profile_rows: ir.Table = field(
        default_factory=lambda: ibis.table(_TRACE_ROWS, name=PROFILE_ROWS)
    )
