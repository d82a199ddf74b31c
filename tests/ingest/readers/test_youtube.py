"""YouTube Data API v3: commentThreads list responses, as a document or JSON lines."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, posts, query
from trollscope.errors import FormatError
from trollscope.ingest.readers import sniff
from trollscope.ingest.run import ingest

DOCUMENT = DATA / "youtube" / "comment_threads.json"
LINES = DATA / "youtube" / "comment_threads.jsonl"
LINES_GZ = DATA / "youtube" / "comment_threads.jsonl.gz"
TOP = "UgxKREWxIgDrw8w2e_Z4AaABAg"
A, B, C = "UCa1lib3rtyV0ice000000x", "UCb2pressWatch00000000y", "UCc3azadiNow1401000000z"
VIDEO_CHANNEL = "UCregimeTV000000000000a"


def test_the_content_names_the_format() -> None:
    for path in (DOCUMENT, LINES, LINES_GZ):
        assert sniff(path).name == "youtube", path


def test_a_response_document(case_path: Path) -> None:
    f = ingest(case_path, [DOCUMENT]).files[0]
    # Three threads: the first with two replies, one whose author has no channel.
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("youtube", 5, 4, 0, 1)
    got = posts(case_path)
    # A top-level comment replies to its video, whose channel is the thread's.
    assert got[TOP][:5] == (A, datetime(2023, 1, 1, 12), "reply", "dQw4w9WgXcQ", VIDEO_CHANNEL)
    assert got[TOP][6:9] == (["FreeIran"], ["press_watch"], ["https://example-news.org/story/42"])
    extra = json.loads(str(got[TOP][9]))
    assert (extra["video_id"], extra["like_count"], extra["total_reply_count"]) == (
        "dQw4w9WgXcQ",
        41,
        5,
    )
    # A reply replies to its parent comment, written by the top comment's author.
    reply = got[f"{TOP}.9uQ1a"]
    assert reply[:5] == (B, datetime(2023, 1, 1, 12, 5), "reply", TOP, A)
    assert reply[6] == ["آزادی\u200cخواهی"]


def test_text_original_over_the_rendered_html_and_offsets_to_utc(case_path: Path) -> None:
    ingest(case_path, [DOCUMENT])
    got = posts(case_path)[f"{TOP}.9uQ1b"]
    assert got[1] == datetime(2023, 1, 1, 8, 36, 30)  # 12:06:30+03:30
    assert got[5] == "\u202eevil\u202c \x1b[31mred\x1b[0m <script>alert(1)</script>"


def test_channels_are_accounts_and_handles_lose_their_at(case_path: Path) -> None:
    ingest(case_path, [DOCUMENT])
    rows = query(case_path, "SELECT account_id, handle, display_name, avatar FROM accounts")
    got = {str(r[0]): r[1:] for r in rows}
    assert got[A][:2] == ("liberty_voice_84", "@liberty_voice_84")
    assert str(got[A][2]).startswith("https://yt3.ggpht.com/")
    # An old-style display name is a name, not a handle: the handle comes from the same
    # channel's later comment, which fills what the first left empty.
    assert got[C][:2] == ("azadi_now_1401", "Azadi Now")


def test_json_lines_rejects_name_line_and_field(case_path: Path) -> None:
    f = ingest(case_path, [LINES_GZ]).files[0]
    assert (f.read, f.stored, f.duplicate, f.rejected) == (9, 5, 0, 4)
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line, field")
    channel = "snippet.topLevelComment.snippet.authorChannelId.value"
    assert rejects[0] == (
        1,
        f"items[1].{channel}",
        "snippet.authorChannelId.value is missing: the comment has no author channel, so no "
        "account to belong to",
    )
    assert rejects[1] == (
        2,
        "items[0].replies.comments[0].snippet.publishedAt",
        "expected snippet.publishedAt like '2023-05-01T12:00:00Z', got 'yesterday'",
    )
    assert rejects[2][:2] == (2, f"items[1].{channel}")
    assert "'UCevil\\x1b[2J00000000000' holds a control character" in str(rejects[2][2])
    assert rejects[3][:2] == (3, None)
    assert "the line may be cut short" in str(rejects[3][2])


def test_the_same_comments_from_both_shapes_are_duplicates(case_path: Path) -> None:
    ingest(case_path, [DOCUMENT])
    f = ingest(case_path, [LINES]).files[0]
    assert (f.read, f.stored, f.duplicate, f.rejected) == (9, 1, 4, 4)


def test_a_comments_list_response_of_replies(tmp_path: Path) -> None:
    thread = json.loads(DOCUMENT.read_text(encoding="utf-8"))["items"][0]
    page = {"kind": "youtube#commentListResponse", "items": thread["replies"]["comments"]}
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    assert sniff(path).name == "youtube"
    case = tmp_path / "case.duckdb"
    f = ingest(case, [path]).files[0]
    assert (f.read, f.stored) == (2, 2)
    # Fetched apart from its thread, a reply still names its parent; its author is unknown.
    assert posts(case)[f"{TOP}.9uQ1a"][2:5] == ("reply", TOP, None)


def test_another_json_is_not_youtube(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"kind": "youtube#videoListResponse", "items": []}\n', encoding="utf-8")
    case = tmp_path / "case.duckdb"
    with pytest.raises(FormatError, match="its first line is a youtube#videoListResponse"):
        ingest(case, [path], fmt="youtube")
    path.write_text('{"id": 1, "text": "a tweet", "author_id": "2"}\n', encoding="utf-8")
    with pytest.raises(FormatError, match="this is not youtube data"):
        ingest(case, [path], fmt="youtube")


def test_replies_that_are_not_the_apis_shape_are_one_reject(tmp_path: Path) -> None:
    page = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    page["items"][0]["replies"] = ["not", "comments"]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    case = tmp_path / "case.duckdb"
    f = ingest(case, [path]).files[0]
    assert (f.read, f.stored, f.rejected) == (4, 2, 2)
    rejects = query(case, "SELECT field FROM rejects ORDER BY field")
    assert rejects[0] == ("items[0].replies",)
