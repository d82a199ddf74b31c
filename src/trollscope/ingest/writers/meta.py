"""Meta Content Library CSV (`meta-content-library`): Facebook posts with the data
dictionary's field names, nested ones flattened with dots, as the reader assumes them.

Every post is written as a Facebook page's post (the fields assumed mark no reshares,
replies or quotes), its first URL as the link attachment. Only the owner's username
(handle) and name are kept of the profile; hashtags and mentions are those in the text,
times whole seconds in UTC (`+0000`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

from trollscope.ingest.readers import entities
from trollscope.model import Account, Post

PLATFORM = "facebook"
HEADER = (
    "id", "creation_time", "modified_time", "text", "lang", "is_branded_content",
    "post_owner.id", "post_owner.name", "post_owner.username", "post_owner.type",
    "statistics.reaction_count", "statistics.share_count", "statistics.comment_count",
    "statistics.views", "link_attachment.link", "link_attachment.name", "multimedia",
)  # fmt: skip


def _row(post: Post, account: Account | None) -> list[str]:
    row = {
        "id": post.post_id,
        "creation_time": f"{post.created_at:%Y-%m-%dT%H:%M:%S}+0000",
        "text": post.text or "",
        "lang": post.lang or "",
        "is_branded_content": "false",
        "post_owner.id": post.account_id,
        "post_owner.name": (account.display_name or "") if account else "",
        "post_owner.username": (account.handle or "") if account else "",
        "post_owner.type": "PAGE",
        "statistics.reaction_count": "0",
        "statistics.share_count": "0",
        "statistics.comment_count": "0",
        "link_attachment.link": post.urls[0] if post.urls else "",
    }
    return [row.get(name, "") for name in HEADER]


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for post in posts:
            out.writerow(_row(post, accounts.get(post.account_id)))


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    text = post.text or None
    urls = post.urls[:1]
    for url in entities.urls(text):
        if url not in urls:
            urls.append(url)
    kept = Post(
        platform=PLATFORM,
        post_id=post.post_id,
        account_id=post.account_id,
        created_at=post.created_at.replace(microsecond=0),
        text=text,
        lang=post.lang or None,
        hashtags=entities.hashtags(text),
        mentions=entities.mentions(text),
        urls=urls,
    )
    return kept, Account(
        platform=PLATFORM,
        account_id=post.account_id,
        handle=(account.handle or None) if account else None,
        display_name=(account.display_name or None) if account else None,
    )
