"""JSON values built from ijson's basic events, in memory bounded whatever the nesting.

ijson's prefixed events (`ijson.items`, `ijson.parse`) hold a path per level, and build a
new one for each event: their memory and time grow with the square of the nesting, and
a 400 kB file of nested brackets took over 3 GB. Every reader that streams a JSON
document (`jsonvalues`, `jsonrecords`, `crowdtangle_api`, `telegram_json`) builds its
values here instead, from `ijson.basic_parse`: an item nested deeper than MAX_NESTING is
passed over and stands as TOO_DEEP (the reader's reject), and a path is kept only as
deep as the reader looks (`array_at`, `shallow_parse`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Deeper than any API response nests (orjson refuses JSON lines nested deeper than 1024).
MAX_NESTING = 512
TOO_DEEP = object()  # stands for an item nested deeper than MAX_NESTING


def document_values(
    events: Iterator[tuple[str, Any]], *, array: bool, keys: tuple[str, ...] = ()
) -> Iterator[Any]:
    """The items of the array (`array`), or the value, that the document holds at `keys`
    (object keys from the top; none: the top-level value), built from ijson's basic
    events. Its prefixed events (`ijson.items`, `ijson.parse`) hold a path per level, so
    their memory grows with the square of the nesting: a 200 kB file of brackets took
    gigabytes. An item nested deeper than MAX_NESTING is passed over and stands as
    TOO_DEEP."""
    if keys:
        events = _at(events, keys)
    base = 1 if array else 0  # the depth of the items' own containers, less one
    depth = 0
    stack: list[Any] = []
    key: str = ""
    skipping = False
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "start_map" or event == "start_array":
            depth += 1
            if depth <= base or skipping:
                continue
            if depth - base > MAX_NESTING:
                skipping, stack = True, []
                continue
            child: Any = {} if event == "start_map" else []
            if stack:
                attach(stack[-1], key, child)
            stack.append(child)
        elif event == "end_map" or event == "end_array":
            depth -= 1
            if depth < base:
                continue
            if skipping:
                if depth == base:
                    skipping = False
                    yield TOO_DEEP
                continue
            done = stack.pop()
            if not stack:
                yield done
        elif not skipping:
            if stack:
                attach(stack[-1], key, value)
            elif depth == base:
                yield value  # a bare number or text as an item (a reject)


def _at(events: Iterator[tuple[str, Any]], keys: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """The events of the value at `keys`; the others are passed over, counting depth only."""
    depth = 0  # the containers open
    matched = 0  # the objects open at depths 1 to matched + 1 lie on `keys`' path
    inside = 0  # while the value at `keys` is given: its containers open
    wanted = False  # the last key read is the next of `keys`, where it is looked for
    for event, value in events:
        if inside or (wanted and matched + 1 == len(keys)):
            yield event, value
            if event == "start_map" or event == "start_array":
                inside += 1
            elif event == "end_map" or event == "end_array":
                inside -= 1
            wanted = False
            continue
        if event == "map_key":
            wanted = depth == matched + 1 and value == keys[matched]
            continue
        if event == "start_map" or event == "start_array":
            depth += 1
            if wanted and event == "start_map":
                matched += 1
        elif event == "end_map" or event == "end_array":
            depth -= 1
            matched = min(matched, max(depth - 1, 0))
        wanted = False


def array_at(
    events: Iterator[tuple[str, Any]], paths: set[tuple[str, ...]]
) -> tuple[str, ...] | None:
    """The first of `paths` (object keys from the top) where the document opens an array,
    () for a top-level array, None for none. Keys are kept only as deep as the longest
    path, so that memory stays bounded whatever the nesting."""
    deepest = max(map(len, paths), default=0)
    trail: list[str | None] = []  # the open containers' keys (None in an array)
    maps: list[bool] = []  # whether each open container is an object
    depth = 0
    key = ""
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "start_map" or event == "start_array":
            depth += 1
            if depth == 1:
                if event == "start_array":
                    return ()
                maps = [True]
            elif depth - 1 <= deepest:
                del trail[depth - 2 :], maps[depth - 1 :]
                trail.append(key if maps[depth - 2] else None)
                maps.append(event == "start_map")
                if event == "start_array" and tuple(trail) in paths:
                    return tuple(str(k) for k in trail)
        elif event == "end_map" or event == "end_array":
            depth -= 1
    return None


def attach(parent: Any, key: str, value: Any) -> None:
    if type(parent) is dict:
        parent[key] = value
    else:
        parent.append(value)


# The prefix `shallow_parse` gives the events deeper than it looks: no path a reader
# matches holds a NUL.
DEEP = "\x00deep"


def shallow_parse(
    events: Iterator[tuple[str, Any]], deepest: int = 8
) -> Iterator[tuple[str, str, Any]]:
    """`ijson.parse`'s (prefix, event, value) from basic events, the prefixes kept only
    `deepest` containers down: the deeper events carry DEEP."""
    stack: list[tuple[str, bool]] = []  # the open containers' prefixes, and if arrays
    depth = 0
    current = ""  # the prefix of the next value
    for event, value in events:
        if event == "map_key":
            shallow = 0 < depth <= deepest
            yield (stack[-1][0] if shallow else DEEP), event, value
            if shallow:
                current = f"{stack[-1][0]}.{value}" if stack[-1][0] else value
        elif event == "start_map" or event == "start_array":
            own = current if depth < deepest else DEEP
            yield own, event, value
            depth += 1
            if depth <= deepest:
                array = event == "start_array"
                stack.append((own, array))
                if array:
                    current = f"{own}.item" if own else "item"
        elif event == "end_map" or event == "end_array":
            if depth <= deepest:
                yield stack.pop()[0], event, value
                if not stack:
                    current = ""  # the next of several top-level values (JSON lines)
                elif stack[-1][1]:
                    current = f"{stack[-1][0]}.item" if stack[-1][0] else "item"
            else:
                yield DEEP, event, value
            depth -= 1
        else:
            yield (current if depth <= deepest else DEEP), event, value
