"""YouTube Data API v3 comments (`youtube`): commentThreads and comments list responses.

Shapes read, after the API reference (developers.google.com/youtube/v3/docs/
commentThreads and /comments):
- a `commentThreads.list` response `{"kind": "youtube#commentThreadListResponse",
  "nextPageToken", "pageInfo", "items": [thread, ...]}`, saved as one JSON document or
  one response per line (as a paging script appends them); a list of responses;
- threads alone, one per line (`{"kind": "youtube#commentThread", ...}`);
- a `comments.list` response (`youtube#commentListResponse`, the replies of a thread
  fetched apart) or comments alone (`youtube#comment`).

A thread is `{"id", "snippet": {"channelId", "videoId", "topLevelComment": comment,
"totalReplyCount", ...}, "replies": {"comments": [comment, ...]}}`; a comment is `{"id",
"snippet": {"authorDisplayName", "authorProfileImageUrl", "authorChannelUrl",
"authorChannelId": {"value"}, "channelId", "videoId", "textDisplay", "textOriginal",
"parentId", "likeCount", "publishedAt", "updatedAt"}}`.

What becomes what (docs/formats.md, `youtube`):
- every comment is a post, the top-level comment and each reply the file holds (a
  thread shows some of its replies; `totalReplyCount` says how many there are);
- post_id is the comment's `id`; account_id its author's channel id
  (`authorChannelId.value`, the one key YouTube keeps when a name changes); handle the
  `authorDisplayName` without its leading `@` (today's display names are `@handle`), the
  display name as given; avatar `authorProfileImageUrl`;
- a top-level comment is a reply to its video (ref_post_id the `videoId`, ref_account_id
  the thread's `channelId`, the video's channel), so that accounts swarming the same
  videos share reply targets; a reply is a reply to its `parentId` (ref_account_id the
  top-level comment's author when the thread holds it);
- text: `textOriginal`, else `textDisplay` (HTML as the API renders it); hashtags,
  mentions and URLs from it; created_at: `publishedAt` (ISO 8601, UTC);
- `extra`: video_id, channel_id, like_count, total_reply_count (top-level comments),
  updated_at.

A comment without an author channel (the API leaves it out for some deleted or legacy
accounts) is rejected: it has no account to belong to. The platform is `youtube`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from trollscope.ingest.batches import Batch
from trollscope.ingest.readers.base import Head, Reader, ReadOptions
from trollscope.ingest.readers.jsonrecords import (
    Shape,
    found_in,
    iso_time,
    items_at,
    joined,
    key,
    not_first,
    read_records,
    text,
)
from trollscope.ingest.readers.jsonrows import snippet
from trollscope.ingest.readers.jsonvalues import Bad, count
from trollscope.ingest.readers.jsonvalues import extra_json as extra
from trollscope.model import Account, Kind, Post, key_problem

PLATFORM = "youtube"
EXPECTED = (
    "expected YouTube Data API commentThreads or comments: list responses "
    '({"kind": "youtube#commentThreadListResponse", "items": [...]}) or threads or comments, '
    "one per line or as one document"
)
_THREAD = "youtube#commentThread"
_COMMENT = "youtube#comment"
_RESPONSES = ("youtube#commentThreadListResponse", "youtube#commentListResponse")


class Comment(NamedTuple):
    """A comment and what its thread says of it: the thread's snippet (video, channel)
    and, for a reply, the top-level comment's author."""

    value: Any
    thread: dict[str, Any]
    top_author: str | None
    top_level: bool

    @property
    def raw(self) -> Any:
        """What a reject shows: the comment as the file has it."""
        return self.value


_NO_THREAD: dict[str, Any] = {}


def walk(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """The comments a JSON value holds: a response's items, a thread's comments."""
    if type(value) is list:
        for index, item in enumerate(value):
            yield from walk(item, f"{where}[{index}]")
        return
    if type(value) is not dict:
        yield where, value
        return
    kind = value.get("kind")
    if kind in _RESPONSES or ("items" in value and kind is None):
        for place, item in items_at(value, "items", where):
            yield from walk(item, place)
    elif kind == _THREAD or (kind is None and "topLevelComment" in _dict(value.get("snippet"))):
        yield from _thread(value, where)
    else:
        yield where, Comment(value, _NO_THREAD, None, top_level=False)


def _dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else _NO_THREAD


def _thread(thread: dict[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    snippet_ = thread.get("snippet")
    if type(snippet_) is not dict:
        yield where, Comment(thread, _NO_THREAD, None, top_level=True)  # rejected
        return
    top = snippet_.get("topLevelComment")
    place = joined(where, "snippet.topLevelComment") or ""
    yield place, Comment(top, snippet_, None, top_level=True)
    top_author = _author_id(top)
    replies = thread.get("replies")
    if replies is not None and type(replies) is not dict:
        yield joined(where, "replies") or "replies", replies  # not the API's: rejected
        return
    for reply_place, reply in items_at(replies, "comments", joined(where, "replies") or ""):
        yield reply_place, Comment(reply, snippet_, top_author, top_level=False)


def _author_id(comment: Any) -> str | None:
    author = _dict(_dict(_dict(comment).get("snippet")).get("authorChannelId")).get("value")
    return author if type(author) is str else None


def convert(item: Any, options: ReadOptions) -> tuple[Post, Account | None]:
    if not isinstance(item, Comment):
        raise Bad(None, f"expected a comment thread or comment, got {snippet(item)}")
    value = item.value
    if type(value) is not dict:
        raise Bad(None, f"expected a comment object, got {snippet(value)}")
    if value.get("kind") == _THREAD and not item.thread:
        raise Bad("snippet", "the thread has no snippet, so no top-level comment")
    cid = key(value.get("id"), "id", required=True, what=": every comment has one")
    data = value.get("snippet")
    if type(data) is not dict:
        raise Bad("snippet", f"expected the comment's snippet object, got {snippet(data)}")
    get = data.get
    channel = get("authorChannelId")
    author = key(
        channel.get("value") if type(channel) is dict else channel,
        "snippet.authorChannelId.value",
        required=True,
        what=": the comment has no author channel, so no account to belong to",
    )
    assert author is not None and cid is not None
    created = iso_time(get("publishedAt"), "snippet.publishedAt", options.times)
    content = text(get("textOriginal"), "snippet.textOriginal") or text(
        get("textDisplay"), "snippet.textDisplay"
    )
    thread = item.thread
    video = key(get("videoId") or thread.get("videoId"), "snippet.videoId")
    channel_id = key(get("channelId") or thread.get("channelId"), "snippet.channelId")
    parent = key(get("parentId"), "snippet.parentId")
    if parent:
        ref, ref_account = parent, item.top_author
    elif video:
        ref, ref_account = video, channel_id
    else:
        raise Bad("snippet.videoId", "the comment names neither its video nor its parent")
    name = text(get("authorDisplayName"), "snippet.authorDisplayName")
    handle = name.strip().removeprefix("@") if name else None
    if handle and (any(ch.isspace() for ch in handle) or key_problem("handle", handle)):
        # An old-style display name ("Jane Doe") is no handle; nor is one holding a
        # control character (a key may not): the name is kept as text, as given.
        handle = None
    platform = options.platform or PLATFORM
    tags, named, links = found_in(content)
    post = Post(
        platform=platform,
        post_id=cid,
        account_id=author,
        created_at=created,
        kind=Kind.REPLY,
        text=content,
        ref_post_id=ref,
        ref_account_id=ref_account,
        hashtags=tags,
        mentions=named,
        urls=links,
        extra=extra(
            {
                "video_id": video,
                "channel_id": channel_id,
                "like_count": count(get("likeCount"), "snippet.likeCount"),
                "total_reply_count": (
                    count(thread.get("totalReplyCount"), "snippet.totalReplyCount")
                    if item.top_level
                    else None
                ),
                "updated_at": text(get("updatedAt"), "snippet.updatedAt"),
            }
        ),
    )
    account = Account(
        platform=platform,
        account_id=author,
        handle=handle,
        display_name=name,
        avatar=text(get("authorProfileImageUrl"), "snippet.authorProfileImageUrl"),
        extra=extra({"url": text(get("authorChannelUrl"), "snippet.authorChannelUrl")}),
    )
    return post, account


def check_first(first: dict[str, Any]) -> str | None:
    kind = first.get("kind")
    if kind in (*_RESPONSES, _THREAD, _COMMENT):
        return None
    if type(kind) is str and kind.startswith("youtube#"):
        return (
            f"its first line is a {kind[:60]}; trollscope reads comment threads and comments "
            "(commentThreads.list, comments.list)."
        )
    if "items" in first or "topLevelComment" in _dict(first.get("snippet")):
        return None
    if "authorChannelId" in _dict(first.get("snippet")):
        return None
    return not_first(EXPECTED, first)


SHAPE = Shape(
    name=PLATFORM,
    expected=EXPECTED,
    walk=walk,
    convert=convert,
    check_first=check_first,
    prefixes=("items.item",),
)


class YouTubeReader(Reader):
    name: ClassVar[str] = "youtube"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "YouTube Data API v3 comment threads or comments (list responses, JSON or JSON lines)"
    )

    def sniff(self, head: Head) -> bool:
        start = head.data.removeprefix(b"\xef\xbb\xbf").lstrip()
        if not start.startswith((b"{", b"[")):
            return False
        kinds = (b'"youtube#commentThread', b'"youtube#comment"', b'"youtube#commentListResponse"')
        return any(kind in head.data for kind in kinds)

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        yield from read_records(path, options, SHAPE)
