"""CooRTweet's object-share table: object_id, account_id, content_id, timestamp_share.

Only reposts can be written (the object is the reposted post); other posts are skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import UTC
from pathlib import Path

from trollscope.model import Account, Kind, Post

HEADER = ("object_id", "account_id", "content_id", "timestamp_share")
PLATFORM = "unknown"


def _epoch(post: Post) -> int:
    return int(post.created_at.replace(tzinfo=UTC).timestamp())


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for post in posts:
            if post.kind == Kind.REPOST and post.ref_post_id:
                out.writerow((post.ref_post_id, post.account_id, post.post_id, _epoch(post)))


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None] | None:
    if post.kind != Kind.REPOST or not post.ref_post_id:
        return None
    kept = Post(
        platform=PLATFORM,
        post_id=post.post_id,
        account_id=post.account_id,
        created_at=post.created_at.replace(microsecond=0),
        kind=Kind.REPOST,
        ref_post_id=post.ref_post_id,
    )
    return kept, Account(platform=PLATFORM, account_id=post.account_id)
