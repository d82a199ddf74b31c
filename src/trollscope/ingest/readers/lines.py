"""Blank lines passed over at the speed of reading, for every line-based reader.

A blank line (empty, or only spaces, tabs and carriage returns) is not a record: it is
neither read nor rejected. Looking at each one in Python costs a microsecond or two (a
failed JSON parse raises), so a file of blank lines read at 1.3 MB/s (a gzip of 1 MB
holds a GB of them: half an hour). Here a run of blank lines is crossed by one regex
search in C (about 300 MB/s), and only lines that hold something reach Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark some tools write
# A blank line inside a block: where a block has none, it is simply split.
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")
# The first byte of a line's content (bytes.strip's whitespace is what is blank).
_CONTENT = re.compile(rb"[^ \t\n\r\f\v]")
_SCAN_BYTES = 1 << 20


def content_lines(block: bytes, first_line: int) -> Iterator[tuple[int, bytes]]:
    """The lines of `block` that are not blank, each with its physical line number
    (`first_line` is the number of the block's first line), without the final newline."""
    if _BLANK_LINE.search(block) is None:
        # The usual block: at most a blank line at either end, passed over here.
        for offset, data in enumerate(block.split(b"\n")):
            if data.strip():
                yield first_line + offset, data
        return
    search, count, find, rfind = _CONTENT.search, block.count, block.find, block.rfind
    pos, line = 0, first_line
    while (found := search(block, pos)) is not None:
        newline = rfind(b"\n", pos, found.start())
        start = pos if newline < 0 else newline + 1
        line += count(b"\n", pos, start)
        end = find(b"\n", found.start())
        if end < 0:
            yield line, block[start:]
            return
        yield line, block[start:end]
        line += 1
        pos = end + 1


def first_content_line(handle: IO[bytes], limit: int) -> bytes | None:
    """The first line of `handle` that is not blank (a leading BOM dropped), holding at
    most `limit` bytes after its first chunk; None when the file is all blank."""
    first = True
    while chunk := handle.read(_SCAN_BYTES):
        if first:
            chunk, first = chunk.removeprefix(BOM), False
        found = _CONTENT.search(chunk)
        if found is None:
            continue
        line = chunk[chunk.rfind(b"\n", 0, found.start()) + 1 :]
        end = line.find(b"\n")
        return line[: end + 1] if end >= 0 else line + handle.readline(limit)
    return None
