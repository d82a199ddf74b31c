"""A damaged .gz input is refused in one sentence that names the file and what to do;
nothing is written (issue 19: a cut file said "the file is empty" or only "Aborted!", a
bad CRC printed a traceback)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import DATA
from trollscope.cli import cli
from trollscope.errors import FormatError
from trollscope.ingest.run import ingest


def _cut(data: bytes, share: float) -> bytes:
    packed = gzip.compress(data)
    return packed[: int(len(packed) * share)]


def _bad_crc(data: bytes) -> bytes:
    packed = bytearray(gzip.compress(data))
    packed[-6] ^= 0xFF  # the CRC-32 in the trailer
    return bytes(packed)


def _jsonl() -> bytes:
    return (DATA / "twarc2" / "search_pages.jsonl").read_bytes() * 200


def _csv(copies: int) -> bytes:
    head, body = (DATA / "table" / "coortweet_shares.csv").read_bytes().split(b"\n", 1)
    return head + b"\n" + body * copies


CASES = {
    "jsonl cut early": ("t.jsonl.gz", lambda: _cut(_jsonl(), 0.5)),
    "jsonl bad crc": ("t.jsonl.gz", lambda: _bad_crc(_jsonl())),
    "csv cut in its head": ("t.csv.gz", lambda: _cut(_csv(50), 0.5)),
    "csv cut after its head": ("t.csv.gz", lambda: _cut(_csv(3000), 0.8)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_damaged_gzip_is_refused_in_words(tmp_path: Path, name: str) -> None:
    filename, make = CASES[name]
    path = tmp_path / filename
    path.write_bytes(make())
    case = tmp_path / "case.duckdb"
    with pytest.raises(FormatError, match="the gzip data is damaged") as info:
        ingest(case, [path])
    assert f"gunzip -t {filename}" in str(info.value)
    assert not case.exists(), "a new case is not left behind"


def test_an_existing_case_is_unchanged_and_the_cli_exits_1(tmp_path: Path) -> None:
    case = tmp_path / "case.duckdb"
    ingest(case, [DATA / "table" / "coortweet_shares.csv"])
    before = hashlib.sha256(case.read_bytes()).hexdigest()
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(_cut(_jsonl(), 0.5))
    out = CliRunner().invoke(cli, ["ingest", str(path), "--into", str(case)])
    assert out.exit_code == 1
    assert "the gzip data is damaged" in out.output and "Aborted" not in out.output
    assert hashlib.sha256(case.read_bytes()).hexdigest() == before
