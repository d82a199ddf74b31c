"""Meta Content Library exports (`meta-content-library`): Facebook and Instagram posts, CSV
or JSON.

**Field names are assumed** from Meta's Content Library API data dictionary
(developers.facebook.com/docs/content-library-and-api/appendix/data-dictionary: the API
fields of Facebook and Instagram posts, nested fields in dot notation) as best known when
this was written; no real export was available to copy. A post is:
`id`, `creation_time`, `modified_time`, `text`, `lang`, `is_branded_content`,
`multimedia` (a list of `{type, url, id}`), `link_attachment` (`link`, `name`, `caption`,
`description`), `statistics` (`reaction_count`, `share_count`, `comment_count`,
`like_count`, `views`), and its owner: `post_owner` (`id`, `name`, `username`, `type`:
PAGE, GROUP, PROFILE, EVENT) on Facebook, `owner` (`id`, `name`, `username`) on
Instagram. An export shaped otherwise is read with `--format table --map ...`.

Shapes read:
- JSON: posts one per line, a list of posts, or API pages `{"data": [...], "paging"}`
  (a document is streamed);
- CSV: a header of the API's field names, nested ones flattened with dots
  (`post_owner.id`, `statistics.reaction_count`), as the API client's data frames write
  them. Rows are numbered with the header as row 1, a quoted field over several lines
  being one row.

What becomes what (docs/formats.md, `meta-content-library`):
- platform `facebook` for posts with `post_owner`, `instagram` for posts with `owner`
  (--platform overrides); post_id `id`; account_id the owner's `id` (Meta Content
  Library's own id: stable in the library, not a Facebook or Instagram id), handle its
  `username`, display_name its `name`;
- created_at `creation_time`: ISO 8601 (an offset is converted; none is taken as UTC,
  as the data dictionary gives times) or POSIX seconds;
- text `text`; hashtags and mentions from it (Instagram handles keep their inner dots);
  urls `link_attachment.link`, then the text's; media the `multimedia` urls; lang
  `lang`. Every post is kind `post` (reshares are not marked in the fields assumed);
- `extra`: is_branded_content, modified_time, the statistics, the link's name, caption and
  description; of an account its `type`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, ClassVar

import orjson

from trollscope.errors import FormatError, MappingError
from trollscope.ingest.batches import Batch, BatchBuilder
from trollscope.ingest.readers.base import Head, Reader, ReadOptions, open_input, raw_position
from trollscope.ingest.readers.jsonfile import sniff_keys
from trollscope.ingest.readers.jsonrecords import (
    Shape,
    epoch_time,
    found_in,
    items_at,
    key,
    listed,
    not_first,
    read_records,
    text,
)
from trollscope.ingest.readers.jsonrows import snippet
from trollscope.ingest.readers.jsonvalues import Bad, count
from trollscope.ingest.readers.jsonvalues import extra_json as extra
from trollscope.ingest.readers.lines import first_content_line
from trollscope.model import COUNT_RULE, Account, Post, Reject, TimeRange, shown

EXPECTED = (
    "expected a Meta Content Library export of Facebook or Instagram posts: JSON (posts with "
    "id, creation_time and post_owner or owner) or CSV with those columns"
)
STATISTICS = ("reaction_count", "share_count", "comment_count", "like_count", "views")
OWNERS = ("post_owner", "owner")  # Facebook's, Instagram's
_CSV_NEEDS = ("id", "creation_time")
_WHOLE = re.compile(r"\+?[0-9]+(\.0*)?")
_POSIX = re.compile(r"[0-9]+(\.[0-9]*)?")


def _count(value: Any, field: str) -> int | None:
    """A count: a JSON number, or (CSV) its digits; empty text is none."""
    if type(value) is str:
        value = value.strip()
        if not value:
            return None
        if _WHOLE.fullmatch(value):
            return count(int(value.lstrip("+").split(".")[0]), field)
        raise Bad(field, f"{field} {shown(value)} {COUNT_RULE}")
    return count(value, field)


def _time(value: Any, field: str, times: TimeRange) -> datetime:
    if type(value) in (int, float) or (type(value) is str and _POSIX.fullmatch(value.strip())):
        return epoch_time(value, field, times)
    when = None
    if type(value) is str:
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            when = None
    if when is None:
        raise Bad(
            field,
            f"expected {field} as ISO 8601 ('2023-06-05T15:01:23+0000') or POSIX seconds, "
            f"got {shown(value)}",
        )
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if not times.contains(when):
        raise Bad(field, f"{field} {shown(value)} is not {times.words}")
    return when


def _dict(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise Bad(field, f"expected {field} as an object, got {snippet(value)}")
    return value


def convert(value: Any, options: ReadOptions) -> tuple[Post, Account | None]:
    if type(value) is not dict:
        raise Bad(None, f"expected a post object, got {snippet(value)}")
    get = value.get
    owner_field = next((name for name in OWNERS if get(name) not in (None, {}, "")), None)
    if owner_field is None:
        raise Bad(
            "post_owner", "the post names no owner (post_owner on Facebook, owner on Instagram)"
        )
    owner = _dict(get(owner_field), owner_field)
    instagram = owner_field == "owner"
    platform = options.platform or ("instagram" if instagram else "facebook")
    post_id = key(get("id"), "id", required=True, what=": every post has one")
    account_id = key(
        owner.get("id"), f"{owner_field}.id", required=True, what=": the owner's id is the account"
    )
    assert post_id is not None and account_id is not None
    created = _time(get("creation_time"), "creation_time", options.times)
    content = text(get("text"), "text")
    link = _dict(get("link_attachment"), "link_attachment")
    urls: list[str] = []
    if shared := text(link.get("link"), "link_attachment.link"):
        urls.append(shared.strip())
    tags, named, links = found_in(content, dotted=instagram)
    for url in links:
        if url not in urls:
            urls.append(url)
    media = []
    for index, item in enumerate(listed(_maybe_list(get("multimedia")), "multimedia")):
        if type(item) is dict and (found := text(item.get("url"), f"multimedia[{index}].url")):
            media.append(found)
    stats = _dict(get("statistics"), "statistics")
    counts = {name: _count(stats.get(name), f"statistics.{name}") for name in STATISTICS}
    post = Post(
        platform=platform,
        post_id=post_id,
        account_id=account_id,
        created_at=created,
        text=content,
        lang=text(get("lang"), "lang"),
        hashtags=tags,
        mentions=named,
        urls=urls,
        media=media,
        extra=extra(
            {
                "is_branded_content": _flag(get("is_branded_content")),
                "modified_time": text(get("modified_time"), "modified_time"),
                "statistics": {k: v for k, v in counts.items() if v is not None} or None,
                "link_name": text(link.get("name"), "link_attachment.name"),
                "link_caption": text(link.get("caption"), "link_attachment.caption"),
                "link_description": text(link.get("description"), "link_attachment.description"),
            }
        ),
    )
    account = Account(
        platform=platform,
        account_id=account_id,
        handle=key(owner.get("username"), f"{owner_field}.username"),
        display_name=text(owner.get("name"), f"{owner_field}.name"),
        extra=extra({"type": text(owner.get("type"), f"{owner_field}.type")}),
    )
    return post, account


def _maybe_list(value: Any) -> Any:
    """A CSV cell holding a JSON list (how a flattened export writes `multimedia`) as
    that list; other text is not media."""
    if type(value) is str:
        if not value.strip().startswith("["):
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value


def _flag(value: Any) -> bool | None:
    if type(value) is bool:
        return value
    if type(value) is str and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def walk(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """The posts a JSON value holds: an API page's `data`, a list's items, or itself."""
    if type(value) is list:
        for index, item in enumerate(value):
            yield from walk(item, f"{where}[{index}]")
    elif type(value) is dict and type(value.get("data")) is list and "id" not in value:
        yield from items_at(value, "data", where)
    else:
        yield where, value


def check_first(first: dict[str, Any]) -> str | None:
    data = first.get("data")
    if type(data) is list and "id" not in first:
        first = data[0] if data and type(data[0]) is dict else {"creation_time": None, "id": None}
    if "creation_time" in first or any(name in first for name in OWNERS):
        return None
    return not_first(EXPECTED, first)


SHAPE = Shape(
    name="meta-content-library",
    expected=EXPECTED,
    walk=walk,
    convert=convert,
    check_first=check_first,
    prefixes=("data.item",),
)


class MetaContentLibraryReader(Reader):
    name: ClassVar[str] = "meta-content-library"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Meta Content Library export: Facebook or Instagram posts, CSV or JSON (field names "
        "of the data dictionary)"
    )

    def sniff(self, head: Head) -> bool:
        start = head.data.removeprefix(b"\xef\xbb\xbf").lstrip()
        if start.startswith(b"["):
            return b'"creation_time"' in head.data and (
                b'"post_owner"' in head.data or b'"owner"' in head.data
            )
        if start.startswith(b"{"):
            top, item, _ = sniff_keys(head.data)
            keys = item if "data" in top and "id" not in top else top
            return "creation_time" in keys and bool(set(OWNERS) & keys) and "id" in keys
        header = _header(head.first_line)
        return set(_CSV_NEEDS) <= set(header) and any(
            column.split(".", 1)[0] in OWNERS and "." in column for column in header
        )

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        with open_input(path) as handle:
            first = first_content_line(handle, 1 << 20) or b""
        if first.lstrip().startswith((b"{", b"[")):
            yield from read_records(path, options, SHAPE)
            return
        if options.mapping:
            raise MappingError(
                f"{path}: --map does not apply to the meta-content-library format; read a "
                "differently-shaped export with --format table --map FIELD=COLUMN,..."
            )
        yield from _read_csv(path, options)


def _header(line: str) -> list[str]:
    try:
        return [name.strip() for name in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return []


def _nested(header: list[str], row: list[str]) -> dict[str, Any]:
    """A CSV row as the API's nested object: `post_owner.id` -> {"post_owner": {"id"}};
    empty cells are absent values."""
    out: dict[str, Any] = {}
    for name, cell in zip(header, row, strict=True):
        if cell == "":
            continue
        parts = name.split(".")
        place = out
        for part in parts[:-1]:
            child = place.get(part)
            if type(child) is not dict:
                child = place[part] = {}
            place = child
        place[parts[-1]] = cell
    return out


def _read_csv(path: Path, options: ReadOptions) -> Iterator[Batch]:
    builder = BatchBuilder(options.chunk_size)
    with open_input(path) as raw:
        stream = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        try:
            yield from _csv_batches(path, options, builder, stream, raw)
        finally:
            stream.detach()  # the file is closed by its own `with`, and measured after


def _csv_batches(
    path: Path, options: ReadOptions, builder: BatchBuilder, stream: IO[str], raw: IO[bytes]
) -> Iterator[Batch]:
    rows = _csv_rows(stream)
    header = next((row for _, row, _ in rows if row), None)
    if header is None:
        raise FormatError(path, f"the file is empty; {EXPECTED}.")
    header = [name.strip() for name in header]
    missing = [name for name in _CSV_NEEDS if name not in header]
    if missing or not any(name.split(".", 1)[0] in OWNERS for name in header):
        raise FormatError(
            path,
            f"the CSV header lacks {', '.join(missing) or 'post_owner.id / owner.id'}; {EXPECTED}.",
            "An export with other column names is read with --format table --map "
            "post_id=COLUMN,account_id=COLUMN,created_at=COLUMN,...",
        )
    for number, row, problem in rows:
        if problem is not None:
            builder.add_reject(Reject(number, None, problem))
        elif row is None or not any(cell.strip() for cell in row):
            continue  # a blank line is not a record
        elif len(row) != len(header):
            reason = f"expected {len(header)} fields as in the header, got {len(row)}"
            builder.add_reject(Reject(number, None, reason, snippet(row)))
        elif any(_has_surrogate(cell) for cell in row):
            reason = "invalid UTF-8 bytes; re-save or re-export the file as UTF-8"
            builder.add_reject(Reject(number, None, reason, _raw_row(row)))
        else:
            _add(builder, _nested(header, row), number, options, row)
        if builder.full():
            yield builder.take(raw_position(raw))
    position = raw_position(raw)
    yield from builder.drain(position)


def _add(
    builder: BatchBuilder,
    record: dict[str, Any],
    line: int,
    options: ReadOptions,
    row: list[str],
) -> None:
    try:
        post, account = convert(record, options)
    except Bad as bad:
        builder.add_reject(Reject(line, bad.field, bad.reason, _raw_row(row)))
        return
    if account is not None:
        builder.add_account(account)
    builder.add_post(post)


def _raw_row(row: list[str]) -> str:
    return snippet([cell.encode("utf-8", "backslashreplace").decode("utf-8") for cell in row])


def _has_surrogate(cell: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in cell) if not cell.isascii() else False


def _csv_rows(stream: IO[str]) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(row number, fields, None) per CSV row, or (row number, None, why) for a row the
    CSV parser refuses; bytes that are not UTF-8 come through as surrogates (the row is
    then rejected, not the file)."""
    reader = csv.reader(stream)
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield number, None, f"the CSV row cannot be parsed ({exc})"
            continue
        number += 1
        yield number, row, None
