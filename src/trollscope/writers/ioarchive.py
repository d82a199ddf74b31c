"""Twitter's information-operations archive: the tweets CSV (`write`) and the users CSV
(`write_users`), in the releases' exact column layout.

Lists are written as the releases write them, Python's repr "['a', 'b']". The archive has
one reference per tweet: a repost writes retweet_userid/retweet_tweetid (is_retweet True),
a quote quoted_tweet_tweetid (no quoted user id: it is lost), a reply
in_reply_to_userid/in_reply_to_tweetid. Times are written to the minute, creation dates
to the day. Counts, poll choices and coordinates are unknown to a canonical post and are
written empty ("absent" for coordinates, as the releases do).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from trollscope.model import Account, Kind, Post
from trollscope.readers.ioarchive import TWEET_COLUMNS, USER_COLUMNS

PLATFORM = "twitter"
NO_COORDINATE = "absent"


def _minute(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"


def _day(t: datetime | None) -> str:
    return "" if t is None else f"{t.year:04d}-{t.month:02d}-{t.day:02d}"


def _text(value: str | int | None) -> str:
    return "" if value is None else str(value)


def _profile(account_id: str, account: Account | None) -> dict[str, str]:
    a = account or Account(platform=PLATFORM, account_id=account_id)
    return {
        "userid": account_id,
        "user_display_name": _text(a.display_name),
        "user_screen_name": _text(a.handle),
        "user_reported_location": _text(a.location),
        "user_profile_description": _text(a.bio),
        "user_profile_url": "",
        "follower_count": _text(a.followers),
        "following_count": _text(a.following),
        "account_creation_date": _day(a.created_at),
        "account_language": _text(a.lang),
    }


def _reference(post: Post) -> dict[str, str]:
    ref_post, ref_account = _text(post.ref_post_id), _text(post.ref_account_id)
    if post.kind == Kind.REPOST:
        return {"is_retweet": "True", "retweet_userid": ref_account, "retweet_tweetid": ref_post}
    if post.kind == Kind.QUOTE:
        return {"quoted_tweet_tweetid": ref_post}
    if post.kind == Kind.REPLY:
        return {"in_reply_to_userid": ref_account, "in_reply_to_tweetid": ref_post}
    return {}


def _tweet_row(post: Post, account: Account | None) -> list[str]:
    row = {
        **_profile(post.account_id, account),
        "tweetid": post.post_id,
        "tweet_language": _text(post.lang),
        "tweet_text": _text(post.text),
        "tweet_time": _minute(post.created_at),
        "tweet_client_name": _text(post.client),
        "is_retweet": "False",
        "latitude": NO_COORDINATE,
        "longitude": NO_COORDINATE,
        "hashtags": str(list(post.hashtags)),
        "urls": str(list(post.urls)),
        "user_mentions": str(list(post.mentions)),
        **_reference(post),
    }
    return [row.get(name, "") for name in TWEET_COLUMNS]


def write(path: Path, posts: Sequence[Post], accounts: Mapping[str, Account]) -> None:
    """The tweets CSV: one row per post, its author's profile repeated on each."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        # The default "\r\n" terminator also makes csv quote a field holding a bare "\r".
        out = csv.writer(handle)
        out.writerow(TWEET_COLUMNS)
        for post in posts:
            out.writerow(_tweet_row(post, accounts.get(post.account_id)))


def write_users(path: Path, accounts: Iterable[Account]) -> None:
    """The users CSV: one row per account."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        # The default "\r\n" terminator also makes csv quote a field holding a bare "\r".
        out = csv.writer(handle)
        out.writerow(USER_COLUMNS)
        for account in accounts:
            profile = _profile(account.account_id, account)
            out.writerow([profile[name] for name in USER_COLUMNS])


def expected_account(account_id: str, account: Account | None) -> Account:
    """The account that reading a written profile back gives."""
    if account is None:
        return Account(platform=PLATFORM, account_id=account_id)
    created = account.created_at
    return Account(
        platform=PLATFORM,
        account_id=account_id,
        handle=account.handle or None,
        display_name=account.display_name or None,
        bio=account.bio or None,
        location=account.location or None,
        created_at=None if created is None else datetime(created.year, created.month, created.day),
        followers=account.followers,
        following=account.following,
        lang=account.lang or None,
    )


def _expected_kind(post: Post) -> tuple[Kind, str | None, str | None]:
    """Kind and references as the archive can hold them (see `_reference`)."""
    ref_post, ref_account = post.ref_post_id or None, post.ref_account_id or None
    if post.kind == Kind.REPOST:
        return Kind.REPOST, ref_post, ref_account
    if post.kind == Kind.QUOTE and ref_post:
        return Kind.QUOTE, ref_post, None
    if post.kind == Kind.REPLY and (ref_post or ref_account):
        return Kind.REPLY, ref_post, ref_account
    return Kind.POST, None, None


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    kind, ref_post, ref_account = _expected_kind(post)
    kept = Post(
        platform=PLATFORM,
        post_id=post.post_id,
        account_id=post.account_id,
        created_at=post.created_at.replace(second=0, microsecond=0),
        kind=kind,
        text=post.text or None,
        lang=post.lang or None,
        ref_post_id=ref_post,
        ref_account_id=ref_account,
        hashtags=list(post.hashtags),
        urls=list(post.urls),
        mentions=list(post.mentions),
        client=post.client or None,
    )
    return kept, expected_account(post.account_id, account)
