"""TikTok Research API: video and comment pages, as JSON lines or one document."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, posts, query
from trollscope.errors import FormatError
from trollscope.ingest.readers import sniff
from trollscope.ingest.run import ingest

VIDEOS = DATA / "tiktok" / "videos.jsonl"
VIDEOS_GZ = DATA / "tiktok" / "videos.jsonl.gz"
COMMENTS = DATA / "tiktok" / "comments.json"
VIDEO = "7183010000000000001"  # beyond 2**53: a double would change it


def test_the_content_names_the_format() -> None:
    for path in (VIDEOS, VIDEOS_GZ, COMMENTS):
        assert sniff(path).name == "tiktok", path


def test_video_pages_counts_add_up(case_path: Path) -> None:
    f = ingest(case_path, [VIDEOS_GZ]).files[0]
    # Two pages of three videos, an error page (no records) and a flattened video: four
    # stored; a video without username, one at POSIX 0 and a negative like count rejected.
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("tiktok", 7, 4, 0, 3)


def test_a_video(case_path: Path) -> None:
    ingest(case_path, [VIDEOS])
    got = posts(case_path)[VIDEO]
    assert got[:5] == ("liberty_voice_84", datetime(2023, 1, 1), "post", None, None)
    # hashtag_names and video_mention_list as the API gives them; URLs from the text.
    assert got[6:9] == (
        ["FreeIran", "iran"],
        ["press_watch"],
        ["https://example-news.org/story/42"],
    )
    extra = json.loads(str(got[9]))
    assert extra["music_id"] == "7180000000000000001"
    assert (extra["region_code"], extra["view_count"], extra["share_count"]) == ("IR", 5021, 9)


def test_without_the_api_lists_entities_come_from_the_text(case_path: Path) -> None:
    ingest(case_path, [VIDEOS])
    got = posts(case_path)
    assert got["7183010000000000002"][6] == ["آزادی\u200cخواهی"]  # hashtag_names null
    hostile = got["7183010000000000003"]
    assert hostile[5] == "\u202eevil\u202c \x1b[31mred\x1b[0m <script>alert(1)</script>"
    assert json.loads(str(hostile[9]))["voice_to_text"] == "the regime lies"
    rows = query(case_path, "SELECT account_id, handle FROM accounts ORDER BY account_id")
    assert rows == [
        ("azadi_now_1401", "azadi_now_1401"),
        ("liberty_voice_84", "liberty_voice_84"),
        ("repost_bot_2291", "repost_bot_2291"),
    ]


def test_video_rejects_name_line_and_field(case_path: Path) -> None:
    ingest(case_path, [VIDEOS])
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY field")
    assert rejects == [
        (2, "data.videos[0].username", "username is missing: the video names no author (ask "
         "the API for the username field)"),
        (2, "data.videos[1].create_time", "create_time 0 is not between 2004-01-01 and "
         "tomorrow (UTC)"),
        (2, "data.videos[2].like_count", "like_count -3 is not a count (a whole number from 0 "
         "to 9223372036854775807)"),
    ]  # fmt: skip


def test_comments_have_no_author_and_reply_to_video_or_comment(case_path: Path) -> None:
    f = ingest(case_path, [COMMENTS]).files[0]
    assert (f.read, f.stored, f.rejected) == (4, 2, 2)
    got = posts(case_path)
    first, second = "7183020000000000001", "7183020000000000002"
    # The API gives a comment no author: each is an account of its own, never shared.
    assert got[first][:5] == (
        f"unknown:{first}",
        datetime(2023, 1, 1, 0, 13, 20),
        "reply",
        VIDEO,
        None,
    )
    assert got[first][6:8] == (["FreeIran"], ["liberty_voice_84"])
    assert got[second][:5] == (
        f"unknown:{second}",
        datetime(2023, 1, 1, 0, 13, 30),
        "reply",
        first,
        None,
    )
    accounts = query(case_path, "SELECT account_id, handle FROM accounts ORDER BY account_id")
    assert accounts == [(f"unknown:{first}", None), (f"unknown:{second}", None)]
    # A document's rejects have no line: the field says where the comment sits.
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY field")
    assert rejects == [
        (
            None,
            "data.comments[2].create_time",
            "expected create_time as POSIX seconds (UTC), got 'soon'",
        ),
        (None, "data.comments[3].video_id", "video_id is missing: what the comment is on"),
    ]


def test_a_document_cut_short_keeps_what_came_before(tmp_path: Path) -> None:
    text = COMMENTS.read_text(encoding="utf-8")
    cut = text[: text.index('"id": 7183020000000000003')]
    path = tmp_path / "cut.json"
    path.write_text(cut, encoding="utf-8")
    case = tmp_path / "case.duckdb"
    f = ingest(case, [path]).files[0]
    assert (f.read, f.stored, f.rejected) == (3, 2, 1)
    [(reason,)] = query(case, "SELECT reason FROM rejects")
    assert str(reason).startswith("the file breaks off after record 2")


def test_bad_utf8_in_a_document_rejects_only_its_record(tmp_path: Path) -> None:
    data = COMMENTS.read_bytes().replace(b"So true", b"So \xff true")
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    case = tmp_path / "case.duckdb"
    f = ingest(case, [path]).files[0]
    assert (f.read, f.stored, f.rejected) == (4, 1, 3)
    reasons = query(case, "SELECT field, reason FROM rejects WHERE field = 'data.comments[0]'")
    assert reasons == [("data.comments[0]", "invalid UTF-8 bytes; re-save the file as UTF-8")]


def test_another_json_lines_file_is_not_tiktok(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"name": "x", "value": 1}\n', encoding="utf-8")
    with pytest.raises(FormatError, match="this is not tiktok data: expected TikTok Research API"):
        ingest(tmp_path / "case.duckdb", [path], fmt="tiktok")


def test_a_broken_first_line_is_one_reject_not_a_refused_file(tmp_path: Path) -> None:
    data = VIDEOS.read_bytes()
    path = tmp_path / "videos.jsonl"
    path.write_bytes(b'{"data": {"videos": [{"id": 71830\n' + data)
    assert sniff(path).name == "tiktok"
    f = ingest(tmp_path / "case.duckdb", [path]).files[0]
    assert (f.read, f.stored, f.rejected) == (8, 4, 4)


def test_one_video_as_a_document(tmp_path: Path) -> None:
    video = json.loads(VIDEOS.read_text(encoding="utf-8").splitlines()[0])["data"]["videos"][0]
    path = tmp_path / "video.json"
    path.write_text(json.dumps(video, indent=2), encoding="utf-8")
    f = ingest(tmp_path / "case.duckdb", [path], fmt="tiktok").files[0]
    assert (f.read, f.stored) == (1, 1)
    assert set(posts(tmp_path / "case.duckdb")) == {VIDEO}
