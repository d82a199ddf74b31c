"""Files that no reader takes, known by their first bytes and refused in one sentence.

Every reader expects UTF-8 text with `\\n` or `\\r\\n` line ends (or a Parquet table, read
through a column mapping). Anything else handed to ingest (an archive, a database, a
program, UTF-16 text from Excel's "Unicode text", a classic Mac CSV whose lines end in a
lone `\\r`) used to reach the format sniffer, which crashed on it or called it an unknown
format. Here it is named, with what to do, before any reader sees it.
"""

from __future__ import annotations

from typing import NamedTuple

from trollscope.errors import FormatError
from trollscope.ingest.readers.base import Head

UTF8_BOM = b"\xef\xbb\xbf"
PARQUET_MAGIC = b"PAR1"
_INSIDE = "and ingest the files inside"
_DECOMPRESS = "and ingest the result (gzip files, .gz, are read as they are)"


class Kind(NamedTuple):
    """A kind of file known by `magic` at byte `offset`: what it is, and what to do."""

    offset: int
    magic: bytes
    what: str
    todo: str


_OFFICE = "save it as CSV (UTF-8) and ingest that"
KINDS = (
    # An .xlsx or .docx is a zip whose first entry names its parts.
    Kind(30, b"[Content_Types].xml", "an Office document (such as an .xlsx workbook)", _OFFICE),
    Kind(0, b"PK\x03\x04", "a zip archive", f"unzip it {_INSIDE}"),
    Kind(0, b"PK\x05\x06", "an empty zip archive", "there is nothing in it to ingest"),
    Kind(0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", f"extract it (7z x) {_INSIDE}"),
    Kind(0, b"Rar!\x1a\x07", "a RAR archive", f"extract it (unrar x) {_INSIDE}"),
    Kind(257, b"ustar", "a tar archive", f"unpack it (tar -xf) {_INSIDE}"),
    Kind(0, b"BZh", "bzip2-compressed", f"decompress it (bunzip2) {_DECOMPRESS}"),
    Kind(0, b"\xfd7zXZ\x00", "xz-compressed", f"decompress it (unxz) {_DECOMPRESS}"),
    Kind(0, b"\x28\xb5\x2f\xfd", "zstd-compressed", f"decompress it (unzstd) {_DECOMPRESS}"),
    Kind(
        8,
        b"DUCK",
        "a DuckDB database, such as a trollscope case, not an input",
        "run trollscope info or detect on a case; ingest reads exported files",
    ),
    Kind(
        0,
        b"SQLite format 3\x00",
        "an SQLite database",
        "export its tables as CSV and ingest those, mapped with --map",
    ),
    Kind(
        0,
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Office document (such as an .xls workbook)",
        _OFFICE,
    ),
    Kind(0, b"%PDF-", "a PDF document", "ingest the data it was made from"),
    Kind(0, b"\x7fELF", "a program, not an export", "check the file name"),
)
_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_SAMPLE = 4096  # bytes looked at for NULs and control bytes
# Bytes text may hold: all but the control bytes other than tab, line ends, form feed and
# escape.
_TEXT = bytes(range(0x20, 0x100)) + b"\t\n\v\f\r\x1b"


def refuse_unreadable(head: Head, *, table: bool = False) -> None:
    """Raise a FormatError when `head` is the start of a file no reader takes.

    `table`: the file is read as a mapped table (--format table or --map), for which a
    Parquet file is an input like a CSV one.
    """
    data = head.data
    for kind in KINDS:
        if data[kind.offset : kind.offset + len(kind.magic)] == kind.magic:
            _refuse(head, kind.what, kind.todo)
    if data.startswith(PARQUET_MAGIC):
        if table:
            return  # binary, and a table all the same
        _refuse(
            head,
            "a Parquet file",
            "give --format table with --map FIELD=COLUMN,... (post_id, account_id and "
            "created_at at least) to read it as a mapped table",
        )
    if encoding := _wide_encoding(data):
        _refuse(
            head,
            f"{encoding} text",
            f"re-encode it as UTF-8, e.g. with iconv -f {encoding} -t UTF-8",
        )
    sample = data[:_SAMPLE]
    # A stray control byte is a bad row's problem; a tenth of them is not text at all.
    if len(sample.translate(None, _TEXT)) > len(sample) // 10:
        _refuse(head, "binary data, not a text export", "check that it is the file you meant")
    text = data.removeprefix(UTF8_BOM)
    if b"\n" not in text and b"\r" in text.rstrip():
        _refuse(
            head,
            "text with carriage-return-only line endings (classic Mac)",
            "convert them to \\n, e.g. with tr '\\r' '\\n'",
        )


def _refuse(head: Head, what: str, todo: str) -> None:
    raise FormatError(head.path, f"this is {what}: {todo}.")


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16 or UTF-32 by its byte order mark, or UTF-16 without one: text in it holds a
    NUL in every other byte (ASCII letters), all on the same side."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    sample = data[:_SAMPLE]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if len(sample) >= 8 and max(even, odd) >= len(sample) // 4 and min(even, odd) <= 1:
        return "UTF-16"
    return None
