"""The FiveThirtyEight IRA tweets CSV, in the release's 21-column layout.

Ids go into external_author_id, alt_external_id, tweet_id and article_url
("http://twitter.com/<user id>/statuses/<tweet id>", written when both ids are numeric, as
in the release). publish_date is 'M/D/YYYY H:MM'. The release cannot hold references
(reposts and quotes lose their ref ids), replies (they become posts), hashtags and
mentions other than those in the text (the reader takes them from the text), more than
three urls, a client, or profile fields other than handle, location and counts. Coder
labels (account_type, account_category, ...), harvested_date and updates are unknown to
a canonical post and are written empty.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from trollscope.ingest.readers import entities
from trollscope.ingest.readers.ira import COLUMNS, LANGUAGE_CODES, NO_REGION
from trollscope.model import Account, Kind, Post

PLATFORM = "twitter"
URLS_KEPT = 3
# ISO code -> the release's language name; the first name listed wins for a shared code.
LANGUAGE_NAMES = {code: name for name, code in reversed(sorted(LANGUAGE_CODES.items()))}


def _publish_date(t: datetime) -> str:
    return f"{t.month}/{t.day}/{t.year:04d} {t.hour}:{t.minute:02d}"


def _text(value: str | int | None) -> str:
    return "" if value is None else str(value)


def _urls(post: Post) -> list[str]:
    return [u for u in post.urls if u][:URLS_KEPT]


def _row(post: Post, account: Account | None) -> list[str]:
    a = account or Account(platform=PLATFORM, account_id=post.account_id)
    urls = _urls(post) + [""] * URLS_KEPT
    numeric = post.account_id.isdigit() and post.post_id.isdigit()
    row = {
        "external_author_id": post.account_id,
        "author": _text(a.handle),
        "content": _text(post.text),
        "region": a.location or NO_REGION,
        "language": LANGUAGE_NAMES.get(post.lang, post.lang) if post.lang else "",
        "publish_date": _publish_date(post.created_at),
        "following": _text(a.following),
        "followers": _text(a.followers),
        "post_type": {Kind.REPOST: "RETWEET", Kind.QUOTE: "QUOTE_TWEET"}.get(post.kind, ""),
        # The release marks quote tweets as retweets too.
        "retweet": "1" if post.kind in (Kind.REPOST, Kind.QUOTE) else "0",
        "alt_external_id": post.account_id,
        "tweet_id": post.post_id,
        "article_url": (
            f"http://twitter.com/{post.account_id}/statuses/{post.post_id}" if numeric else ""
        ),
        "tco1_step1": urls[0],
        "tco2_step1": urls[1],
        "tco3_step1": urls[2],
    }
    return [row.get(name, "") for name in COLUMNS]


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        # The default "\r\n" terminator also makes csv quote a field holding a bare "\r".
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for post in posts:
            out.writerow(_row(post, accounts.get(post.account_id)))


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    lang = LANGUAGE_NAMES.get(post.lang, post.lang) if post.lang else None
    kind = post.kind if post.kind in (Kind.REPOST, Kind.QUOTE) else Kind.POST
    kept = Post(
        platform=PLATFORM,
        post_id=post.post_id,
        account_id=post.account_id,
        created_at=post.created_at.replace(second=0, microsecond=0),
        kind=kind,
        text=post.text or None,
        lang=LANGUAGE_CODES.get(lang, lang) if lang else None,
        hashtags=entities.hashtags(post.text),
        mentions=entities.mentions(post.text),
        urls=_urls(post),
    )
    location = account.location if account else None
    return kept, Account(
        platform=PLATFORM,
        account_id=post.account_id,
        handle=(account.handle or None) if account else None,
        location=None if not location or location.strip() == NO_REGION else location,
        followers=account.followers if account else None,
        following=account.following if account else None,
    )
