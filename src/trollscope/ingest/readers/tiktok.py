"""TikTok Research API videos and comments (`tiktok`), as JSON lines or response pages.

Shapes read, after the Research API's reference (developers.tiktok.com/doc/
research-api-specs-query-videos and research-api-specs-query-video-comments):
- a response page of `/v2/research/video/query/`: `{"data": {"videos": [...], "cursor",
  "has_more", "search_id"}, "error": {"code", "message", "log_id"}}`, or of
  `/v2/research/video/comment/list/`: `{"data": {"comments": [...], "cursor",
  "has_more"}, "error": {...}}`; one page per line, one page as a document, or a list;
- videos or comments alone, one per line (as tools that flatten the pages write them).

A video has `id` (int64), `create_time` (POSIX seconds, UTC), `username`, `region_code`,
`video_description`, `hashtag_names`, `video_mention_list`, `music_id`, `like_count`,
`comment_count`, `share_count`, `view_count`, `favorites_count`, `voice_to_text`,
`video_duration`, `playlist_id`, `effect_ids`, `is_stem_verified`; a comment has `id`,
`video_id`, `text`, `like_count`, `reply_count`, `parent_comment_id`, `create_time` (the
endpoint's complete list of fields). Each field is there only when it was asked for.

What becomes what (docs/formats.md, `tiktok`):
- a video is a post by `username` (account_id and handle: the API gives videos no user
  id); text `video_description`; hashtags `hashtag_names`, else from the text; mentions
  `video_mention_list`, else from the text; URLs from the text;
- a comment is a reply to its `parent_comment_id` when that is another comment, else to
  its `video_id`. **The API gives no author for a comment** (no username, no user id):
  each comment is stored under an account of its own, `unknown:<comment id>`, with no
  handle, so that no two comments are ever taken for one account's. Their texts,
  targets and times are real evidence; which accounts wrote them is not in the data;
- ids are written as text exactly (int64 ids exceed a double's 53 bits; the JSON
  parsers here keep them whole);
- `extra`: region_code, music_id, the counts (like, comment, share, view, favorites,
  reply), voice_to_text, video_duration, playlist_id, is_stem_verified.

An error page (`data` empty, `error.code` not "ok") holds no records. The platform is
`tiktok` unless --platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from trollscope.ingest.batches import Batch
from trollscope.ingest.readers.base import Head, Reader, ReadOptions
from trollscope.ingest.readers.jsonfile import sniff_keys
from trollscope.ingest.readers.jsonrecords import (
    TWEET_FIRST,
    Shape,
    epoch_time,
    found_in,
    items_at,
    key,
    not_first,
    read_records,
    text,
    texts,
)
from trollscope.ingest.readers.jsonrows import snippet
from trollscope.ingest.readers.jsonvalues import Bad, count
from trollscope.ingest.readers.jsonvalues import extra_json as extra
from trollscope.model import Account, Kind, Post

PLATFORM = "tiktok"
UNKNOWN = "unknown:"  # the account of a comment, whose author the API does not give
EXPECTED = (
    "expected TikTok Research API videos or comments: response pages "
    '({"data": {"videos" or "comments": [...], "cursor", "has_more"}}) or video or comment '
    "objects, one per line or as one document"
)
_VIDEO_KEYS = {"video_description", "region_code", "hashtag_names", "music_id", "voice_to_text"}
_COMMENT_KEYS = {"video_id", "parent_comment_id", "reply_count"}
_VIDEO_COUNTS = ("like_count", "comment_count", "share_count", "view_count", "favorites_count")


def walk(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """The videos and comments a JSON value holds: a page's, or itself."""
    if type(value) is list:
        for index, item in enumerate(value):
            yield from walk(item, f"{where}[{index}]")
        return
    data = value.get("data") if type(value) is dict else None
    if type(data) is dict and "id" not in value:
        page = f"{where}.data" if where else "data"
        yield from items_at(data, "videos", page)
        yield from items_at(data, "comments", page)
    else:
        yield where, value


def convert(value: Any, options: ReadOptions) -> tuple[Post, Account | None]:
    if type(value) is not dict:
        raise Bad(None, f"expected a video or comment object, got {snippet(value)}")
    if "video_id" in value:
        return _comment(value, options)
    return _video(value, options)


def _video(value: dict[str, Any], options: ReadOptions) -> tuple[Post, Account]:
    get = value.get
    vid = key(get("id"), "id", required=True, what=": every video has one")
    author = key(
        get("username"),
        "username",
        required=True,
        what=": the video names no author (ask the API for the username field)",
    )
    assert vid is not None and author is not None
    created = epoch_time(get("create_time"), "create_time", options.times)
    content = text(get("video_description"), "video_description")
    # The API's lists when they were asked for (null or absent: not asked), else the text's.
    tags = get("hashtag_names")
    tags = None if tags is None else texts(tags, "hashtag_names")
    named = get("video_mention_list")
    named = None if named is None else texts(named, "video_mention_list")
    platform = options.platform or PLATFORM
    counts = {name: count(get(name), name) for name in _VIDEO_COUNTS}
    found = found_in(content)
    post = Post(
        platform=platform,
        post_id=vid,
        account_id=author,
        created_at=created,
        text=content,
        hashtags=found[0] if tags is None else tags,
        mentions=found[1] if named is None else [m.lstrip("@") for m in named],
        urls=found[2],
        extra=extra(
            {
                "region_code": text(get("region_code"), "region_code"),
                "music_id": key(get("music_id"), "music_id"),
                **counts,
                "voice_to_text": text(get("voice_to_text"), "voice_to_text"),
                "video_duration": get("video_duration")
                if type(get("video_duration")) in (int, float)
                else None,
                "playlist_id": key(get("playlist_id"), "playlist_id"),
                "is_stem_verified": get("is_stem_verified")
                if type(get("is_stem_verified")) is bool
                else None,
            }
        ),
    )
    return post, Account(platform=platform, account_id=author, handle=author)


def _comment(value: dict[str, Any], options: ReadOptions) -> tuple[Post, Account]:
    get = value.get
    cid = key(get("id"), "id", required=True, what=": every comment has one")
    video = key(get("video_id"), "video_id", required=True, what=": what the comment is on")
    parent = key(get("parent_comment_id"), "parent_comment_id")
    created = epoch_time(get("create_time"), "create_time", options.times)
    content = text(get("text"), "text")
    platform = options.platform or PLATFORM
    account = f"{UNKNOWN}{cid}"
    tags, named, links = found_in(content)
    # A top-level comment's parent is its video (or 0); a reply's, the comment it answers.
    ref = parent if parent and parent not in (video, "0") else video
    post = Post(
        platform=platform,
        post_id=str(cid),
        account_id=account,
        created_at=created,
        kind=Kind.REPLY,
        text=content,
        ref_post_id=ref,
        hashtags=tags,
        mentions=named,
        urls=links,
        extra=extra(
            {
                "video_id": video,
                "like_count": count(get("like_count"), "like_count"),
                "reply_count": count(get("reply_count"), "reply_count"),
            }
        ),
    )
    return post, Account(platform=platform, account_id=account)


def check_first(first: dict[str, Any]) -> str | None:
    data = first.get("data")
    if type(data) is dict and ({"videos", "comments"} & data.keys() or "error" in first):
        return None
    if "id" in first and (_VIDEO_KEYS | _COMMENT_KEYS | {"username", "create_time"}) & first.keys():
        if "id_str" in first or "author_id" in first:
            return TWEET_FIRST
        return None
    return not_first(EXPECTED, first)


SHAPE = Shape(
    name=PLATFORM,
    expected=EXPECTED,
    walk=walk,
    convert=convert,
    check_first=check_first,
    prefixes=("data.videos.item", "data.comments.item"),
)


class TikTokReader(Reader):
    name: ClassVar[str] = "tiktok"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "TikTok Research API videos or comments (response pages or objects, JSON or JSON lines)"
    )

    def sniff(self, head: Head) -> bool:
        top, item, _ = sniff_keys(head.data)
        if "data" in top and "id" not in top:
            # A page: data holds videos or comments (the cursor may come after them, past
            # the head), whose own keys are TikTok's.
            own = (b'"video_description"', b'"region_code"', b'"parent_comment_id"')
            return (
                bool({"videos", "comments"} & item)
                and b'"create_time"' in head.data
                and any(name in head.data for name in own)
            )
        if "id" not in top or "create_time" not in top:
            return False
        video = "username" in top and bool(_VIDEO_KEYS & top)
        comment = {"video_id", "parent_comment_id"} <= top
        return video or comment

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        yield from read_records(path, options, SHAPE)
