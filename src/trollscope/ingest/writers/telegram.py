"""Telegram Desktop's one-chat export (result.json) of canonical posts, as one channel.

Shaped as Telegram Desktop writes it: the chat's name, type and id, then `messages`, each
with id, type, date (here the UTC time: the "exporting machine" runs on UTC),
date_unixtime, from, from_id, and `text` plus `text_entities`.

What the format can carry, and so what `expected()` keeps:
- message ids are numbers: a post id that is a plain number is kept, any other is
  hashed to one (48 bits); the read post id is `CHAT/MESSAGE`;
- a repost is a forwarded message: `forwarded_from` holds ref_account_id, which reads
  back as `name:<ref_account_id>`; the original's post id is not in the format;
- a reply is `reply_to_message_id` (same chat); its ref_account_id is not in the format;
- a quote has no Telegram equivalent and is written as a plain post;
- entities are parts of the text in Telegram: each hashtag, url and mention is marked
  where the text shows it (`#tag`, the url, `@name`), in order; one the text does not
  show is appended after a space. Hashtags, urls and mentions read back in text order;
- one attachment per message: the first media path, as `photo`;
- the client is `via_bot`; times are cut to seconds; the account keeps only its
  display name (`from`); a post with no account id belongs to the channel.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trollscope.ingest.readers.telegram import FORWARD_PREFIX, PLATFORM, is_placeholder
from trollscope.model import Account, Kind, Post

CHAT_ID = 1000000001
CHAT_NAME = "trollscope simulated channel"
CHAT_TYPE = "public_channel"
CHANNEL_ACCOUNT = f"channel{CHAT_ID}"
_NUMBER = re.compile(r"0|[1-9][0-9]{0,17}")

Part = str | dict[str, str]


def message_id(post_id: str) -> int:
    """The Telegram message id a post id is written as."""
    if _NUMBER.fullmatch(post_id):
        return int(post_id)
    digest = hashlib.sha256(post_id.encode("utf-8", errors="surrogatepass")).digest()
    return int.from_bytes(digest[:6], "big")


def text_parts(post: Post) -> list[Part]:
    """The post's text as Telegram's list of plain strings and entities."""
    text = post.text or ""
    wanted = (
        [("hashtag", "#" + tag) for tag in post.hashtags if tag]
        + [("link", url) for url in post.urls if url]
        + [("mention", "@" + name) for name in post.mentions if name]
    )
    placed: list[tuple[int, int, str]] = []  # (start, end, kind): spans that do not overlap
    appended: list[Part] = []
    for kind, shown in wanted:
        at = text.find(shown)
        while at >= 0 and any(at < end and start < at + len(shown) for start, end, _ in placed):
            at = text.find(shown, at + 1)
        if at < 0:
            appended.append({"type": kind, "text": shown})
        else:
            placed.append((at, at + len(shown), kind))
    parts: list[Part] = []
    cursor = 0
    for start, end, kind in sorted(placed):
        if start > cursor:
            parts.append(text[cursor:start])
        parts.append({"type": kind, "text": text[start:end]})
        cursor = end
    if cursor < len(text):
        parts.append(text[cursor:])
    for entity in appended:
        if parts:
            parts.append(" ")
        parts.append(entity)
    return parts


def _shown(parts: Sequence[Part]) -> str:
    return "".join(p if isinstance(p, str) else p["text"] for p in parts)


def _entities(parts: Sequence[Part], kind: str, prefix: str) -> list[str]:
    return [
        p["text"].removeprefix(prefix)
        for p in parts
        if not isinstance(p, str) and p["type"] == kind
    ]


def _media(post: Post) -> list[str]:
    return [m for m in post.media if m and not is_placeholder(m)][:1]


def _epoch(post: Post) -> int:
    return calendar.timegm(post.created_at.timetuple())


def _message(post: Post, account: Account | None) -> dict[str, Any]:
    seconds = _epoch(post)
    msg: dict[str, Any] = {
        "id": message_id(post.post_id),
        "type": "message",
        "date": post.created_at.replace(microsecond=0).isoformat(),
        "date_unixtime": str(seconds),
    }
    if post.account_id:
        msg["from"] = account.display_name if account else None
        msg["from_id"] = post.account_id
    if post.kind == Kind.REPOST:
        msg["forwarded_from"] = post.ref_account_id
    elif post.kind == Kind.REPLY and post.ref_post_id is not None:
        msg["reply_to_message_id"] = message_id(post.ref_post_id)
    if post.client:
        msg["via_bot"] = post.client
    for path in _media(post):
        msg["photo"] = path
    parts = text_parts(post)
    if len(parts) == 1 and isinstance(parts[0], str):
        msg["text"] = parts[0]
    else:
        msg["text"] = parts if parts else ""
    msg["text_entities"] = [
        {"type": "plain", "text": p} if isinstance(p, str) else p for p in parts
    ]
    return msg


def write(path: Path, posts: Iterable[Post], accounts: Mapping[str, Account]) -> None:
    head = json.dumps(
        {"name": CHAT_NAME, "type": CHAT_TYPE, "id": CHAT_ID}, ensure_ascii=False, indent=1
    )
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        # The head without its closing brace, then the messages one by one (streamed).
        handle.write(head[:-2] + ',\n "messages": [')
        for number, post in enumerate(posts):
            body = json.dumps(
                _message(post, accounts.get(post.account_id)), ensure_ascii=False, indent=1
            )
            handle.write(("," if number else "") + "\n  " + body.replace("\n", "\n  "))
        handle.write("\n ]\n}\n")


def expected(post: Post, account: Account | None) -> tuple[Post, Account | None]:
    parts = text_parts(post)
    reply = post.kind == Kind.REPLY and post.ref_post_id is not None
    kind = Kind.REPOST if post.kind == Kind.REPOST else Kind.REPLY if reply else Kind.POST
    kept = Post(
        platform=PLATFORM,
        post_id=f"{CHAT_ID}/{message_id(post.post_id)}",
        account_id=post.account_id or CHANNEL_ACCOUNT,
        created_at=post.created_at.replace(microsecond=0),
        kind=kind,
        text=_shown(parts) or None,
        ref_post_id=(
            f"{CHAT_ID}/{message_id(post.ref_post_id)}"
            if reply and post.ref_post_id is not None
            else None
        ),
        ref_account_id=(
            FORWARD_PREFIX + post.ref_account_id
            if kind == Kind.REPOST and post.ref_account_id
            else None
        ),
        hashtags=_entities(parts, "hashtag", "#"),
        urls=_entities(parts, "link", ""),
        mentions=_entities(parts, "mention", "@"),
        media=_media(post),
        client=post.client or None,
    )
    if not post.account_id:
        return kept, Account(platform=PLATFORM, account_id=CHANNEL_ACCOUNT, display_name=CHAT_NAME)
    display = account.display_name if account else None
    return kept, Account(
        platform=PLATFORM, account_id=post.account_id, display_name=display or None
    )
