"""Reddit submissions and comments (`reddit`): Pushshift and Arctic Shift dumps, JSON lines.

Shapes read (one file may mix them):
- a dump line, as Pushshift's monthly files (`RS_2023-01`, `RC_2023-01`) and Arctic
  Shift's downloads hold them: one submission or comment object per line. Decompress
  `.zst` dumps first (`unzstd`; gzip is read as it is);
- a Pushshift API page `{"data": [submission or comment, ...]}`;
- Reddit's own JSON (`/r/x/new.json`, `/comments/ID.json`, as saved by scrapers): a
  `Listing` of `{"kind": "t3" | "t1", "data": {...}}` children, comment replies nested
  in their `replies` listing; or a list of listings (a thread page).

Field names after the Pushshift dumps' and Reddit API's objects: a submission has `id`,
`name` ("t3_..."), `author`, `author_fullname`, `created_utc` (seconds: an integer, a
float or a number as text, as dumps of different years write it), `title`, `selftext`,
`url`, `domain`, `is_self`, `subreddit`, `subreddit_id`, `permalink`, `num_comments`,
`score`, `over_18`, `crosspost_parent` and `crosspost_parent_list`; a comment has `id`,
`name` ("t1_..."), `link_id`, `parent_id`, `body`, `author`, `created_utc`, `subreddit`,
`score`, `permalink`.

What becomes what (docs/formats.md, `reddit`):
- post_id is the fullname (`t3_abc`, `t1_def`; `name`, else the kind's prefix and `id`),
  so that a comment's `parent_id` (a fullname) resolves to its parent, submission or
  comment;
- account_id and handle are the `author`'s username: Reddit usernames are unique and
  never change, and every dump has them (`author_fullname`, the t2_ id, is missing from
  older dumps; it is kept in the account's `extra`);
- a comment is a reply to `parent_id` (else `link_id`); a submission with
  `crosspost_parent` is a repost of it (its author from `crosspost_parent_list`); any
  other submission is a post;
- text: a submission's title, and its selftext after a blank line; a comment's body. A
  text that is only "[removed]" or "[deleted]" (moderators' and authors' deletions) is no
  text: stored empty, with `extra.removed`, so that thousands of them are not one copied
  text;
- hashtags, mentions (`@name`, and Reddit's `u/name` and `/u/name`) and URLs from the
  text; a link submission's `url` leads its URLs (a self post's is its own page);
- `extra`: subreddit, subreddit_id, permalink, score, num_comments, link_id, domain,
  over_18, removed.

A record whose author is "[deleted]" (or absent) is rejected: Reddit no longer says who
wrote it, and filing such posts under one made-up account would make that account look
like the busiest coordinator in the data. The platform is `reddit` unless --platform.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from trollscope.ingest.batches import Batch
from trollscope.ingest.readers import entities
from trollscope.ingest.readers.base import Head, Reader, ReadOptions
from trollscope.ingest.readers.jsonfile import sniff_keys
from trollscope.ingest.readers.jsonrecords import (
    TWEET_FIRST,
    Shape,
    epoch_time,
    found_in,
    items_at,
    joined,
    key,
    not_first,
    read_records,
    text,
)
from trollscope.ingest.readers.jsonrows import snippet
from trollscope.ingest.readers.jsonvalues import Bad
from trollscope.ingest.readers.jsonvalues import extra_json as extra
from trollscope.model import Account, Kind, Post, shown

PLATFORM = "reddit"
DELETED_AUTHORS = frozenset({"[deleted]", "[removed]"})
REMOVED_TEXTS = frozenset({"[removed]", "[deleted]"})
EXPECTED = (
    "expected Reddit submissions or comments (id, author, created_utc, subreddit), one per "
    "line as in Pushshift and Arctic Shift dumps, or Reddit listings"
)
# Comment trees nest; deeper than this is hostile input, not a conversation.
MAX_DEPTH = 100
# Reddit's mentions: u/name or /u/name (3 to 20 letters, digits, _ and -), not inside a
# word or a path (https://reddit.com/u/name is a link).
_USER_MENTION = re.compile(r"(?<![\w/])/?u/([A-Za-z0-9_-]{3,20})(?![A-Za-z0-9_-])")
_DUMP_KEYS = {"subreddit", "created_utc", "author"}
_OWN_KEYS = {"body", "link_id", "title", "selftext", "permalink", "parent_id"}


def mentions(value: str | None, at_mentions: list[str] | None = None) -> list[str]:
    """`@name` mentions (the shared rule; `at_mentions` when already found), then
    Reddit's `u/name` ones, as written."""
    if not value:
        return []
    found = list(entities.mentions(value) if at_mentions is None else at_mentions)
    if "u/" in value:
        found += _USER_MENTION.findall(_URL.sub(" ", value) if "://" in value else value)
    return found


_URL = re.compile(r"[hH][tT][tT][pP][sS]?://\S*")


def walk(value: Any, where: str = "", level: int = 0) -> Iterator[tuple[str, Any]]:
    """The submissions and comments a JSON value holds (see the module's docstring)."""
    if type(value) is list:
        for index, item in enumerate(value):
            yield from walk(item, f"{where}[{index}]", level)
        return
    if type(value) is not dict:
        yield where, value
        return
    kind = value.get("kind")
    data = value.get("data")
    if level > MAX_DEPTH:
        yield where, _TooDeep()
    elif kind == "Listing" and type(data) is dict:
        for place, child in items_at(data, "children", joined(where, "data") or "data"):
            yield from walk(child, place, level + 1)
    elif kind in ("t1", "t3") and type(data) is dict:
        place = joined(where, "data") or "data"
        yield place, data
        replies = data.get("replies")
        if type(replies) is dict:
            yield from walk(replies, f"{place}.replies", level + 1)
    elif kind == "more":
        return  # "load more comments": ids of comments not in the file, no record
    elif "data" in value and type(data) is list and "id" not in value:
        yield from items_at(value, "data", where)
    else:
        yield where, value


class _TooDeep:
    """A record nested deeper than MAX_DEPTH levels: rejected, not read."""


def convert(value: Any, options: ReadOptions) -> tuple[Post, Account | None]:
    if isinstance(value, _TooDeep):
        raise Bad(None, f"comments nested deeper than {MAX_DEPTH} levels are not read")
    if type(value) is not dict:
        raise Bad(None, f"expected a submission or comment object, got {snippet(value)}")
    get = value.get
    name = key(get("name"), "name")
    is_comment = (
        name.startswith("t1_")
        if name
        else ("body" in value or "link_id" in value or "parent_id" in value)
    )
    if name is None:
        rid = key(get("id"), "id", required=True, what=": every submission and comment has one")
        name = ("t1_" if is_comment else "t3_") + str(rid)
    elif not name.startswith(("t1_", "t3_")):
        raise Bad("name", f"name {shown(name)} is not a comment (t1_) or submission (t3_)")
    author = key(get("author"), "author", required=True, what="; every record needs its author")
    if author in DELETED_AUTHORS:
        raise Bad(
            "author",
            f"the author is {shown(author)}: Reddit no longer says who wrote it, so the "
            "record has no account to belong to",
        )
    assert author is not None
    platform = options.platform or PLATFORM
    created = epoch_time(get("created_utc"), "created_utc", options.times)
    removed = None
    urls: list[str] = []
    ref_account = None
    if is_comment:
        body = text(get("body"), "body")
        if body in REMOVED_TEXTS:
            body, removed = None, body
        content = body
        parent = key(get("parent_id"), "parent_id") or key(get("link_id"), "link_id")
        if parent is None:
            raise Bad("parent_id", "a comment needs parent_id or link_id (what it answers)")
        kind, ref = Kind.REPLY, parent
    else:
        title = text(get("title"), "title")
        self_text = text(get("selftext"), "selftext")
        if self_text in REMOVED_TEXTS:
            self_text, removed = None, self_text
        content = "\n\n".join(part for part in (title, self_text) if part) or None
        link = text(get("url"), "url")
        if link and get("is_self") is not True and link.startswith(("http://", "https://")):
            permalink = text(get("permalink"), "permalink")
            if not (permalink and link.rstrip("/").endswith(permalink.rstrip("/"))):
                urls.append(link.strip())
        parent = key(get("crosspost_parent"), "crosspost_parent")
        if parent:
            kind, ref = Kind.REPOST, parent
            ref_account = _crosspost_author(get("crosspost_parent_list"))
        else:
            kind, ref = Kind.POST, None
    tags, at_mentions, links = found_in(content)
    for url in links:
        if url not in urls:
            urls.append(url)
    fullname = key(get("author_fullname"), "author_fullname")
    account_created = get("author_created_utc")
    post = Post(
        platform=platform,
        post_id=name,
        account_id=author,
        created_at=created,
        kind=kind,
        text=content,
        ref_post_id=ref,
        ref_account_id=ref_account,
        hashtags=tags,
        mentions=mentions(content, at_mentions),
        urls=urls,
        extra=extra(
            {
                "subreddit": text(get("subreddit"), "subreddit"),
                "subreddit_id": text(get("subreddit_id"), "subreddit_id"),
                "permalink": text(get("permalink"), "permalink"),
                "score": get("score") if type(get("score")) is int else None,
                "num_comments": _whole(get("num_comments")),
                "link_id": text(get("link_id"), "link_id") if is_comment else None,
                "domain": None if is_comment else text(get("domain"), "domain"),
                "over_18": get("over_18") if type(get("over_18")) is bool else None,
                "removed": removed,
            }
        ),
    )
    account = Account(
        platform=platform,
        account_id=author,
        handle=author,
        created_at=(
            None
            if account_created is None
            else epoch_time(account_created, "author_created_utc", options.times)
        ),
        extra=extra({"fullname": fullname}),
    )
    return post, account


def _whole(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _crosspost_author(parents: Any) -> str | None:
    """The crossposted submission's author, when the dump embeds it (not deleted)."""
    if type(parents) is list and parents and type(parents[0]) is dict:
        author = parents[0].get("author")
        if type(author) is str and author not in DELETED_AUTHORS:
            return key(author, "crosspost_parent_list[0].author")
    return None


def check_first(first: dict[str, Any]) -> str | None:
    if "id_str" in first or "author_id" in first:
        return TWEET_FIRST
    kind = first.get("kind")
    if kind in ("Listing", "t1", "t3", "more"):
        return None
    data = first.get("data")
    if type(data) is list and "id" not in first:
        item = data[0] if data else {}
        if type(item) is not dict or not data or "subreddit" in item:
            return None
    if "subreddit" in first or (_OWN_KEYS & first.keys() and "created_utc" in first):
        return None
    return not_first(EXPECTED, first)


SHAPE = Shape(
    name=PLATFORM,
    expected=EXPECTED,
    walk=walk,
    convert=convert,
    check_first=check_first,
    prefixes=("data.item", "data.children.item"),
)


class RedditReader(Reader):
    name: ClassVar[str] = "reddit"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Reddit submissions and comments: Pushshift / Arctic Shift JSON lines, Reddit listings"
    )

    def sniff(self, head: Head) -> bool:
        top, item, texts = sniff_keys(head.data)
        if top >= _DUMP_KEYS and bool(_OWN_KEYS & top):
            return True
        if texts.get("kind") in ("Listing", "t1", "t3") and b'"subreddit"' in head.data:
            return True
        # A Pushshift API page: {"data": [submission or comment, ...]}.
        return "data" in top and item >= _DUMP_KEYS and bool(_OWN_KEYS & item)

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        yield from read_records(path, options, SHAPE)
