"""The one registry of input formats: it feeds --format choices, sniffing, docs and tests.

Order matters for sniffing only where two formats could both claim a file: the more
specific format comes first.
"""

from __future__ import annotations

from pathlib import Path

from trollscope.errors import FormatError
from trollscope.readers.base import Head, Reader
from trollscope.readers.cnt import CntReader
from trollscope.readers.crowdtangle import CrowdTangleReader
from trollscope.readers.crowdtangle_api import CrowdTangleApiReader
from trollscope.readers.ioarchive import IoTweetsReader, IoUsersReader
from trollscope.readers.ira import IraReader
from trollscope.readers.table import CoortweetReader, TableReader
from trollscope.readers.telegram import TelegramReader
from trollscope.readers.twarc2 import Twarc2Reader
from trollscope.readers.twitter_v1 import TwitterV1Reader

READERS: tuple[type[Reader], ...] = (
    Twarc2Reader,
    TwitterV1Reader,
    CoortweetReader,
    TelegramReader,
    CrowdTangleApiReader,
    IoTweetsReader,
    IoUsersReader,
    IraReader,
    CrowdTangleReader,
    TableReader,
    # Last: a header-less CNT file is recognised only by its shape (8 fields, a number
    # as the 7th), so every format with a clearer signature is tried first.
    CntReader,
)

BY_NAME: dict[str, type[Reader]] = {cls.name: cls for cls in READERS}


def names() -> list[str]:
    return [cls.name for cls in READERS]


def get(name: str) -> Reader:
    try:
        return BY_NAME[name]()
    except KeyError:
        raise FormatError(
            name, f"is not a known format; choose one of: {', '.join(names())}."
        ) from None


def sniff(path: Path) -> Reader:
    """The reader whose format the content of `path` shows, or a FormatError."""
    head = Head.of(path)
    if not head.data.strip():
        raise FormatError(path, "the file is empty; there is nothing to ingest.")
    for cls in READERS:
        reader = cls()
        if reader.sniffable and reader.sniff(head):
            return reader
    first = head.first_line[:120]
    raise FormatError(
        path,
        f"the format could not be recognised from its content (first line: {first!r}).",
        "Known formats: "
        + ", ".join(f"{c.name} ({c.description})" for c in READERS)
        + ". Name one with --format, or map a table's columns with --map.",
    )
