"""coordination-network-toolkit's CSV (`cnt-csv`): a header row, then message_id, user_id,
username, repost_id, reply_id, message, timestamp (POSIX seconds), urls (space-separated).

What the format cannot carry is lost: quotes become plain posts (CNT has no quote
column), and lang, client, media, domains, ref_account_id and every profile field but
the username are dropped. Hashtags and mentions are not written, only the text: the
reader finds them in it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from trollscope.ingest.readers.cnt import COLUMNS, DEFAULT_PLATFORM
from trollscope.ingest.readers.entities import hashtags, mentions, tokens
from trollscope.model import Account, Kind, Post

EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_FLOAT_ID = re.compile(r"(-?[0-9]+)\.0+")


def seconds(when: datetime) -> str:
    """POSIX seconds as exact decimal text: `1606451170` or `1606451170.518101`."""
    micros = (when - EPOCH) // _MICROSECOND
    sign = "-" if micros < 0 else ""
    whole, part = divmod(abs(micros), 1_000_000)
    return f"{sign}{whole}.{part:06d}" if part else f"{sign}{whole}"


def _refs(post: Post) -> tuple[str, str]:
    """(repost_id, reply_id) as written: a quote has no column in CNT's format."""
    ref = post.ref_post_id or ""
    if post.kind == Kind.REPOST:
        return ref, ""
    if post.kind == Kind.REPLY:
        return "", ref
    return "", ""


def row(post: Post, account: Account | None) -> tuple[str, ...]:
    repost_id, reply_id = _refs(post)
    return (
        post.post_id,
        post.account_id,
        (account.handle if account else None) or "",
        repost_id,
        reply_id,
        post.text or "",
        seconds(post.created_at),
        " ".join(post.urls),
    )


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    # csv's default "\r\n" terminator makes it quote a field holding a lone "\r" too.
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for post in posts:
            out.writerow(row(post, accounts.get(post.account_id)))


def _id(value: str) -> str | None:
    """An id as the reader cleans it (see csvsql.id_sql): spaces trimmed, `12.0` -> `12`."""
    value = value.strip(" ")
    match = _FLOAT_ID.fullmatch(value)
    return (match.group(1) if match else value) or None


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    repost_id, reply_id = (_id(ref) for ref in _refs(post))
    kind = Kind.REPOST if repost_id else Kind.REPLY if reply_id else Kind.POST
    text = post.text or None
    kept = Post(
        platform=DEFAULT_PLATFORM,
        post_id=_id(post.post_id) or "",
        account_id=_id(post.account_id) or "",
        created_at=post.created_at,
        kind=kind,
        text=text,
        ref_post_id=repost_id or reply_id,
        hashtags=hashtags(text),
        urls=tokens(" ".join(post.urls)),
        mentions=mentions(text),
    )
    handle = (account.handle if account else None) or None
    return kept, Account(platform=DEFAULT_PLATFORM, account_id=kept.account_id, handle=handle)
