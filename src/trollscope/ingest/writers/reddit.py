"""Reddit dump lines (`reddit`): submissions and comments as Pushshift's monthly files
hold them, one object per line.

A reply is written as a comment on the submission `t3_<ref_post_id>`; a repost as a
crosspost of it (its author in `crosspost_parent_list`); a post or a quote as a
submission (Reddit has no quotes): a link submission whose `url` is the post's first
URL, else a self post. The text is the submission's title or the comment's body. The
author's username is the account id and handle (the writer writes the account id), and
only its creation time is kept of the profile; hashtags and mentions are those in the
text, times whole seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from trollscope.ingest.readers import entities
from trollscope.ingest.readers.reddit import REMOVED_TEXTS, mentions
from trollscope.model import Account, Kind, Post

PLATFORM = "reddit"
SUBREDDIT = "worldnews"


def _record(post: Post, account: Account | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "author": post.account_id,
        "author_fullname": f"t2_{post.account_id}",
        "created_utc": _utc_seconds(post.created_at),
        "id": post.post_id,
        "score": 1,
        "subreddit": SUBREDDIT,
        "subreddit_id": "t5_2qh13",
    }
    if account is not None and account.created_at is not None:
        out["author_created_utc"] = _utc_seconds(account.created_at)
    permalink = f"/r/{SUBREDDIT}/comments/{post.post_id}/"
    if post.kind == Kind.REPLY:
        out |= {
            "name": f"t1_{post.post_id}",
            "body": post.text or "",
            "link_id": f"t3_{post.ref_post_id}",
            "parent_id": f"t3_{post.ref_post_id}",
        }
        return out
    link = post.urls[0] if post.urls else None
    out |= {
        "name": f"t3_{post.post_id}",
        "title": post.text or "",
        "selftext": "",
        "is_self": link is None,
        "url": link or f"https://www.reddit.com{permalink}",
        "permalink": permalink,
        "num_comments": 0,
    }
    if post.kind == Kind.REPOST:
        out["crosspost_parent"] = f"t3_{post.ref_post_id}"
        out["crosspost_parent_list"] = [{"id": post.ref_post_id, "author": post.ref_account_id}]
    return out


def _utc_seconds(when: datetime) -> int:
    # A naive time means UTC here; timestamp() alone would read it as local time.
    return int(when.replace(tzinfo=UTC).timestamp())


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    with path.open("wb") as handle:
        for post in posts:
            handle.write(orjson.dumps(_record(post, accounts.get(post.account_id))) + b"\n")


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    text = post.text or None
    if text in REMOVED_TEXTS:
        text = None
    urls: list[str] = []
    if post.kind == Kind.REPLY:
        kind, post_id, ref, ref_account = Kind.REPLY, f"t1_{post.post_id}", post.ref_post_id, None
        ref = f"t3_{ref}"
    else:
        urls = post.urls[:1]
        post_id = f"t3_{post.post_id}"
        if post.kind == Kind.REPOST:
            kind, ref, ref_account = Kind.REPOST, f"t3_{post.ref_post_id}", post.ref_account_id
        else:
            kind, ref, ref_account = Kind.POST, None, None
    for url in entities.urls(text):
        if url not in urls:
            urls.append(url)
    kept = Post(
        platform=PLATFORM,
        post_id=post_id,
        account_id=post.account_id,
        created_at=post.created_at.replace(microsecond=0),
        kind=kind,
        text=text,
        ref_post_id=ref,
        ref_account_id=ref_account,
        hashtags=entities.hashtags(text),
        mentions=mentions(text),
        urls=urls,
    )
    created = account.created_at if account is not None else None
    return kept, Account(
        platform=PLATFORM,
        account_id=post.account_id,
        handle=post.account_id,
        created_at=created.replace(microsecond=0) if created else None,
    )
