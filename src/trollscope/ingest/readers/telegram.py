"""Telegram Desktop exports: result.json of "Export chat history" or "Export Telegram data".

Each message of type "message" becomes one post (format `telegram`, platform "telegram"):
- post_id is `CHAT/MESSAGE` (message ids are only unique within a chat); a reply's
  ref_post_id likewise (the chat of `reply_to_peer_id` when the reply is to another chat);
- created_at comes from `date_unixtime` (UTC). `date` is the local time of the machine
  that exported, zone unknown: it is used only when `date_unixtime` is absent (exports
  before 2021), taken as UTC, and the post's extra says so (`time_source`);
- account_id is `from_id` as written ("user123", "channel123"); display_name is `from`.
  A message without `from_id` (channel posts in older exports) belongs to the chat itself
  (`channel<id>`, named after the chat); in a personal chat such a message's author is
  unknown and it is rejected. A numeric `from_id` (older exports) is a user, or the chat
  itself when it equals the chat's id;
- a forwarded message is a repost. The export names the original's author but gives no
  id, so ref_account_id is `name:<forwarded_from>` (the prefix cannot collide with
  Telegram's ids, which have no colon) and ref_post_id is unknown (None). A forwarded
  message that is also a reply keeps the reply's message id in extra;
- text is the displayed string: the parts of an entity list joined. Hashtags (without
  `#`) come from hashtag entities, urls from link (its text) and text_link (its href)
  entities, mentions from mention entities (without `@`: a username) and mention_name
  entities (`user<id>`, the account id Telegram uses in `from_id`). Empty text is None;
- media are the `photo` and `file` paths, relative to the export's folder. A file the
  export did not include ("(File not included. ...)") is not a path: it is named in
  extra `media_missing` instead, so that undownloaded files never look alike. A picture
  (the `photo`, or a `file` whose `mime_type` is image/*) that is present in the folder
  beside result.json also gets its perceptual hash, `phash:<16 hex>` (see media.py),
  right after its path: the key of the co-image trace, equal for the same picture
  re-encoded. A picture that is absent (result.json copied without its folders) or
  unreadable just gets no hash: the message is kept as usual. Only paths
  inside the folder are opened: a path that is absolute or climbs out with `..` is
  kept as written but never read, since the export may be hostile;
- `via_bot` is the client; `media_type`, `author` (a channel's signature), `saved_from`
  and `edited_unixtime` go to extra.

What is counted. Service messages (joins, pins, title changes) are events of the chat,
not posts: they are skipped before counting and are neither stored nor rejected, so that
the rejects of a large group are about damaged data, not about its members joining. Every
other item of a `messages` array is one record: a post, or a reject naming its chat, its
position and its id ("chat 'X' message #17 (id 42): ..."; `line` is None, since a JSON
parser gives no line numbers).

A cut or broken file. Exports are large and get cut short (an export that did not finish,
a partial copy). What was read before the break is kept, and the break itself becomes one
reject saying at which byte the file stops and after which message, so the loss is in the
counts (read = stored + duplicate + rejected still holds: the reject stands for the
unreadable rest). When the break comes before any message, the file is refused with a
FormatError instead. Bytes that are not UTF-8 reject only the message that holds them.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import ijson
import orjson

from trollscope.errors import FormatError, MappingError
from trollscope.features.media import phash_file
from trollscope.ingest.batches import Batch, BatchBuilder
from trollscope.ingest.readers.base import Head, Reader, ReadOptions
from trollscope.ingest.readers.jsonevents import MAX_NESTING, TOO_DEEP
from trollscope.ingest.readers.telegram_json import (
    CHUNK,
    PERSONAL_TYPES,
    REPLACEMENT,
    Chat,
    ExportWalker,
    Message,
    Profile,
    sniff_head,
    why,
)
from trollscope.model import Account, Kind, Post, Reject, TimeRange, key_problem

PLATFORM = "telegram"
FORWARD_PREFIX = "name:"
EPOCH = datetime(1970, 1, 1)
LOCAL_TIME = "date: local time of the exporting machine, zone unknown"
_INTEGER = re.compile(r"-?[0-9]+")
_PEER = re.compile(r"(?:user|chat|channel)?(-?[0-9]+)")


def is_placeholder(path: str) -> bool:
    """A media value that says the file was not exported, e.g. "(File not included. ...)"."""
    return path.startswith("(") and path.endswith(")")


class _Bad(Exception):
    """One field of one message is unusable: the message becomes a reject."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class TelegramReader(Reader):
    name: ClassVar[str] = "telegram"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Telegram Desktop export (result.json)"

    def sniff(self, head: Head) -> bool:
        return sniff_head(head.data)

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        if options.mapping:
            raise MappingError(
                f"{path}: --map applies to tables; a Telegram export's fields are fixed. "
                "Drop --map for this file."
            )
        if not path.stat().st_size:
            raise FormatError(path, f"the file is empty; expected a {self.description}.")
        platform = options.platform or PLATFORM
        builder = BatchBuilder(options.chunk_size)
        walker = ExportWalker(path)
        # Media paths are relative to the folder the export was written to.
        folder = path.parent
        last: Message | None = None
        named: set[str] = set()
        try:
            for item in walker:
                if isinstance(item, Profile):
                    _add_profile(builder, item.value, platform)
                    continue
                last = item
                _add_message(builder, item, platform, named, folder, options.times)
                if builder.full():
                    yield builder.take(walker.position)
        except (ijson.JSONError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            if not walker.seen:
                raise FormatError(
                    path,
                    f"breaks off before its first message, near byte {walker.position} "
                    f"({why(exc)}); expected a {self.description}.",
                    "Re-export the chat; the file is cut short or damaged.",
                ) from exc
            builder.add_reject(Reject(None, None, _break_reason(exc, walker.position, last)))
        yield from builder.drain(walker.position)


def _break_reason(exc: Exception, position: int, last: Message | None) -> str:
    after = f"after {_where(last)}" if last else "after the first chat's header"
    cause = why(exc)
    if "premature EOF" in cause or isinstance(exc, EOFError):
        where = f"the file ends at byte {position} in the middle of the JSON ({cause}), {after}"
    else:
        # The parser reads a chunk at a time: the break is in the last chunk read.
        start = max(0, position - CHUNK)
        where = f"the JSON is broken between bytes {start} and {position} ({cause}), {after}"
    return (
        f"{where}: the messages before it are kept, any after it are missing. The export "
        "did not finish or the file was damaged; re-export the chat to get all of it."
    )


def _where(msg: Message) -> str:
    where = f"{msg.chat.label} message #{msg.position}"
    if isinstance(msg.value, dict):
        mid = msg.value.get("id")
        if isinstance(mid, int) and not isinstance(mid, bool):
            where += f" (id {mid})"
    return where


def _raw(value: Any) -> str | None:
    if value is TOO_DEEP:
        return None  # passed over unread: there is nothing to show
    try:
        return orjson.dumps(value).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        try:  # ints beyond 64 bits, or nesting deeper than orjson allows
            return json.dumps(value, ensure_ascii=False)
        except (ValueError, RecursionError):
            return None


def _add_profile(builder: BatchBuilder, value: Any, platform: str) -> None:
    """The exporting user (full exports): a profile, not a record. The phone number is
    left out on purpose."""
    if not isinstance(value, dict):
        return
    user_id = value.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return
    names = [value.get(k) for k in ("first_name", "last_name")]
    display = " ".join(n for n in names if isinstance(n, str) and n) or None
    username = value.get("username")
    handle = username.removeprefix("@") if isinstance(username, str) and username else None
    if key_problem("username", handle):
        return  # not a record: a profile holding a bad handle is left out
    bio = value.get("bio") if isinstance(value.get("bio"), str) else None
    builder.add_account(
        Account(
            platform=platform,
            account_id=f"user{user_id}",
            handle=handle,
            display_name=display,
            bio=bio or None,
        )
    )


def _add_message(
    builder: BatchBuilder,
    msg: Message,
    platform: str,
    named: set[str],
    folder: Path,
    times: TimeRange,
) -> None:
    """Add one message as a post (and its author) or a reject. `named` holds the authors
    already added with a name: adding them again could change nothing (first name wins).
    `folder` is the export's folder, where its media paths point."""
    value = msg.value
    if isinstance(value, dict) and value.get("type") == "service":
        return
    try:
        post, account = _post(msg, platform, folder, times)
    except _Bad as bad:
        builder.add_reject(Reject(None, bad.field, f"{_where(msg)}: {bad.reason}", _raw(value)))
        return
    if account.account_id not in named:
        builder.add_account(account)
        if account.display_name is not None:
            named.add(account.account_id)
    builder.add_post(post)


def _post(msg: Message, platform: str, folder: Path, times: TimeRange) -> tuple[Post, Account]:
    value = msg.value
    chat = msg.chat
    if value is TOO_DEEP:
        raise _Bad(None, f"the message nests deeper than {MAX_NESTING} levels")
    if not isinstance(value, dict):
        raise _Bad(None, f"expected a JSON object, got {_raw(value)!s:.80}")
    kind = value.get("type", "message")
    if kind == "unsupported":
        raise _Bad(
            "type",
            "Telegram Desktop exported this message as 'unsupported': its author, time "
            "and content are not in the file",
        )
    if kind != "message":
        raise _Bad("type", f"type {kind!r} is neither 'message' nor 'service'")
    if msg.suspect and _holds_replacement(value):
        raise _Bad(
            None,
            "holds bytes that are not UTF-8 (read as U+FFFD), so its text cannot be kept "
            "exactly. Fix the file's encoding or re-export the chat",
        )
    mid = value.get("id")
    if not isinstance(mid, int) or isinstance(mid, bool):
        raise _Bad("id", f"expected a numeric message id, got {_raw(mid)!s:.40}")
    extra: dict[str, Any] = {}
    created_at = _created_at(value, extra, times)
    account = _author(value, chat, platform)
    text, hashtags, urls, mentions = _text(value)
    post = Post(
        platform=platform,
        post_id=f"{chat.id}/{mid}",
        account_id=account.account_id,
        created_at=created_at,
        text=text or None,
        hashtags=hashtags,
        urls=urls,
        mentions=mentions,
        media=_media(value, extra, folder),
    )
    _reference(post, value, chat, extra)
    _check_keys(post, value)
    via_bot = value.get("via_bot")
    post.client = via_bot if isinstance(via_bot, str) and via_bot else None
    for name in ("media_type", "author", "saved_from", "edited_unixtime"):
        if value.get(name) is not None:
            extra[name] = value[name]
    post.extra = orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode() if extra else None
    return post, account


def _holds_replacement(value: Any) -> bool:
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if REPLACEMENT in item:
                return True
        elif isinstance(item, dict):
            if any(REPLACEMENT in k for k in item):
                return True
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return False


def _check_keys(post: Post, value: dict[str, Any]) -> None:
    """Ids are keys (model.py): one holding a control character rejects the message.
    Each is named by the field it came from (the forwarded name as the export has it)."""
    forwarded = value.get("forwarded_from")
    for field, key in (
        ("id", post.post_id),
        ("from_id", post.account_id),
        ("reply_to_peer_id", post.ref_post_id),
        ("forwarded_from", forwarded if isinstance(forwarded, str) else None),
    ):
        if problem := key_problem(field, key):
            raise _Bad(field, problem)


def _created_at(value: dict[str, Any], extra: dict[str, Any], times: TimeRange) -> datetime:
    when = _read_time(value, extra)
    if not times.contains(when):
        field = "date_unixtime" if value.get("date_unixtime") is not None else "date"
        raise _Bad(field, f"{field} {_short(value.get(field))} is not {times.words}")
    return when


def _read_time(value: dict[str, Any], extra: dict[str, Any]) -> datetime:
    raw = value.get("date_unixtime")
    if raw is None:
        return _local_date(value, extra)
    if isinstance(raw, int) and not isinstance(raw, bool):
        seconds = raw
    elif isinstance(raw, str) and _INTEGER.fullmatch(raw):
        seconds = int(raw)
    else:
        raise _Bad(
            "date_unixtime",
            f"date_unixtime {_short(raw)} is not a number (expected POSIX seconds, UTC)",
        )
    try:
        return EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise _Bad("date_unixtime", f"date_unixtime {_short(raw)} is out of range") from None


def _local_date(value: dict[str, Any], extra: dict[str, Any]) -> datetime:
    raw = value.get("date")
    if raw is None:
        raise _Bad(
            "date_unixtime",
            "has neither date_unixtime nor date; expected date_unixtime (POSIX seconds, UTC)",
        )
    try:
        when = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None:
        raise _Bad(
            "date", f"date {_short(raw)} is not an ISO 8601 time, and date_unixtime is absent"
        )
    if when.tzinfo is not None:
        offset = when.utcoffset() or timedelta(0)
        when = when.replace(tzinfo=None) - offset
    extra["time_source"] = LOCAL_TIME
    return when


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _author(value: dict[str, Any], chat: Chat, platform: str) -> Account:
    from_id = value.get("from_id")
    name = value.get("from")
    display = name if isinstance(name, str) and name else None
    if isinstance(from_id, str) and from_id:
        account_id = from_id
    elif isinstance(from_id, int) and not isinstance(from_id, bool):
        account_id = chat.peer if str(from_id) == chat.id else f"user{from_id}"
    elif from_id is None or from_id == "":
        if chat.type in PERSONAL_TYPES:
            raise _Bad(
                "from_id",
                f"has no from_id, and in a {chat.type} its author cannot be told",
            )
        account_id = chat.peer
        display = display or chat.name or None
    else:
        raise _Bad("from_id", f"from_id {_short(from_id)} is not an account id")
    return Account(platform=platform, account_id=account_id, display_name=display)


def _text(value: dict[str, Any]) -> tuple[str, list[str], list[str], list[str]]:
    """The displayed text, and the hashtags, urls and mentions of its entities."""
    text = value.get("text")
    whole = ""
    if type(text) is str:
        parts = value.get("text_entities")
        if not parts or type(parts) is not list:
            return text, [], [], []
        whole = text
        shown_parts: list[str] | None = None  # the text is given whole
    elif type(text) is list:
        parts, shown_parts = text, []
    elif text is None:
        parts = value.get("text_entities")
        if type(parts) is not list:
            return "", [], [], []
        shown_parts = []
    else:
        raise _Bad("text", f"text is neither a string nor a list of parts: {_short(text)}")
    hashtags: list[str] = []
    urls: list[str] = []
    mentions: list[str] = []
    for number, part in enumerate(parts, 1):
        if type(part) is str:
            if shown_parts is not None:
                shown_parts.append(part)
            continue
        shown = part.get("text") if type(part) is dict else None
        if type(shown) is not str:
            raise _Bad("text", f"text part #{number} is neither a string nor an entity with text")
        if shown_parts is not None:
            shown_parts.append(shown)
        kind = part.get("type")
        if kind == "hashtag":
            if tag := shown.removeprefix("#"):
                hashtags.append(tag)
        elif kind == "link":
            if shown:
                urls.append(shown)
        elif kind == "text_link":
            href = part.get("href")
            if isinstance(href, str) and href:
                urls.append(href)
        elif kind == "mention":
            if user := shown.removeprefix("@"):
                mentions.append(user)
        elif kind == "mention_name":
            user_id = part.get("user_id")
            if isinstance(user_id, int) and not isinstance(user_id, bool):
                mentions.append(f"user{user_id}")
            elif shown:
                mentions.append(shown)
    return (
        whole if shown_parts is None else "".join(shown_parts),
        hashtags,
        urls,
        mentions,
    )


def _media(value: dict[str, Any], extra: dict[str, Any], folder: Path) -> list[str]:
    media: list[str] = []
    missing: list[str] = []
    for name in ("photo", "file"):
        path = value.get(name)
        if not isinstance(path, str) or not path:
            continue
        if is_placeholder(path):
            missing.append(name)
            continue
        media.append(path)
        if name == "photo" or _is_image(value.get("mime_type")):
            phash = _phash(folder, path)
            if phash is not None and phash not in media:
                media.append(phash)
    if missing:
        extra["media_missing"] = missing
    return media


def _is_image(mime_type: object) -> bool:
    return isinstance(mime_type, str) and mime_type.lower().startswith("image/")


def _phash(folder: Path, relative: str) -> str | None:
    """The pHash of a picture the export names, if it lies in the export's folder.

    The path is checked by its text, not resolved: an absolute path or one that climbs
    out with `..` is never opened (a hostile export could point at any file or device),
    while a folder the user replaced by a symlink still works. `is_file` also keeps
    FIFOs and devices, which could block the read, out.
    """
    given = Path(relative)
    if given.is_absolute() or given.drive or ".." in given.parts:
        return None
    full = folder / given
    try:
        if not full.is_file():
            return None
    except (OSError, ValueError):  # a name the file system refuses (too long, NUL, ...)
        return None
    return phash_file(full)


def _reference(post: Post, value: dict[str, Any], chat: Chat, extra: dict[str, Any]) -> None:
    reply = value.get("reply_to_message_id")
    if reply is not None and (not isinstance(reply, int) or isinstance(reply, bool)):
        raise _Bad(
            "reply_to_message_id",
            f"reply_to_message_id {_short(reply)} is not a message id (a number)",
        )
    if "forwarded_from" in value:
        source = value["forwarded_from"]
        post.kind = Kind.REPOST
        if isinstance(source, str) and source:
            post.ref_account_id = FORWARD_PREFIX + source
        if reply is not None:
            extra["reply_to_message_id"] = reply
        return
    if reply is None:
        return
    chat_id = chat.id
    peer = value.get("reply_to_peer_id")
    if peer is not None:
        if isinstance(peer, int) and not isinstance(peer, bool):
            peer = str(peer)
        match = _PEER.fullmatch(peer) if isinstance(peer, str) else None
        if match is None:
            raise _Bad(
                "reply_to_peer_id",
                f"reply_to_peer_id {_short(peer)} is not a chat (e.g. 'channel123')",
            )
        chat_id = match.group(1)
    post.kind = Kind.REPLY
    post.ref_post_id = f"{chat_id}/{reply}"
