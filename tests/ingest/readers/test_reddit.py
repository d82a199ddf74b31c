"""Reddit: Pushshift / Arctic Shift dump lines, Pushshift API pages and Reddit listings."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, posts, query, table_counts
from trollscope.errors import FormatError, MappingError
from trollscope.ingest.readers import ReadOptions, jsonfile, sniff
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest

SUBMISSIONS = DATA / "reddit" / "RS_sample.jsonl"
COMMENTS = DATA / "reddit" / "RC_sample.jsonl"
COMMENTS_GZ = DATA / "reddit" / "RC_sample.jsonl.gz"
LISTING = DATA / "reddit" / "listing.json"


def rejects(case: Path) -> list[tuple[object, ...]]:
    return query(
        case,
        "SELECT regexp_extract(file, '[^/]+$'), line, field, reason FROM rejects "
        "ORDER BY file, line NULLS FIRST, field",
    )


def test_the_content_names_the_format() -> None:
    for path in (SUBMISSIONS, COMMENTS, COMMENTS_GZ, LISTING):
        assert sniff(path).name == "reddit", path


def test_submissions_counts_add_up_and_reingest_changes_nothing(case_path: Path) -> None:
    f = ingest(case_path, [SUBMISSIONS]).files[0]
    # Six submissions and a line cut short (a blank line is no record): four stored, a
    # [deleted] author, an author holding an escape sequence and the cut line rejected.
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("reddit", 7, 4, 0, 3)
    again = ingest(case_path, [SUBMISSIONS]).files[0]
    assert (again.read, again.stored, again.duplicate, again.rejected) == (7, 0, 4, 3)
    assert table_counts(case_path)["posts"] == 4


def test_a_link_submission(case_path: Path) -> None:
    ingest(case_path, [SUBMISSIONS])
    got = posts(case_path)["t3_100aaa"]
    assert got[:6] == ("liberty_voice_84", datetime(2023, 1, 1), "post", None, None, got[5])
    assert got[5] == "Regime hides the truth #FreeIran https://example-news.org/story/42"
    # The submission's url leads; the text's own link follows.
    assert got[6:9] == (
        ["FreeIran"],
        [],
        [
            "https://example-news.org/story/42?utm_source=reddit",
            "https://example-news.org/story/42",
        ],
    )
    extra = json.loads(str(got[9]))
    assert (extra["subreddit"], extra["score"], extra["num_comments"]) == ("worldnews", 152, 3)
    assert extra["permalink"] == "/r/worldnews/comments/100aaa/regime_hides_the_truth/"


def test_a_self_post_with_a_float_time_and_reddit_mentions(case_path: Path) -> None:
    ingest(case_path, [SUBMISSIONS])
    got = posts(case_path)["t3_100bbb"]  # no `name` (older dumps): t3_ and its id
    assert got[:3] == ("azadi_now_1401", datetime(2023, 1, 1, 1, 0), "post")
    text = str(got[5])
    # Title, a blank line, then the selftext; hostile characters kept as data.
    assert text.startswith("\u202eevil\u202c title with \x1b[31mred")
    assert text.endswith(
        "\n\nما صدای مردم هستیم #آزادی\u200cخواهی thanks u/liberty_voice_84 and @press_watch"
    )
    assert got[6:9] == (["آزادی\u200cخواهی"], ["press_watch", "liberty_voice_84"], [])
    assert json.loads(str(got[9]))["score"] == -4  # a score, not a count: it may be negative


def test_a_crosspost_is_a_repost_of_its_parent(case_path: Path) -> None:
    ingest(case_path, [SUBMISSIONS])
    got = posts(case_path)["t3_100ccc"]
    # created_utc written as text ("1672538400") in this dump line.
    assert got[:5] == (
        "repost_bot_2291",
        datetime(2023, 1, 1, 2),
        "repost",
        "t3_100aaa",
        "liberty_voice_84",
    )
    assert got[8] == ["https://example-news.org/story/42"]  # its url is relative: no link


def test_removed_text_is_no_text(case_path: Path) -> None:
    ingest(case_path, [SUBMISSIONS, COMMENTS])
    got = posts(case_path)
    assert got["t3_100eee"][5] == "Rally tomorrow"
    assert json.loads(str(got["t3_100eee"][9]))["removed"] == "[removed]"
    assert got["t1_j1aaa3"][5] is None
    assert json.loads(str(got["t1_j1aaa3"][9]))["removed"] == "[removed]"


def test_comments_reply_to_their_parents_by_fullname(case_path: Path) -> None:
    f = ingest(case_path, [COMMENTS_GZ]).files[0]
    # Six lines: three stored, one exact repeat, a bad time and a comment with no parent.
    assert (f.read, f.stored, f.duplicate, f.rejected) == (6, 3, 1, 2)
    got = posts(case_path)
    assert got["t1_j1aaa1"][2:4] == ("reply", "t3_100aaa")
    assert got["t1_j1aaa1"][6:9] == (["FreeIran"], [], ["https://example-news.org/story/42"])
    assert got["t1_j1aaa2"][:4] == (
        "liberty_voice_84",
        datetime(2023, 1, 1, 0, 10),
        "reply",
        "t1_j1aaa1",
    )
    assert got["t1_j1aaa2"][7] == ["press_watch"]  # /u/press_watch


def test_accounts_are_usernames_with_their_fullname(case_path: Path) -> None:
    ingest(case_path, [SUBMISSIONS, COMMENTS])
    rows = query(case_path, "SELECT account_id, handle, extra FROM accounts ORDER BY account_id")
    got = {str(r[0]): (r[1], r[2]) for r in rows}
    assert set(got) == {"azadi_now_1401", "liberty_voice_84", "press_watch", "repost_bot_2291"}
    assert got["liberty_voice_84"] == ("liberty_voice_84", '{"fullname":"t2_8k2j1x"}')
    assert "[deleted]" not in got


def test_rejects_name_file_line_and_field(case_path: Path) -> None:
    ingest(case_path, [SUBMISSIONS, COMMENTS])
    got = rejects(case_path)
    assert got[:2] == [
        (
            "RC_sample.jsonl",
            4,
            "created_utc",
            "expected created_utc as POSIX seconds (UTC), got 'yesterday'",
        ),
        (
            "RC_sample.jsonl",
            5,
            "parent_id",
            "a comment needs parent_id or link_id (what it answers)",
        ),
    ]
    assert got[2][:3] == ("RS_sample.jsonl", 4, "author")
    assert str(got[2][3]).startswith(
        "the author is '[deleted]': Reddit no longer says who wrote it"
    )
    assert got[3] == (
        "RS_sample.jsonl",
        6,
        "author",
        "author 'evil\\x1b]52;c;aGk=\\x07' holds a control character; ids and handles may not",
    )
    assert got[4][:3] == ("RS_sample.jsonl", 8, None)
    assert "invalid JSON" in str(got[4][3]) and "cut short" in str(got[4][3])


def test_a_reddit_listing_document_with_nested_replies(case_path: Path) -> None:
    f = ingest(case_path, [LISTING]).files[0]
    assert (f.read, f.stored, f.rejected) == (3, 2, 1)  # "more" stubs are no records
    got = posts(case_path)
    assert got["t1_j2bbb1"][2:4] == ("reply", "t3_100bbb")
    assert got["t1_j2bbb2"][:4] == (
        "azadi_now_1401",
        datetime(2023, 1, 1, 8, 10),
        "reply",
        "t1_j2bbb1",
    )
    # A document has no useful lines: the reject says where the record sits.
    [(_, line, field, reason)] = rejects(case_path)
    assert (line, field) == (None, "data.children[1].data.author")
    assert str(reason).startswith("the author is '[deleted]'")


def test_a_pushshift_api_page(tmp_path: Path) -> None:
    lines = SUBMISSIONS.read_text(encoding="utf-8").splitlines()[:3]
    page = {"data": [json.loads(line) for line in lines]}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    assert sniff(path).name == "reddit"
    f = ingest(tmp_path / "case.duckdb", [path]).files[0]
    assert (f.read, f.stored, f.rejected) == (3, 3, 0)


def test_a_zstd_dump_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "RC_2023-01.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 64)
    with pytest.raises(FormatError, match=r"zstd-compressed: decompress it \(unzstd\)"):
        ingest(tmp_path / "case.duckdb", [path], fmt="reddit")


def test_a_tweet_file_is_not_reddit(tmp_path: Path) -> None:
    tweets = DATA / "twitter_v1" / "three_tweets.jsonl"
    with pytest.raises(FormatError, match="this is not reddit data: its first line is a tweet"):
        ingest(tmp_path / "case.duckdb", [tweets], fmt="reddit")


def test_a_mapping_is_refused(tmp_path: Path) -> None:
    options = ReadOptions(mapping=parse_mapping("post_id=id"))
    with pytest.raises(MappingError, match="--map does not apply to the reddit format"):
        ingest(tmp_path / "case.duckdb", [SUBMISSIONS], options=options)


@pytest.mark.parametrize("packed", [False, True])
def test_worker_processes_read_what_one_process_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packed: bool
) -> None:
    # A big dump is parsed in worker processes, one byte range (or gzip block) each: the
    # same rows, and the rejects keep their physical lines across the ranges.
    lines = [line for line in SUBMISSIONS.read_bytes().splitlines(keepends=True) if line.strip()]
    body = b"".join(lines[:6]) + COMMENTS.read_bytes()
    data = body * 40
    path = tmp_path / ("many.jsonl.gz" if packed else "many.jsonl")
    path.write_bytes(gzip.compress(data) if packed else data)
    inline = ingest(tmp_path / "inline.duckdb", [path]).files[0]
    monkeypatch.setattr(jsonfile, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(jsonfile, "BLOCK_BYTES", 3_000)
    workers = ingest(tmp_path / "workers.duckdb", [path]).files[0]
    assert (workers.read, workers.stored, workers.duplicate, workers.rejected) == (
        inline.read,
        inline.stored,
        inline.duplicate,
        inline.rejected,
    )
    assert (inline.read, inline.stored, inline.rejected) == (480, 7, 160)
    for table in ("posts", "accounts", "rejects"):
        sql = f"SELECT * EXCLUDE (source_id) FROM {table} ORDER BY ALL"
        if table == "rejects":
            sql = "SELECT line, field, reason FROM rejects ORDER BY ALL"
        assert query(tmp_path / "inline.duckdb", sql) == query(tmp_path / "workers.duckdb", sql)
    # Twelve lines per copy: the 40th copy's bad time sits on line 39 * 12 + 6 + 4.
    lines_of_bad_time = query(
        tmp_path / "workers.duckdb",
        "SELECT line FROM rejects WHERE field = 'created_utc' ORDER BY 1",
    )
    assert lines_of_bad_time[-1] == (39 * 12 + 10,)
