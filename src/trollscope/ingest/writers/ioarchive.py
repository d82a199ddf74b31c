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
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from trollscope.ingest.readers.ioarchive import TWEET_COLUMNS, USER_COLUMNS
from trollscope.model import Account, Kind, Post

PLATFORM = "twitter"
NO_COORDINATE = "absent"
WRITE_LINES = 1000  # lines joined per write call
# The profile columns (`_profile`), repeated on each tweet row, and the reference columns.
PROFILE_COLUMNS = USER_COLUMNS
REFERENCE_COLUMNS = (
    "in_reply_to_userid",
    "in_reply_to_tweetid",
    "quoted_tweet_tweetid",
    "is_retweet",
    "retweet_userid",
    "retweet_tweetid",
)


def _minute(t: datetime) -> str:
    if t.tzinfo is None:
        return t.isoformat(" ", "minutes")  # C, and the same text as the f-string below
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


# The columns of a tweet row, in the order `_tweet_line` writes them.
_LAYOUT = (
    "tweetid",
    *PROFILE_COLUMNS,
    "tweet_language",
    "tweet_text",
    "tweet_time",
    "tweet_client_name",
    *REFERENCE_COLUMNS,
    "latitude",
    "longitude",
    "quote_count",
    "reply_count",
    "like_count",
    "retweet_count",
    "hashtags",
    "urls",
    "user_mentions",
    "poll_choices",
)
assert _LAYOUT == TWEET_COLUMNS, "the tweets CSV layout changed: update _tweet_line"
_NO_REFERENCE = ("", "", "", "False", "", "")


def _reference(post: Post) -> tuple[str, ...]:
    """The REFERENCE_COLUMNS of a post."""
    ref_post, ref_account = _text(post.ref_post_id), _text(post.ref_account_id)
    if post.kind == Kind.REPOST:
        return ("", "", "", "True", ref_account, ref_post)
    if post.kind == Kind.QUOTE:
        return ("", "", ref_post, "False", "", "")
    if post.kind == Kind.REPLY:
        return (ref_account, ref_post, "", "False", "", "")
    return _NO_REFERENCE


def _listed(values: list[str]) -> str:
    return str(list(values)) if values else "[]"


def _tweet_line(post: Post, profile: str) -> str:
    """One CSV line of the tweets file; `profile` is the author's profile columns, already
    encoded (`_csv_line`)."""
    rest = _csv_line(
        (
            _text(post.lang),
            _text(post.text),
            _minute(post.created_at),
            _text(post.client),
            *_reference(post),
            NO_COORDINATE,
            NO_COORDINATE,
            "",
            "",
            "",
            "",
            _listed(post.hashtags),
            _listed(post.urls),
            _listed(post.mentions),
            "",
        )
    )
    return f"{_csv_field(post.post_id)},{profile},{rest}\r\n"


def _csv_field(value: str) -> str:
    """A field as csv.writer writes it in a row of several (excel dialect, QUOTE_MINIMAL):
    quoted when it holds the delimiter, the quote character or a line break."""
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_line(fields: tuple[str, ...]) -> str:
    """`fields` joined as csv.writer joins them, without the line terminator. Most rows
    need no quoting: one check of the joined text finds those."""
    line = ",".join(fields)
    if (
        line.count(",") == len(fields) - 1
        and '"' not in line
        and "\n" not in line
        and "\r" not in line
    ):
        return line
    return ",".join([_csv_field(f) for f in fields])


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    """The tweets CSV: one row per post, its author's profile repeated on each.

    Rows are joined here rather than by csv.writer (which copies each field a character
    at a time, slowly); `_csv_line` quotes exactly as csv.writer does (excel dialect).
    Each author's profile columns are encoded once per file.
    """
    profiles: dict[str, str] = {}
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerow(TWEET_COLUMNS)
        lines: list[str] = []
        for post in posts:
            profile = profiles.get(post.account_id)
            if profile is None:
                values = _profile(post.account_id, accounts.get(post.account_id))
                profile = profiles[post.account_id] = _csv_line(
                    tuple(values[name] for name in PROFILE_COLUMNS)
                )
            lines.append(_tweet_line(post, profile))
            if len(lines) == WRITE_LINES:
                handle.write("".join(lines))
                lines.clear()
        handle.write("".join(lines))


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
