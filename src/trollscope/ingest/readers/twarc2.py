"""Twitter API v2 JSON lines, as twarc2 writes them: response pages or flattened tweets.

Two shapes, one JSON object per line, both read by this reader (a file may mix them):

- a response page (`twarc2 search`, `timeline`, `stream`, ...): `{"data": [tweets] (or one
  tweet), "includes": {"users", "tweets", "media", ...}, "meta", "errors", "__twarc"}`.
  A tweet's author, the tweets it references and its media are looked up in the page's
  `includes`;
- a flattened tweet (`twarc2 flatten`): one tweet per line with its `author` embedded, and
  each `referenced_tweets` entry carrying the whole referenced tweet (with its author).

What becomes what:
- every tweet is a post: those of `data`, and the referenced tweets the data holds
  (`includes.tweets`, embedded `referenced_tweets`) since they are real posts too. A
  referenced tweet that is only a reference (no `created_at`: deleted, protected or not
  expanded) is not a record;
- kind: `referenced_tweets` type retweeted -> repost, replied_to -> reply, quoted ->
  quote; a retweet wins over the others, a reply over a quote (a reply that also quotes
  keeps the quoted id in `extra` as `{"quoted": id}`). `ref_account_id` is the
  referenced tweet's `author_id`; else, for a reply, `in_reply_to_user_id`; else, for a
  retweet, the id of the mention at the `@` of its "RT @user:" prefix;
- text: `note_tweet.text` (the whole of a long tweet) over `text`, exactly as given (a
  retweet's text is the API's truncated "RT @user: ..."; `&amp;` stays as the API wrote it);
- hashtags: `entities.hashtags[].tag`; mentions: `entities.mentions[].username` (the
  mentioned accounts' ids are not kept per post: a mention that carries an id becomes an
  account row, so `accounts` maps each handle to its id); urls: `entities.urls[]`
  `expanded_url`, else `url`, never empty, without the links of attached photos and
  videos (entries with a `media_key`, which v1.1 kept apart as well);
- media: per `attachments.media_keys` entry the media's `url` (photos), else its
  `preview_image_url` (videos, GIFs), else the media key itself;
- client: `source`; created_at: ISO 8601 (`2022-03-23T15:47:42.000Z`) to naive UTC;
- accounts: every user object (authors, `includes.users`, embedded authors and
  `in_reply_to_user`, expanded mentions): `username` -> handle, `name`, `description`
  -> bio, `location`, `created_at`, `profile_image_url` -> avatar, `public_metrics`
  followers_count / following_count; `extra` keeps tweet_count, listed_count, verified
  and protected. Empty strings (how the API writes "no bio") are stored as NULL.

Rejects (per line): invalid JSON (e.g. a truncated last line), invalid UTF-8 bytes, a line
that is not an object, a tweet without `id`, `author_id` or `created_at`, an unparseable
`created_at`, a field of the wrong JSON type. A page's `errors` (tweets deleted since) are
the API's report, not records of this file. The platform is `twitter` unless --platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import orjson

from trollscope.ingest.batches import Batch
from trollscope.ingest.readers.base import Head, Reader, ReadOptions
from trollscope.ingest.readers.jsonfile import read_json_lines, sniff_keys
from trollscope.ingest.readers.jsonrows import (
    EMPTY,
    MAX_DEPTH,
    Rows,
    Where,
    depth,
    id_text,
    no_mapping,
    parse_lines,
    seen_for,
    snippet,
    where_path,
)
from trollscope.model import TimeRange

PLATFORM = "twitter"
# The source field a reject names when a canonical column gets a value of the wrong type.
FIELDS = {
    "post_id": "id",
    "account_id": "author_id",
    "text": "text",
    "lang": "lang",
    "ref_post_id": "referenced_tweets",
    "ref_account_id": "referenced_tweets",
    "hashtags": "entities.hashtags",
    "urls": "entities.urls",
    "mentions": "entities.mentions",
    "media": "attachments.media_keys",
    "client": "source",
}
_PAGE_KEYS = ("data", "includes", "meta", "errors")
_NO_DICT: dict[str, Any] = {}
_NO_PROFILE = (None,) * 13
# The source field of each profile value a record may not hold (jsonrows.Rows.profile).
PROFILE_FIELDS = {
    1: "username",
    5: "created_at",
    6: "public_metrics.followers_count",
    7: "public_metrics.following_count",
    10: "public_metrics.tweet_count",
    11: "public_metrics.listed_count",
}
# An author whose profile holds a bad value: (field, reason) for the tweets it wrote.
BadAuthors = dict[str, tuple[str, str]]


class Twarc2Reader(Reader):
    name: ClassVar[str] = "twarc2"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Twitter API v2 JSONL file from twarc2, pages or flattened tweets"

    def sniff(self, head: Head) -> bool:
        top, item, _ = sniff_keys(head.data)
        if "data" in top:
            # (a page of users, from `twarc2 users` or `followers`, has no author_id or text)
            tweet_like = "id" in item and bool({"author_id", "text"} & item)
            return tweet_like or (not item and bool({"meta", "__twarc"} & top))
        # A flattened tweet: v2 keys, and none of v1.1's (id_str, user).
        v2_keys = {"author_id", "edit_history_tweet_ids", "conversation_id", "author", "__twarc"}
        return (
            "id" in top
            and bool({"text", "created_at"} & top)
            and bool(v2_keys & top)
            and not {"id_str", "user"} & top
        )

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        no_mapping(path, options, self.name)
        yield from read_json_lines(
            path,
            options,
            partial(parse_block, times=options.times),
            check_first,
            self.description,
            options.platform or PLATFORM,
        )


def check_first(first: dict[str, Any]) -> str | None:
    if "id_str" in first or isinstance(first.get("user"), dict):
        return (
            "its first line is a Twitter API v1.1 tweet (id_str, user); "
            "read it with --format twitter-v1."
        )
    data = first.get("data")
    item = data[0] if isinstance(data, list) and data else data
    if isinstance(item, dict) and "username" in item and not {"author_id", "text"} & item.keys():
        return (
            "its first line is a page of users (twarc2 users, followers, ...), not of tweets; "
            "trollscope reads tweets, whose pages carry their authors."
        )
    if any(key in first for key in _PAGE_KEYS) or "author_id" in first or "text" in first:
        return None
    shown = ", ".join(list(first)[:8])
    return (
        "expected a twarc2 response page (data, includes, meta) or a tweet (id, author_id, "
        f"created_at, text) per line; the first line has {shown or 'no fields'}."
    )


def parse_block(
    block: bytes,
    first_line: int,
    platform: str,
    chunk_size: int,
    read_id: str = "",
    *,
    times: TimeRange | None = None,
) -> list[Batch]:
    """The batches of a block of lines (`first_line` is the block's first line number)."""
    rows = Rows(FIELDS, platform, None, seen_for(read_id) if read_id else None, times)
    return parse_lines(block, first_line, rows, chunk_size, _line)


def _line(rows: Rows, obj: dict[str, Any], line: int) -> None:
    if "id" not in obj and any(key in obj for key in _PAGE_KEYS):
        _page(rows, obj, line)
    else:
        _tweet(rows, obj, line, (), None, None)


def _page(rows: Rows, page: dict[str, Any], line: int) -> None:
    includes = page.get("includes") or _NO_DICT
    if type(includes) is not dict:
        rows.reject(
            line,
            "includes",
            "expected an object of users, tweets, media; the page is not read",
            snippet(includes),
        )
        return
    # A page's profiles sit apart from its tweets: a bad one rejects the tweets its
    # account wrote (that is the record carrying it); a bad profile of an account that
    # is only mentioned or replied to is left out.
    bad: BadAuthors = {}
    for index, user in enumerate(_listed(includes.get("users"))):
        problem = _user(rows, user)
        if problem:
            uid, field, reason = problem
            bad.setdefault(uid, (f"includes.users[{index}].{field}", reason))
    included = _listed(includes.get("tweets"))
    tweets = {t["id"]: t for t in included if type(t) is dict and type(t.get("id")) is str}
    media = {
        m["media_key"]: m
        for m in _listed(includes.get("media"))
        if type(m) is dict and type(m.get("media_key")) is str
    }
    data = page.get("data")
    if type(data) is dict:  # a single-tweet response (twarc2 tweet, stream)
        data = [data]
    elif data is None:
        data = EMPTY
    elif type(data) is not list:
        rows.reject(line, "data", "expected a list of tweets", snippet(data))
        return
    for index, tweet in enumerate(data):
        if type(tweet) is dict:
            _tweet(rows, tweet, line, ((), "data", index), tweets, media, bad)
        else:
            rows.reject(line, f"data[{index}]", "expected a tweet object", snippet(tweet))
    seen = rows.seen_posts
    for index, tweet in enumerate(included):
        if type(tweet) is not dict or "created_at" not in tweet:
            continue  # a reference without the tweet: not a record
        tid = tweet.get("id")
        if type(tid) is str:
            if tid in seen:
                rows.repeats += 1
                continue
            seen.add(tid)
        _tweet(rows, tweet, line, ((), "includes.tweets", index), tweets, media, bad)


def _listed(value: object) -> list[Any]:
    return value if type(value) is list else EMPTY


def _tweet(
    rows: Rows,
    tw: dict[str, Any],
    line: int,
    where: Where,
    tweets: dict[str, Any] | None,
    media: dict[str, Any] | None,
    bad_authors: BadAuthors | None = None,
) -> None:
    """Add one tweet: from a page (`tweets` and `media` are its includes, `bad_authors`
    the accounts whose profile there holds a bad value), or flattened (`tweets` is
    None), with the users and tweets embedded in it.

    This runs once per tweet of files with millions: the common case is written for
    speed, and anything unusual drops to a slower path that says what is wrong.
    """
    get = tw.get
    tid = get("id")
    aid = get("author_id")
    created = get("created_at")
    if not (type(tid) is str and type(aid) is str and type(created) is str and tid and aid):
        tid, aid = id_text(tid), id_text(aid)
        if not (tid and aid and created and type(created) is str):
            field, reason = _missing(tw, tid, aid, created)
            rows.reject(line, where_path(where, field), reason, snippet(tw))
            return
    try:
        note = get("note_tweet")
        if note:
            text = note.get("text")
            entities = note.get("entities") or get("entities")
        else:
            text = get("text")
            entities = get("entities")
        if entities:
            found = entities.get("hashtags")
            hashtags = [h["tag"] for h in found] if found else EMPTY
            found = entities.get("mentions")
            mentions = [m["username"] for m in found] if found else EMPTY
            found = entities.get("urls")
            urls = (
                [
                    url
                    for u in found
                    if (url := u.get("expanded_url") or u.get("url")) and "media_key" not in u
                ]
                if found
                else EMPTY
            )
        else:
            hashtags = mentions = urls = EMPTY
        refs = get("referenced_tweets")
        if refs:
            kind, ref_id, ref_account, extra = _reference(tw, refs, entities, tweets)
        else:
            kind, ref_id, ref_account, extra = "post", None, None, None
        attachments = get("attachments")
        found_media = _media(attachments, media) if attachments else EMPTY
    except (KeyError, TypeError, AttributeError) as exc:
        located = _locate(tw)
        rows.reject(
            line,
            where_path(where, located),
            f"unexpected structure in {located or 'the tweet'}: {type(exc).__name__} {exc}",
            snippet(tw),
        )
        return
    if bad_authors and aid in bad_authors:
        field, reason = bad_authors[aid]
        rows.reject(line, field, reason, snippet(tw))
        return
    author = get("author") if tweets is None else None
    if author:
        problem = _user(rows, author)
        if problem:
            rows.reject(line, where_path(where, f"author.{problem[1]}"), problem[2], snippet(tw))
            return
    rows.posts.append(
        (
            tid,
            aid,
            created,
            text,
            get("lang"),
            kind,
            ref_id,
            ref_account,
            hashtags,
            urls,
            mentions,
            found_media,
            get("source"),
            extra,
            line,
            where,
        )
    )
    seen = rows.seen_users
    if tweets is None:  # flattened: the users and tweets it carries
        replied_user = get("in_reply_to_user")
        if replied_user:
            _user(rows, replied_user)
        if mentions and entities:
            for mention in entities["mentions"]:
                if "id" in mention:
                    _mention(rows, mention)
        if refs:
            for index, ref in enumerate(refs):
                if type(ref) is dict and "created_at" in ref:
                    _embedded(rows, ref, line, (where, "referenced_tweets", index))
    if aid not in seen:
        # No profile came with the tweet: the author still exists, with its id.
        seen[aid] = None
        rows.accounts.append((aid, *_NO_PROFILE))


def _reference(
    tw: dict[str, Any],
    refs: list[dict[str, Any]],
    entities: dict[str, Any] | None,
    tweets: dict[str, Any] | None,
) -> tuple[str, str | None, str | None, str | None]:
    """(kind, ref_post_id, ref_account_id, extra) from `referenced_tweets`: a retweet wins
    over the others, a reply over a quote (whose id then goes to `extra`)."""
    replied = quoted = None
    for ref in refs:
        kind = ref["type"]
        if kind == "retweeted":
            break
        if kind == "replied_to":
            replied = ref
        elif kind == "quoted":
            quoted = ref
    else:
        if replied is not None:
            kind, ref = "reply", replied
        elif quoted is not None:
            kind, ref, quoted = "quote", quoted, None
        else:
            return "post", None, None, None
    if kind == "retweeted":
        kind, quoted = "repost", None
    ref_id = ref["id"]
    if type(ref_id) is not str or not ref_id:
        ref_id = id_text(ref_id)
        if ref_id is None:
            raise TypeError(f"the referenced tweet's id is {snippet(ref['id'])}")
    ref_account = ref.get("author_id")
    if ref_account is None and tweets is not None:
        ref_account = tweets.get(ref_id, _NO_DICT).get("author_id")
    if ref_account is None:
        ref_account = _fallback_ref_account(tw, kind, entities)
    extra = None
    if quoted is not None:
        extra = orjson.dumps({"quoted": id_text(quoted["id"])}).decode()
    return kind, ref_id, ref_account, extra


def _embedded(rows: Rows, ref: dict[str, Any], line: int, where: Where) -> None:
    """A whole tweet carried by a flattened tweet's `referenced_tweets` is a post too."""
    if depth(where) > MAX_DEPTH:
        return
    rid = ref.get("id")
    if type(rid) is str:
        if rid in rows.seen_posts:
            rows.repeats += 1
            return
        rows.seen_posts.add(rid)
    _tweet(rows, ref, line, where, None, None)


def _fallback_ref_account(
    tw: dict[str, Any], kind: str, entities: dict[str, Any] | None
) -> str | None:
    """The referenced author when the referenced tweet is not in the data."""
    if kind == "reply":
        return id_text(tw.get("in_reply_to_user_id"))
    if kind == "repost" and entities:
        text = tw.get("text")
        if type(text) is str and text.startswith("RT @"):
            for mention in entities.get("mentions") or EMPTY:
                if mention.get("start") == 3:
                    return id_text(mention.get("id"))
    return None


def _media(attachments: dict[str, Any], media: dict[str, Any] | None) -> list[str]:
    keys = attachments.get("media_keys")
    if not keys:
        return EMPTY
    expanded = attachments.get("media") or EMPTY  # flattened: the media objects, in order
    out = []
    for index, key in enumerate(keys):
        if index < len(expanded):
            item = expanded[index]
        else:
            item = media.get(key, _NO_DICT) if media is not None else _NO_DICT
        out.append(item.get("url") or item.get("preview_image_url") or key)
    return out


def _user(rows: Rows, user: object) -> tuple[str, str, str] | None:
    """Add a user object's profile; or, when it holds a value a record may not hold,
    leave it out and return (account id, field, reason)."""
    if type(user) is not dict:
        return None
    get = user.get
    uid = get("id")
    if type(uid) is not str:
        uid = id_text(uid)
        if uid is None:
            return None
    metrics = get("public_metrics")
    if type(metrics) is not dict:
        metrics = _NO_DICT
    row = (
        uid,
        get("username") or None,
        get("name") or None,
        get("description") or None,
        get("location") or None,
        get("created_at") or None,
        metrics.get("followers_count"),
        metrics.get("following_count"),
        get("profile_image_url") or None,
        None,
        metrics.get("tweet_count"),
        metrics.get("listed_count"),
        get("verified"),
        get("protected"),
    )
    seen = rows.seen_users
    if seen.get(uid) != row:
        stored, problem = rows.profile(row, PROFILE_FIELDS)
        if problem:
            return uid, *problem
        seen[uid] = row
        rows.accounts.append(stored)
    return None


def _mention(rows: Rows, mention: object) -> None:
    """A mention that names an account's id: that account exists with that handle."""
    if type(mention) is not dict:
        return
    uid = id_text(mention.get("id"))
    if uid is None or rows.seen_users.get(uid) is not None:
        return
    if "created_at" in mention:  # expanded by twarc2 flatten: a whole profile
        _user(rows, mention)
        return
    row = (uid, mention.get("username") or None, *_NO_PROFILE[1:])
    if rows.profile(row, PROFILE_FIELDS)[1] is None:  # a bad handle: left out
        rows.seen_users[uid] = row
        rows.accounts.append(row)


def _missing(tw: dict[str, Any], tid: object, aid: object, created: object) -> tuple[str, str]:
    for name, value in (("id", tid), ("author_id", aid), ("created_at", created)):
        if name not in tw or tw[name] is None or tw[name] == "":
            return name, f"the tweet has no {name}; every tweet needs id, author_id, created_at"
        if not value or (name == "created_at" and type(value) is not str):
            return name, f"expected {name} as text, got {snippet(tw[name])}"
    return "id", "the tweet has no id"


def _locate(tw: dict[str, Any]) -> str | None:
    """The first field of a tweet whose JSON shape is not the API's, for a reject."""
    checks: list[tuple[str, object, type]] = [
        ("note_tweet", tw.get("note_tweet"), dict),
        ("entities", tw.get("entities"), dict),
        ("referenced_tweets", tw.get("referenced_tweets"), list),
        ("attachments", tw.get("attachments"), dict),
    ]
    for name, value, kind in checks:
        if value is not None and type(value) is not kind:
            return name
    entities = tw.get("entities") or _NO_DICT
    for name, key in (("hashtags", "tag"), ("mentions", "username"), ("urls", None)):
        items = entities.get(name)
        if items is None:
            continue
        if type(items) is not list or any(
            type(i) is not dict or (key is not None and key not in i) for i in items
        ):
            return f"entities.{name}"
    refs = tw.get("referenced_tweets") or EMPTY
    if any(type(r) is not dict or "type" not in r or "id" not in r for r in refs):
        return "referenced_tweets"
    attachments = tw.get("attachments") or _NO_DICT
    if not isinstance(attachments.get("media_keys") or EMPTY, list):
        return "attachments.media_keys"
    if any(type(m) is not dict for m in attachments.get("media") or EMPTY):
        return "attachments.media"
    return None
