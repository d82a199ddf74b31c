"""The one registry of input formats: it feeds --format choices, sniffing, docs and tests.

Order matters for sniffing only where two formats could both claim a file: the more
specific format comes first.
"""

from __future__ import annotations

from pathlib import Path

from trollscope.errors import FormatError
from trollscope.ingest.readers.base import Head, Reader
from trollscope.ingest.readers.bluesky import BlueskyReader
from trollscope.ingest.readers.cnt import CntReader
from trollscope.ingest.readers.crowdtangle import CrowdTangleReader
from trollscope.ingest.readers.crowdtangle_api import CrowdTangleApiReader
from trollscope.ingest.readers.ioarchive import IoTweetsReader, IoUsersReader
from trollscope.ingest.readers.ira import IraReader
from trollscope.ingest.readers.kinds import refuse_unreadable
from trollscope.ingest.readers.mastodon import MastodonReader
from trollscope.ingest.readers.meta import MetaContentLibraryReader
from trollscope.ingest.readers.reddit import RedditReader
from trollscope.ingest.readers.table import CoortweetReader, TableReader
from trollscope.ingest.readers.telegram import TelegramReader
from trollscope.ingest.readers.tiktok import TikTokReader
from trollscope.ingest.readers.twarc2 import Twarc2Reader
from trollscope.ingest.readers.twitter_v1 import TwitterV1Reader
from trollscope.ingest.readers.youtube import YouTubeReader
from trollscope.registry import Registry

READERS: Registry[type[Reader]] = Registry(
    "format",
    (
        # Before twarc2: a Content Library API page {"data": [{"id", "text", ...}]} looks
        # like a twarc2 page to twarc2's sniffing; its creation_time and owner do not.
        MetaContentLibraryReader,
        Twarc2Reader,
        TwitterV1Reader,
        CoortweetReader,
        TelegramReader,
        CrowdTangleApiReader,
        BlueskyReader,
        MastodonReader,
        RedditReader,
        YouTubeReader,
        TikTokReader,
        IoTweetsReader,
        IoUsersReader,
        IraReader,
        CrowdTangleReader,
        TableReader,
        # Last: a header-less CNT file is recognised only by its shape (8 fields, a number
        # as the 7th), so every format with a clearer signature is tried first.
        CntReader,
    ),
)


def names() -> list[str]:
    return READERS.names()


def get(name: str) -> Reader:
    if name not in READERS:
        raise FormatError(name, f"is not a known format; choose one of: {', '.join(names())}.")
    return READERS[name]()


def sniff(path: Path) -> Reader:
    """The reader whose format the content of `path` shows, or a FormatError."""
    head = Head.of(path)
    if not head.data.strip():
        raise FormatError(path, "the file is empty; there is nothing to ingest.")
    refuse_unreadable(head)
    for cls in READERS.values():
        reader = cls()
        if reader.sniffable and reader.sniff(head):
            return reader
    first = head.first_line[:120]
    raise FormatError(
        path,
        f"the format could not be recognised from its content (first line: {first!r}).",
        "Known formats: "
        + ", ".join(f"{c.name} ({c.description})" for c in READERS.values())
        + ". Name one with --format, or map a table's columns with --map.",
    )
