"""CrowdTangle's Facebook pages CSV export (`crowdtangle`), in the 41-column layout of 2021.

Times are written as the dashboard of a user in New York would: local time with its EST
or EDT label, so the round trip crosses both. The post's permalink
("https://www.facebook.com/<page id>/posts/<post id>") is what the reader keeps as the
post id. The export cannot hold references (every post is a plain post), more than one
link, a language, a client, or the profile's following count and avatar; hashtags and
mentions are only those in the text (the reader takes them from it). Page Created is
written in the zone of its row's Post Created, as the reader assumes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from trollscope.ingest.readers import entities
from trollscope.model import Account, Post

PLATFORM = "facebook"
ZONE = ZoneInfo("America/New_York")
HEADER = (
    "Page Name", "User Name", "Facebook Id", "Page Category", "Page Admin Top Country",
    "Page Description", "Page Created", "Likes at Posting", "Followers at Posting",
    "Post Created", "Post Created Date", "Post Created Time", "Type", "Total Interactions",
    "Likes", "Comments", "Shares", "Love", "Wow", "Haha", "Sad", "Angry", "Care",
    "Video Share Status", "Is Video Owner?", "Post Views", "Total Views",
    "Total Views For All Crossposts", "Video Length", "URL", "Message", "Link", "Final Link",
    "Image Text", "Link Text", "Description", "Sponsor Id", "Sponsor Name",
    "Sponsor Category",
    "Total Interactions (weighted  —  Likes 1x Shares 1x Comments 1x Love 1x Wow 1x Haha 1x "
    "Sad 1x Angry 1x Care 1x )",
    "Overperforming Score",
)  # fmt: skip


def permalink(post: Post) -> str:
    return f"https://www.facebook.com/{post.account_id}/posts/{post.post_id}"


def _local(when: datetime) -> tuple[datetime, timedelta, str]:
    """A UTC time as New York's wall clock, its offset and its label (EST / EDT)."""
    local = when.replace(tzinfo=UTC).astimezone(ZONE)
    offset = local.utcoffset() or timedelta(0)
    return local.replace(tzinfo=None), offset, local.tzname() or "UTC"


def _count(value: int | None) -> str:
    """Thousands separated as the export does in an English locale ('15,021')."""
    return "" if value is None else f"{value:,}"


def _row(post: Post, account: Account | None) -> list[str]:
    a = account or Account(platform=PLATFORM, account_id=post.account_id)
    local, offset, label = _local(post.created_at)
    link = post.urls[0] if post.urls else ""
    page_created = f"{a.created_at + offset:%Y-%m-%d %H:%M:%S}" if a.created_at else ""
    row = {
        "Page Name": a.display_name or "",
        "User Name": a.handle or "",
        "Facebook Id": post.account_id,
        "Page Admin Top Country": a.location or "",
        "Page Description": a.bio or "",
        "Page Created": page_created,
        "Followers at Posting": _count(a.followers),
        "Post Created": f"{local:%Y-%m-%d %H:%M:%S} {label}",
        "Post Created Date": f"{local:%Y-%m-%d}",
        "Post Created Time": f"{local:%H:%M:%S}",
        "Type": "Link" if link else "Status",
        "Total Interactions": "0",
        "Is Video Owner?": "-",
        "Video Length": "N/A",
        "URL": permalink(post),
        "Message": post.text or "",
        "Link": link,
        "Final Link": link,
    }
    return [row.get(name, "") for name in HEADER]


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        # The default "\r\n" terminator also makes csv quote a field holding a bare "\r".
        out = csv.writer(handle)
        out.writerow(HEADER)
        for post in posts:
            out.writerow(_row(post, accounts.get(post.account_id)))


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    kept = Post(
        platform=PLATFORM,
        post_id=permalink(post),
        account_id=post.account_id,
        created_at=post.created_at.replace(microsecond=0),
        text=post.text or None,
        hashtags=entities.hashtags(post.text),
        mentions=entities.mentions(post.text),
        urls=post.urls[:1],
    )
    if account is None:
        return kept, None
    return kept, Account(
        platform=PLATFORM,
        account_id=post.account_id,
        handle=account.handle or None,
        display_name=account.display_name or None,
        bio=account.bio or None,
        location=account.location or None,
        created_at=account.created_at.replace(microsecond=0) if account.created_at else None,
        followers=account.followers,
    )
