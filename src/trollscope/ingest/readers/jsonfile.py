"""Reading a JSON-lines file in blocks of whole lines, in worker processes when it is big.

A reader supplies `parse_block(block, first_line, platform, chunk_size, read_id)`, which
turns a block of lines into batches (see `jsonrows`), and `check_first`, which says why
a file's first object is not its format. `read_json_lines` does the rest and yields the
batches in file order, so the first copy of a post is the first in the file.

Why processes: per tweet, orjson's parse and the Python that maps it cost about ten times
what staging in DuckDB does, and both hold the GIL; so a big file is parsed by worker
processes while this process feeds DuckDB. Each worker reads its own byte range of the
file (only a gzip stream, which cannot be entered midway, is read here and sent to the
workers), returns Arrow batches with line numbers counted from its range's start, and
this process adds the lines of the ranges before. Small files (every test fixture) are
parsed inline: starting workers costs a fraction of a second.

Line numbers are 1-based physical lines. A line over MAX_LINE_BYTES is never held in
memory: it becomes a reject with its first bytes.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeAlias, TypeVar

import orjson
import pyarrow.compute as pc

from trollscope.errors import FormatError
from trollscope.ingest.batches import Batch
from trollscope.ingest.readers.base import ReadOptions, is_gzip, open_input, raw_position
from trollscope.ingest.readers.jsonrows import RAW_CHARS, Rows, snippet
from trollscope.ingest.readers.lines import content_lines, first_content_line
from trollscope.ingest.workers import die_with_parent

R = TypeVar("R")

ParseBlock: TypeAlias = Callable[[bytes, int, str, int, str], list[Batch]]
CheckFirst: TypeAlias = Callable[[dict[str, Any]], str | None]

BLOCK_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024 * 1024
# Files smaller than this are parsed in this process; bigger ones by worker processes.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
MAX_WORKERS = 8
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark some tools write


class Block(NamedTuple):
    """Whole lines of the file, `line` the number of the first. `too_long` marks a single
    line over MAX_LINE_BYTES, of which `data` holds only the start (it is not kept)."""

    line: int
    data: bytes
    too_long: bool = False


def line_blocks(handle: IO[bytes], size: int) -> Iterator[Block]:
    line = 1
    first = True
    while data := handle.read(size):
        if first and data.startswith(BOM):
            data = data[3:]
        first = False
        if not data.endswith(b"\n"):
            tail = handle.readline(MAX_LINE_BYTES)
            if tail.endswith(b"\n") or len(tail) < MAX_LINE_BYTES:
                data += tail
            else:
                cut = data.rfind(b"\n") + 1
                head, long_line = data[:cut], data[cut:] + tail
                skip_line(handle)
                if head:
                    yield Block(line, head)
                    line += head.count(b"\n")
                yield Block(line, long_line[:RAW_CHARS], too_long=True)
                line += 1
                continue
        yield Block(line, data)
        line += data.count(b"\n")


def skip_line(handle: IO[bytes]) -> None:
    """Move past the end of the current line, holding at most MAX_LINE_BYTES of it."""
    while (piece := handle.readline(MAX_LINE_BYTES)) and not piece.endswith(b"\n"):
        pass


def _too_long(block: Block, platform: str) -> list[Batch]:
    rows = Rows({}, platform)
    limit = (
        f"{MAX_LINE_BYTES // 2**20} MiB" if MAX_LINE_BYTES >= 2**20 else f"{MAX_LINE_BYTES} bytes"
    )
    rows.reject(
        block.line,
        None,
        f"the line is longer than {limit}; no tweet or response page is that long",
        snippet(block.data),
    )
    return [rows.take()]


def _first_line(block: Block) -> bytes | None:
    if block.too_long:
        return block.data
    return next((line for _, line in content_lines(block.data, block.line)), None)


def _workers(size: int) -> int:
    # Workers are forked: a spawned worker would re-run the caller's main module, which
    # breaks any script that calls ingest without an `if __name__ == "__main__"` guard.
    # Forking is safe here (the child only parses; no DuckDB query runs while it forks)
    # and only Linux offers it without caveats, so elsewhere the file is parsed inline.
    if size < PARALLEL_MIN_BYTES or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def read_json_lines(
    path: Path,
    options: ReadOptions,
    parse_block: ParseBlock,
    check_first: CheckFirst,
    description: str,
    platform: str,
) -> Iterator[Batch]:
    """Yield the batches of a JSON-lines file, in file order.

    `check_first` looks at the first object of the file and returns why the file is not
    this format (None if it is): a file that is not JSON lines at all, or JSON lines of
    another shape, is a FormatError before anything is read, never a pile of rejects.
    """
    size = path.stat().st_size
    workers = _workers(size)
    chunk = max(1, options.chunk_size)
    read_id = uuid.uuid4().hex  # scopes what the parsers remember (jsonrows.seen_for)
    if workers > 1 and not is_gzip(path):
        _check_start(path, check_first, description)
        yield from _in_ranges(path, size, workers, parse_block, platform, chunk, read_id)
        return
    with open_input(path) as handle:
        blocks = _checked(path, line_blocks(handle, BLOCK_BYTES), check_first, description)
        if workers == 1:
            for block in blocks:
                if block.too_long:
                    batches = _too_long(block, platform)
                else:
                    batches = parse_block(block.data, block.line, platform, chunk, read_id)
                yield from _with_progress(batches, raw_position(handle))
            return
        with _pool(workers) as pool:

            def submitted() -> Iterator[tuple[Future[list[Batch]], int]]:
                for block in blocks:
                    if block.too_long:
                        future: Future[list[Batch]] = Future()
                        future.set_result(_too_long(block, platform))
                    else:
                        future = pool.submit(
                            parse_block, block.data, block.line, platform, chunk, read_id
                        )
                    yield future, raw_position(handle)

            yield from _in_file_order(submitted(), workers, _with_progress)


def _in_file_order(
    submitted: Iterator[tuple[Future[R], int]],
    workers: int,
    finish: Callable[[R, int], list[Batch]],
) -> Iterator[Batch]:
    """The batches of worker results in submission order (each with the file position it
    reached), keeping a bounded window of futures so that memory stays at a few blocks
    per worker; futures still pending when the reader stops are cancelled."""
    window: deque[tuple[Future[R], int]] = deque()
    try:
        for entry in submitted:
            window.append(entry)
            if len(window) >= 2 * workers:
                done, position = window.popleft()
                yield from finish(done.result(), position)
        while window:
            done, position = window.popleft()
            yield from finish(done.result(), position)
    finally:
        for pending, _ in window:
            pending.cancel()


def _pool(workers: int) -> ProcessPoolExecutor:
    # Workers end with this process, even one killed with SIGKILL (`die_with_parent`).
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )
    with warnings.catch_warnings():
        # The pool forks its workers on its first task. Python 3.12+ warns on every fork
        # of a process that has threads (DuckDB's); see `_workers` for why it is safe here.
        warnings.simplefilter("ignore", DeprecationWarning)
        pool.submit(int).result()
    return pool


def _in_ranges(
    path: Path,
    size: int,
    workers: int,
    parse_block: ParseBlock,
    platform: str,
    chunk: int,
    read_id: str,
) -> Iterator[Batch]:
    """The batches of an uncompressed file, each worker reading a byte range of it."""
    lines_before = 0

    def numbered(result: tuple[list[Batch], int], position: int) -> list[Batch]:
        nonlocal lines_before
        batches, lines = result
        for batch in batches:
            if batch.rejects.num_rows:
                shifted = pc.add(batch.rejects.column("line"), lines_before)
                batch.rejects = batch.rejects.set_column(0, "line", shifted)
        lines_before += lines
        return _with_progress(batches, position)

    with _pool(workers) as pool:

        def submitted() -> Iterator[tuple[Future[tuple[list[Batch], int]], int]]:
            for start in range(0, size, BLOCK_BYTES):
                end = min(start + BLOCK_BYTES, size)
                args = (parse_block, str(path), start, end, platform, chunk, read_id)
                yield pool.submit(parse_range, *args), end

        yield from _in_file_order(submitted(), workers, numbered)


def parse_range(
    parse_block: ParseBlock,
    path: str,
    start: int,
    end: int,
    platform: str,
    chunk: int,
    read_id: str,
) -> tuple[list[Batch], int]:
    """In a worker: the batches of the lines that begin in bytes [start, end) of a file,
    their line numbers counted from 1, and how many lines they are."""
    with open(path, "rb") as handle:
        if start:
            handle.seek(start - 1)
            skip_line(handle)  # a line begun before `start` belongs to the range before
        position = handle.tell()
        if position >= end:
            return [], 0
        data = handle.read(end - position)
        if start == 0 and data.startswith(BOM):
            data = data[3:]
        too_long = b""
        if not data.endswith(b"\n"):
            tail = handle.readline(MAX_LINE_BYTES)
            if tail.endswith(b"\n") or len(tail) < MAX_LINE_BYTES:
                data += tail  # the last line begins here: read it to its end
            else:
                cut = data.rfind(b"\n") + 1
                data, too_long = data[:cut], data[cut:] + tail
                skip_line(handle)
    lines = data.count(b"\n")
    batches = parse_block(data, 1, platform, chunk, read_id) if data else []
    if too_long:
        batches += _too_long(Block(lines + 1, too_long[:RAW_CHARS], too_long=True), platform)
        lines += 1
    elif data and not data.endswith(b"\n"):
        lines += 1  # the file's last line, with no line end
    return batches, lines


def _with_progress(batches: list[Batch], position: int) -> list[Batch]:
    if batches:
        batches[-1].bytes_done = position
    return batches


def _check_start(path: Path, check_first: CheckFirst, description: str) -> None:
    """Check the file's first line that is not blank (see `_check_first`)."""
    with open_input(path) as handle:
        line = first_content_line(handle, MAX_LINE_BYTES)
    if line is None:
        raise FormatError(path, f"the file is empty; expected a {description}.")
    _check_first(path, line, check_first, description)


def _checked(
    path: Path,
    blocks: Iterator[Block],
    check_first: CheckFirst,
    description: str,
) -> Iterator[Block]:
    """The blocks, after checking that the file's first line is this format's."""
    checked = False
    for block in blocks:
        if not checked and (first := _first_line(block)) is not None:
            _check_first(path, first, check_first, description)
            checked = True
        yield block
    if not checked:
        raise FormatError(path, f"the file is empty; expected a {description}.")


def _check_first(
    path: Path,
    line: bytes,
    check_first: CheckFirst,
    description: str,
) -> None:
    hint = "Check the file, or name its format with --format."
    if not line.lstrip().startswith(b"{"):
        shown = line[:80].decode("utf-8", errors="replace")
        raise FormatError(
            path,
            f"this is not a {description}: its first line is not a JSON object "
            f"(it starts {shown!r}).",
            hint,
        )
    try:
        first = orjson.loads(line)
    except orjson.JSONDecodeError:
        return  # a broken first line is that line's problem (a reject), not the file's
    if isinstance(first, dict) and (problem := check_first(first)):
        raise FormatError(path, f"this is not a {description}: {problem}", hint)


def sniff_keys(data: bytes) -> tuple[set[str], set[str], dict[str, str]]:
    """For sniffing: the top-level keys of the first JSON object in `data`, the keys of
    its first `data` item (or of `data` itself when it is an object), and its top-level
    text values. `data` may stop mid-object (a head of 64 KiB)."""
    import ijson  # only sniffing needs a parser that survives a cut-off object

    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    top: set[str] = set()
    item: set[str] = set()
    texts: dict[str, str] = {}
    if not start.startswith(b"{"):
        return top, item, texts
    key = None
    try:
        for prefix, event, value in ijson.parse(start, multiple_values=True):
            if prefix == "" and event == "end_map":
                break
            if prefix == "" and event == "map_key":
                top.add(value)
                key = value
            elif prefix in ("data.item", "data") and event == "map_key":
                item.add(value)
            elif prefix == "data.item" and event == "end_map":
                break  # the first tweet of a page is enough
            elif prefix == key and event == "string":
                texts[key] = value
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError):
        pass
    return top, item, texts
