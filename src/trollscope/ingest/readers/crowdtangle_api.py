"""CrowdTangle API JSON (`crowdtangle-api`): posts as its /posts, /posts/search and /links
endpoints returned them.

A response is `{"status": 200, "result": {"posts": [post, ...], "pagination": {...}}}`;
a post is an object with `platformId` ("<page id>_<post id>"), `platform` ("Facebook",
"Instagram"), `date` ("2020-01-21 16:58:43", UTC), `type`, `message`, `title`,
`caption`, `description`, `expandedLinks` ([{original, expanded}]), `link`, `postUrl`,
`languageCode`, `statistics`, `id` (CrowdTangle's own) and `account` (`id`, `name`,
`handle`, `platformId`, `platform`, `accountType`, `pageCategory`, `pageAdminTopCountry`,
`pageDescription`, `pageCreatedDate`, `subscriberCount`, `profileImage`, `url`,
`verified`). Field names after CrowdTangle's API documentation and saved responses.

What users saved, and what the reader takes: JSON lines of responses or of posts (one
per line, as scrapers append them), or one JSON document: a response, a list of
responses, or a list of posts. A document is streamed (ijson), never loaded whole.

Mapping, chosen so that the same post from the dashboard's CSV export (`crowdtangle.py`)
has the same keys:
- post_id is `postUrl` (the export's URL; the export has no other id); account_id is
  the account's `platformId` (the export's Facebook Id), on Instagram its `handle` (the
  export has no Instagram id).
- platform: `platform` lower-cased (`--platform` overrides). created_at: `date` (UTC).
- text: `message`, on Instagram else `description` (the caption); hashtags and mentions
  from it (on Instagram a handle keeps its inner dots). urls: the expanded links (else
  `link`) except those pointing at the post itself. lang: `languageCode`. Every post is
  kind `post` (shares are not marked).
- profile: name, handle, pageDescription (bio), pageAdminTopCountry (location),
  pageCreatedDate (UTC), subscriberCount (followers), profileImage (avatar).
- extra: type, title, caption, description (Facebook: the link preview),
  crowdtangle_id, platform_id, score and the actual statistics (the API's names); of an
  account: account_type, page_category (as the CSV reader names it), verified, url.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import ijson
import orjson

from trollscope.errors import FormatError, MappingError
from trollscope.ingest.batches import Batch, BatchBuilder
from trollscope.ingest.readers import entities
from trollscope.ingest.readers.base import Head, Reader, ReadOptions, open_input, raw_position
from trollscope.ingest.readers.csvsql import MAX_LINE_BYTES
from trollscope.ingest.readers.jsonevents import MAX_NESTING, TOO_DEEP, document_values
from trollscope.ingest.readers.jsonrows import snippet
from trollscope.ingest.readers.jsonvalues import file_lines
from trollscope.ingest.readers.lines import first_content_line
from trollscope.ingest.readers.telegram_json import BOM, REPLACEMENT, Utf8Guard, why
from trollscope.model import Account, Post, Reject, TimeRange, count_value, key_problem, shown

EXPECTED = (
    'expected CrowdTangle API JSON: responses {"status", "result": {"posts": [...]}} '
    "or post objects (platformId, postUrl, date, account), as JSON lines or one document"
)
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
STATISTICS = ("likeCount", "shareCount", "commentCount", "loveCount", "wowCount",
              "hahaCount", "sadCount", "angryCount", "thankfulCount", "careCount",
              "favoriteCount", "upCount")  # fmt: skip


class _Bad(Exception):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _id(value: Any) -> str | None:
    """An id given as a string or an integer (account.id is a number in the API)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _count(value: Any, field: str) -> int | None:
    """A count (None when absent), or _Bad naming `field` when it is not one."""
    count, problem = count_value(field, value)
    if problem:
        raise _Bad(field, problem)
    return count


def _check_key(value: str | None, field: str) -> None:
    """_Bad naming `field` when the id or handle `value` holds a control character."""
    if problem := key_problem(field, value):
        raise _Bad(field, problem)


def _time(value: Any, field: str, times: TimeRange) -> datetime:
    if isinstance(value, str):
        for fmt in _DATE_FORMATS:
            try:
                when = datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
            if not times.contains(when):
                raise _Bad(field, f"{field} {shown(value)} is not {times.words}")
            return when
    raise _Bad(field, f"expected {field} as 'YYYY-MM-DD HH:MM:SS' (UTC), got {shown(value)}")


def _platform(value: dict[str, Any], account: dict[str, Any], override: str | None) -> str:
    if override:
        return override
    name = _text(value.get("platform")) or _text(account.get("platform"))
    if name is None:
        raise _Bad("platform", "the post names no platform (platform or account.platform)")
    return name.strip().lower()


def _urls(value: dict[str, Any], own: str) -> list[str]:
    """Expanded links, else the link; never the post's own page (its photo, its permalink)."""
    found: list[str] = []
    links = value.get("expandedLinks")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict):
            url = _text(link.get("expanded")) or _text(link.get("original"))
            if url:
                found.append(url.strip())
    if not found and _text(value.get("link")):
        found.append(str(value["link"]).strip())
    mine = own.rstrip("/")
    return [u for u in dict.fromkeys(found) if not u.startswith(mine)]


def _extra(pairs: dict[str, Any]) -> str | None:
    kept = {k: v for k, v in pairs.items() if v is not None}
    return orjson.dumps(kept).decode("utf-8") if kept else None


def post_of(value: Any, override: str | None, times: TimeRange) -> tuple[Post, Account]:
    """The canonical post and author of one API post object, or _Bad saying why not:
    among others, a value a record may not hold (model.py), in the post or in the
    account it carries."""
    if not isinstance(value, dict):
        raise _Bad(None, f"expected a post object, got {snippet(value)!s:.80}")
    account = value.get("account")
    if not isinstance(account, dict):
        raise _Bad("account", "the post has no account object")
    platform = _platform(value, account, override)
    post_url = _text(value.get("postUrl"))
    if post_url is None:
        raise _Bad("postUrl", "postUrl is missing: the post's link is its id")
    post_url = post_url.strip()
    _check_key(post_url, "postUrl")
    instagram = (_text(value.get("platform")) or "").lower() == "instagram"
    field = "account.handle" if instagram else "account.platformId"
    account_id = _id(account.get("handle")) if instagram else _id(account.get("platformId"))
    if account_id is None:
        raise _Bad(field, f"{field} is missing")
    _check_key(account_id, field)
    created_at = _time(value.get("date"), "date", times)
    text = _text(value.get("message"))
    if text is None and instagram:
        text = _text(value.get("description"))
    statistics = value.get("statistics")
    actual = statistics.get("actual") if isinstance(statistics, dict) else None
    counts = {}
    if isinstance(actual, dict):
        for name in STATISTICS:
            count = _count(actual.get(name), f"statistics.actual.{name}")
            if count is not None:
                counts[name] = count
    followers = _count(account.get("subscriberCount"), "account.subscriberCount")
    if followers is None:
        followers = _count(value.get("subscriberCount"), "subscriberCount")
    page_created = account.get("pageCreatedDate")
    handle = _text(account.get("handle"))
    _check_key(handle, "account.handle")
    post = Post(
        platform=platform,
        post_id=post_url,
        account_id=account_id,
        created_at=created_at,
        text=text,
        lang=_text(value.get("languageCode")),
        hashtags=entities.hashtags(text, dotted=instagram),
        mentions=entities.mentions(text, dotted=instagram),
        urls=_urls(value, post_url),
        extra=_extra(
            {
                "type": _text(value.get("type")),
                "title": _text(value.get("title")),
                "caption": _text(value.get("caption")),
                "description": None if instagram else _text(value.get("description")),
                "crowdtangle_id": _id(value.get("id")),
                "platform_id": _id(value.get("platformId")),
                "score": value.get("score")
                if isinstance(value.get("score"), int | float)
                else None,
                "statistics": counts or None,
            }
        ),
    )
    author = Account(
        platform=platform,
        account_id=account_id,
        handle=handle,
        display_name=_text(account.get("name")),
        bio=_text(account.get("pageDescription")),
        location=_text(account.get("pageAdminTopCountry")),
        created_at=(
            None if page_created is None else _time(page_created, "account.pageCreatedDate", times)
        ),
        followers=followers,
        avatar=_text(account.get("profileImage")),
        extra=_extra(
            {
                "account_type": _text(account.get("accountType")),
                "page_category": _text(account.get("pageCategory")),
                "verified": account.get("verified")
                if isinstance(account.get("verified"), bool)
                else None,
                "url": _text(account.get("url")),
            }
        ),
    )
    return post, author


def is_response(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("result"), dict)


def posts_in(value: Any) -> Iterator[tuple[int, Any]]:
    """(index, post) for the posts a JSON value holds: a response, a post, or a list of
    either. A response without posts (an error, the last page) holds none."""
    if isinstance(value, list):
        for item in value:
            yield from posts_in(item)
    elif is_response(value):
        posts = value["result"].get("posts")
        yield from enumerate(posts if isinstance(posts, list) else [])
    else:
        yield 0, value


def _add(
    builder: BatchBuilder,
    value: Any,
    line: int | None,
    where: str,
    options: ReadOptions,
) -> None:
    try:
        post, author = post_of(value, options.platform, options.times)
    except _Bad as bad:
        builder.add_reject(Reject(line, bad.field, f"{where}{bad.reason}", snippet(value)))
        return
    builder.add_account(author)
    builder.add_post(post)


class CrowdTangleApiReader(Reader):
    name: ClassVar[str] = "crowdtangle-api"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "CrowdTangle API JSON: responses or post objects (platformId, postUrl, date, account)"
    )

    def sniff(self, head: Head) -> bool:
        text = head.data.removeprefix(BOM).lstrip()
        if not text.startswith((b"{", b"[")):
            return False
        return all(key in head.data for key in (b'"platformId"', b'"postUrl"', b'"account"'))

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        if options.mapping:
            raise MappingError(
                f"{path}: --map applies to tables; CrowdTangle's API fields are fixed. "
                "Drop --map for this file."
            )
        if not path.stat().st_size:
            raise FormatError(path, f"the file is empty; {EXPECTED}.")
        if _is_json_lines(path):
            yield from self._lines(path, options)
        else:
            yield from self._document(path, options)

    def _lines(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        builder = BatchBuilder(options.chunk_size)
        records = 0
        with open_input(path) as handle:
            for number, line, _ in file_lines(handle):
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    reason = (
                        "invalid UTF-8 bytes; re-save the file as UTF-8"
                        if _bad_utf8(line)
                        else f"not valid JSON ({exc}); the line may be cut short"
                    )
                    records += 1
                    builder.add_reject(Reject(number, None, reason, snippet(line)))
                    continue
                for i, post in posts_in(value):
                    records += 1
                    where = f"post {i + 1} of the response: " if is_response(value) else ""
                    _add(builder, post, number, where, options)
                if builder.full():
                    yield builder.take(raw_position(handle))
            position = raw_position(handle)
        if not records:
            raise FormatError(path, f"holds no post; {EXPECTED}.")
        yield from builder.drain(position)

    def _document(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        builder = BatchBuilder(options.chunk_size)
        count = 0
        # A response document streams its posts; a list streams posts or responses.
        keys = ("result", "posts") if _first_char(path) == b"{" else ()
        with open_input(path) as raw:
            guard = Utf8Guard(raw)
            try:
                # From basic events: ijson.items' memory grows with the square of the
                # nesting (see jsonvalues.document_values).
                events = ijson.basic_parse(guard, use_float=True)
                for value in document_values(events, array=True, keys=keys):
                    if value is TOO_DEEP:
                        count += 1
                        reason = f"post {count}: the value nests deeper than {MAX_NESTING} levels"
                        builder.add_reject(Reject(None, None, reason))
                        continue
                    for _, post in posts_in(value):
                        count += 1
                        if guard.dirty_read and _holds_replacement(post):
                            reason = f"post {count}: invalid UTF-8 bytes; re-save the file as UTF-8"
                            builder.add_reject(Reject(None, None, reason, snippet(post)))
                        else:
                            _add(builder, post, None, f"post {count}: ", options)
                    if builder.full():
                        yield builder.take(guard.position)
            except (ijson.JSONError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
                if not count:
                    raise FormatError(
                        path,
                        f"breaks off before its first post, near byte {guard.position} "
                        f"({why(exc)}); {EXPECTED}.",
                    ) from exc
                reason = (
                    f"the file breaks off after post {count}, near byte {guard.position} "
                    f"({why(exc)}); the rest is lost: the file is cut short or damaged"
                )
                builder.add_reject(Reject(None, None, reason))
        if not count:
            raise FormatError(path, f"holds no post; {EXPECTED}.")
        yield from builder.drain(guard.position)


def _holds_replacement(value: Any) -> bool:
    """Whether a string anywhere in `value` holds U+FFFD (a byte Utf8Guard replaced)."""
    if isinstance(value, str):
        return REPLACEMENT in value
    if isinstance(value, dict):
        return any(_holds_replacement(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_replacement(v) for v in value)
    return False


def _first_char(path: Path) -> bytes:
    with open_input(path) as handle:
        line = first_content_line(handle, 4096) or b""
    return line.lstrip()[:1]


def _bad_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _is_json_lines(path: Path) -> bool:
    """JSON lines when the first non-empty line is a whole JSON value by itself (a
    pretty-printed document's first line, `{` or `[`, is not)."""
    with open_input(path) as handle:
        line = first_content_line(handle, MAX_LINE_BYTES)
    if line is None:
        return False
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True
