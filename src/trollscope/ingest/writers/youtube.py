"""YouTube Data API commentThreads responses (`youtube`): JSON lines of
`youtube#commentThreadListResponse` pages of up to 20 threads (the API's default page).

Every post becomes a thread's top-level comment. A reply's `ref_post_id` is written as
the thread's video and its `ref_account_id` as the thread's channel (the video's owner),
which is what the reader makes of a top-level comment; any other post becomes a comment
on the video `v<post id>` of no known channel (YouTube holds comments only), so it reads
back as a reply to that video. The author is the channel `account_id`, named
"@<handle>"; only the handle, that name and the avatar are kept of the profile. Hashtags,
mentions and URLs are those in the text; times are whole seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from trollscope.ingest.readers import entities
from trollscope.model import Account, Kind, Post

PLATFORM = "youtube"
PAGE_SIZE = 20


def _target(post: Post) -> tuple[str, str | None]:
    """The video a post's comment is on, and that video's channel."""
    if post.kind == Kind.REPLY and post.ref_post_id:
        return post.ref_post_id, post.ref_account_id
    return f"v{post.post_id}", None


def _thread(post: Post, account: Account | None) -> dict[str, Any]:
    video, channel = _target(post)
    when = f"{post.created_at:%Y-%m-%dT%H:%M:%SZ}"
    snippet: dict[str, Any] = {
        "videoId": video,
        "textDisplay": post.text or "",
        "textOriginal": post.text or "",
        "authorChannelId": {"value": post.account_id},
        "canRate": True,
        "viewerRating": "none",
        "likeCount": 0,
        "publishedAt": when,
        "updatedAt": when,
    }
    if channel is not None:
        snippet["channelId"] = channel
    if account is not None and account.handle:
        snippet["authorDisplayName"] = f"@{account.handle}"
        snippet["authorChannelUrl"] = f"http://www.youtube.com/@{account.handle}"
    if account is not None and account.avatar:
        snippet["authorProfileImageUrl"] = account.avatar
    comment = {"kind": "youtube#comment", "etag": "e", "id": post.post_id, "snippet": snippet}
    thread_snippet: dict[str, Any] = {
        "videoId": video,
        "topLevelComment": comment,
        "canReply": True,
        "totalReplyCount": 0,
        "isPublic": True,
    }
    if channel is not None:
        thread_snippet["channelId"] = channel
    return {
        "kind": "youtube#commentThread",
        "etag": "t",
        "id": post.post_id,
        "snippet": thread_snippet,
    }


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    listed = list(posts)
    with path.open("wb") as handle:
        for start in range(0, len(listed), PAGE_SIZE):
            items = [
                _thread(p, accounts.get(p.account_id)) for p in listed[start : start + PAGE_SIZE]
            ]
            page = {
                "kind": "youtube#commentThreadListResponse",
                "etag": "p",
                "pageInfo": {"totalResults": len(items), "resultsPerPage": PAGE_SIZE},
                "items": items,
            }
            handle.write(orjson.dumps(page) + b"\n")


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    video, channel = _target(post)
    text = post.text or None
    kept = Post(
        platform=PLATFORM,
        post_id=post.post_id,
        account_id=post.account_id,
        created_at=post.created_at.replace(microsecond=0),
        kind=Kind.REPLY,
        text=text,
        ref_post_id=video,
        ref_account_id=channel,
        hashtags=entities.hashtags(text),
        mentions=entities.mentions(text),
        urls=entities.urls(text),
    )
    handle = account.handle if account is not None else None
    return kept, Account(
        platform=PLATFORM,
        account_id=post.account_id,
        handle=handle or None,
        display_name=f"@{handle}" if handle else None,
        avatar=(account.avatar or None) if account is not None else None,
    )
