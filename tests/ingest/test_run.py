"""The ingest pipeline: atomic, idempotent, every record accounted for, provenance kept."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DATA, query, table_counts
from trollscope.errors import FormatError, NothingReadError
from trollscope.ingest import staging
from trollscope.ingest.readers import ReadOptions, get
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest
from trollscope.model import TimeRange

SHARES = DATA / "table" / "coortweet_shares.csv"
OBJECTS = DATA / "table" / "coortweet_objects.csv"


def test_failed_ingest_leaves_no_new_case(tmp_path: Path, case_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("not a known format\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"junk\.txt: the format could not be recognised"):
        ingest(case_path, [SHARES, junk])
    assert not case_path.exists()
    assert not (tmp_path / "case.duckdb.wal").exists()


def test_failed_ingest_leaves_existing_case_as_it_was(tmp_path: Path, case_path: Path) -> None:
    ingest(case_path, [SHARES])
    before = table_counts(case_path)
    before_posts = query(case_path, "SELECT * FROM posts ORDER BY post_id")
    junk = tmp_path / "junk.csv"
    junk.write_text("object_id,account_id,content_id,timestamp_share\n1,a,2,x\n", encoding="utf-8")
    # OBJECTS is fine and is read first; the failure on junk must undo it too.
    with pytest.raises(FormatError, match="nothing could be read"):
        ingest(case_path, [OBJECTS, junk])
    assert table_counts(case_path) == before
    assert query(case_path, "SELECT * FROM posts ORDER BY post_id") == before_posts


def test_missing_file(tmp_path: Path, case_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        ingest(case_path, [tmp_path / "absent.csv"])


def test_provenance(case_path: Path) -> None:
    result = ingest(case_path, [SHARES], options=ReadOptions(platform="twitter"))
    rows = query(
        case_path,
        "SELECT source_id, path, sha256, size_bytes, format, reader_version, options, "
        "tool_version, read, stored, duplicate, rejected, accounts_new FROM sources",
    )
    assert len(rows) == 1
    (sid, path, sha, size, fmt, reader_version, options, tool, read, stored, dup, rej, acc) = rows[
        0
    ]
    assert (sid, path, fmt, reader_version) == (1, str(SHARES), "coortweet", "1")
    assert sha == hashlib.sha256(SHARES.read_bytes()).hexdigest()
    assert size == SHARES.stat().st_size
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert json.loads(str(options)) == {
        "mapping": {},
        "platform": "twitter",
        "timezone": None,
        "times": ["2004-01-01", f"{tomorrow:%Y-%m-%d}"],
    }
    assert tool
    assert (read, stored, dup, rej, acc) == (6, 5, 1, 0, 3)
    assert result.files[0].sha256 == sha
    # Every stored row points back at the file it came from.
    assert query(case_path, "SELECT DISTINCT source_id FROM posts") == [(1,)]


def test_counts_add_up(case_path: Path) -> None:
    result = ingest(case_path, [SHARES, OBJECTS])
    for f in result.files:
        assert f.read == f.stored + f.duplicate + f.rejected, f
    assert table_counts(case_path)["posts"] == result.total("stored")


def test_accounts_first_value_wins_and_gaps_fill(tmp_path: Path, case_path: Path) -> None:
    first = tmp_path / "first.csv"
    first.write_text(
        "id,user,t,name,bio\n1,u1,1606451100,Alice,\n2,u1,1606451101,Alicia,first bio\n",
        encoding="utf-8",
    )
    second = tmp_path / "second.csv"
    second.write_text("id,user,t,name,bio\n3,u1,1606451102,Al,other bio\n", encoding="utf-8")
    mapping = parse_mapping("post=id,account=user,time=t,display_name=name,bio=bio")
    ingest(case_path, [first], options=ReadOptions(mapping=mapping))
    ingest(case_path, [second], options=ReadOptions(mapping=mapping))
    # Alice was seen first; the empty bio of the first row is filled by the next row's.
    assert query(case_path, "SELECT account_id, display_name, bio FROM accounts") == [
        ("u1", "Alice", "first bio")
    ]


def test_progress_reports_every_byte(case_path: Path) -> None:
    seen: list[int] = []
    ingest(case_path, [SHARES, OBJECTS], progress=seen.append)
    assert sum(seen) == SHARES.stat().st_size + OBJECTS.stat().st_size


def test_same_post_twice_in_one_file_is_one_duplicate(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text(
        "id,user,t,text\n1,u,1606451100,first\n1,u,1606451100,second\n", encoding="utf-8"
    )
    result = ingest(
        case_path,
        [path],
        options=ReadOptions(mapping=parse_mapping("post=id,account=user,time=t,text=text")),
    )
    f = result.files[0]
    # The two rows are one post (same id); its text is the first row's.
    assert (f.read, f.stored, f.duplicate) == (1, 1, 0)
    assert query(case_path, "SELECT text FROM posts") == [("first",)]


def test_sql_and_python_readers_in_one_command(case_path: Path) -> None:
    """A SQL reader's staging views and a Python reader's staging tables take turns."""
    flat = DATA / "twarc2" / "flattened.jsonl"
    result = ingest(case_path, [SHARES, flat, OBJECTS])
    assert [f.format for f in result.files] == ["coortweet", "twarc2", "coortweet"]
    for f in result.files:
        assert f.read == f.stored + f.duplicate + f.rejected, f
    assert table_counts(case_path)["posts"] == result.total("stored")


def test_staging_leaves_nothing_behind(tmp_path: Path) -> None:
    """What a SQL reader stages (its output and the views of it) is dropped after the file."""
    case = tmp_path / "c.duckdb"
    ingest(case, [SHARES])
    con = duckdb.connect(str(case))
    try:
        staging.create(con)
        staged = get("coortweet").stage(con, OBJECTS, ReadOptions())
        assert staged.posts > 0
        temp = (
            "SELECT count(*) FROM (SELECT view_name FROM duckdb_views() "
            "WHERE temporary AND NOT internal UNION ALL SELECT table_name "
            "FROM duckdb_tables() WHERE temporary AND NOT internal)"
        )
        assert con.execute(temp).fetchone() == (4,)  # two views, their source, the rejects
        staging.drop(con)
        assert con.execute(temp).fetchone() == (0,)
    finally:
        con.close()


def _tweet(tid: str, text: str) -> str:
    return json.dumps(
        {"id": tid, "author_id": "7", "created_at": "2022-03-01T10:00:00.000Z", "text": text}
    )


@pytest.mark.parametrize("case_has_posts", [False, True])
def test_first_copy_wins_in_a_row_wise_reader(
    tmp_path: Path, case_path: Path, case_has_posts: bool
) -> None:
    """A row-wise reader's copies of a post in different batches (chunk size 1): the first
    in the file is stored, into an empty case as into one with posts."""
    if case_has_posts:
        ingest(case_path, [SHARES])
    path = tmp_path / "copies.jsonl"
    lines = [_tweet("1", "first"), _tweet("2", "two"), _tweet("1", "second"), _tweet("1", "3rd")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    f = ingest(case_path, [path], options=ReadOptions(chunk_size=1)).files[0]
    assert (f.read, f.stored, f.duplicate, f.rejected) == (4, 2, 2, 0)
    assert query(
        case_path, "SELECT post_id, text FROM posts WHERE platform = 'twitter' ORDER BY 1"
    ) == [("1", "first"), ("2", "two")]
    # Read again, everything is a duplicate and nothing changes.
    again = ingest(case_path, [path]).files[0]
    assert (again.stored, again.duplicate) == (0, 4)
    assert query(case_path, "SELECT count(*) FROM posts WHERE platform = 'twitter'") == [(2,)]


def test_failed_ingest_of_a_row_wise_reader(tmp_path: Path, case_path: Path) -> None:
    """A good JSON file then one with nothing readable: the good file's posts go too."""
    good = tmp_path / "good.jsonl"
    good.write_text(_tweet("1", "x") + "\n", encoding="utf-8")
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"id": "2", "author_id": "3", "text": "no time"}\n', encoding="utf-8")
    with pytest.raises(NothingReadError):
        ingest(case_path, [good, junk], fmt="twarc2")
    assert not case_path.exists()
    ingest(case_path, [SHARES])
    before = table_counts(case_path)
    with pytest.raises(NothingReadError):
        ingest(case_path, [good, junk], fmt="twarc2")
    assert table_counts(case_path) == before


def test_provenance_records_the_time_range(case_path: Path) -> None:
    times = TimeRange(earliest=date(2010, 1, 1), latest=date(2023, 12, 31))
    ingest(case_path, [SHARES], options=ReadOptions(platform="twitter", times=times))
    (options,) = query(case_path, "SELECT options FROM sources")[0]
    assert json.loads(str(options))["times"] == ["2010-01-01", "2023-12-31"]
