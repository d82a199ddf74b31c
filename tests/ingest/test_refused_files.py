"""Files no reader takes are refused in one sentence that names the file and what to do,
exit 1, nothing written (issue 19: the sniffer crashed with `_csv.Error: new-line
character seen in unquoted field` on a lone carriage return, or called a zip, a Parquet
file or a case an unknown format)."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.conftest import DATA
from trollscope.cli import cli
from trollscope.ingest.run import ingest

TWEETS = DATA / "ioarchive" / "tweets.csv"


def _lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _parquet(_: Path) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({"id": ["1"], "user": ["u"], "at": ["2021-06-01T12:00:00Z"]}), out)
    return out.getvalue()


def _case(tmp: Path) -> bytes:
    other = tmp / "other" / "input.duckdb"
    other.parent.mkdir()
    ingest(other, [TWEETS])
    return other.read_bytes()


IRA = DATA / "ira" / "IRAhandle_tweets_sample.csv"


def _line_ends(ends: tuple[bytes, bytes]) -> bytes:
    """The IRA sample with its lines ending in each of `ends` in turn."""
    lines = _lf(IRA.read_bytes()).split(b"\n")
    return b"".join(line + ends[i % 2] for i, line in enumerate(lines[:-1]))


def _elf(_: Path) -> bytes:
    # An ELF header, then the bytes a program holds: NULs, and lone carriage returns.
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56 + b"\x89\r\x05\x00text\r\x01" * 40


# name: (file name, its bytes, what the sentence says after "NAME: ")
REFUSED: dict[str, tuple[str, Callable[[Path], bytes], str]] = {
    "cr line ends": (
        "tweets.csv",
        lambda _: _lf(TWEETS.read_bytes()).replace(b"\n", b"\r"),
        "this is text with carriage-return-only line endings (classic Mac): "
        "convert them to \\n, e.g. with tr '\\r' '\\n'.",
    ),
    # Every other line converted to CRLF twice: DuckDB's parser stopped with a dump of
    # its settings, many lines long.
    "doubled carriage returns": (
        "ira.csv",
        lambda _: _line_ends((b"\r\r\n", b"\r\n")),
        "has lines that end in two carriage returns (\\r\\r\\n, as after a second CRLF "
        "conversion), which the CSV parser cannot follow; strip them first, e.g. "
        "`sed -i 's/\\r*$//' FILE`.",
    ),
    "utf-16 crlf": (
        "tweets.csv",
        lambda _: _lf(TWEETS.read_bytes()).decode().replace("\n", "\r\n").encode("utf-16"),
        "this is UTF-16 text: re-encode it as UTF-8, e.g. with iconv -f UTF-16 -t UTF-8.",
    ),
    "utf-16 without a bom": (
        "tweets.csv",
        lambda _: TWEETS.read_bytes().decode().encode("utf-16-le"),
        "this is UTF-16 text: re-encode it as UTF-8, e.g. with iconv -f UTF-16 -t UTF-8.",
    ),
    "zip": (
        "tweets.zip",
        lambda _: _zip({"tweets.csv": TWEETS.read_bytes()}),
        "this is a zip archive: unzip it and ingest the files inside.",
    ),
    "gzipped zip": (
        "tweets.zip.gz",
        lambda _: gzip.compress(_zip({"tweets.csv": TWEETS.read_bytes()})),
        "this is a zip archive: unzip it and ingest the files inside.",
    ),
    "xlsx": (
        "tweets.xlsx",
        lambda _: _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"}),
        "this is an Office document (such as an .xlsx workbook): "
        "save it as CSV (UTF-8) and ingest that.",
    ),
    "elf": ("tool", _elf, "this is a program, not an export: check the file name."),
    "parquet without --map": (
        "posts.parquet",
        _parquet,
        "this is a Parquet file: give --format table with --map FIELD=COLUMN,... "
        "(post_id, account_id and created_at at least) to read it as a mapped table.",
    ),
    "a case": (
        "input.duckdb",
        _case,
        "this is a DuckDB database, such as a trollscope case, not an input: "
        "run trollscope info or detect on a case; ingest reads exported files.",
    ),
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(path: Path, case: Path, sentence: str, *extra: str) -> None:
    out = CliRunner().invoke(cli, ["ingest", str(path), "--into", str(case), *extra])
    assert out.exit_code == 1, out.output
    assert "Traceback" not in out.output
    assert out.output.strip() == f"Error: {path}: {sentence}"


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_file_no_reader_takes_is_refused_in_words(tmp_path: Path, name: str) -> None:
    filename, make, sentence = REFUSED[name]
    path = tmp_path / filename
    path.write_bytes(make(tmp_path))
    case = tmp_path / "case.duckdb"
    _refused(path, case, sentence)
    assert not case.exists(), "a new case is not left behind"
    ingest(case, [DATA / "table" / "coortweet_shares.csv"])
    before = _sha(case)
    _refused(path, case, sentence)
    assert _sha(case) == before, "an existing case is left as it was"


@pytest.mark.parametrize("fmt", ["io-tweets", "twarc2", "cnt-csv"])
def test_a_named_format_does_not_bypass_the_refusal(tmp_path: Path, fmt: str) -> None:
    filename, make, sentence = REFUSED["cr line ends"]
    path = tmp_path / filename
    path.write_bytes(make(tmp_path))
    _refused(path, tmp_path / "case.duckdb", sentence, "--format", fmt)


def test_a_case_is_not_its_own_input(tmp_path: Path) -> None:
    case = tmp_path / "case.duckdb"
    ingest(case, [TWEETS])
    before = _sha(case)
    _refused(case, case, REFUSED["a case"][2])
    assert _sha(case) == before


def test_a_parquet_file_is_read_with_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "posts.parquet"
    path.write_bytes(_parquet(tmp_path))
    case = tmp_path / "case.duckdb"
    mapping = "post_id=id,account_id=user,created_at=at"
    out = CliRunner().invoke(cli, ["ingest", str(path), "--into", str(case), "--map", mapping])
    assert out.exit_code == 0, out.output


def test_a_utf8_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "tweets.csv"
    path.write_bytes(b"\xef\xbb\xbf" + TWEETS.read_bytes())
    plain = ingest(tmp_path / "plain.duckdb", [TWEETS]).files[0]
    result = ingest(tmp_path / "case.duckdb", [path]).files[0]
    assert (result.format, result.read, result.stored) == ("io-tweets", plain.read, plain.stored)


def test_a_file_that_mixes_crlf_and_lf_reads_as_one_kind(tmp_path: Path) -> None:
    path = tmp_path / "ira.csv"
    path.write_bytes(_line_ends((b"\n", b"\r\n")))
    plain = ingest(tmp_path / "plain.duckdb", [IRA]).files[0]
    mixed = ingest(tmp_path / "case.duckdb", [path]).files[0]
    assert (mixed.read, mixed.stored, mixed.rejected) == (plain.read, plain.stored, plain.rejected)
