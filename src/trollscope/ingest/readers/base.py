"""The reader contract: one module per format, each a small class registered in `registry.py`.

To add a format: write a module with a `Reader` subclass that sets `name`, `version`,
`description`, implements `sniff` (does this content look like my format?) and `read`
(yield canonical `Batch`es, setting bad records aside as rejects), then add the class to
`registry.READERS`. The contract tests in tests/ingest/readers run on it for free.

A reader knows nothing of traces or detection, and never reads or writes the case's own
tables. `read` parses with DuckDB as a private engine (an in-memory connection) or in
Python. `stage`, the fast path, is handed the case's connection for one purpose: to fill
the ingest's temporary staging tables (`staging.py`) with SQL, inside the ingest's
transaction, so that millions of rows never cross into Python; the ingest, not the
reader, merges them into `posts` and `accounts`.
"""

from __future__ import annotations

import gzip
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar, Literal, cast

import duckdb

from trollscope.errors import FormatError, MappingError
from trollscope.ingest import staging
from trollscope.ingest.batches import DEFAULT_CHUNK, Batch
from trollscope.ingest.readers.lines import first_content_line
from trollscope.model import TimeRange

HEAD_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_input(path: Path) -> IO[bytes]:
    """Open an input file for binary reading, decompressing gzip transparently.

    Exports are often shipped as .gz; every reader opens its input through here. The
    progress of a gzip file is measured in compressed bytes (`raw_position`).
    """
    if is_gzip(path):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def raw_position(handle: IO[bytes]) -> int:
    """Bytes of the file on disk consumed so far (compressed bytes for gzip)."""
    if isinstance(handle, gzip.GzipFile):
        return int(handle.fileobj.tell()) if handle.fileobj else 0
    return handle.tell()


@dataclass(frozen=True, slots=True)
class Head:
    """The start of a file, for sniffing: the raw bytes and the first line as text."""

    path: Path
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    @property
    def first_line(self) -> str:
        text = self.text.lstrip("\ufeff")
        return text.split("\n", 1)[0].rstrip("\r")

    @classmethod
    def of(cls, path: Path) -> Head:
        """The file's first HEAD_BYTES; when they are all blank, its first HEAD_BYTES
        from the first line that is not (blank lines are not records), if any."""
        with open_input(path) as handle:
            try:
                data = handle.read(HEAD_BYTES)
                if len(data) == HEAD_BYTES and not data.strip():
                    line = first_content_line(handle, HEAD_BYTES) or b""
                    data = line + handle.read(max(0, HEAD_BYTES - len(line)))
            except GZIP_ERRORS as error:
                raise damaged_gzip(path, error) from None
            return cls(path=path, data=data)


# What a gzip stream raises when it is cut short (EOFError) or corrupt (BadGzipFile, an
# OSError; zlib.error): the whole file is refused in words, never read in part.
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def damaged_gzip(path: Path, error: BaseException) -> FormatError:
    detail = str(error) or type(error).__name__
    return FormatError(
        path,
        f"the gzip data is damaged ({detail}): the file was cut short or corrupted.",
        f"Test it with `gunzip -t {path.name}`, then copy or download it again.",
    )


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """What the user told us about the input beyond its bytes.

    `mapping` maps canonical field names to the file's column names (`--map`);
    `platform` overrides the platform a reader would otherwise assume; `timezone` (an
    IANA name) is the zone of local times whose own label does not settle it (CrowdTangle
    exports); `times` is the range a record's times must lie in (`--earliest`,
    `--latest`), which every reader checks its times against.
    """

    platform: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    timezone: str | None = None
    chunk_size: int = DEFAULT_CHUNK
    times: TimeRange = field(default_factory=TimeRange)


def check_timezone(path: Path, reader: Reader, timezone: str | None) -> None:
    """Refuse a --timezone that is not an IANA zone name (DuckDB would fail per row), or
    that the format has no use for (its times say their zone)."""
    if timezone is None:
        return
    from zoneinfo import available_timezones

    if timezone not in available_timezones():
        raise MappingError(
            f"--timezone {timezone!r} is not an IANA time zone name; use one such as "
            "America/New_York, Europe/Berlin or Asia/Manila (or UTC)."
        )
    if not reader.takes_timezone:
        raise MappingError(
            f"{path}: --timezone does not apply to the {reader.name} format, whose times say "
            "their zone. Drop --timezone for this file (it is for CrowdTangle exports and "
            "mapped tables with local times)."
        )


class Reader(ABC):
    """One input format. Subclasses are stateless; `read` may be called on many files."""

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str]
    # What one input record is: a post (most formats) or an account (a users file).
    unit: ClassVar[Literal["posts", "accounts"]] = "posts"
    # Whether `sniff` alone can pick this format. A generic reader (mapped CSV) cannot:
    # it is chosen with --format or --map.
    sniffable: ClassVar[bool] = True
    # Whether the format can hold local times without their offset, which --timezone
    # places; the others say their times' zone, and refuse --timezone.
    takes_timezone: ClassVar[bool] = False

    @abstractmethod
    def sniff(self, head: Head) -> bool:
        """True when the start of the file is unmistakably this format."""

    @abstractmethod
    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        """Yield canonical batches. Raise `FormatError` when the file is not this format."""

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        options: ReadOptions,
        progress: staging.Progress | None = None,
    ) -> staging.Staged:
        """Fill the ingest's staging tables (see `staging.py`) with this file's records.

        By default the batches of `read` are appended. A reader whose parsing runs in
        DuckDB anyway overrides this to stage with SQL on `con` directly, so millions of
        rows never cross into Python and back.
        """
        return staging.append_batches(con, self.read(path, options), progress)
