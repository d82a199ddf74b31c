"""Twitter API v2 JSON lines as twarc2 writes them: flattened tweets (`write`), or response
pages with `includes` (`write(..., pages=True)`).

Fields are shaped as the API returns them: string ids, times in milliseconds
(`2022-03-23T15:47:42.000Z`), entities with start/end offsets, `public_metrics`, an
`__twarc` stanza. A post's references are written as the API writes them when the
referenced tweet is not in the response: `referenced_tweets: [{"type", "id"}]`, plus
`in_reply_to_user_id` for a reply, so the author of a retweeted or quoted post is not
carried (`expected()` empties it). Mentions carry usernames only (the API added mention
ids in 2022). Media are written as photo media objects whose `url` is the media value.
A post whose author has no profile gets `"author": {}`, as twarc2 flatten writes an author
missing from `includes`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from trollscope.model import Account, Kind, Post

PLATFORM = "twitter"
DEFAULT_AVATAR = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
TWARC = {
    "url": "https://api.twitter.com/2/tweets/search/all?expansions=author_id%2C"
    "in_reply_to_user_id%2Creferenced_tweets.id%2Cattachments.media_keys&max_results=100",
    "version": "2.14.0",
    "retrieved_at": "2023-02-01T12:00:00+00:00",
}
# Serialized once: orjson writes a Fragment's bytes as they are.
_TWARC_JSON = orjson.Fragment(orjson.dumps(TWARC))
_NO_METRICS = orjson.Fragment(
    orjson.dumps({"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0})
)
_EMPTY = orjson.Fragment(b"{}")
_REFERENCE = {Kind.REPOST: "retweeted", Kind.REPLY: "replied_to", Kind.QUOTE: "quoted"}
# Kind by value: a dict lookup instead of the (slow) Enum call; Kind() still raises on
# an unknown value.
_KINDS = {k.value: k for k in Kind}
_COUNTS = (("tweet_count", 0), ("listed_count", 0), ("verified", False), ("protected", False))
PAGE_SIZE = 100
WRITE_LINES = 1000  # lines joined per write call


def iso_ms(t: datetime) -> str:
    if t.tzinfo is None:
        # isoformat is C, and cuts (not rounds) to milliseconds as the f-string does.
        return t.isoformat(timespec="milliseconds") + "Z"
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t:%H:%M:%S}.{t.microsecond // 1000:03d}Z"


def media_key(post: Post, index: int) -> str:
    return f"3_{post.post_id}{index:02d}"


def account_counts(account: Account) -> dict[str, Any]:
    """tweet_count, listed_count, verified, protected: from `extra` when it has them."""
    known: dict[str, Any] = {}
    if account.extra:
        try:
            parsed = json.loads(account.extra)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            known = parsed
    out: dict[str, Any] = {}
    for key, default in _COUNTS:
        value = known.get(key, default)
        ok = type(value) is bool if type(default) is bool else type(value) is int
        out[key] = value if ok and (type(value) is bool or -(2**63) <= value < 2**63) else default
    return out


def user_object(account: Account) -> dict[str, Any]:
    counts = account_counts(account)
    user: dict[str, Any] = {
        "id": account.account_id,
        "username": account.handle or "",
        "name": account.display_name or "",
        "description": account.bio or "",
        "profile_image_url": account.avatar or DEFAULT_AVATAR,
        "protected": counts["protected"],
        "verified": counts["verified"],
        "url": "",
        "public_metrics": {
            "followers_count": account.followers or 0,
            "following_count": account.following or 0,
            "tweet_count": counts["tweet_count"],
            "listed_count": counts["listed_count"],
        },
    }
    if account.location:
        user["location"] = account.location
    if account.created_at is not None:
        user["created_at"] = iso_ms(account.created_at)
    return user


def _entities(post: Post, text: str) -> dict[str, Any]:
    # A token's span is where it first occurs in the text, else its index in the list.
    entities: dict[str, Any] = {}
    if post.hashtags:
        hashtags = []
        for i, tag in enumerate(post.hashtags):
            start = text.find("#" + tag)
            start = start if start >= 0 else i
            hashtags.append({"start": start, "end": start + len(tag) + 1, "tag": tag})
        entities["hashtags"] = hashtags
    if post.mentions:
        mentions = []
        for i, name in enumerate(post.mentions):
            start = text.find("@" + name)
            start = start if start >= 0 else i
            mentions.append({"start": start, "end": start + len(name) + 1, "username": name})
        entities["mentions"] = mentions
    urls = [u for u in post.urls if u]
    if urls:
        links = []
        for i, url in enumerate(urls):
            short = f"https://t.co/{i:010d}"
            start = text.find(short)
            start = start if start >= 0 else i
            links.append(
                {
                    "start": start,
                    "end": start + len(short),
                    "url": short,
                    "expanded_url": url,
                    "display_url": url.split("://", 1)[-1][:26],
                }
            )
        entities["urls"] = links
    return entities


UserLookup = Callable[[str], Any]
"""The user object (or its serialized Fragment) of an account id; None without a profile."""


def tweet_object(
    post: Post,
    accounts: Mapping[str, Account],
    *,
    flat: bool,
    user: UserLookup | None = None,
) -> dict[str, Any]:
    """One tweet as the API returns it; `flat` adds what twarc2 flatten embeds (the users
    from `user`, by default built from `accounts` on each call)."""
    text = post.text or ""
    post_id = post.post_id
    tweet: dict[str, Any] = {
        "id": post_id,
        "text": text,
        "author_id": post.account_id,
        "created_at": iso_ms(post.created_at),
        "conversation_id": post_id,
        "edit_history_tweet_ids": [post_id],
        "possibly_sensitive": False,
        "reply_settings": "everyone",
        "public_metrics": _NO_METRICS,
    }
    if post.lang is not None:
        tweet["lang"] = post.lang
    if post.client is not None:
        tweet["source"] = post.client
    if post.hashtags or post.mentions or post.urls:
        entities = _entities(post, text)
        if entities:
            tweet["entities"] = entities
    if post.media:
        keys = [media_key(post, i) for i in range(len(post.media))]
        tweet["attachments"] = {"media_keys": keys}
        if flat:
            tweet["attachments"]["media"] = _media_objects(post)
    if flat and user is None:
        user = _user_lookup(accounts)
    kind = _KINDS.get(post.kind) or Kind(post.kind)
    reference = _REFERENCE.get(kind)
    if reference and post.ref_post_id is not None:
        tweet["referenced_tweets"] = [{"type": reference, "id": post.ref_post_id}]
        if kind == Kind.REPLY:
            tweet["conversation_id"] = post.ref_post_id
            if post.ref_account_id is not None:
                tweet["in_reply_to_user_id"] = post.ref_account_id
                if flat and user is not None:
                    replied = user(post.ref_account_id)
                    if replied is not None:
                        tweet["in_reply_to_user"] = replied
    if flat and user is not None:
        author = user(post.account_id)
        tweet["author"] = author if author is not None else _EMPTY
        tweet["__twarc"] = _TWARC_JSON
    return tweet


def _user_lookup(accounts: Mapping[str, Account]) -> UserLookup:
    def user(account_id: str) -> dict[str, Any] | None:
        account = accounts.get(account_id)
        return None if account is None else user_object(account)

    return user


def _cached_users(accounts: Mapping[str, Account]) -> UserLookup:
    """Each author's user object serialized once per file, not once per tweet (profiles
    do not change within a write; this was most of the writer's time)."""
    cache: dict[str, orjson.Fragment | None] = {}

    def user(account_id: str) -> orjson.Fragment | None:
        try:
            return cache[account_id]
        except KeyError:
            account = accounts.get(account_id)
            made = None if account is None else orjson.Fragment(orjson.dumps(user_object(account)))
            cache[account_id] = made
            return made

    return user


def _media_objects(post: Post) -> list[dict[str, Any]]:
    return [
        {"media_key": media_key(post, i), "type": "photo", "url": url}
        for i, url in enumerate(post.media)
    ]


def _pages(posts: Sequence[Post], accounts: Mapping[str, Account]) -> Iterator[dict[str, Any]]:
    for start in range(0, len(posts), PAGE_SIZE):
        chunk = posts[start : start + PAGE_SIZE]
        user_ids = dict.fromkeys(
            [p.account_id for p in chunk]
            + [p.ref_account_id for p in chunk if p.kind == Kind.REPLY and p.ref_account_id]
        )
        users = [user_object(accounts[u]) for u in user_ids if u in accounts]
        media = [m for p in chunk for m in _media_objects(p)]
        includes: dict[str, Any] = {"users": users}
        if media:
            includes["media"] = media
        ids = [p.post_id for p in chunk]
        yield {
            "data": [tweet_object(p, accounts, flat=False) for p in chunk],
            "includes": includes,
            "meta": {
                "newest_id": max(ids),
                "oldest_id": min(ids),
                "result_count": len(chunk),
                "next_token": f"b26v89c19zqg8o3f{start:010d}",
            },
            "__twarc": TWARC,
        }


def write(
    path: Path, posts: Iterable[Post], accounts: Mapping[str, Account], *, pages: bool = False
) -> None:
    with path.open("wb") as handle:
        if pages:
            chunked = posts if isinstance(posts, Sequence) else list(posts)
            for page in _pages(chunked, accounts):
                handle.write(orjson.dumps(page) + b"\n")
            return
        user = _cached_users(accounts)
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        lines: list[bytes] = []
        for post in posts:
            lines.append(dumps(tweet_object(post, accounts, flat=True, user=user), option=newline))
            if len(lines) == WRITE_LINES:
                handle.write(b"".join(lines))
                lines.clear()
        handle.write(b"".join(lines))


def expected(post: Post, account: Account | None) -> tuple[Post, Account]:
    t = post.created_at
    kind = Kind(post.kind)
    if kind != Kind.POST and post.ref_post_id is None:
        kind = Kind.POST
    ref_account = post.ref_account_id if kind == Kind.REPLY else None
    kept = Post(
        platform=PLATFORM,
        post_id=post.post_id,
        account_id=post.account_id,
        created_at=t.replace(microsecond=t.microsecond // 1000 * 1000),
        kind=kind,
        text=post.text or "",
        lang=post.lang,
        ref_post_id=post.ref_post_id if kind != Kind.POST else None,
        ref_account_id=ref_account,
        hashtags=list(post.hashtags),
        urls=[u for u in post.urls if u],
        mentions=list(post.mentions),
        media=[url or media_key(post, i) for i, url in enumerate(post.media)],
        client=post.client,
    )
    if account is None:
        return kept, Account(platform=PLATFORM, account_id=post.account_id)
    counts = account_counts(account)
    created = account.created_at
    return kept, Account(
        platform=PLATFORM,
        account_id=account.account_id,
        handle=account.handle or None,
        display_name=account.display_name or None,
        bio=account.bio or None,
        location=account.location or None,
        created_at=(
            created.replace(microsecond=created.microsecond // 1000 * 1000) if created else None
        ),
        followers=account.followers or 0,
        following=account.following or 0,
        avatar=account.avatar or DEFAULT_AVATAR,
        extra=orjson.dumps(counts).decode(),
    )
