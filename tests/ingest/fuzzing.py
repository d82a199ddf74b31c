"""Mutations of valid input files, and the promises every reader keeps on any of them.

Shared by the bounded fuzz tests in `make test` (tests/ingest/test_fuzz.py, a fixed
derandomised budget, so that CI is repeatable) and the longer random run in
benchmarks/fuzz.py. A mutation starts from a well-formed sample of a format and damages
it the ways real files get damaged: cut at any byte, bit flips, bytes that do not belong
(NUL, a lone carriage return, invalid UTF-8), other line endings and encodings, huge and
deeply nested values, lines repeated or dropped, gzip packing and damage.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from tests.conftest import DATA
from trollscope.case.info import case_info
from trollscope.errors import TrollscopeError
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest

Mutation = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Sample:
    """A well-formed file of one format, and how to read it."""

    fmt: str
    path: Path
    mapping: str = ""

    @property
    def suffix(self) -> str:
        return self.path.suffix

    def options(self) -> ReadOptions:
        return ReadOptions(platform="twitter", mapping=parse_mapping(self.mapping))


# One sample per reader (the `table` reader with a mapping, as a user would give it).
SAMPLES = [
    Sample("twarc2", DATA / "twarc2" / "search_pages.jsonl"),
    Sample("twarc2", DATA / "twarc2" / "flattened.jsonl"),
    Sample("twitter-v1", DATA / "twitter_v1" / "three_tweets.jsonl"),
    Sample("coortweet", DATA / "table" / "coortweet_shares.csv"),
    Sample("telegram", DATA / "telegram" / "full" / "result.json"),
    Sample("crowdtangle-api", DATA / "crowdtangle_api" / "links.jsonl"),
    Sample("crowdtangle-api", DATA / "crowdtangle_api" / "search.json"),
    Sample("reddit", DATA / "reddit" / "RS_sample.jsonl"),
    Sample("youtube", DATA / "youtube" / "comment_threads.json"),
    Sample("tiktok", DATA / "tiktok" / "videos.jsonl"),
    Sample("meta-content-library", DATA / "meta_content_library" / "facebook_posts.csv"),
    Sample("bluesky", DATA / "bluesky" / "jetstream.jsonl"),
    Sample("mastodon", DATA / "mastodon" / "home_timeline.json"),
    Sample("io-tweets", DATA / "ioarchive" / "tweets.csv"),
    Sample("io-users", DATA / "ioarchive" / "users.csv"),
    Sample("ira", DATA / "ira" / "IRAhandle_tweets_sample.csv"),
    Sample("crowdtangle", DATA / "crowdtangle" / "pages.csv"),
    Sample(
        "table",
        DATA / "table" / "comments.csv",
        "post_id=comment_id,account_id=user,created_at=posted,text=body,reply_to=reply_to",
    ),
    Sample("cnt-csv", DATA / "cnt" / "messages.csv"),
]

# Bytes that break parsers: NUL, lone CR, invalid UTF-8, a UTF-8 BOM, a C1 control, an
# escape sequence, quotes and separators, a huge token, deep nesting.
NASTY = [
    b"\x00",
    b"\r",
    b"\r\n",
    b"\xff\xfe",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"\xc2\x9b",
    b"\x1b]52;c;aGk=\x07",
    b'"',
    b",",
    b"\t",
    b"\\",
    b"{",
    b"]",
    b"9" * 40,
    b"-1e309",
    b"x" * 200_000,
    b"[" * 3000,
    b'{"a":' * 1000,
]


def _at(data: bytes, share: float) -> int:
    return int(len(data) * share)


def truncate(share: float) -> Mutation:
    return lambda data: data[: _at(data, share)]


def flip(share: float, bit: int) -> Mutation:
    def apply(data: bytes) -> bytes:
        if not data:
            return data
        i = min(_at(data, share), len(data) - 1)
        return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]

    return apply


def insert(share: float, junk: bytes) -> Mutation:
    return lambda data: data[: _at(data, share)] + junk + data[_at(data, share) :]


def insert_nasty(share: float, which: int) -> Mutation:
    """One of NASTY, named by its index (Hypothesis shows the index, not 200 kB)."""
    return insert(share, NASTY[which])


def line_endings(ending: bytes) -> Mutation:
    return lambda data: data.replace(b"\r\n", b"\n").replace(b"\n", ending)


def encoding(name: str) -> Mutation:
    return lambda data: data.decode("utf-8", "replace").encode(name, "replace")


def _line_edit(share: float, edit: Callable[[list[bytes], int], list[bytes]]) -> Mutation:
    """`edit` applied to the file's lines at the line `share` of the way through."""

    def apply(data: bytes) -> bytes:
        lines = data.splitlines(keepends=True)
        if not lines:
            return data
        return b"".join(edit(lines, min(int(len(lines) * share), len(lines) - 1)))

    return apply


def repeat_line(share: float) -> Mutation:
    return _line_edit(share, lambda lines, i: lines[: i + 1] + lines[i:])


def drop_line(share: float) -> Mutation:
    return _line_edit(share, lambda lines, i: lines[:i] + lines[i + 1 :])


def gzipped(damage: Mutation | None = None) -> Mutation:
    # mtime=0: the same input gives the same bytes, so that a failure replays.
    def apply(data: bytes) -> bytes:
        packed = gzip.compress(data, mtime=0)
        return damage(packed) if damage else packed

    return apply


def raw_deflate(data: bytes) -> bytes:
    """Deflate without gzip's header: bytes no reader knows, under a .gz name."""
    return zlib.compress(data)


shares = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)

mutations: st.SearchStrategy[Mutation] = st.one_of(
    st.builds(truncate, shares),
    st.builds(flip, shares, st.integers(0, 7)),
    st.builds(insert_nasty, shares, st.integers(0, len(NASTY) - 1)),
    st.builds(insert, shares, st.binary(min_size=1, max_size=64)),
    st.builds(line_endings, st.sampled_from([b"\r\n", b"\r", b"\n\n", b"\n \t\n"])),
    st.builds(encoding, st.sampled_from(["utf-16", "utf-16-be", "latin-1", "cp1252"])),
    st.builds(repeat_line, shares),
    st.builds(drop_line, shares),
)

# One to three damages in a row, then perhaps gzip (perhaps damaged again after packing).
mutation_chains = st.tuples(
    st.lists(mutations, min_size=1, max_size=3),
    st.one_of(
        st.none(),
        st.just(gzipped()),
        st.builds(gzipped, st.builds(truncate, shares)),
        st.builds(gzipped, st.builds(flip, shares, st.integers(0, 7))),
        st.just(raw_deflate),
    ),
)


def mutate(data: bytes, chain: tuple[list[Mutation], Mutation | None]) -> tuple[bytes, bool]:
    """The damaged bytes, and whether they are gzip-packed (then the file is named .gz)."""
    steps, packing = chain
    for step in steps:
        data = step(data)
    if packing is None:
        return data, False
    return packing(data), True


@dataclass(frozen=True)
class Outcome:
    """What one ingest of damaged input did: refused in words, or stored what it could."""

    refused: str | None
    read: int = 0
    stored: int = 0


def check_ingest(sample: Sample, data: bytes, packed: bool, folder: Path, sniff: bool) -> Outcome:
    """Ingest damaged bytes and assert the promises every reader keeps:
    - only our own errors escape (a one-sentence TrollscopeError), never a crash;
    - a refused new case is not left behind;
    - counts add up per file: read = stored + duplicate + rejected;
    - the case opens and `info` describes it."""
    path = folder / f"input{sample.suffix}{'.gz' if packed else ''}"
    path.write_bytes(data)
    case = folder / "case.duckdb"
    try:
        result = ingest(case, [path], fmt=None if sniff else sample.fmt, options=sample.options())
    except TrollscopeError as exc:
        message = str(exc)
        assert message.strip(), "an error says something"
        assert "Traceback" not in message
        assert not case.exists(), f"a refused new case is left behind: {message}"
        return Outcome(refused=message)
    (done,) = result.files
    assert done.read == done.stored + done.duplicate + done.rejected, done
    assert min(done.read, done.stored, done.duplicate, done.rejected) >= 0, done
    case_info(case)  # the case opens and describes itself (it crashed on impossible times)
    return Outcome(refused=None, read=done.read, stored=done.stored)
