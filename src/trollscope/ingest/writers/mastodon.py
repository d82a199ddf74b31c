"""Mastodon API JSON (`mastodon`): timeline pages of Status entities, one page of up to 40
(the API's largest) per line, as a script that saves each response on a line writes them.

Each account lives on an instance of its own, `i<id>.example`, as user `u<id>` (so that
the author of a reblogged, quoted or replied-to status is named from its id alone; the
handle drawn for an account is not written: Mastodon's handle is the qualified acct).
Authors are written with a local `acct` (`u<id>`), which the reader qualifies from the
account's `url`; mentions with a remote one (`<handle>@mentions.example`). Text is
written as Mastodon's HTML (a paragraph, `<br />` for line breaks, escaped), each link as
an anchor after it, so the text read back ends with the links; hashtags are `tags`.
A repost is a reblog wrapping the reposted status (which is written too, with a text of
its own); a quote carries its quoted status (Mastodon 4.4). A reply names its parent by
id and its author by a mention. Mastodon has no location; a missing count is 0; the
default avatar is no avatar; times are kept to the millisecond.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import orjson

from trollscope.model import Account, Kind, Post

PLATFORM = "mastodon"
PAGE_SIZE = 40
MENTIONS_HOST = "mentions.example"
DEFAULT_AVATAR = "/avatars/original/missing.png"


def host(account_id: str) -> str:
    return f"i{account_id}.example"


def acct(account_id: str) -> str:
    return f"u{account_id}@{host(account_id)}"


def status_uri(account_id: str, post_id: str) -> str:
    return f"https://{host(account_id)}/users/u{account_id}/statuses/{post_id}"


def _time(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z"


def _ms(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def _html(text: str | None, urls: list[str] | None = None) -> str:
    body = escape(text or "").replace("\n", "<br />")
    links = "".join(
        f' <a href="{escape(u)}" rel="nofollow noopener">{escape(u)}</a>' for u in urls or []
    )
    return f"<p>{body}{links}</p>" if body or links else ""


def _kind(post: Post) -> Kind:
    kind = Kind(post.kind)
    return Kind.POST if kind != Kind.POST and post.ref_post_id is None else kind


def _account(account_id: str, account: Account | None) -> dict[str, Any]:
    a = account or Account(platform=PLATFORM, account_id=account_id)
    return {
        "id": account_id,
        "username": f"u{account_id}",
        "acct": f"u{account_id}",
        "display_name": a.display_name or "",
        "locked": False,
        "bot": False,
        "created_at": _time(a.created_at) if a.created_at else None,
        "note": _html(a.bio),
        "url": f"https://{host(account_id)}/@u{account_id}",
        "avatar": f"https://{host(account_id)}{DEFAULT_AVATAR}",
        "followers_count": a.followers or 0,
        "following_count": a.following or 0,
        "statuses_count": 1,
    }


def _status(
    post_id: str,
    account_id: str,
    created: datetime,
    accounts: Mapping[str, Account],
    content: str,
    **fields: Any,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "id": post_id,
        "created_at": _time(created),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": None,
        "uri": status_uri(account_id, post_id),
        "url": f"https://{host(account_id)}/@u{account_id}/{post_id}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "content": content,
        "reblog": None,
        "application": None,
        "account": _account(account_id, accounts.get(account_id)),
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "card": None,
    }
    status.update(fields)
    return status


def _mention(handle: str) -> dict[str, str]:
    return {
        "id": f"m-{handle}",
        "username": handle,
        "acct": f"{handle}@{MENTIONS_HOST}",
        "url": f"https://{MENTIONS_HOST}/@{handle}",
    }


def _of(post: Post, accounts: Mapping[str, Account]) -> dict[str, Any]:
    kind = _kind(post)
    ref_account = post.ref_account_id or post.account_id
    if kind == Kind.REPOST:
        assert post.ref_post_id is not None
        original = _status(
            post.ref_post_id, ref_account, post.created_at, accounts, "<p>the original</p>"
        )
        return _status(
            post.post_id, post.account_id, post.created_at, accounts, "", reblog=original
        )
    tags = post.hashtags
    fields: dict[str, Any] = {
        "language": post.lang,
        "tags": [{"name": tag, "url": f"https://{host(post.account_id)}/tags/t"} for tag in tags],
        "mentions": [_mention(m) for m in post.mentions],
        "application": {"name": post.client, "website": None} if post.client else None,
    }
    if kind == Kind.REPLY:
        fields["in_reply_to_id"] = post.ref_post_id
        fields["in_reply_to_account_id"] = ref_account
        if ref_account != post.account_id:
            parent = {"id": ref_account, "username": f"u{ref_account}", "acct": acct(ref_account)}
            parent["url"] = f"https://{host(ref_account)}/@u{ref_account}"
            fields["mentions"] = [parent, *fields["mentions"]]
    elif kind == Kind.QUOTE:
        assert post.ref_post_id is not None
        quoted = _status(post.ref_post_id, ref_account, post.created_at, accounts, "<p>quoted</p>")
        fields["quote"] = {"state": "accepted", "quoted_status": quoted}
    content = _html(post.text, list(dict.fromkeys(post.urls)))
    return _status(post.post_id, post.account_id, post.created_at, accounts, content, **fields)


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    listed = [_of(post, accounts) for post in posts]
    with path.open("wb") as handle:
        for start in range(0, len(listed), PAGE_SIZE):
            handle.write(orjson.dumps(listed[start : start + PAGE_SIZE]) + b"\n")


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    kind = _kind(post)
    ref_account = post.ref_account_id or post.account_id
    urls = list(dict.fromkeys(post.urls))
    kept = Post(
        platform=PLATFORM,
        post_id=status_uri(post.account_id, post.post_id),
        account_id=acct(post.account_id),
        created_at=_ms(post.created_at),
        kind=kind,
    )
    if kind == Kind.REPOST:
        assert post.ref_post_id is not None
        kept = replace(kept, ref_post_id=status_uri(ref_account, post.ref_post_id))
        kept.ref_account_id = acct(ref_account)
    else:
        text = (post.text or "") + "".join(" " + u for u in urls)
        mentions = [f"{m}@{MENTIONS_HOST}".lower() for m in post.mentions]
        if kind == Kind.REPLY:
            kept.ref_post_id = post.ref_post_id
            kept.ref_account_id = acct(ref_account)
            if ref_account != post.account_id:
                mentions = [acct(ref_account), *mentions]
        elif kind == Kind.QUOTE:
            assert post.ref_post_id is not None
            kept.ref_post_id = status_uri(ref_account, post.ref_post_id)
            kept.ref_account_id = acct(ref_account)
        kept = replace(
            kept,
            text=text or None,
            lang=post.lang or None,
            hashtags=list(post.hashtags),
            urls=urls,
            mentions=mentions,
            client=post.client or None,
        )
    a = account or Account(platform=PLATFORM, account_id=post.account_id)
    return kept, Account(
        platform=PLATFORM,
        account_id=acct(post.account_id),
        handle=acct(post.account_id),
        display_name=a.display_name or None,
        bio=a.bio or None,
        created_at=_ms(a.created_at) if a.created_at else None,
        followers=a.followers or 0,
        following=a.following or 0,
    )
