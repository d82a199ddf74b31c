"""Bluesky (AT Protocol) JSON: Jetstream events, repository records and AppView post views.

Shapes, one per line (JSON lines) or as one document (see `jsonvalues`), a file may mix
them (field names after the lexicons in bluesky-social/atproto `lexicons/app/bsky` and
Jetstream's README, github.com/bluesky-social/jetstream):
- a Jetstream event `{"did", "time_us", "kind", "commit": {"operation", "collection",
  "rkey", "record", "cid"}}`, or `"kind": "identity"` with `identity: {did, handle}`;
- a record as `com.atproto.repo.listRecords` gives it, `{"uri", "cid", "value"}`, or a
  page of them `{"records": [...]}`;
- a post view (`app.bsky.feed.getPosts`, `searchPosts`): `{"uri", "cid", "author": {did,
  handle, displayName, avatar, createdAt}, "record", "embed", "indexedAt", counts}`, or a
  page `{"posts": [...]}`; a feed page `{"feed": [{"post", "reply": {"root", "parent"},
  "reason"}]}` (getAuthorFeed, getTimeline); a thread `{"thread": {"post", "parent",
  "replies"}}` (getPostThread).

What becomes what:
- a record of `app.bsky.feed.post` is a post, one of `app.bsky.feed.repost` a repost. The
  post id is the record's AT-URI (`at://DID/COLLECTION/RKEY`) and the account its DID;
- reply: `reply.parent.uri`; quote: an `app.bsky.embed.record` (or `recordWithMedia`)
  embed of a post, `record.uri`; repost: `subject.uri`. A reply wins over a quote, whose
  URI then goes to `extra` as `quoted`. `ref_account_id` is the DID of the referenced URI;
- hashtags: the facets' `#tag` features and the record's `tags`; mentions: the facets'
  `#mention` DIDs (a DID is the account's id: a handle changes, a DID does not), and the
  text the facet spans (`@handle`) names that DID's handle; urls: the `#link` facets and
  an `app.bsky.embed.external` card. A post with no facets takes them from its text
  (`entities.py`; handles keep their inner dots, as written). media: the blob CIDs of
  embedded images and video (a CID is the hash of the bytes: the same file reposted by
  two accounts has one CID). lang: the first of `langs`; created_at: `createdAt`;
- the embedded posts the data holds are posts too (a quoted post's view, a feed item's
  reply parent and root, a thread's parents and replies), to a depth of MAX_DEPTH;
- accounts: each author's DID, with the handle, displayName, avatar and createdAt a post
  view carries; the handle of an identity event; an `app.bsky.actor.profile` record's
  displayName, description (bio), createdAt and avatar. A handle `handle.invalid` (the
  AppView's word for one it could not verify) is no handle.

What is not a record (neither read nor rejected), as Twitter's stream control messages
are not: likes, follows, blocks and other collections, deletes and updates of posts,
identity and account events, profile records (which feed accounts only), a feed item's
repost reason without a URI, and references to posts that are missing or blocked. The
rest of the stream is about who did what to whom, and counting it as rejects would bury
the rejects about damaged data.

Rejects name the line and the field as the file places it (`commit.record.createdAt`,
`posts[2].author.handle`): a post without a readable AT-URI or `createdAt`, a repost
without `subject.uri`, an id or handle with a control character, a time outside the
range, a count that is not one, a line that is not JSON. The platform is `bluesky`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

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

PLATFORM = "bluesky"
POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
PROFILE = "app.bsky.actor.profile"
EXPECTED = (
    "Bluesky JSON: Jetstream events (did, time_us, kind, commit), records (uri, value) "
    "or post views (uri, author, record), as JSON lines or one document"
)
MAX_DEPTH = 3  # embedded posts: a quote of a quote in a feed item's parent
INVALID_HANDLE = "handle.invalid"
AVATAR_URL = "https://cdn.bsky.app/img/avatar/plain/{did}/{cid}@jpeg"
_AT_URI = re.compile(r"at://([^/\s]+)/([^/\s]+)/([^/\s]+)")
_COUNTS = ("replyCount", "repostCount", "likeCount", "quoteCount")
_PAGES = ("posts", "feed", "records")


class BlueskyReader(Reader):
    name: ClassVar[str] = "bluesky"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Bluesky JSON: Jetstream events, repository records or AppView post views"
    )

    def sniff(self, head: Head) -> bool:
        first, _ = first_object(head.data)
        if {"did", "time_us", "kind"} <= first.keys():
            return True
        uri = first.get("uri")
        if type(uri) is str and uri.startswith("at://"):
            return bool({"record", "value", "author"} & first.keys())
        for page in _PAGES:
            listed = first.get(page)
            if type(listed) is list and listed and type(listed[0]) is dict:
                inner = listed[0].get("post", listed[0])
                found = obj(inner).get("uri")
                return type(found) is str and found.startswith("at://")
        return "thread" in first and b'"at://' in head.data

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        no_mapping(path, options, self.name)
        platform = options.platform or PLATFORM

        def add(builder: BatchBuilder, value: dict[str, Any], line: int | None, where: str) -> None:
            _Values(builder, line, where, platform, options.times).top(value)

        yield from read_values(path, options, add, check_first, EXPECTED)


def check_first(first: dict[str, Any]) -> str | None:
    uri = first.get("uri")
    if ("kind" in first and "did" in first) or (type(uri) is str and uri.startswith("at://")):
        return None
    if any(k in first for k in ("thread", "post", *_PAGES)):
        return None
    shown = ", ".join(list(first)[:8])
    return f"expected {EXPECTED}; the first object has {shown or 'no fields'}."


def parse_uri(value: object, field: str) -> tuple[str, str, str]:
    """(repository, collection, record key) of an AT-URI, or Bad naming `field`."""
    uri = key(value, field, required=True)
    found = _AT_URI.fullmatch(uri or "")
    if found is None:
        raise Bad(field, f"expected {field} as at://DID/COLLECTION/RKEY, got {raw_text(value)}")
    return found.group(1), found.group(2), found.group(3)


def _authority(uri: str | None) -> str | None:
    found = _AT_URI.fullmatch(uri) if uri else None
    return found.group(1) if found else None


class _Values(ValueRecords):
    """The records of one top-level value, added to the builder as they are found."""

    def top(self, value: dict[str, Any]) -> None:
        if "kind" in value and "did" in value:
            self.event(value)
        elif any(type(value.get(page)) is list for page in _PAGES) or "thread" in value:
            for page in _PAGES:
                for index, item in enumerate(items(value.get(page))):
                    at = f"{page}[{index}]."
                    if page == "feed":
                        self.guarded(self.feed_item, item, at)
                    else:
                        self.guarded(self.view, item, at, 0)
            if "thread" in value:
                self.thread(value["thread"])
        elif "post" in value and type(value["post"]) is dict:
            self.guarded(self.feed_item, value, "")
        elif "uri" in value:
            self.guarded(self.view, value, "", 0)
        else:
            self.reject_unknown(value, EXPECTED)

    def guarded(self, add: Any, value: Any, at: str, *args: Any) -> None:
        """`add(value, at, ...)`, a Bad becoming the reject of that value."""
        try:
            add(value, at, *args)
        except Bad as bad:
            self.reject(None if bad.field is None else at + bad.field, bad.reason, value)

    # Jetstream

    def event(self, value: dict[str, Any]) -> None:
        kind = value.get("kind")
        if kind == "identity":
            identity = obj(value.get("identity"))
            did, handle = identity.get("did") or value.get("did"), identity.get("handle")
            self.profile_only(did, handle=handle)
            return
        commit = obj(value.get("commit"))
        if kind != "commit":
            return  # account status and other events: not records
        collection = commit.get("collection")
        operation = commit.get("operation")
        record = commit.get("record")
        if collection == PROFILE and operation in ("create", "update"):
            self.profile_record(value.get("did"), obj(record))
            return
        if collection not in (POST, REPOST) or operation != "create":
            return  # likes, follows, deletes, edits: not records
        try:
            did = key(value.get("did"), "did", required=True)
            rkey = key(commit.get("rkey"), "commit.rkey", required=True)
            if type(record) is not dict:
                raise Bad("commit.record", "the commit has no record object")
            extra = {
                "cid": text(commit.get("cid")),
                "time_us": value.get("time_us") if type(value.get("time_us")) is int else None,
            }
            self.record(f"at://{did}/{collection}/{rkey}", record, "commit.record.", extra)
        except Bad as bad:
            self.reject(bad.field, bad.reason, value)

    # Records and views

    def view(self, value: Any, at: str, depth: int) -> None:
        """A post view, a quoted post's view record, or a listRecords item."""
        if type(value) is not dict:
            raise Bad(None, f"expected a post object, got {raw_text(value)[:40]}")
        if value.get("notFound") or value.get("blocked"):
            return  # a reference to a post the AppView does not show: not a record
        field = "value" if "value" in value else "record"
        record = value.get(field)
        author = value.get("author")
        _, collection, _ = parse_uri(value.get("uri"), "uri")
        if collection == PROFILE:
            self.profile_record(_authority(value["uri"]), obj(record))
            return
        if collection not in (POST, REPOST):
            return
        if type(record) is not dict:
            raise Bad(field, f"the post has no {field} object")
        extra: dict[str, Any] = {
            "cid": text(value.get("cid")),
            "indexed_at": text(value.get("indexedAt")),
        }
        for name in _COUNTS:
            extra[name] = count(value.get(name), name)
        self.record(value["uri"], record, f"{field}.", extra, author)
        embed = obj(value.get("embed"))
        if depth < MAX_DEPTH and embed:
            for inner, place in _embedded_views(embed):
                self.guarded(self.view, inner, at + place, depth + 1)

    def feed_item(self, value: Any, at: str) -> None:
        item = obj(value)
        post = item.get("post")
        self.guarded(self.view, post, at + "post.", 0)
        reply = obj(item.get("reply"))
        for name in ("parent", "root"):
            if type(reply.get(name)) is dict and "record" in reply[name]:
                self.guarded(self.view, reply[name], f"{at}reply.{name}.", 1)
        reason = obj(item.get("reason"))
        if str(reason.get("$type", "")).endswith("#reasonRepost") and reason.get("uri"):
            self.reason_repost(reason, obj(post), at + "reason.")

    def reason_repost(self, reason: dict[str, Any], post: dict[str, Any], at: str) -> None:
        try:
            repo, _, _ = parse_uri(reason.get("uri"), "uri")
            by = obj(reason.get("by"))
            did = key(by.get("did") or repo, "by.did", required=True)
            subject = key(post.get("uri"), "post.uri", required=True)
            self.add(
                Post(
                    platform=self.platform,
                    post_id=reason["uri"],
                    account_id=did or repo,
                    created_at=_required(
                        iso_time(reason.get("indexedAt"), "indexedAt", self.times)
                    ),
                    kind=Kind.REPOST,
                    ref_post_id=subject,
                    ref_account_id=_authority(subject),
                    extra=extra_json({"cid": text(reason.get("cid"))}),
                ),
                by,
            )
        except Bad as bad:
            self.reject(None if bad.field is None else at + bad.field, bad.reason, reason)

    def thread(self, value: Any) -> None:
        """A getPostThread thread: its post, its parents and its replies, walked with a
        stack (threads run deep)."""
        stack: list[tuple[Any, str, int]] = [(value, "thread.", 0)]
        while stack:
            node, at, depth = stack.pop()
            node = obj(node)
            if type(node.get("post")) is dict:
                self.guarded(self.view, node["post"], at + "post.", 0)
            if "parent" in node:
                stack.append((node["parent"], at + "parent.", depth + 1))
            for index, reply in enumerate(items(node.get("replies"))):
                stack.append((reply, f"{at}replies[{index}].", depth + 1))

    # One record

    def record(
        self,
        uri: str,
        record: dict[str, Any],
        at: str,
        extra: dict[str, Any],
        author: object = None,
    ) -> None:
        repo, collection, _ = parse_uri(uri, "uri")
        profile = obj(author)
        did = key(profile.get("did") or repo, "author.did", required=True)
        assert did is not None
        created = _required(iso_time(record.get("createdAt"), at + "createdAt", self.times))
        if collection == REPOST:
            subject = key(obj(record.get("subject")).get("uri"), at + "subject.uri", required=True)
            parse_uri(subject, at + "subject.uri")
            post = Post(
                platform=self.platform,
                post_id=uri,
                account_id=did,
                created_at=created,
                kind=Kind.REPOST,
                ref_post_id=subject,
                ref_account_id=_authority(subject),
                extra=extra_json(extra),
            )
        else:
            post = self.post(uri, did, created, record, at, extra)
        self.add(post, profile)

    def post(
        self,
        uri: str,
        did: str,
        created: datetime,
        record: dict[str, Any],
        at: str,
        extra: dict[str, Any],
    ) -> Post:
        body = text(record.get("text"))
        if record.get("text") is not None and type(record.get("text")) is not str:
            raise Bad(at + "text", f"expected {at}text as text, got {raw_text(record['text'])}")
        reply = obj(record.get("reply"))
        parent = key(obj(reply.get("parent")).get("uri"), at + "reply.parent.uri")
        root = key(obj(reply.get("root")).get("uri"), at + "reply.root.uri")
        embed = obj(record.get("embed"))
        quoted, links, media = _embed(embed, at + "embed.")
        hashtags, mentions, urls, handles = self.facets(record, body, at)
        if parent is not None:
            kind, ref = Kind.REPLY, parent
            extra["root"] = root if root != parent else None
            extra["quoted"] = quoted
        elif quoted is not None:
            kind, ref = Kind.QUOTE, quoted
        else:
            kind, ref = Kind.POST, None
        langs = [lang for lang in items(record.get("langs")) if type(lang) is str]
        for mentioned, handle in handles:
            self.profile_only(mentioned, handle=handle)
        return Post(
            platform=self.platform,
            post_id=uri,
            account_id=did,
            created_at=created,
            kind=kind,
            text=body,
            lang=langs[0] if langs else None,
            ref_post_id=ref,
            ref_account_id=_authority(ref),
            hashtags=hashtags,
            urls=unique(urls + links),
            mentions=mentions,
            media=media,
            extra=extra_json(extra),
        )

    def facets(
        self, record: dict[str, Any], body: str | None, at: str
    ) -> tuple[list[str], list[str], list[str], list[tuple[str, str]]]:
        """Hashtags, mention DIDs, links, and (DID, handle) for the mentions whose span
        of the text reads `@handle`. Without facets, from the text."""
        tags = [t for t in items(record.get("tags")) if type(t) is str and t]
        facets = record.get("facets")
        if type(facets) is not list:
            # A client that wrote no facets marked nothing up; one that wrote a list,
            # even an empty one, marked up all there was.
            return (
                entities.hashtags(body) + tags,
                entities.mentions(body, dotted=True),
                entities.urls(body),
                [],
            )
        hashtags: list[str] = []
        mentions: list[str] = []
        urls: list[str] = []
        handles: list[tuple[str, str]] = []
        encoded = body.encode("utf-8") if body else b""
        for index, facet in enumerate(facets):
            for feature in items(obj(facet).get("features")):
                feature = obj(feature)
                kind = str(feature.get("$type", ""))
                if kind.endswith("#tag") and text(feature.get("tag")):
                    hashtags.append(feature["tag"])
                elif kind.endswith("#link") and text(feature.get("uri")):
                    urls.append(feature["uri"])
                elif kind.endswith("#mention"):
                    did = key(feature.get("did"), f"{at}facets[{index}].features.did")
                    if did:
                        mentions.append(did)
                        span = _span(encoded, obj(facet).get("index"))
                        if span.startswith("@") and len(span) > 1:
                            handles.append((did, span[1:]))
        return hashtags + tags, mentions, urls, handles

    def add(self, post: Post, author: dict[str, Any]) -> None:
        """The post and its author's account (the profile a view carries, if any)."""
        account = self.account(post.account_id, author)
        self.builder.add_account(account)
        self.builder.add_post(post)

    def account(self, did: str, author: dict[str, Any]) -> Account:
        """The author's account; a bad value in the profile the record carries is Bad."""
        handle = key(author.get("handle"), "author.handle")
        created = iso_time(author.get("createdAt"), "author.createdAt", self.times, required=False)
        return Account(
            platform=self.platform,
            account_id=did,
            handle=None if handle == INVALID_HANDLE else handle,
            display_name=text(author.get("displayName")),
            bio=text(author.get("description")),
            created_at=created,
            avatar=text(author.get("avatar")),
        )

    def profile_only(self, did: object, **fields: Any) -> None:
        """An account known from data that is no record of its own (an identity event, a
        mention): left out when it holds a bad value."""
        try:
            account = self.account(_required(key(did, "did", required=True)), fields)
        except Bad:
            return
        self.builder.add_account(account)

    def profile_record(self, did: object, record: dict[str, Any]) -> None:
        avatar = obj(record.get("avatar"))
        cid = text(obj(avatar.get("ref")).get("$link")) or text(avatar.get("cid"))
        try:
            account_id = _required(key(did, "did", required=True))
            fields = {
                "displayName": record.get("displayName"),
                "description": record.get("description"),
                "createdAt": record.get("createdAt"),
                "avatar": AVATAR_URL.format(did=account_id, cid=cid) if cid else None,
            }
            account = self.account(account_id, fields)
        except Bad:
            return
        self.builder.add_account(account)


def _required(value: Any) -> Any:
    assert value is not None  # the check that gave it raised Bad otherwise
    return value


def _span(encoded: bytes, index: object) -> str:
    """The text a facet's byte range covers ("" when the range is not one)."""
    where = obj(index)
    start, end = where.get("byteStart"), where.get("byteEnd")
    if type(start) is not int or type(end) is not int or not 0 <= start < end <= len(encoded):
        return ""
    return encoded[start:end].decode("utf-8", errors="replace")


def _embed(embed: dict[str, Any], at: str) -> tuple[str | None, list[str], list[str]]:
    """(quoted post URI, links, media CIDs) of a post record's embed."""
    kind = str(embed.get("$type", ""))
    quoted: str | None = None
    links: list[str] = []
    media: list[str] = []
    if kind == "app.bsky.embed.recordWithMedia":
        _, links, media = _embed(obj(embed.get("media")), at + "media.")
        quoted = _quoted(obj(obj(embed.get("record")).get("record")), at + "record.record.uri")
        return quoted, links, media
    if kind == "app.bsky.embed.record":
        quoted = _quoted(obj(embed.get("record")), at + "record.uri")
    elif kind == "app.bsky.embed.external":
        link = text(obj(embed.get("external")).get("uri"))
        if link:
            links.append(link)
    elif kind == "app.bsky.embed.images":
        for image in items(embed.get("images")):
            if cid := _blob(obj(image).get("image")):
                media.append(cid)
    elif kind == "app.bsky.embed.video" and (cid := _blob(embed.get("video"))):
        media.append(cid)
    return quoted, links, media


def _quoted(ref: dict[str, Any], field: str) -> str | None:
    """The URI of an embedded record when it is a post (a list or feed embedded is not
    a quote)."""
    uri = key(ref.get("uri"), field)
    if uri is None:
        return None
    _, collection, _ = parse_uri(uri, field)
    return uri if collection == POST else None


def _blob(value: object) -> str | None:
    """A blob's CID: `ref.$link`, or the legacy `cid`."""
    blob = obj(value)
    return text(obj(blob.get("ref")).get("$link")) or text(blob.get("cid"))


def _embedded_views(embed: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """The view records of quoted posts in a post view's embed, with their place."""
    kind = str(embed.get("$type", ""))
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        inner = obj(obj(embed.get("record")).get("record"))
        place = "embed.record.record."
    elif kind.startswith("app.bsky.embed.record"):
        inner = obj(embed.get("record"))
        place = "embed.record."
    else:
        return
    if "value" in inner and "uri" in inner:
        yield inner, place
