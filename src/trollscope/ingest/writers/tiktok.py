"""TikTok Research API pages (`tiktok`): JSON lines of `/v2/research/video/query/` pages
of up to 100 videos, then of `/v2/research/video/comment/list/` pages of comments.

A reply becomes a comment on the video `ref_post_id`: the API gives a comment no author,
so it reads back under the account `unknown:<comment id>`, with no reference to an
author. Any other post becomes a video by `username` = its account id (the API's only
author key; nothing else of the profile is kept), with `hashtag_names` and
`video_mention_list` from the post's own lists. URLs are those in the text; times are
whole seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from trollscope.ingest.readers import entities
from trollscope.ingest.readers.tiktok import UNKNOWN
from trollscope.model import Account, Kind, Post

PLATFORM = "tiktok"
PAGE_SIZE = 100


def _seconds(when: datetime) -> int:
    return int(when.replace(tzinfo=UTC).timestamp())


def _id(value: str) -> int | str:
    """Ids as the API writes them: int64 numbers (text that is not one stays text)."""
    return int(value) if value.isdigit() and int(value) < 2**63 else value


def _video(post: Post) -> dict[str, Any]:
    return {
        "id": _id(post.post_id),
        "create_time": _seconds(post.created_at),
        "username": post.account_id,
        "region_code": "US",
        "video_description": post.text or "",
        "hashtag_names": post.hashtags,
        "video_mention_list": post.mentions,
        "like_count": 0,
        "comment_count": 0,
        "share_count": 0,
        "view_count": 0,
    }


def _comment(post: Post) -> dict[str, Any]:
    video = _id(post.ref_post_id or "")
    return {
        "id": _id(post.post_id),
        "video_id": video,
        "text": post.text or "",
        "like_count": 0,
        "reply_count": 0,
        "parent_comment_id": video,
        "create_time": _seconds(post.created_at),
    }


def _pages(items: list[dict[str, Any]], name: str) -> Iterable[bytes]:
    for start in range(0, len(items), PAGE_SIZE):
        part = items[start : start + PAGE_SIZE]
        more = start + PAGE_SIZE < len(items)
        page = {
            "data": {name: part, "cursor": start + len(part), "has_more": more},
            "error": {"code": "ok", "message": "", "log_id": "20230101000000ABCDEF"},
        }
        yield orjson.dumps(page) + b"\n"


def _is_comment(post: Post) -> bool:
    return post.kind == Kind.REPLY and bool(post.ref_post_id)


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    listed = list(posts)
    videos = [_video(p) for p in listed if not _is_comment(p)]
    comments = [_comment(p) for p in listed if _is_comment(p)]
    with path.open("wb") as handle:
        handle.writelines(_pages(videos, "videos"))
        handle.writelines(_pages(comments, "comments"))


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    text = post.text or None
    if _is_comment(post):
        author = f"{UNKNOWN}{post.post_id}"
        kept = Post(
            platform=PLATFORM,
            post_id=post.post_id,
            account_id=author,
            created_at=post.created_at.replace(microsecond=0),
            kind=Kind.REPLY,
            text=text,
            ref_post_id=post.ref_post_id,
            hashtags=entities.hashtags(text),
            mentions=entities.mentions(text),
            urls=entities.urls(text),
        )
        return kept, Account(platform=PLATFORM, account_id=author)
    kept = Post(
        platform=PLATFORM,
        post_id=post.post_id,
        account_id=post.account_id,
        created_at=post.created_at.replace(microsecond=0),
        text=text,
        hashtags=list(post.hashtags),
        mentions=list(post.mentions),
        urls=entities.urls(text),
    )
    return kept, Account(platform=PLATFORM, account_id=post.account_id, handle=post.account_id)
