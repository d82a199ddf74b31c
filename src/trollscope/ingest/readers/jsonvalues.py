"""JSON values one by one, from JSON lines or from one JSON document, for the readers of
API responses (`bluesky`, `mastodon`) that users save either way.

A file is JSON lines when its first line that is not blank is a whole JSON value by
itself: each line is then an object, or an array of objects (a timeline page that `curl`
saved on one line). Otherwise it is one document, pretty-printed: an array, whose items
are streamed from ijson's events and never held together, or an object (one API
response, whose size the API's page limit bounds), read whole.

The reader supplies `add(builder, value, line, where)`, which turns one object into
canonical records on the builder (posts and rejects count as records; what it leaves
out, it leaves uncounted). `where` prefixes a reject's reason with the value's place
when the line alone does not say it ("item 3 of the line: ", "item 3: "); `line` is the
physical line, None in a document (a JSON parser gives no useful line numbers).

What becomes a reject here: a line that is not JSON (cut short, bad bytes, nested
deeper than orjson's 1024 levels), a line or item that is not an object, an item of a
document holding bytes that are not UTF-8 or nested deeper than MAX_NESTING levels, and
the break of a document cut short (one reject standing for the unreadable rest, after the
items read before it). A file whose first value is not this format's (`check_first`) is
refused whole before anything is read.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeAlias

import ijson
import orjson

from trollscope.errors import FormatError
from trollscope.ingest.batches import Batch, BatchBuilder
from trollscope.ingest.readers.base import ReadOptions, open_input, raw_position
from trollscope.ingest.readers.jsonevents import MAX_NESTING, TOO_DEEP, attach, document_values
from trollscope.ingest.readers.jsonfile import BLOCK_BYTES, MAX_LINE_BYTES, line_blocks
from trollscope.ingest.readers.jsonrows import snippet
from trollscope.ingest.readers.lines import content_lines, first_content_line
from trollscope.ingest.readers.telegram_json import REPLACEMENT, Utf8Guard, why
from trollscope.model import Reject, TimeRange, count_value, key_problem, shown

Add: TypeAlias = Callable[[BatchBuilder, dict[str, Any], int | None, str], None]
CheckFirst: TypeAlias = Callable[[dict[str, Any]], str | None]

HINT = "Check the file, or name its format with --format."


def read_values(
    path: Path,
    options: ReadOptions,
    add: Add,
    check_first: CheckFirst,
    expected: str,
) -> Iterator[Batch]:
    """The batches of a file of JSON values (see the module's docstring). `expected`
    completes "this is not ..." and "the file is empty; ..." in a FormatError."""
    with open_input(path) as handle:
        first = first_content_line(handle, MAX_LINE_BYTES)
    if first is None:
        raise FormatError(path, f"the file is empty; expected {expected}.")
    start = first.lstrip()[:1]
    if start not in (b"{", b"["):
        shown = first[:80].decode("utf-8", errors="replace")
        raise FormatError(
            path,
            f"this is not {expected}: its first line is not a JSON object or array "
            f"(it starts {shown!r}).",
            HINT,
        )
    reader = _Values(path, options, add, check_first, expected)
    if _is_document(first):
        yield from reader.document(start)
    else:
        yield from reader.lines()


def _is_document(first: bytes) -> bool:
    """A pretty-printed document: its first line is not a JSON value by itself, and
    opens an array or an object without closing it on that line."""
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        opened = first.strip()
        return opened in (b"{", b"[", b"[{") or opened.endswith((b"{", b"["))
    return False


class _Values:
    def __init__(
        self,
        path: Path,
        options: ReadOptions,
        add: Add,
        check_first: CheckFirst,
        expected: str,
    ) -> None:
        self.path = path
        self.options = options
        self.builder = BatchBuilder(options.chunk_size)
        self.add = add
        self.check_first = check_first
        self.expected = expected
        self.checked = False

    def _check(self, value: dict[str, Any]) -> None:
        if not self.checked:
            self.checked = True
            if problem := self.check_first(value):
                raise FormatError(self.path, f"this is not {self.expected}: {problem}", HINT)

    def _one(self, value: Any, line: int | None, where: str) -> None:
        if type(value) is dict:
            self._check(value)
            self.add(self.builder, value, line, where)
        else:
            kind = "an array" if type(value) is list else f"{raw_text(value)[:40]}"
            reason = f"{where}expected a JSON object, got {kind}"
            self.builder.add_reject(Reject(line, None, reason, raw_text(value)))

    def lines(self) -> Iterator[Batch]:
        builder = self.builder
        with open_input(self.path) as handle:
            for number, data, _ in file_lines(handle):
                try:
                    value = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    builder.add_reject(Reject(number, None, _bad_line(data, exc), snippet(data)))
                    continue
                if type(value) is list:
                    for index, item in enumerate(value, 1):
                        self._one(item, number, f"item {index} of the line: ")
                else:
                    self._one(value, number, "")
                if builder.full():
                    yield builder.take(raw_position(handle))
            position = raw_position(handle)
        yield from builder.drain(position)

    def document(self, start: bytes) -> Iterator[Batch]:
        builder = self.builder
        count = 0
        with open_input(self.path) as raw:
            guard = Utf8Guard(raw)
            try:
                events = ijson.basic_parse(guard, use_float=True)
                for value in document_values(events, array=start == b"["):
                    count += 1
                    where = f"item {count}: " if start == b"[" else ""
                    if value is TOO_DEEP:
                        reason = f"{where}the value nests deeper than {MAX_NESTING} levels"
                        builder.add_reject(Reject(None, None, reason))
                    elif guard.dirty_read and holds_replacement(value):
                        reason = f"{where}invalid UTF-8 bytes; re-save the file as UTF-8"
                        builder.add_reject(Reject(None, None, reason, raw_text(value)))
                    else:
                        self._one(value, None, where)
                    if builder.full():
                        yield builder.take(guard.position)
            except (ijson.JSONError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
                if not count:
                    raise FormatError(
                        self.path,
                        f"breaks off before its first item, near byte {guard.position} "
                        f"({why(exc)}); expected {self.expected}.",
                    ) from exc
                reason = (
                    f"the file breaks off after item {count}, near byte {guard.position} "
                    f"({why(exc)}); the rest is lost: the file is cut short or damaged"
                )
                builder.add_reject(Reject(None, None, reason))
        yield from builder.drain(guard.position)


def _bad_line(data: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid UTF-8 bytes; re-save the file as UTF-8"
    return f"not valid JSON ({exc}); the line may be cut short"


def holds_replacement(value: Any) -> bool:
    """Whether a string anywhere in `value` holds U+FFFD (a byte Utf8Guard replaced);
    walked with a stack, since hostile values nest deeper than Python recurses."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if REPLACEMENT in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def raw_text(value: object) -> str:
    """A value for a reject's `raw` (`jsonrows.snippet`); one nested deeper than Python
    can show (hostile input: a thousand opening brackets) is named, not shown."""
    try:
        return snippet(value)
    except RecursionError:
        return "(a value nested too deeply to show)"


def file_lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """The lines that are not blank, with their numbers, and whether the line is longer
    than MAX_LINE_BYTES (then only its start is given: it is not JSON, so it becomes a
    reject)."""
    for block in line_blocks(handle, BLOCK_BYTES):
        if block.too_long:
            yield block.line, block.data, True
        else:
            for number, line in content_lines(block.data, block.line):
                yield number, line, False


def first_object(data: bytes) -> tuple[dict[str, Any], bool]:
    """For sniffing: the first JSON object of a file's head (the first line's, or the
    first item of an array), as far as the head holds it, and whether it was whole.
    Nested objects and arrays are kept to three levels; `data` may stop mid-object."""
    start = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not start.startswith((b"{", b"[")):
        return {}, False
    line = start.split(b"\n", 1)[0]
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    else:
        if type(value) is list:
            value = value[0] if value else None
        return (value, True) if type(value) is dict else ({}, False)
    return _partial(start), False


def _partial(start: bytes) -> dict[str, Any]:
    """The first object of a head cut anywhere, built from ijson's basic events (see
    `jsonevents.document_values` for why not its prefixed ones), to four levels."""
    array = start.startswith(b"[")
    found: dict[str, Any] = {}
    stack: list[Any] = []
    key = ""
    depth = 0
    try:
        for event, value in ijson.basic_parse(start, multiple_values=True):
            if event == "map_key":
                key = value
            elif event in ("start_map", "start_array"):
                depth += 1
                if not stack:
                    if event == "start_map" and depth == 1 + array:
                        stack.append(found)
                    elif depth > 1 + array:
                        break  # the first item is not an object
                    continue
                child: Any = {} if event == "start_map" else []
                if len(stack) < 4:
                    attach(stack[-1], key, child)
                stack.append(child)
            elif event in ("end_map", "end_array"):
                depth -= 1
                if stack:
                    stack.pop()
                    if not stack:
                        break
            elif stack:
                attach(stack[-1], key, value)
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError):
        pass
    return found


class ValueRecords:
    """The records of one top-level value, added to the builder as they are found: what
    the bluesky and mastodon readers' walkers share (their state and their rejects)."""

    def __init__(
        self, builder: BatchBuilder, line: int | None, where: str, platform: str, times: TimeRange
    ) -> None:
        self.builder = builder
        self.line = line
        self.where = where
        self.platform = platform
        self.times = times

    def reject(self, field: str | None, reason: str, raw: object) -> None:
        self.builder.add_reject(Reject(self.line, field, self.where + reason, raw_text(raw)))

    def reject_unknown(self, value: dict[str, Any], expected: str) -> None:
        """The reject of a value of none of the reader's shapes, naming its first keys."""
        shown_keys = ", ".join(list(value)[:8])
        self.reject(None, f"expected {expected}; the object has {shown_keys or 'no fields'}", value)


# The checks of one value's fields, as the API readers share them: a field that fails
# raises `Bad` naming it, and the reader turns that into the reject of its record.


class Bad(Exception):
    """A record's field that cannot be read: `field` as the file names it, and why."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def text(value: object) -> str | None:
    """A text field; absent, empty or not text is None."""
    return value if type(value) is str and value else None


def obj(value: object) -> dict[str, Any]:
    """An object field; anything else is an empty object (its fields then are absent)."""
    return value if type(value) is dict else _NO_FIELDS


def items(value: object) -> list[Any]:
    """A list field; anything else is an empty list."""
    return value if type(value) is list else _NO_ITEMS


_NO_FIELDS: dict[str, Any] = {}
_NO_ITEMS: list[Any] = []


def key(value: object, field: str, *, required: bool = False) -> str | None:
    """An id or handle (text, no control character), or Bad naming `field`."""
    if value is None or value == "":
        if required:
            raise Bad(field, f"{field} is missing")
        return None
    if type(value) is not str:
        raise Bad(field, f"expected {field} as text, got {shown(value)}")
    if problem := key_problem(field, value):
        raise Bad(field, problem)
    return value


def iso_time(
    value: object, field: str, times: TimeRange, *, required: bool = True
) -> datetime | None:
    """An ISO 8601 time (`2024-09-09T19:46:02.102Z`) as naive UTC inside `times`, or Bad
    naming `field`. A time without an offset is taken as UTC."""
    if value is None and not required:
        return None
    if type(value) is str:
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            when = None
        if when is not None:
            if when.tzinfo is not None:
                when = when.astimezone(UTC).replace(tzinfo=None)
            if not times.contains(when):
                raise Bad(field, f"{field} {shown(value)} is not {times.words}")
            return when
    if value is None:
        raise Bad(field, f"{field} is missing")
    raise Bad(field, f"expected {field} like '2024-09-09T19:46:02.102Z', got {shown(value)}")


def count(value: object, field: str) -> int | None:
    """A count (None when absent), or Bad naming `field` when it is not one."""
    number, problem = count_value(field, value)
    if problem:
        raise Bad(field, problem)
    return number


def extra_json(pairs: dict[str, Any]) -> str | None:
    """`extra` as JSON text: the pairs whose value is not None, or None when none is."""
    kept = {k: v for k, v in pairs.items() if v is not None}
    return orjson.dumps(kept).decode("utf-8") if kept else None


def unique(values: list[str]) -> list[str]:
    """The values in order, each once (a link given as a facet and as a card)."""
    return list(dict.fromkeys(values))
