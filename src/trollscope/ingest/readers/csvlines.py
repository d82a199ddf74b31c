"""A CSV's whitespace-only lines, emptied before DuckDB reads the file.

DuckDB's CSV reader passes over empty lines in C, but takes a line of spaces, tabs or
carriage returns for a short row: one error per missing column, each costing about
130 us and a few hundred bytes in its rejects table. A megabyte of such lines in a
31-column file took 45 s and 10 GB of memory, and each line was counted as a rejected
record although a blank line is none. So a CSV is first scanned (a regex in C, about
1 GB/s, and a count of quotes, since a blank line inside a quoted field is text); when it
holds such lines outside quotes, DuckDB reads a copy in which they are empty. An empty
line is a row in DuckDB's numbering as the original was, so row numbers do not change.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from trollscope.ingest.readers.base import open_input

CHUNK_BYTES = 16 * 1024 * 1024
# Whitespace and line ends after a newline: blank lines up to its last newline, then
# perhaps the indent of the line after. One match per run of blank lines, crossed in
# one tight loop in C (a repeated group costs a step per line: 4x slower). `text` given
# to it starts with a newline so that its first line is found too.
_BLANK_RUN = re.compile(rb"\n([ \t\r\f\v\n]+)")
Span = tuple[int, int, bytes]


class _Scanner:
    """The runs of blank lines outside quoted fields that hold more than line ends,
    piece after piece of a file, with what they become: their line ends alone.

    A line inside a quoted field is the field's text: it is inside when the quotes
    before it are odd in number (an escaped quote is written twice, so it keeps the
    count's parity).
    """

    def __init__(self) -> None:
        self.inside = False
        self.first = True
        self.line_start = False  # whether the piece to come begins a line
        self.drop = b" \t\f\v\r"  # what a blank line loses: a CRLF file keeps its \r

    def spans(self, piece: bytes) -> list[Span]:
        """Where in `piece`, the file's next bytes, runs to rewrite are, and their text."""
        if self.first:
            newline = piece.find(b"\n")
            if newline > 0 and piece[newline - 1] == 13:
                self.drop = b" \t\f\v"
        # The file's first line is its header, never blank here; a piece that goes on
        # with a line longer than a piece does not begin one.
        shift = int(self.line_start)
        text = b"\n" + piece if shift else piece
        self.first, self.line_start = False, piece.endswith(b"\n")
        found: list[Span] = []
        last, count, drop = 0, text.count, self.drop
        for match in _BLANK_RUN.finditer(text):
            run = match.group(1)
            run = run[: run.rfind(b"\n") + 1]  # the indent of a line is not blank
            if not run.strip(b"\n"):
                continue  # empty lines, as DuckDB reads them
            start = match.start(1)
            self.inside ^= bool(count(b'"', last, start) & 1)
            last = start
            emptied = run.translate(None, drop)
            if not self.inside and emptied != run:
                found.append((start - shift, start + len(run) - shift, emptied))
        self.inside ^= bool(count(b'"', last) & 1)
        return found


def _pieces(handle: IO[bytes]) -> Iterator[bytes]:
    """The stream in pieces that end at a line end (a line longer than a piece, or the
    file's last line, excepted)."""
    carry = b""
    while data := handle.read(CHUNK_BYTES):
        data = carry + data
        cut = data.rfind(b"\n") + 1 or len(data)
        carry = data[cut:]
        yield data[:cut]
    if carry:
        yield carry


def has_space_lines(path: Path) -> bool:
    """Whether the CSV at `path` has a whitespace-only line outside quoted fields."""
    scanner = _Scanner()
    with open_input(path) as handle:
        return any(scanner.spans(piece) for piece in _pieces(handle))


def emptied_copy(path: Path) -> Path:
    """A temporary copy of the CSV at `path` (decompressed) with its whitespace-only
    lines outside quoted fields made empty. The caller removes it."""
    scanner = _Scanner()
    handle_out, name = tempfile.mkstemp(prefix="trollscope-", suffix=".csv")
    try:
        with open_input(path) as handle, os.fdopen(handle_out, "wb") as out:
            for piece in _pieces(handle):
                last = 0
                for start, end, emptied in scanner.spans(piece):
                    out.write(piece[last:start])
                    out.write(emptied)
                    last = end
                out.write(piece[last:])
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)
