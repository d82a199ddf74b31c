"""Blank lines are not records, and are passed over at the speed of reading (issue 19: 10 MB
of blank lines in a .jsonl took 19 s, so a 1 MB gzip holding 1 GB of them took half an
hour; a file opening with more than 64 KiB of them was called empty)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import DATA, counts, query
from trollscope.errors import FormatError
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.run import ingest

JSON_LINES = {
    "twarc2": DATA / "twarc2" / "search_pages.jsonl",
    "twitter-v1": DATA / "twitter_v1" / "stream.jsonl",
    "crowdtangle-api": DATA / "crowdtangle_api" / "links.jsonl",
}
# Empty lines, spaces, tabs and carriage returns: every kind of blank line.
RUN = b"\n" * 600 + b"   \n" * 150 + b"\t \r\n" * 150 + b" \r\n" * 100
RUN_BYTES = 8 * 2**20  # before each record: 8 MiB of blank lines, 24-40 MiB in a file
# Fixed, each file takes well under half a second; before, about 20 s.
BOUND_S = 5.0


def _interleaved(lines: list[bytes]) -> tuple[bytes, list[int]]:
    """The lines with a run of blank lines before each (the first run over 64 KiB, more
    than the sniffer's head), and the physical line number each line now has."""
    run = RUN * (RUN_BYTES // len(RUN))
    run_lines = run.count(b"\n")
    parts, numbers, line = [], [], 1
    for text in lines:
        parts += [run, text]
        line += run_lines
        numbers.append(line)
        line += 1
    return b"".join(parts), numbers


def _rejects(case: Path) -> list[tuple[object, ...]]:
    return query(case, "SELECT line, field, reason FROM rejects ORDER BY line, field, reason")


@pytest.mark.parametrize("fmt", sorted(JSON_LINES))
def test_blank_lines_are_neither_read_nor_rejected_and_cost_little(
    tmp_path: Path, fmt: str
) -> None:
    source = JSON_LINES[fmt]
    plain_case = tmp_path / "plain.duckdb"
    plain = ingest(plain_case, [source]).files[0]

    lines = source.read_bytes().splitlines(keepends=True)
    lines.append(b"{not json\n")  # a bad line after the blanks names its own line
    data, numbers = _interleaved(lines)
    path = tmp_path / f"blank{source.suffix}"
    path.write_bytes(data)
    case = tmp_path / "case.duckdb"
    started = time.perf_counter()
    result = ingest(case, [path]).files[0]
    took = time.perf_counter() - started

    assert result.format == fmt
    read, stored, duplicate, rejected = counts(plain)
    assert counts(result) == (read + 1, stored, duplicate, rejected + 1)
    moved = [(numbers[int(line) - 1], fld, why) for line, fld, why in _rejects(plain_case)]
    bad = [r for r in _rejects(case) if r[0] == numbers[-1]]
    assert len(bad) == 1 and "JSON" in str(bad[0][2])
    assert sorted(set(_rejects(case)) - set(bad)) == sorted(moved)
    assert took < BOUND_S, f"{len(data) / 2**20:.0f} MiB took {took:.1f} s"


CSV_FILES: dict[str, tuple[Path, dict[str, str]]] = {
    "io-tweets": (DATA / "ioarchive" / "tweets.csv", {}),
    "crowdtangle": (DATA / "crowdtangle" / "pages.csv", {}),
    "cnt-csv": (DATA / "cnt" / "messages.csv", {}),
    "table": (
        DATA / "table" / "comments.csv",
        {"post_id": "comment_id", "account_id": "user", "created_at": "posted"},
    ),
}
# DuckDB passes over empty lines itself; a line of spaces was a short row to it, a reject
# per missing column at about 130 us and a few hundred bytes each (1 MB of them: 45 s,
# 10 GB), and a rejected record. Before the fix, these took about 5 s and 1 GB.
SPACES = b"   \n" * 3_000 + b" \t \n" * 3_000 + b"\n" * 200_000


def _records_interleaved(data: bytes, run: bytes) -> bytes:
    """The CSV with `run` before each record after the header (a line inside a quoted
    field, where the quotes before it are odd in number, is left alone)."""
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    run = run.replace(b"\n", newline)
    lines = data.split(newline)
    out, quotes = [lines[0]], lines[0].count(b'"')
    for line in lines[1:]:
        out.append(run + line if quotes % 2 == 0 and line else line)
        quotes += line.count(b'"')
    return newline.join(out)


@pytest.mark.parametrize("fmt", sorted(CSV_FILES))
def test_blank_csv_lines_are_neither_read_nor_rejected_and_cost_little(
    tmp_path: Path, fmt: str
) -> None:
    source, mapping = CSV_FILES[fmt]
    options = ReadOptions(mapping=mapping)
    plain_case = tmp_path / "plain.duckdb"
    plain = ingest(plain_case, [source], fmt=fmt, options=options).files[0]
    path = tmp_path / f"blank-{source.name}"
    path.write_bytes(_records_interleaved(source.read_bytes(), SPACES))
    case = tmp_path / "case.duckdb"
    started = time.perf_counter()
    result = ingest(case, [path], fmt=fmt, options=options).files[0]
    took = time.perf_counter() - started

    assert counts(result) == counts(plain)
    why = "SELECT field, reason FROM rejects ORDER BY ALL"
    assert query(case, why) == query(plain_case, why)
    assert took < BOUND_S, f"{path.stat().st_size / 2**20:.0f} MiB took {took:.1f} s"
    assert not list(Path(tempfile.gettempdir()).glob("trollscope-*.csv")), "copy removed"


def test_blank_lines_inside_a_quoted_field_are_its_text(tmp_path: Path) -> None:
    path = tmp_path / "comments.csv"
    path.write_bytes(
        b"comment_id,user,posted,body,reply_to\n"
        b'c1,u1,2021-06-01T12:00:00Z,"one\n   \n\t\ntwo",\n'
        b"   \n"
        b"c2,u1,2021-06-01T12:00:01Z,three,\n"
    )
    case = tmp_path / "case.duckdb"
    options = ReadOptions(mapping={**CSV_FILES["table"][1], "text": "body"})
    result = ingest(case, [path], fmt="table", options=options).files[0]
    assert (result.read, result.stored, result.rejected) == (2, 2, 0)
    assert query(case, "SELECT text FROM posts ORDER BY post_id") == [
        ("one\n   \n\t\ntwo",),
        ("three",),
    ]


def test_a_file_of_only_blank_lines_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_bytes(RUN * 200)
    case = tmp_path / "case.duckdb"
    with pytest.raises(FormatError, match="the file is empty"):
        ingest(case, [path])
    assert not case.exists()
