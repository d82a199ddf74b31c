"""Mastodon API JSON: Status entities, as the REST API returns them.

Shapes (field names after docs.joinmastodon.org/entities/Status/ and /entities/Account/):
one Status per line, a page of them as one JSON array (a saved timeline, on one line or
pretty-printed), a context `{"ancestors", "descendants"}`, a search result
`{"statuses"}`, or a streaming event `{"event": "update", "payload": "<status JSON>"}`
per line (see `jsonvalues` for lines and documents).

What becomes what:
- a status is a post; its id is its `uri` (the ActivityPub id: the same status fetched
  from two instances is one post, whereas `id` is each instance's own number);
- accounts are instance-qualified: `acct` is `user` for the serving instance's own
  accounts and `user@instance` for the others, so a bare `acct` gets the host of the
  account's `url` (else of the status's `uri`). The account id is that qualified acct in
  lower case (Mastodon's usernames and domains are case-insensitive), the handle the
  qualified acct as written: `alice@mastodon.social` and `alice@example.net` are two
  accounts;
- `reblog` (the reblogged status, nested) makes a repost of its `uri`; the reblogged
  status is a post too. `quote.quoted_status` (Mastodon 4.4), or a `quote` that is itself
  a status (forks that had quotes earlier), makes a quote. `in_reply_to_id` makes a
  reply; the API gives the parent only as the serving instance's own id, so
  `ref_post_id` is that id as given (co-reply pairs replies to one parent within one
  instance's data; it does not join the parent's row, whose id is its uri). Its
  `ref_account_id` is the author's own (a thread) or the mention whose `id` is
  `in_reply_to_account_id`, else empty. A repost wins, then a reply (a reply that quotes
  keeps `quoted` in extra);
- text: `content` is HTML; it becomes plain text (tags dropped, `<br>` and paragraphs as
  line breaks, entities decoded, scripts and styles left out); the content warning
  `spoiler_text` goes to extra. hashtags: `tags[].name`; mentions: the qualified accts of
  `mentions`, lower-cased as account ids are; urls: the content's links that are not
  mentions or hashtags, and the `card`'s url; media: `media_attachments[].url` (else
  `remote_url`, `preview_url`); lang: `language`; client: `application.name`. A status
  with no `tags` or `mentions` field takes them from its text (`entities.py`);
- profile: `display_name`, `note` (HTML, as text) as bio, `created_at`,
  `followers_count`, `following_count`, `avatar` (Mastodon's default `missing.png` is no
  avatar); extra keeps the local id, url, bot, locked and statuses_count.

Not records: streaming events other than `update` (deletes, notifications). Rejects name
the line and field: a status without `uri`, `account.acct` or a readable `created_at`, a
key with a control character, a time outside the range, a count that is not one. The
platform is `mastodon`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson

from trollscope.ingest.batches import Batch, BatchBuilder
from trollscope.ingest.readers import entities
from trollscope.ingest.readers.base import Head, Reader, ReadOptions
from trollscope.ingest.readers.jsonrows import no_mapping
from trollscope.ingest.readers.jsonvalues import (
    Bad,
    ValueRecords,
    count,
    extra_json,
    first_object,
    iso_time,
    items,
    key,
    obj,
    raw_text,
    read_values,
    text,
    unique,
)
from trollscope.model import Account, Kind, Post

PLATFORM = "mastodon"
EXPECTED = (
    "Mastodon API JSON: Status entities (id, uri, created_at, account, content), "
    "as JSON lines or a JSON array"
)
MAX_DEPTH = 3  # a reblog of a quote of a quote
_PAGES = ("statuses", "ancestors", "descendants")
_STATUS_KEYS = {"id", "created_at", "account", "content"}
_DEFAULT_AVATAR = "/avatars/original/missing.png"
_COUNTS = ("replies_count", "reblogs_count", "favourites_count", "quotes_count")


class MastodonReader(Reader):
    name: ClassVar[str] = "mastodon"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Mastodon API JSON: Status entities, lines or arrays"

    def sniff(self, head: Head) -> bool:
        first, _ = first_object(head.data)
        for page in _PAGES:
            listed = first.get(page)
            if type(listed) is list and listed:
                first = obj(listed[0])
                break
        if first.get("event") == "update" and type(first.get("payload")) is str:
            return '"acct"' in first["payload"]
        return first.keys() >= _STATUS_KEYS and "acct" in obj(first.get("account"))

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        no_mapping(path, options, self.name)
        platform = options.platform or PLATFORM

        def add(builder: BatchBuilder, value: dict[str, Any], line: int | None, where: str) -> None:
            _Statuses(builder, line, where, platform, options.times).top(value)

        yield from read_values(path, options, add, check_first, EXPECTED)


def check_first(first: dict[str, Any]) -> str | None:
    if "account" in first or "event" in first or any(page in first for page in _PAGES):
        return None
    shown = ", ".join(list(first)[:8])
    return f"expected {EXPECTED}; the first object has {shown or 'no fields'}."


def qualified(acct: object, url: object, fallback: object, field: str) -> str:
    """`user@instance` for an `acct`, the instance taken from `url` (else `fallback`,
    a URL of the same instance) when the acct is local (`user`)."""
    name = key(acct, field, required=True)
    assert name is not None
    name = name.removeprefix("@")
    if "@" in name:
        return name
    for source in (url, fallback):
        host = _host(source)
        if host:
            return f"{name}@{host}"
    raise Bad(field, f"{field} {name!r} names no instance, and no url says which it is on")


def _host(url: object) -> str | None:
    if type(url) is not str:
        return None
    return _url_host(url)


# Per author, every status repeats the account's URL and bio: their parse is remembered.
@lru_cache(maxsize=65536)
def _url_host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host or None


class _Statuses(ValueRecords):
    """The records of one top-level value, added to the builder as they are found."""

    def top(self, value: dict[str, Any]) -> None:
        if "event" in value:
            self.event(value)
        elif any(type(value.get(page)) is list for page in _PAGES):
            for page in _PAGES:
                for index, item in enumerate(items(value.get(page))):
                    self.guarded(item, f"{page}[{index}].", 0)
        elif "account" in value or "uri" in value:
            self.guarded(value, "", 0)
        else:
            self.reject_unknown(value, EXPECTED)

    def event(self, value: dict[str, Any]) -> None:
        if value.get("event") != "update":
            return  # deletes, notifications, edits: not records
        try:
            status = orjson.loads(value.get("payload") or b"")
        except (orjson.JSONDecodeError, TypeError):
            self.reject("payload", "the update's payload is not a status in JSON", value)
            return
        self.guarded(status, "payload.", 0)

    def guarded(self, status: Any, at: str, depth: int) -> None:
        """Add a status, a Bad becoming the reject of that status."""
        try:
            self.status(status, at, depth)
        except Bad as bad:
            self.reject(None if bad.field is None else at + bad.field, bad.reason, status)

    def status(self, status: Any, at: str, depth: int) -> None:
        if type(status) is not dict:
            raise Bad(None, f"expected a status object, got {raw_text(status)[:40]}")
        uri = key(status.get("uri"), "uri", required=True)
        author = self.account(obj(status.get("account")), status.get("uri"), "account.")
        created = iso_time(status.get("created_at"), "created_at", self.times)
        assert created is not None and uri is not None
        reblog = status.get("reblog")
        quote = _quoted_status(status.get("quote"))
        mentioned = self.mentions(status)
        extra: dict[str, Any] = {
            "id": _local_id(status.get("id"), "id"),
            "url": text(status.get("url")),
            "visibility": text(status.get("visibility")),
            "sensitive": status.get("sensitive") if status.get("sensitive") is True else None,
            "spoiler_text": text(status.get("spoiler_text")),
            "edited_at": text(status.get("edited_at")),
        }
        for name in _COUNTS:
            extra[name] = count(status.get(name), name)
        quoted = self.reference(quote, "quote.quoted_status.") if quote else None
        reply = _local_id(status.get("in_reply_to_id"), "in_reply_to_id")
        ref: tuple[str | None, str | None]
        if type(reblog) is dict:
            kind, ref = Kind.REPOST, self.reference(reblog, "reblog.")
        elif reply is not None:
            kind = Kind.REPLY
            ref = (reply, self.replied_account(status, author, mentioned))
            extra["quoted"] = quoted[0] if quoted else None
        elif quoted is not None:
            kind, ref = Kind.QUOTE, quoted
        else:
            kind, ref = Kind.POST, (None, None)
        body, links = html_text(status.get("content"))
        card = text(obj(status.get("card")).get("url"))
        tags = status.get("tags")
        hashtags = (
            [t["name"] for t in tags if type(t) is dict and text(t.get("name"))]
            if type(tags) is list
            else entities.hashtags(body)
        )
        post = Post(
            platform=self.platform,
            post_id=uri,
            account_id=author.account_id,
            created_at=created,
            kind=kind,
            text=body,
            lang=text(status.get("language")),
            ref_post_id=ref[0],
            ref_account_id=ref[1],
            hashtags=hashtags,
            urls=unique(links + ([card] if card else [])),
            mentions=[m for _, m in mentioned]
            if "mentions" in status
            else _text_mentions(body, author.account_id),
            media=_media(status.get("media_attachments")),
            client=text(obj(status.get("application")).get("name")),
            extra=extra_json(extra),
        )
        self.builder.add_account(author)
        self.builder.add_post(post)
        if depth < MAX_DEPTH:
            if type(reblog) is dict:
                self.guarded(reblog, at + "reblog.", depth + 1)
            if quote:
                self.guarded(quote, at + "quote.quoted_status.", depth + 1)

    def reference(self, status: dict[str, Any], at: str) -> tuple[str, str]:
        """(uri, account id) of a reblogged or quoted status."""
        uri = key(status.get("uri"), at + "uri", required=True)
        assert uri is not None
        account = obj(status.get("account"))
        acct = qualified(account.get("acct"), account.get("url"), uri, at + "account.acct")
        return uri, acct.lower()

    def mentions(self, status: dict[str, Any]) -> list[tuple[str | None, str]]:
        """(local id, account id) of each mention."""
        found: list[tuple[str | None, str]] = []
        for index, mention in enumerate(items(status.get("mentions"))):
            mention = obj(mention)
            at = f"mentions[{index}]."
            acct = qualified(
                mention.get("acct"), mention.get("url"), status.get("uri"), at + "acct"
            )
            local = mention.get("id")
            found.append((str(local) if type(local) in (str, int) else None, acct.lower()))
        return found

    def replied_account(
        self, status: dict[str, Any], author: Account, mentioned: list[tuple[str | None, str]]
    ) -> str | None:
        """The replied-to account: the author's own (a thread), or the mention whose
        local id the reply names; None when the data does not say."""
        target = status.get("in_reply_to_account_id")
        if target is None or type(target) not in (str, int):
            return None
        own = obj(status.get("account")).get("id")
        if own is not None and str(own) == str(target):
            return author.account_id
        return next((acct for local, acct in mentioned if local == str(target)), None)

    def account(self, account: dict[str, Any], fallback: object, at: str) -> Account:
        handle = qualified(account.get("acct"), account.get("url"), fallback, at + "acct")
        key(handle, at + "acct")
        avatar = text(account.get("avatar"))
        extra = {
            "id": text(account.get("id")),
            "url": text(account.get("url")),
            "bot": account.get("bot") if type(account.get("bot")) is bool else None,
            "locked": account.get("locked") if type(account.get("locked")) is bool else None,
            "statuses_count": count(account.get("statuses_count"), at + "statuses_count"),
        }
        return Account(
            platform=self.platform,
            account_id=handle.lower(),
            handle=handle,
            display_name=text(account.get("display_name")),
            bio=_bio(account.get("note")),
            created_at=iso_time(
                account.get("created_at"), at + "created_at", self.times, required=False
            ),
            followers=count(account.get("followers_count"), at + "followers_count"),
            following=count(account.get("following_count"), at + "following_count"),
            avatar=None if avatar is None or avatar.endswith(_DEFAULT_AVATAR) else avatar,
            extra=extra_json(extra),
        )


def _text_mentions(body: str | None, author: str) -> list[str]:
    """Mentions from the text, for a status without `mentions`: a bare `@user` is on the
    author's instance (as its server resolved it)."""
    host = author.rpartition("@")[2]
    return [f"{name}@{host}".lower() for name in entities.mentions(body)]


def _local_id(value: object, field: str) -> str | None:
    """An instance's own id: text (as the API writes it), or a whole number."""
    if type(value) is int and value >= 0:
        return str(value)
    return key(value, field)


def _quoted_status(quote: object) -> dict[str, Any] | None:
    """The quoted status: Mastodon 4.4's `quote.quoted_status`, or a `quote` that is a
    status itself."""
    if type(quote) is not dict:
        return None
    inner = quote.get("quoted_status")
    if type(inner) is dict:
        return inner
    return quote if "uri" in quote and "account" in quote else None


def _media(value: object) -> list[str]:
    found = []
    for attachment in items(value):
        attachment = obj(attachment)
        for name in ("url", "remote_url", "preview_url"):
            if url := text(attachment.get(name)):
                found.append(url)
                break
    return found


class _Text(HTMLParser):
    """Mastodon's HTML as text: what a reader sees, with the links it holds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.hidden = 0  # inside <script> or <style>: not text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            found = dict(attrs)
            href = found.get("href")
            marks = f"{found.get('class') or ''} {found.get('rel') or ''}".split()
            if href and not {"mention", "hashtag", "tag"} & set(marks):
                self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _bio(note: object) -> str | None:
    return _note_text(note) if type(note) is str else None


@lru_cache(maxsize=65536)
def _note_text(note: str) -> str | None:
    return html_text(note)[0]


def html_text(value: object) -> tuple[str | None, list[str]]:
    """HTML (a status's content, a bio) as plain text, and the links it holds that are
    not mentions or hashtags. Empty text is None."""
    if type(value) is not str or not value:
        return None, []
    parser = _Text()
    parser.feed(value)
    parser.close()
    body = "".join(parser.parts)
    return (body or None), parser.links
