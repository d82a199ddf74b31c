"""Meta Content Library exports: Facebook and Instagram posts, CSV and JSON (field names
assumed from the data dictionary; see docs/formats.md)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, query
from trollscope.errors import FormatError
from trollscope.ingest.readers import sniff
from trollscope.ingest.run import ingest

FOLDER = DATA / "meta_content_library"
CSV = FOLDER / "facebook_posts.csv"
CSV_GZ = FOLDER / "facebook_posts.csv.gz"
LINES = FOLDER / "facebook_posts.jsonl"
INSTAGRAM = FOLDER / "instagram_posts.json"
PAGE = "3321987654012"


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT post_id, platform, account_id, created_at, kind, text, lang, hashtags, "
        "mentions, urls, media, extra FROM posts",
    )
    return {str(r[0]): r[1:] for r in rows}


def test_the_content_names_the_format() -> None:
    for path in (CSV, CSV_GZ, LINES, INSTAGRAM):
        assert sniff(path).name == "meta-content-library", path


def test_a_csv_export_counts_add_up(case_path: Path) -> None:
    f = ingest(case_path, [CSV_GZ]).files[0]
    # Seven rows (a blank line is none): three stored; a bad time, a missing owner id, a
    # count written "12K" and a short row rejected.
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == (
        "meta-content-library",
        7,
        3,
        0,
        4,
    )
    again = ingest(case_path, [CSV]).files[0]
    assert (again.stored, again.duplicate, again.rejected) == (0, 3, 4)


def test_a_facebook_page_post_from_csv(case_path: Path) -> None:
    ingest(case_path, [CSV])
    got = posts(case_path)["1054893621478523"]
    assert got[:6] == (
        "facebook",
        PAGE,
        datetime(2023, 6, 5, 15, 1, 23),  # +0000
        "post",
        "Read this before they delete it #FreeIran via @regimewatch https://bit.ly/3xYz",
        "en",
    )
    # The link attachment leads the URLs; multimedia (JSON in its cell) gives the media.
    assert got[6:10] == (
        ["FreeIran"],
        ["regimewatch"],
        ["https://www.example-news.org/story/42?utm_source=fb", "https://bit.ly/3xYz"],
        ["https://scontent.xx.fbcdn.net/v/t39/photo1.jpg"],
    )
    extra = json.loads(str(got[10]))
    assert extra["statistics"] == {"reaction_count": 1100, "share_count": 210, "comment_count": 35}
    assert (extra["is_branded_content"], extra["link_name"]) == (False, "The story they hide")


def test_csv_rows_spanning_lines_times_without_offset_and_posix(case_path: Path) -> None:
    ingest(case_path, [CSV])
    got = posts(case_path)
    group = got["1054893621478524"]
    assert group[1:3] == ("8812345500011", datetime(2023, 6, 5, 15, 2, 10))  # no offset: UTC
    assert group[4] == 'همه بخوانید #ایران_آزاد\nخط دوم, with a comma and "quotes"'
    assert group[6] == ["ایران_آزاد"]
    hostile = got["1054893621478525"]
    assert hostile[2] == datetime(2023, 6, 5, 15, 3, 20)  # POSIX seconds
    assert str(hostile[4]).startswith('=HYPERLINK("http://evil.example","click") \u202eevil')


def test_owners_are_accounts(case_path: Path) -> None:
    ingest(case_path, [CSV])
    rows = query(case_path, "SELECT account_id, handle, display_name, extra FROM accounts")
    got = {str(r[0]): r[1:] for r in rows}
    assert got[PAGE] == ("voiceoftirana", "Voice of Tirana", '{"type":"PAGE"}')
    assert got["8812345500011"] == (None, "Friends of Free Iran", '{"type":"GROUP"}')


def test_csv_rejects_name_the_row_and_the_column(case_path: Path) -> None:
    ingest(case_path, [CSV])
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    assert rejects == [
        (6, "creation_time", "expected creation_time as ISO 8601 ('2023-06-05T15:01:23+0000') "
         "or POSIX seconds, got 'next tuesday'"),
        (7, "post_owner.id", "post_owner.id is missing: the owner's id is the account"),
        (8, "statistics.reaction_count", "statistics.reaction_count '12K' is not a count (a "
         "whole number from 0 to 9223372036854775807)"),
        (9, None, "expected 17 fields as in the header, got 3"),
    ]  # fmt: skip


def test_instagram_posts_as_a_json_document(case_path: Path) -> None:
    f = ingest(case_path, [INSTAGRAM]).files[0]
    assert (f.read, f.stored, f.rejected) == (3, 2, 1)
    got = posts(case_path)["17912345678901234"]
    assert got[:3] == ("instagram", "5512340000001", datetime(2022, 9, 21, 15, 59, 30))
    # Instagram handles keep their inner dots; a sentence's full stop is not one.
    assert got[6:8] == (["مهسا_امینی"], ["freedom.voice", "tehran.daily"])
    assert json.loads(str(got[10]))["statistics"] == {"like_count": 1020, "comment_count": 44}
    handle = query(case_path, "SELECT handle FROM accounts WHERE account_id = '5512340000001'")
    assert handle == [("tehran.daily",)]
    [(line, field, reason)] = query(case_path, "SELECT line, field, reason FROM rejects")
    assert (line, field) == (None, "[2].owner.username")
    assert "'evil\\x1b]52;c;aGk=\\x07' holds a control character" in str(reason)


def test_json_lines_of_posts_and_of_api_pages(case_path: Path) -> None:
    f = ingest(case_path, [LINES]).files[0]
    assert (f.read, f.stored, f.rejected) == (4, 3, 1)
    got = posts(case_path)
    assert got["1054893621478532"][:2] == ("facebook", "3321987654099")  # from a page line
    [(line, field, reason)] = query(case_path, "SELECT line, field, reason FROM rejects")
    assert (line, field) == (3, "data[1].post_owner")
    assert reason == "the post names no owner (post_owner on Facebook, owner on Instagram)"


def test_an_api_page_document_is_not_taken_for_twarc2(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in LINES.read_text(encoding="utf-8").splitlines()[:2]]
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"data": rows, "paging": {}}, indent=2), encoding="utf-8")
    assert sniff(path).name == "meta-content-library"
    f = ingest(tmp_path / "case.duckdb", [path]).files[0]
    assert (f.read, f.stored) == (2, 2)


def test_a_differently_shaped_csv_is_refused_with_the_table_advice(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("post id,time,owner\n1,2023-01-01,x\n", encoding="utf-8")
    with pytest.raises(FormatError, match="--format table --map") as info:
        ingest(tmp_path / "case.duckdb", [path], fmt="meta-content-library")
    assert "the CSV header lacks id, creation_time" in str(info.value)
