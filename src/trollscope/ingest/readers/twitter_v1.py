"""Twitter API v1.1 tweets, one JSON object per line (twarc 1, the streaming API, Hydrator).

What becomes what:
- every tweet is a post, and so are the tweets it embeds: `retweeted_status` (the
  original of a retweet) and `quoted_status`, with their users. An embedded tweet without
  `created_at` is only a reference (some tools strip it) and is not a record;
- kind: `retweeted_status` -> repost; `in_reply_to_status_id_str` -> reply;
  `quoted_status_id_str` / `quoted_status` -> quote. A retweet wins over the others, a
  reply over a quote (a reply that also quotes keeps the quoted id in `extra` as
  `{"quoted": id}`). `ref_account_id` is the referenced tweet's `user.id_str`, or
  `in_reply_to_user_id_str` for a reply;
- text: `extended_tweet.full_text` (streaming, compat mode) over `full_text` (REST,
  extended mode) over `text`, i.e. the untruncated text, exactly as given (`&amp;` stays
  as the API escaped it; a retweet's own text is its "RT @user: ..." form);
- entities from `extended_tweet.entities` when present, else `entities`: hashtags
  `[].text`, urls `[].expanded_url` (else `url`; never empty), mentions
  `user_mentions[].screen_name` (a mention's id and name make an account row); media
  from `extended_entities.media` (else `entities.media`): `media_url_https`;
- client: the link text of the `source` HTML (`Twitter for iPhone`); lang: `lang`;
- created_at: "Wed Oct 10 20:19:24 +0000 2018" (or ISO 8601) to naive UTC, to the second;
- accounts: `user` objects: `id_str`, `screen_name` -> handle, `name`, `description` ->
  bio, `location`, `created_at`, `followers_count`, `friends_count` -> following,
  `profile_image_url_https` -> avatar, `lang`; `extra` keeps statuses_count (as
  tweet_count), listed_count, verified and protected. Empty strings are stored as NULL.

Every line counts: the first tweet of a file is read like any other (a peer tool drops it).
Rejects (per line): invalid JSON, invalid UTF-8, a line that is not an object, a tweet
without an id, a user id or `created_at`, an unparseable `created_at`, a field of the
wrong JSON type. Stream control messages (`delete`, `limit`, `scrub_geo`, ...) are not
tweets and not records.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import orjson

from trollscope.ingest.batches import Batch
from trollscope.ingest.readers.base import Head, Reader, ReadOptions
from trollscope.ingest.readers.jsonfile import read_json_lines, sniff_keys
from trollscope.ingest.readers.jsonrows import (
    EMPTY,
    MAX_DEPTH,
    Rows,
    Where,
    depth,
    id_text,
    no_mapping,
    parse_lines,
    seen_for,
    snippet,
    where_path,
)
from trollscope.model import TimeRange

PLATFORM = "twitter"
FIELDS = {
    "post_id": "id_str",
    "account_id": "user.id_str",
    "text": "full_text",
    "lang": "lang",
    "ref_post_id": "in_reply_to_status_id_str",
    "ref_account_id": "in_reply_to_user_id_str",
    "hashtags": "entities.hashtags",
    "urls": "entities.urls",
    "mentions": "entities.user_mentions",
    "media": "extended_entities.media",
    "client": "source",
}
# Messages a stream interleaves with tweets; none is a tweet.
CONTROL = frozenset(
    ("delete", "limit", "scrub_geo", "status_withheld", "user_withheld", "disconnect", "warning")
)
_MONTHS = {
    name: f"{number:02d}"
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_WEEKDAYS = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
_NO_DICT: dict[str, Any] = {}
_STUB = (None,) * 11  # the profile fields a mention does not carry
# The source field of each profile value a record may not hold (jsonrows.Rows.profile).
PROFILE_FIELDS = {
    1: "screen_name",
    5: "created_at",
    6: "followers_count",
    7: "friends_count",
    10: "statuses_count",
    11: "listed_count",
}
_CLIENTS: dict[str, str] = {}  # source HTML -> client name; a file has few distinct ones
_CLIENT_CACHE = 10_000


def to_iso(text: str) -> str | None:
    """'Wed Oct 10 20:19:24 +0000 2018' -> '2018-10-10T20:19:24+0000' (Arrow checks the
    digits); ISO 8601 text passes as is; anything else is None."""
    if len(text) == 30 and text[:3] in _WEEKDAYS and text[3:4] + text[7:8] == "  ":
        month = _MONTHS.get(text[4:7])
        if month is not None and text[10] + text[19] + text[25] == "   ":
            return f"{text[26:]}-{month}-{text[8:10]}T{text[11:19]}{text[20:25]}"
        return None
    return text if text[4:5] == "-" else None


def is_v1_time(text: str) -> bool:
    return len(text) == 30 and to_iso(text) is not None


class TwitterV1Reader(Reader):
    name: ClassVar[str] = "twitter-v1"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Twitter API v1.1 JSONL file, one tweet per line"

    def sniff(self, head: Head) -> bool:
        top, _, texts = sniff_keys(head.data)
        has_id = "id_str" in top or "id" in top
        created = texts.get("created_at", "")
        return has_id and "user" in top and is_v1_time(created)

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        no_mapping(path, options, self.name)
        yield from read_json_lines(
            path,
            options,
            partial(parse_block, times=options.times),
            check_first,
            self.description,
            options.platform or PLATFORM,
        )


def check_first(first: dict[str, Any]) -> str | None:
    if "author_id" in first or "data" in first:
        return (
            "its first line is Twitter API v2 data (author_id / data); "
            "read it with --format twarc2."
        )
    keys = ("id_str", "id", "user", "text", "full_text", "created_at")
    if any(key in first for key in keys) or CONTROL & first.keys():
        return None
    shown = ", ".join(list(first)[:8])
    return (
        "expected a tweet (id_str, created_at, user, text) per line; the first line has "
        f"{shown or 'no fields'}."
    )


def parse_block(
    block: bytes,
    first_line: int,
    platform: str,
    chunk_size: int,
    read_id: str = "",
    *,
    times: TimeRange | None = None,
) -> list[Batch]:
    """The batches of a block of lines (`first_line` is the block's first line number)."""
    rows = Rows(FIELDS, platform, to_iso, seen_for(read_id) if read_id else None, times)
    return parse_lines(block, first_line, rows, chunk_size, _line)


def _line(rows: Rows, obj: dict[str, Any], line: int) -> None:
    if "id_str" in obj or "id" in obj or not (CONTROL & obj.keys()):
        _tweet(rows, obj, line, ())


def _tweet(rows: Rows, tw: dict[str, Any], line: int, where: Where) -> None:
    """Add one tweet, its user, and the tweets and users embedded in it."""
    tid: str | None = tw.get("id_str")
    if type(tid) is not str or not tid:
        tid = id_text(tw.get("id"))
    user = tw.get("user")
    aid = None
    if type(user) is dict:
        aid = user.get("id_str")
        if type(aid) is not str or not aid:
            aid = id_text(user.get("id"))
    created = tw.get("created_at")
    if not (tid and aid and created and type(created) is str):
        field, reason = _missing(tw, tid, user, aid, created)
        rows.reject(line, where_path(where, field), reason, snippet(tw))
        return
    try:
        extended = tw.get("extended_tweet")
        if extended:
            text = extended.get("full_text")
            entities = extended.get("entities") or tw.get("entities")
            media_entities = extended.get("extended_entities") or tw.get("extended_entities")
        else:
            text = tw.get("full_text")
            if text is None:
                text = tw.get("text")
            entities = tw.get("entities")
            media_entities = tw.get("extended_entities")
        if entities:
            found = entities.get("hashtags")
            hashtags = [h["text"] for h in found] if found else EMPTY
            found = entities.get("user_mentions")
            mentions = [m["screen_name"] for m in found] if found else EMPTY
            found = entities.get("urls")
            urls = (
                [url for u in found if (url := u.get("expanded_url") or u.get("url"))]
                if found
                else EMPTY
            )
            media_entities = media_entities or entities
        else:
            hashtags = mentions = urls = EMPTY
        found = media_entities.get("media") if media_entities else None
        media = (
            [m.get("media_url_https") or m.get("media_url") or m["id_str"] for m in found]
            if found
            else EMPTY
        )
        kind, ref_id, ref_account, extra = _reference(tw)
        source = tw.get("source")
        client = (_client(source) or None) if source else None
    except (KeyError, TypeError, AttributeError) as exc:
        located = _locate(tw)
        rows.reject(
            line,
            where_path(where, located),
            f"unexpected structure in {located or 'the tweet'}: {type(exc).__name__} {exc}",
            snippet(tw),
        )
        return
    # The author's profile comes with the tweet: a bad value in it rejects the tweet.
    problem = _user(rows, aid, user)
    if problem:
        rows.reject(line, where_path(where, f"user.{problem[0]}"), problem[1], snippet(tw))
        return
    rows.posts.append(
        (
            tid,
            aid,
            created,
            text,
            tw.get("lang"),
            kind,
            ref_id,
            ref_account,
            hashtags,
            urls,
            mentions,
            media,
            client,
            extra,
            line,
            where,
        )
    )
    if entities:
        for mention in entities.get("user_mentions") or EMPTY:
            _mention(rows, mention)
    if depth(where) >= MAX_DEPTH:
        return
    for key in ("retweeted_status", "quoted_status"):
        inner = tw.get(key)
        if type(inner) is not dict or "created_at" not in inner:
            continue  # absent, or a reference without the tweet: not a record
        inner_id = id_text(inner.get("id_str")) or id_text(inner.get("id"))
        if inner_id is not None:
            if inner_id in rows.seen_posts:
                rows.repeats += 1
                continue
            rows.seen_posts.add(inner_id)
        _tweet(rows, inner, line, (where, key, None))


def _reference(tw: dict[str, Any]) -> tuple[str, str | None, str | None, str | None]:
    """(kind, ref_post_id, ref_account_id, extra) of a v1.1 tweet."""
    retweeted = tw.get("retweeted_status")
    if retweeted:
        return "repost", _inner_id(retweeted), _inner_user(retweeted), None
    quoted_id = id_text(tw.get("quoted_status_id_str")) or id_text(tw.get("quoted_status_id"))
    quoted = tw.get("quoted_status")
    if quoted and not quoted_id:
        quoted_id = _inner_id(quoted)
    replied = id_text(tw.get("in_reply_to_status_id_str")) or id_text(
        tw.get("in_reply_to_status_id")
    )
    if replied:
        account = id_text(tw.get("in_reply_to_user_id_str")) or id_text(
            tw.get("in_reply_to_user_id")
        )
        extra = orjson.dumps({"quoted": quoted_id}).decode() if quoted_id else None
        return "reply", replied, account, extra
    if quoted_id:
        return "quote", quoted_id, _inner_user(quoted) if quoted else None, None
    return "post", None, None, None


def _inner_id(inner: dict[str, Any]) -> str:
    found = id_text(inner.get("id_str")) or id_text(inner.get("id"))
    if found is None:
        raise TypeError(f"the embedded tweet's id is {snippet(inner.get('id_str'))}")
    return found


def _inner_user(inner: dict[str, Any]) -> str | None:
    user = inner.get("user") or _NO_DICT
    return id_text(user.get("id_str")) or id_text(user.get("id"))


def _client(source: str) -> str:
    """The name in `<a href="..." rel="nofollow">Twitter for iPhone</a>`; plain text as is."""
    found = _CLIENTS.get(source)
    if found is not None:
        return found
    name = source
    if source.startswith("<a") and source.endswith("</a>"):
        start = source.find(">") + 1
        if start > 0:
            name = html.unescape(source[start:-4])
    if len(_CLIENTS) < _CLIENT_CACHE:
        _CLIENTS[source] = name
    return name


def _user(rows: Rows, aid: str, user: Any) -> tuple[str, str] | None:
    """Add the profile of a tweet's user; or, when it holds a value a record may not
    hold, leave it out and return (field, reason)."""
    get = user.get
    row = (
        aid,
        get("screen_name") or None,
        get("name") or None,
        get("description") or None,
        get("location") or None,
        get("created_at") or None,
        get("followers_count"),
        get("friends_count"),
        get("profile_image_url_https") or get("profile_image_url") or None,
        get("lang") or None,
        get("statuses_count"),
        get("listed_count"),
        get("verified"),
        get("protected"),
    )
    seen = rows.seen_users
    if seen.get(aid) != row:
        stored, problem = rows.profile(row, PROFILE_FIELDS)
        if problem:
            return problem
        seen[aid] = row
        rows.accounts.append(stored)
    return None


def _mention(rows: Rows, mention: object) -> None:
    """A mention names an account's id, handle and name: that account exists."""
    if type(mention) is not dict:
        return
    uid = id_text(mention.get("id_str")) or id_text(mention.get("id"))
    if uid is None or uid in rows.seen_users:
        return
    row = (uid, mention.get("screen_name") or None, mention.get("name") or None, *_STUB)
    if rows.profile(row, PROFILE_FIELDS)[1] is None:  # a bad handle: left out
        rows.seen_users[uid] = row
        rows.accounts.append(row)


def _missing(
    tw: dict[str, Any], tid: object, user: object, aid: object, created: object
) -> tuple[str, str]:
    need = "every tweet needs id_str, created_at and a user with id_str"
    if not tid:
        if tw.get("id_str") in (None, "") and tw.get("id") in (None, ""):
            return "id_str", f"the tweet has no id_str; {need}"
        return "id_str", f"expected id_str as text, got {snippet(tw.get('id_str'))}"
    if type(user) is not dict:
        if user is None:
            return "user", f"the tweet has no user; {need}"
        return "user", f"expected a user object, got {snippet(user)}"
    if not aid:
        return "user.id_str", f"the tweet's user has no id_str; {need}"
    if created in (None, ""):
        return "created_at", f"the tweet has no created_at; {need}"
    return "created_at", f"expected created_at as text, got {snippet(created)}"


def _locate(tw: dict[str, Any]) -> str | None:
    """The first field of a tweet whose JSON shape is not the API's, for a reject."""
    for name in ("extended_tweet", "entities", "extended_entities", "retweeted_status"):
        value = tw.get(name)
        if value is not None and type(value) is not dict:
            return name
    for name in ("retweeted_status", "quoted_status"):
        inner = tw.get(name)
        if type(inner) is dict and not (id_text(inner.get("id_str")) or id_text(inner.get("id"))):
            return f"{name}.id_str"
    extended = tw.get("extended_tweet") or _NO_DICT
    for name in ("entities", "extended_entities"):
        value = extended.get(name)
        if value is not None and type(value) is not dict:
            return f"extended_tweet.{name}"
    entities = extended.get("entities") or tw.get("entities") or _NO_DICT
    prefix = "extended_tweet.entities" if extended.get("entities") else "entities"
    for name, key in (("hashtags", "text"), ("user_mentions", "screen_name"), ("urls", None)):
        items = entities.get(name)
        if items is None:
            continue
        if type(items) is not list or any(
            type(i) is not dict or (key is not None and key not in i) for i in items
        ):
            return f"{prefix}.{name}"
    for holder, prefix in (
        (extended.get("extended_entities"), "extended_tweet.extended_entities"),
        (tw.get("extended_entities"), "extended_entities"),
        (entities, "entities"),
    ):
        if holder and type(holder) is dict:
            media = holder.get("media")
            if media is not None and (
                type(media) is not list or any(type(m) is not dict for m in media)
            ):
                return f"{prefix}.media"
    if tw.get("source") is not None and type(tw.get("source")) is not str:
        return "source"
    return None
