"""One rejected record is one row in `rejects` (issue 19: a CSV row with extra fields gave
two reject rows, a short row one per missing column, while ingest counted it once)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.conftest import DATA, query
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.run import FileResult, ingest

MAPPING = {"post_id": "comment_id", "account_id": "user", "created_at": "posted"}
CSV_FILES: dict[str, tuple[Path, dict[str, str]]] = {
    "io-tweets": (DATA / "ioarchive" / "tweets.csv", {}),
    "io-users": (DATA / "ioarchive" / "users.csv", {}),
    "ira": (DATA / "ira" / "IRAhandle_tweets_sample.csv", {}),
    "crowdtangle": (DATA / "crowdtangle" / "pages.csv", {}),
    "cnt-csv": (DATA / "cnt" / "messages.csv", {}),
    "coortweet": (DATA / "table" / "coortweet_shares.csv", {}),
    "table": (DATA / "table" / "comments.csv", MAPPING),
}
# The same bad records added to each JSON-lines file: (line, how many records it holds).
JSON_FILES = {
    "twarc2": (
        DATA / "twarc2" / "search_pages.jsonl",
        [
            (b"{not json", 1),
            # two tweets without author or time: two records, two rejects
            (b'{"data": [{"id": "91", "text": "a"}, {"id": "92", "text": "b"}]}', 2),
        ],
    ),
    "twitter-v1": (
        DATA / "twitter_v1" / "stream.jsonl",
        [(b"{not json", 1), (b'{"id_str": "93", "user": {"id_str": "7"}}', 1)],
    ),
    "crowdtangle-api": (
        DATA / "crowdtangle_api" / "links.jsonl",
        [(b"{not json", 1), (b'{"platformId": "1_2", "account": {"id": 3}}', 1)],
    ),
}


def _reject_rows(case: Path, result: FileResult) -> int:
    rows = query(case, "SELECT count(*) FROM rejects WHERE source_id = ?", [result.source_id])
    return int(rows[0][0])  # type: ignore[call-overload]


def _bad_csv_rows(header: bytes, newline: bytes) -> list[bytes]:
    """Rows the CSV parser cannot take, each with several problems of its own."""
    width = len(next(csv.reader(io.StringIO(header.decode("utf-8-sig")))))
    return [
        b"x,y",  # short: one error per missing column
        b",".join([b"z"] * (width + 2)),  # two fields too many
        b"\xff,q",  # not UTF-8, and short
    ]


@pytest.mark.parametrize("fmt", sorted(CSV_FILES))
def test_a_malformed_csv_row_is_one_reject(tmp_path: Path, fmt: str) -> None:
    source, mapping = CSV_FILES[fmt]
    plain = ingest(
        tmp_path / "plain.duckdb", [source], fmt=fmt, options=ReadOptions(mapping=mapping)
    )
    data = source.read_bytes()
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    header = data.split(b"\n", 1)[0]
    bad = _bad_csv_rows(header, newline)
    path = tmp_path / f"bad-{source.name}"
    path.write_bytes(data.rstrip(b"\r\n") + newline + newline.join(bad) + newline)
    case = tmp_path / "case.duckdb"
    result = ingest(case, [path], fmt=fmt, options=ReadOptions(mapping=mapping)).files[0]
    assert result.rejected == plain.files[0].rejected + len(bad)
    assert _reject_rows(case, result) == result.rejected
    assert result.read == result.stored + result.duplicate + result.rejected


@pytest.mark.parametrize("fmt", sorted(JSON_FILES))
def test_a_bad_json_record_is_one_reject(tmp_path: Path, fmt: str) -> None:
    source, bad = JSON_FILES[fmt]
    plain = ingest(tmp_path / "plain.duckdb", [source], fmt=fmt).files[0]
    path = tmp_path / f"bad-{source.name}"
    lines = [line for line, _ in bad]
    path.write_bytes(source.read_bytes().rstrip(b"\n") + b"\n" + b"\n".join(lines) + b"\n")
    case = tmp_path / "case.duckdb"
    result = ingest(case, [path], fmt=fmt).files[0]
    assert result.rejected == plain.rejected + sum(n for _, n in bad)
    assert _reject_rows(case, result) == result.rejected


def test_a_short_row_names_every_missing_column_once(tmp_path: Path) -> None:
    path = tmp_path / "comments.csv"
    path.write_bytes(
        b"comment_id,user,posted,body,reply_to\n"
        b"c1,u1,2021-06-01T12:00:00Z,hi,\n"
        b"c2,u1,2021-06-01T12:00:00Z,hi,,extra,more\n"
        b"c3,u2\n"
    )
    case = tmp_path / "case.duckdb"
    result = ingest(case, [path], fmt="table", options=ReadOptions(mapping=MAPPING)).files[0]
    assert (result.read, result.stored, result.rejected) == (3, 1, 2)
    assert query(case, "SELECT line, field, reason FROM rejects ORDER BY line") == [
        (3, None, "more fields than the header has; check quoting of commas"),
        (4, "posted, body, reply_to", "fewer fields than the header has; the row may be cut short"),
    ]
