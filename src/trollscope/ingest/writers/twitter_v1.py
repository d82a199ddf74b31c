"""Twitter API v1.1 tweets, one JSON object per line, as twarc 1 and the streaming API wrote
them.

`mode="extended"` (the default) writes the REST shape of `tweet_mode=extended`: the whole
text in `full_text`. `mode="compat"` writes the streaming shape: `text`, and for a text
over 140 characters a truncated `text` with the whole tweet in `extended_tweet`.

Times are written to the second ("Wed Oct 10 20:19:24 +0000 2018"), ids as `id_str` (and
`id` as a number when the id is one). A retweet carries its original in
`retweeted_status` and a quote its quoted tweet in `quoted_status`, as the API does: the
whole tweet when it is among the posts written, else only its ids (`id_str` and
`user.id_str`; the writer cannot invent the rest), which the reader takes for a reference
only. Embedded tweets carry their own references the same short way. A mention carries
the mentioned account's id and name when that account is among `accounts`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from trollscope.ingest.writers.twarc2 import DEFAULT_AVATAR, account_counts
from trollscope.model import Account, Kind, Post

PLATFORM = "twitter"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SOURCE_URL = "https://mobile.twitter.com"


def v1_time(t: datetime) -> str:
    """'Wed Oct 10 20:19:24 +0000 2018' (English names whatever the locale)."""
    return (
        f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t.day:02d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0000 {t.year:04d}"
    )


def _number(value: str) -> int | str:
    """The numeric `id` beside `id_str`, when the id is a number that fits JSON's int64."""
    if value.isascii() and value.isdigit() and len(value) <= 19 and int(value) < 2**63:
        return int(value)
    return value


def media_id(post: Post, index: int) -> str:
    return f"{post.post_id}{index:02d}"


def user_object(account: Account) -> dict[str, Any]:
    counts = account_counts(account)
    created = account.created_at
    return {
        "id": _number(account.account_id),
        "id_str": account.account_id,
        "name": account.display_name or "",
        "screen_name": account.handle or "",
        "location": account.location or "",
        "description": account.bio or "",
        "url": None,
        "entities": {"description": {"urls": []}},
        "protected": counts["protected"],
        "followers_count": account.followers or 0,
        "friends_count": account.following or 0,
        "listed_count": counts["listed_count"],
        "created_at": v1_time(created) if created is not None else None,
        "favourites_count": 0,
        "utc_offset": None,
        "time_zone": None,
        "geo_enabled": False,
        "verified": counts["verified"],
        "statuses_count": counts["tweet_count"],
        "lang": account.lang,
        "profile_image_url": (account.avatar or DEFAULT_AVATAR).replace("https://", "http://"),
        "profile_image_url_https": account.avatar or DEFAULT_AVATAR,
        "default_profile": True,
        "default_profile_image": account.avatar is None,
    }


def _entities(post: Post, text: str, by_handle: Mapping[str, Account]) -> dict[str, Any]:
    def indices(token: str, index: int) -> list[int]:
        start = text.find(token)
        start = start if start >= 0 else index
        return [start, start + len(token)]

    mentions = []
    for i, name in enumerate(post.mentions):
        mention: dict[str, Any] = {"screen_name": name}
        known = by_handle.get(name)
        if known is not None:
            mention.update(
                name=known.display_name or "",
                id=_number(known.account_id),
                id_str=known.account_id,
            )
        mention["indices"] = indices("@" + name, i)
        mentions.append(mention)
    return {
        "hashtags": [
            {"text": tag, "indices": indices("#" + tag, i)} for i, tag in enumerate(post.hashtags)
        ],
        "symbols": [],
        "user_mentions": mentions,
        "urls": [
            {
                "url": f"https://t.co/{i:010d}",
                "expanded_url": url,
                "display_url": url.split("://", 1)[-1][:26],
                "indices": indices(f"https://t.co/{i:010d}", i),
            }
            for i, url in enumerate(u for u in post.urls if u)
        ],
    }


def _media(post: Post) -> list[dict[str, Any]]:
    return [
        {
            "id": _number(media_id(post, i)),
            "id_str": media_id(post, i),
            "indices": [0, 0],
            "media_url": url,
            "media_url_https": url,
            "url": f"https://t.co/m{i:09d}",
            "display_url": "pic.twitter.com/m",
            "expanded_url": f"https://twitter.com/i/web/status/{post.post_id}",
            "type": "photo",
        }
        for i, url in enumerate(post.media)
    ]


def _stub(post_id: str, account_id: str | None) -> dict[str, Any]:
    user = {} if account_id is None else {"id": _number(account_id), "id_str": account_id}
    return {"id": _number(post_id), "id_str": post_id, "user": user}


class _Writer:
    def __init__(self, posts: Sequence[Post], accounts: Mapping[str, Account], mode: str) -> None:
        if mode not in ("extended", "compat"):
            raise ValueError(f"mode must be 'extended' or 'compat', not {mode!r}")
        self.mode = mode
        self.accounts = accounts
        self.by_id = {p.post_id: p for p in posts}
        self.by_handle = {a.handle: a for a in accounts.values() if a.handle}

    def user(self, account_id: str) -> dict[str, Any]:
        account = self.accounts.get(account_id)
        if account is None:
            account = Account(platform=PLATFORM, account_id=account_id)
        return user_object(account)

    def embedded(self, post_id: str, account_id: str | None) -> dict[str, Any]:
        inner = self.by_id.get(post_id)
        if inner is None or inner.account_id != account_id:
            return _stub(post_id, account_id)
        return self.tweet(inner, nested=False)

    def tweet(self, post: Post, *, nested: bool = True) -> dict[str, Any]:
        text = post.text or ""
        entities = _entities(post, text, self.by_handle)
        tweet: dict[str, Any] = {
            "created_at": v1_time(post.created_at),
            "id": _number(post.post_id),
            "id_str": post.post_id,
        }
        media = _media(post)
        if self.mode == "extended":
            tweet.update(full_text=text, truncated=False, display_text_range=[0, len(text)])
            tweet["entities"] = {**entities, **({"media": media[:1]} if media else {})}
            if media:
                tweet["extended_entities"] = {"media": media}
        elif len(text) <= 140:
            tweet.update(text=text, truncated=False)
            tweet["entities"] = {**entities, **({"media": media[:1]} if media else {})}
            if media:
                tweet["extended_entities"] = {"media": media}
        else:
            tweet.update(text=text[:139] + "\u2026", truncated=True)
            tweet["entities"] = {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []}
            tweet["extended_tweet"] = {
                "full_text": text,
                "display_text_range": [0, len(text)],
                "entities": {**entities, **({"media": media[:1]} if media else {})},
                **({"extended_entities": {"media": media}} if media else {}),
            }
        if post.client is not None:
            tweet["source"] = (
                f'<a href="{SOURCE_URL}" rel="nofollow">{html.escape(post.client, quote=False)}</a>'
            )
        tweet.update(self._reply(post))
        tweet["user"] = self.user(post.account_id)
        tweet.update(geo=None, coordinates=None, place=None, contributors=None)
        tweet.update(self._reference(post, nested))
        tweet.update(
            retweet_count=0, favorite_count=0, favorited=False, retweeted=False, lang=post.lang
        )
        if post.lang is None:
            del tweet["lang"]
        return tweet

    def _reply(self, post: Post) -> dict[str, Any]:
        ref, account = post.ref_post_id, post.ref_account_id
        if post.kind != Kind.REPLY or ref is None:
            return dict.fromkeys(
                (
                    "in_reply_to_status_id",
                    "in_reply_to_status_id_str",
                    "in_reply_to_user_id",
                    "in_reply_to_user_id_str",
                    "in_reply_to_screen_name",
                )
            )
        known = self.accounts.get(account) if account is not None else None
        return {
            "in_reply_to_status_id": _number(ref),
            "in_reply_to_status_id_str": ref,
            "in_reply_to_user_id": None if account is None else _number(account),
            "in_reply_to_user_id_str": account,
            "in_reply_to_screen_name": known.handle if known is not None else None,
        }

    def _reference(self, post: Post, nested: bool) -> dict[str, Any]:
        ref, account = post.ref_post_id, post.ref_account_id
        if ref is None or post.kind not in (Kind.REPOST, Kind.QUOTE):
            return {"is_quote_status": False}
        inner = self.embedded(ref, account) if nested else _stub(ref, account)
        if post.kind == Kind.REPOST:
            return {"is_quote_status": False, "retweeted_status": inner}
        return {
            "is_quote_status": True,
            "quoted_status_id": _number(ref),
            "quoted_status_id_str": ref,
            "quoted_status": inner,
        }


def write(
    path: Path,
    posts: Sequence[Post],
    accounts: Mapping[str, Account],
    *,
    mode: str = "extended",
) -> None:
    writer = _Writer(posts, accounts, mode)
    with path.open("wb") as handle:
        for post in posts:
            handle.write(orjson.dumps(writer.tweet(post)) + b"\n")


def expected(post: Post, account: Account | None) -> tuple[Post, Account]:
    kind = Kind(post.kind)
    if kind != Kind.POST and post.ref_post_id is None:
        kind = Kind.POST
    kept = Post(
        platform=PLATFORM,
        post_id=post.post_id,
        account_id=post.account_id,
        created_at=post.created_at.replace(microsecond=0),
        kind=kind,
        text=post.text or "",
        lang=post.lang,
        ref_post_id=post.ref_post_id if kind != Kind.POST else None,
        ref_account_id=post.ref_account_id if kind != Kind.POST else None,
        hashtags=list(post.hashtags),
        urls=[u for u in post.urls if u],
        mentions=list(post.mentions),
        media=[url or media_id(post, i) for i, url in enumerate(post.media)],
        client=post.client or None,
    )
    profile = account or Account(platform=PLATFORM, account_id=post.account_id)
    counts = account_counts(profile)
    created = profile.created_at
    return kept, Account(
        platform=PLATFORM,
        account_id=post.account_id,
        handle=profile.handle or None,
        display_name=profile.display_name or None,
        bio=profile.bio or None,
        location=profile.location or None,
        created_at=created.replace(microsecond=0) if created is not None else None,
        followers=profile.followers or 0,
        following=profile.following or 0,
        avatar=profile.avatar or DEFAULT_AVATAR,
        lang=profile.lang or None,
        extra=orjson.dumps(
            {
                "tweet_count": counts["tweet_count"],
                "listed_count": counts["listed_count"],
                "verified": counts["verified"],
                "protected": counts["protected"],
            }
        ).decode(),
    )
