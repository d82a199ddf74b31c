"""JSON records read one at a time in Python: JSON lines, or one document streamed.

Shared by the readers of platform APIs whose data users save either way (`reddit`,
`youtube`, `tiktok`, `meta-content-library`): one response page or record per line, as
collecting scripts append them, or one JSON document (a response page, or a list of pages
or records), which is streamed with ijson and never loaded whole.

A format is a `Shape`:
- `walk(value)`: the (where, record) pairs one JSON value holds (a page's items, a
  thread's comments); `where` is the path of the record inside the value
  (`items[2].replies.comments[0]`), so that a reject names the field where it sits;
- `convert(record, options)`: the canonical post and its author's profile, or `Bad`
  naming the field (relative to the record) and the reason;
- `check_first(value)`: why the file's first value is not this format (None if it is),
  so that another format's file is one FormatError, never a pile of rejects;
- `prefixes`: where the pages or records of a document sit (`items.item`, `data.item`).

JSON lines are read by `jsonfile.read_json_lines` (blocks of lines, in worker processes
for a big file; `parse_block` here turns a block into batches); a document is streamed
here from ijson's basic events (`jsonevents`: bounded memory whatever the nesting). A
file is JSON lines when its first line is a whole JSON value, or, that line being
broken, when one of the next few is.

Every record is read, stored or rejected: read = stored + duplicate + rejected. A JSON
line's rejects carry its physical line; a document's carry no line (ijson gives none) and
say which record they are, by its place (`items[3].snippet.publishedAt`).

Why this stays apart from `jsonvalues` (bluesky, mastodon), which reads the same two
shapes: its lines are read here in blocks by worker processes, and its records are found
by a `Shape` (walk, prefixes) and named by their path in rejects; `jsonvalues` hands
whole values to its reader inline. Both build a document from `jsonevents`; merging the
rest would change the reject texts and value checks each reader's tests assert.

The value checks (times, counts, keys) are the model's (`model.py`), in the forms these
readers need: `Bad` with the field and the value quoted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import ijson
import orjson

from trollscope.errors import FormatError, MappingError
from trollscope.ingest.batches import Batch, BatchBuilder
from trollscope.ingest.readers import entities
from trollscope.ingest.readers.base import ReadOptions, open_input, raw_position
from trollscope.ingest.readers.jsonevents import MAX_NESTING, TOO_DEEP, array_at, document_values
from trollscope.ingest.readers.jsonfile import (
    MAX_LINE_BYTES,
    read_json_lines,
)
from trollscope.ingest.readers.jsonrows import snippet

# One `Bad`, count check, `extra` and replacement walk for every JSON reader: jsonvalues'.
from trollscope.ingest.readers.jsonvalues import Bad, file_lines, holds_replacement
from trollscope.ingest.readers.lines import content_lines, first_content_line
from trollscope.ingest.readers.telegram_json import Utf8Guard, why
from trollscope.model import Account, Post, Reject, TimeRange, key_problem, shown

Walk = Callable[[Any], Iterator[tuple[str, Any]]]
Convert = Callable[[Any, ReadOptions], tuple[Post, Account | None]]
CheckFirst = Callable[[Any], str | None]


@dataclass(frozen=True, slots=True)
class Shape:
    """One format's records (see the module's docstring)."""

    name: str
    expected: str
    walk: Walk
    convert: Convert
    check_first: CheckFirst
    prefixes: tuple[str, ...]


# -- value checks, raising Bad -----------------------------------------------------------


def text(value: Any, field: str) -> str | None:
    """Text as given (an empty or blank one is None); anything else but null is Bad."""
    if value is None:
        return None
    if type(value) is not str:
        raise Bad(field, f"expected {field} as text, got {snippet(value)}")
    return value if value.strip() else None


def key(value: Any, field: str, *, required: bool = False, what: str = "") -> str | None:
    """An id or handle as text (an integer is taken as written); Bad when it holds a
    control character, is of another type, or is `required` and absent."""
    if type(value) is int:
        value = str(value)
    elif value is not None and type(value) is not str:
        raise Bad(field, f"expected {field} as text, got {snippet(value)}")
    if value is not None:
        value = value.strip() or None
    if value is None:
        if required:
            raise Bad(field, f"{field} is missing{what}")
        return None
    if problem := key_problem(field, value):
        raise Bad(field, problem)
    return str(value)


def epoch_time(value: Any, field: str, times: TimeRange) -> datetime:
    """POSIX seconds (a JSON number, or a number written as text) as naive UTC."""
    seconds: float | None = None
    if type(value) in (int, float):
        seconds = float(value)
    elif type(value) is str:
        try:
            seconds = float(value.strip())
        except ValueError:
            seconds = None
    if seconds is None or seconds != seconds or abs(seconds) > 1e11:
        raise Bad(field, f"expected {field} as POSIX seconds (UTC), got {shown(value)}")
    when = datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    if not times.contains(when):
        raise Bad(field, f"{field} {shown(value)} is not {times.words}")
    return when


def iso_time(value: Any, field: str, times: TimeRange) -> datetime:
    """ISO 8601 with an offset or `Z` (`2023-05-01T12:00:00Z`) as naive UTC; a time
    without its zone is refused rather than guessed."""
    when = None
    if type(value) is str:
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            when = None
    if when is None or when.tzinfo is None:
        raise Bad(field, f"expected {field} like '2023-05-01T12:00:00Z', got {shown(value)}")
    naive = when.astimezone(UTC).replace(tzinfo=None)
    if not times.contains(naive):
        raise Bad(field, f"{field} {shown(value)} is not {times.words}")
    return naive


def listed(value: Any, field: str) -> list[Any]:
    """A JSON list (absent: empty), or Bad."""
    if value is None:
        return []
    if type(value) is not list:
        raise Bad(field, f"expected {field} as a list, got {snippet(value)}")
    return value


def texts(value: Any, field: str) -> list[str]:
    """A list of texts (absent: empty), blank ones left out, or Bad."""
    out = []
    for item in listed(value, field):
        if type(item) is not str:
            raise Bad(field, f"expected {field} as a list of texts, got {snippet(value)}")
        if item.strip():
            out.append(item)
    return out


def found_in(value: str | None, *, dotted: bool = False) -> tuple[list[str], list[str], list[str]]:
    """The hashtags, mentions and URLs of a text, by the shared rules (`entities`); a
    regex runs only when the text holds its marker (`#`, `@`, `://`), which most texts
    lack: the regexes, over Unicode classes, cost 20 us a text and were half the read."""
    if not value:
        return [], [], []
    tags = entities.hashtags(value, dotted=dotted) if "#" in value or "\uff03" in value else []
    named = entities.mentions(value, dotted=dotted) if "@" in value or "\uff20" in value else []
    links = entities.urls(value) if "://" in value else []
    return tags, named, links


def joined(where: str, field: str | None) -> str | None:
    """`items[2]` and `snippet.publishedAt` -> `items[2].snippet.publishedAt`."""
    if not where:
        return field or None
    return f"{where}.{field}" if field else where


# A tweet's first line in another platform's reader: its keys are unlike any of theirs.
TWEET_FIRST = "its first line is a tweet; read it with --format twarc2 or twitter-v1."


def not_first(expected: str, first: dict[str, Any]) -> str:
    """`check_first`'s answer for a first value of no known shape: what was expected and
    (up to eight of) the keys it has."""
    shown_keys = ", ".join(list(first)[:8])
    return f"{expected}; the first line has {shown_keys or 'no fields'}."


# -- reading -----------------------------------------------------------------------------


def read_records(path: Path, options: ReadOptions, shape: Shape) -> Iterator[Batch]:
    """The batches of a file of `shape`'s records, JSON lines or one document."""
    if options.mapping:
        raise MappingError(
            f"{path}: --map does not apply to the {shape.name} format, whose fields are fixed. "
            "Drop --map (or read the file as a table with --format table)."
        )
    with open_input(path) as handle:
        first = first_content_line(handle, MAX_LINE_BYTES)
    if first is None:
        raise FormatError(path, f"the file is empty; {shape.expected}.")
    is_lines, value = _json_lines(path, first)
    if not first.lstrip().startswith((b"{", b"[")):
        raise FormatError(
            path,
            f"this is not JSON: it starts {first[:60].decode('utf-8', 'replace')!r}; "
            f"{shape.expected}.",
            "Check the file, or name its format with --format.",
        )
    if is_lines and first.lstrip().startswith(b"{"):
        # One object per line, the common shape and the big files (a month of Reddit):
        # read by jsonfile in blocks, in worker processes when the file is big.
        _check(path, shape, value)
        parse = partial(parse_block, shape=shape, options=options)
        description = f"{shape.name} file"
        platform = options.platform or shape.name
        yield from read_json_lines(path, options, parse, shape.check_first, description, platform)
    elif is_lines:
        _check(path, shape, value)
        yield from _lines(path, options, shape)
    else:
        yield from _document(path, options, shape)


def _json_lines(path: Path, first: bytes) -> tuple[bool, Any]:
    """Whether the file is JSON lines, and its first value that parses. It is when its
    first line is a whole JSON value, or (that line broken: a bad record, not a bad
    file) when one of the next few lines is a whole object starting the line; a
    pretty-printed document's lines are never whole (`{`, `  "kind": ...,`)."""
    try:
        return True, orjson.loads(first)
    except orjson.JSONDecodeError:
        pass
    with open_input(path) as handle:
        for number, (_, line, _) in enumerate(file_lines(handle)):
            if number > _LOOK_AHEAD:
                break
            if number and line.startswith(b"{"):
                try:
                    return True, orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
    return False, None


_LOOK_AHEAD = 5  # lines looked at to tell JSON lines whose first line is broken


def _check(path: Path, shape: Shape, value: Any) -> None:
    first = value[0] if type(value) is list and value else value
    problem = shape.check_first(first) if type(first) is dict else None
    if problem:
        raise FormatError(
            path,
            f"this is not {shape.name} data: {problem}",
            "Check the file, or name its format with --format.",
        )


def _add(
    builder: BatchBuilder,
    shape: Shape,
    record: Any,
    where: str,
    line: int | None,
    options: ReadOptions,
) -> None:
    """Add one record, or its reject: the field named where it sits (`items[3].id`), so
    that a document's reject, which has no line, still says which record it is. A record
    a walker wrapped with its context (a thread's comment) shows its `raw` value."""
    try:
        post, author = shape.convert(record, options)
    except Bad as bad:
        raw = snippet(getattr(record, "raw", record))
        builder.add_reject(Reject(line, joined(where, bad.field), bad.reason, raw))
        return
    if author is not None:
        builder.add_account(author)
    builder.add_post(post)


def parse_block(
    block: bytes,
    first_line: int,
    platform: str,
    chunk_size: int,
    read_id: str = "",
    *,
    shape: Shape,
    options: ReadOptions,
) -> list[Batch]:
    """The batches of a block of whole JSON lines (`first_line` is the number of its
    first), as `jsonfile.read_json_lines` asks of a reader, inline or in a worker. The
    platform is the shape's converters' (from `options`); `read_id` is not needed: these
    formats embed no records to remember across lines."""
    builder = BatchBuilder(chunk_size)
    out = []
    for number, line in content_lines(block, first_line):
        _line(builder, shape, options, number, line)
        if builder.full():
            out.append(builder.take())
    out.extend(builder.drain())
    return out


def _line(
    builder: BatchBuilder, shape: Shape, options: ReadOptions, number: int, line: bytes
) -> None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        builder.add_reject(Reject(number, None, _bad_line(line, exc), snippet(line)))
        return
    for where, record in shape.walk(value):
        _add(builder, shape, record, where, number, options)


def _lines(path: Path, options: ReadOptions, shape: Shape) -> Iterator[Batch]:
    """JSON lines whose first is not an object (a list per line): read here, in order."""
    builder = BatchBuilder(options.chunk_size)
    with open_input(path) as handle:
        for number, line, too_long in file_lines(handle):
            if too_long:
                reason = f"the line is longer than {MAX_LINE_BYTES // 2**20} MiB; no record is"
                builder.add_reject(Reject(number, None, reason + " that long", snippet(line)))
                continue
            _line(builder, shape, options, number, line)
            if builder.full():
                yield builder.take(raw_position(handle))
        position = raw_position(handle)
    yield from builder.drain(position)


def _bad_line(line: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return (
            f"invalid UTF-8 bytes at byte {bad.start + 1} of the line; the file must be "
            "UTF-8: re-save or re-export it as UTF-8"
        )
    return f"invalid JSON ({exc}); the line may be cut short (a truncated file?)"


def _document(path: Path, options: ReadOptions, shape: Shape) -> Iterator[Batch]:
    keys = _document_keys(path, shape)
    base = ".".join(keys or ())
    builder = BatchBuilder(options.chunk_size)
    count = 0
    checked = False
    with open_input(path) as raw:
        guard = Utf8Guard(raw)
        try:
            events = ijson.basic_parse(guard, use_float=True)
            values = document_values(events, array=keys is not None, keys=keys or ())
            for index, value in enumerate(values):
                outer = f"{base}[{index}]" if keys is not None else ""
                if value is TOO_DEEP:
                    count += 1
                    reason = f"the value nests deeper than {MAX_NESTING} levels"
                    builder.add_reject(Reject(None, outer or None, reason))
                    continue
                if not checked:
                    _check(path, shape, value)
                    checked = True
                for where, record in shape.walk(value):
                    count += 1
                    place = joined(outer, where) or outer
                    given = getattr(record, "raw", record)
                    if guard.dirty_read and holds_replacement(given):
                        reason = "invalid UTF-8 bytes; re-save the file as UTF-8"
                        builder.add_reject(Reject(None, place or None, reason, snippet(given)))
                    else:
                        _add(builder, shape, record, place, None, options)
                if builder.full():
                    yield builder.take(guard.position)
        except ijson.JSONError as exc:
            if not count:
                raise FormatError(
                    path,
                    f"is not valid JSON near byte {guard.position} ({why(exc)}); {shape.expected}.",
                ) from exc
            reason = (
                f"the file breaks off after record {count}, near byte {guard.position} "
                f"({why(exc)}); the rest is lost: the file is cut short or damaged"
            )
            builder.add_reject(Reject(None, None, reason))
    yield from builder.drain(guard.position)


def _document_keys(path: Path, shape: Shape) -> tuple[str, ...] | None:
    """Where the document's pages or records sit: the keys of the first of the shape's
    prefixes whose array the document opens (() for a top-level array: its items); else
    None: the document itself is one record or page, read whole. Read from ijson's basic
    events, whose memory the nesting does not blow up (`jsonvalues.document_values`)."""
    wanted = {tuple(p.removesuffix("item").removesuffix(".").split(".")) for p in shape.prefixes}
    with open_input(path) as raw:
        try:
            return array_at(ijson.basic_parse(Utf8Guard(raw), use_float=True), wanted)
        except ijson.JSONError as exc:
            raise FormatError(path, f"is not valid JSON ({why(exc)}); {shape.expected}.") from exc


def items_at(value: Any, field: str, where: str) -> Iterator[tuple[str, Any]]:
    """(where, item) for each item of the list `value[field]`; a value that is no list
    is itself one record, which its converter rejects."""
    items = value.get(field) if type(value) is dict else None
    place = joined(where, field) or field
    if items is None:
        return
    if type(items) is not list:
        yield place, items
        return
    for index, item in enumerate(items):
        yield f"{place}[{index}]", item
