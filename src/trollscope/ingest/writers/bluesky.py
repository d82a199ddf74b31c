"""Bluesky Jetstream JSON lines (`bluesky`), as `jetstream` subscribers save the stream.

Per account, an identity event (its handle) and an `app.bsky.actor.profile` commit (its
display name, description and creation time); per post, a `create` commit of an
`app.bsky.feed.post` record, or of an `app.bsky.feed.repost` one for a repost. Ids become
what Bluesky's are: an account id that is not a DID is written as `did:plc:<id>`, a post
id as the record key of the AT-URI the reader keeps. A mention is a `#mention` facet
whose DID is `did:plc:<handle>`; hashtags and links are `#tag` and `#link` facets (the
facets always written, as a list, so the reader does not look for entities in the text).
Bluesky has no location, follower counts, avatars the data names, media, or client;
times are kept to the millisecond. A repost has no text of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from trollscope.model import Account, Kind, Post

PLATFORM = "bluesky"
CID = "bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5kpqcsgz7soqbiy"
START_US = 1_725_911_162_329_308  # a Jetstream cursor (time_us) of September 2024


def did(account_id: str) -> str:
    return account_id if account_id.startswith("did:") else f"did:plc:{account_id}"


def uri(account_id: str, post_id: str, kind: Kind = Kind.POST) -> str:
    collection = "app.bsky.feed.repost" if kind == Kind.REPOST else "app.bsky.feed.post"
    return f"at://{did(account_id)}/{collection}/{post_id}"


def _time(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z"


def _kind(post: Post) -> Kind:
    kind = Kind(post.kind)
    return Kind.POST if kind != Kind.POST and post.ref_post_id is None else kind


def _ref(post: Post) -> dict[str, str]:
    assert post.ref_post_id is not None
    return {"uri": uri(post.ref_account_id or "unknown", post.ref_post_id), "cid": CID}


def _record(post: Post) -> dict[str, Any]:
    kind = _kind(post)
    created = _time(post.created_at)
    if kind == Kind.REPOST:
        return {"$type": "app.bsky.feed.repost", "createdAt": created, "subject": _ref(post)}
    end = len((post.text or "").encode("utf-8"))
    at = {"byteStart": end, "byteEnd": end}
    features = (
        [{"$type": "app.bsky.richtext.facet#tag", "tag": tag} for tag in post.hashtags]
        + [{"$type": "app.bsky.richtext.facet#mention", "did": did(m)} for m in post.mentions]
        + [{"$type": "app.bsky.richtext.facet#link", "uri": url} for url in post.urls]
    )
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "createdAt": created,
        "text": post.text or "",
        "facets": [{"index": at, "features": [feature]} for feature in features],
    }
    if post.lang:
        record["langs"] = [post.lang]
    if kind == Kind.REPLY:
        record["reply"] = {"root": _ref(post), "parent": _ref(post)}
    elif kind == Kind.QUOTE:
        record["embed"] = {"$type": "app.bsky.embed.record", "record": _ref(post)}
    return record


def _commit(account_id: str, n: int, collection: str, rkey: str, record: Any) -> bytes:
    event = {
        "did": did(account_id),
        "time_us": START_US + n,
        "kind": "commit",
        "commit": {
            "rev": "3l3qo2vuowo2b",
            "operation": "create",
            "collection": collection,
            "rkey": rkey,
            "record": record,
            "cid": CID,
        },
    }
    return orjson.dumps(event) + b"\n"


def _account_events(account: Account, n: int) -> bytes:
    out = b""
    if account.handle:
        identity = {"did": did(account.account_id), "handle": account.handle, "seq": n}
        event = {"did": identity["did"], "time_us": START_US + n, "kind": "identity"}
        out += orjson.dumps({**event, "identity": identity}) + b"\n"
    profile = {
        "$type": "app.bsky.actor.profile",
        "displayName": account.display_name,
        "description": account.bio,
        "createdAt": _time(account.created_at) if account.created_at else None,
    }
    profile = {k: v for k, v in profile.items() if v is not None}
    if len(profile) > 1:
        out += _commit(account.account_id, n, "app.bsky.actor.profile", "self", profile)
    return out


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    with path.open("wb") as handle:
        n = 0
        for account in accounts.values():
            n += 1
            handle.write(_account_events(account, n))
        for post in posts:
            n += 1
            kind = _kind(post)
            collection = "app.bsky.feed.repost" if kind == Kind.REPOST else "app.bsky.feed.post"
            handle.write(_commit(post.account_id, n, collection, post.post_id, _record(post)))


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    kind = _kind(post)
    t = post.created_at
    ref = _ref(post)["uri"] if kind != Kind.POST else None
    repost = kind == Kind.REPOST
    kept = Post(
        platform=PLATFORM,
        post_id=uri(post.account_id, post.post_id, kind),
        account_id=did(post.account_id),
        created_at=t.replace(microsecond=t.microsecond // 1000 * 1000),
        kind=kind,
        text=None if repost else post.text or None,
        lang=None if repost else post.lang or None,
        ref_post_id=ref,
        ref_account_id=did(post.ref_account_id or "unknown") if ref else None,
        hashtags=[] if repost else list(post.hashtags),
        urls=[] if repost else list(dict.fromkeys(post.urls)),
        mentions=[] if repost else [did(m) for m in post.mentions],
    )
    if account is None:
        return kept, Account(platform=PLATFORM, account_id=did(post.account_id))
    created = account.created_at
    return kept, Account(
        platform=PLATFORM,
        account_id=did(account.account_id),
        handle=account.handle or None,
        display_name=account.display_name or None,
        bio=account.bio or None,
        created_at=(
            created.replace(microsecond=created.microsecond // 1000 * 1000) if created else None
        ),
    )
