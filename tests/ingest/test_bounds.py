"""Impossible times are refused at the record's boundary, by every reader (model.py).

Each of these was stored before and crashed a later command (`info`, the rhythm and
creation signals, `detect`), or refused a whole mapped file over one row (issue 19)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import query
from trollscope.cli import cli
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest
from trollscope.model import EARLIEST, latest, time_in_range

RANGE = "between 2004-01-01 and tomorrow (UTC)"

IMPOSSIBLE = [
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "infinity",
    "-infinity",
    "epoch",
    "0",  # POSIX 0: 1970, before any platform
    "-9.99e19",
    "-99900000000000000000",  # POSIX seconds past the year 9999 made the whole file fail
    "1999-12-31T23:59:59Z",
    "2021-01-01T00:00:00+25:00",  # no zone is 25 hours off UTC
]


def _rejects(case: Path) -> list[tuple[object, ...]]:
    return query(case, "SELECT line, field, reason FROM rejects ORDER BY line")


def test_a_mapped_table_rejects_each_impossible_time_and_keeps_the_rest(
    tmp_path: Path, case_path: Path
) -> None:
    rows = ["id,user,t", "1,u,2021-01-01T00:00:00Z"]
    rows += [f"{i + 2},u,{value}" for i, value in enumerate(IMPOSSIBLE)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    options = ReadOptions(mapping=parse_mapping("post_id=id,account_id=user,created_at=t"))
    result = ingest(case_path, [path], options=options)
    f = result.files[0]
    assert (f.read, f.stored, f.rejected) == (len(IMPOSSIBLE) + 1, 1, len(IMPOSSIBLE))
    got = _rejects(case_path)
    assert [line for line, _, _ in got] == list(range(3, len(IMPOSSIBLE) + 3))
    for (_, field, reason), value in zip(got, IMPOSSIBLE, strict=True):
        assert field == "created_at"
        assert RANGE in str(reason) and repr(value) in str(reason), reason
    # The commands that crashed on such a case run.
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, ["info", str(case_path)])
    assert out.exit_code == 0, out.output


def test_twarc2_rejects_times_outside_the_range(tmp_path: Path, case_path: Path) -> None:
    def tweet(i: int, when: str) -> str:
        return json.dumps(
            {"id": str(i), "author_id": "7", "text": "hi", "created_at": when}, ensure_ascii=False
        )

    lines = [
        tweet(1, "2022-10-31T16:35:09.000Z"),
        tweet(2, "0000-01-01T00:00:00.000Z"),
        tweet(3, "1970-01-01T00:00:00.000Z"),
        tweet(4, "9999-12-31T00:00:00.000Z"),
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest(case_path, [path])
    assert (result.files[0].stored, result.files[0].rejected) == (1, 3)
    got = _rejects(case_path)
    assert [(line, field) for line, field, _ in got] == [(i, "created_at") for i in (2, 3, 4)]
    assert all(f"is not {RANGE}" in str(reason) for _, _, reason in got)
    assert '"1970-01-01T00:00:00.000Z"' in str(got[1][2])


def test_io_tweets_reject_a_time_before_the_platforms(tmp_path: Path, case_path: Path) -> None:
    header = "tweetid,userid,tweet_time,tweet_text,is_retweet"
    path = tmp_path / "io.csv"
    path.write_text(
        f"{header}\n1,7,2019-10-07 02:15,hi,False\n2,7,1999-10-07 02:15,hi,False\n",
        encoding="utf-8",
    )
    result = ingest(case_path, [path], options=ReadOptions())
    assert (result.files[0].stored, result.files[0].rejected) == (1, 1)
    ((line, field, reason),) = _rejects(case_path)
    assert (line, field) == (3, "tweet_time") and RANGE in str(reason)


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (EARLIEST, True),
        (EARLIEST.replace(year=2003), False),
        (datetime(2020, 1, 1), True),
        (latest().replace(year=latest().year + 1), False),
        (None, True),  # no time is not an impossible time
    ],
)
def test_the_range_itself(when: object, inside: bool) -> None:
    assert time_in_range(when) is inside  # type: ignore[arg-type]
