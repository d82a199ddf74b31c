"""CrowdTangle API JSON (`crowdtangle-api`): JSON lines of /posts responses, up to 100
posts each (the API's page size), as a scraper that appends each response writes them.

Every post is written as a Facebook page's post: its permalink is the post id the reader
keeps. The API cannot mark references (every post is a plain post) and carries no
client, following count or media the reader keeps; hashtags and mentions are only those
in the text. Times are UTC to the second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from trollscope.ingest.writers import crowdtangle
from trollscope.ingest.writers.crowdtangle import permalink
from trollscope.model import Account, Post

PLATFORM = "facebook"
PAGE_SIZE = 100


def _date(post_or_account: Any) -> str:
    return f"{post_or_account:%Y-%m-%d %H:%M:%S}"


def _account(post: Post, account: Account | None) -> dict[str, Any]:
    a = account or Account(platform=PLATFORM, account_id=post.account_id)
    out: dict[str, Any] = {
        "id": 1000 + len(post.account_id),
        "name": a.display_name,
        "handle": a.handle,
        "profileImage": a.avatar,
        "subscriberCount": a.followers,
        "url": f"https://www.facebook.com/{post.account_id}",
        "platform": "Facebook",
        "platformId": post.account_id,
        "accountType": "facebook_page",
        "pageAdminTopCountry": a.location,
        "pageDescription": a.bio,
        "pageCreatedDate": _date(a.created_at) if a.created_at else None,
        "verified": False,
    }
    # The API leaves out what a page does not have, rather than writing null.
    return {k: v for k, v in out.items() if v is not None}


def _post(post: Post, account: Account | None) -> dict[str, Any]:
    link = post.urls[0] if post.urls else None
    out: dict[str, Any] = {
        "platformId": f"{post.account_id}_{post.post_id}",
        "platform": "Facebook",
        "date": _date(post.created_at),
        "updated": _date(post.created_at),
        "type": "link" if link else "status",
        "message": post.text,
        "expandedLinks": [{"original": u, "expanded": u} for u in post.urls] if link else None,
        "link": link,
        "postUrl": permalink(post),
        "statistics": {"actual": {"likeCount": 0, "shareCount": 0, "commentCount": 0}},
        "account": _account(post, account),
        "languageCode": post.lang,
        "id": f"{1000 + len(post.account_id)}|{post.post_id}",
    }
    return {k: v for k, v in out.items() if v is not None}


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    listed = list(posts)
    with path.open("wb") as handle:
        for start in range(0, len(listed), PAGE_SIZE):
            page = [_post(p, accounts.get(p.account_id)) for p in listed[start : start + PAGE_SIZE]]
            response = {"status": 200, "result": {"posts": page, "pagination": {}}}
            handle.write(orjson.dumps(response) + b"\n")


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    # What the CSV export keeps, plus what the API carries beyond it.
    kept, profile = crowdtangle.expected(post, account)
    kept = replace(kept, lang=post.lang or None, urls=list(dict.fromkeys(post.urls)))
    if profile is not None and account is not None:
        profile = replace(profile, avatar=account.avatar or None)
    return kept, profile
