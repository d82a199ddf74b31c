"""CrowdTangle API JSON: responses and post objects, as JSON lines or one document."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, query, table_counts
from trollscope.errors import FormatError, MappingError
from trollscope.ingest.readers import ReadOptions, sniff
from trollscope.ingest.run import ingest

SEARCH = DATA / "crowdtangle_api" / "search.json"
LINKS = DATA / "crowdtangle_api" / "links.jsonl"
PAGES_CSV = DATA / "crowdtangle" / "pages.csv"
PAGE_POST = "https://www.facebook.com/100064581234567/posts/4812345678901234"
GROUP_POST = "https://www.facebook.com/groups/1584793948440088/permalink/2468424023410405/"
INSTAGRAM_POST = "https://www.instagram.com/p/CiXyZ12abcd/"
STORY = "https://www.example-news.org/story/42?utm_source=fb"


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT post_id, platform, account_id, created_at, kind, text, lang, hashtags, "
        "mentions, urls, extra FROM posts",
    )
    return {str(r[0]): r[1:] for r in rows}


def accounts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT account_id, platform, handle, display_name, bio, location, created_at, "
        "followers, avatar, extra FROM accounts",
    )
    return {str(r[0]): r[1:] for r in rows}


def fixture_posts() -> list[dict[str, Any]]:
    return list(json.loads(SEARCH.read_text(encoding="utf-8"))["result"]["posts"])


def test_the_content_names_the_format() -> None:
    assert sniff(SEARCH).name == "crowdtangle-api"
    assert sniff(LINKS).name == "crowdtangle-api"


def test_a_response_document_counts_add_up_and_reingest_changes_nothing(case_path: Path) -> None:
    f = ingest(case_path, [SEARCH]).files[0]
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("crowdtangle-api", 4, 3, 0, 1)
    before = table_counts(case_path)
    assert (before["posts"], before["accounts"], before["rejects"]) == (3, 3, 1)
    again = ingest(case_path, [SEARCH]).files[0]
    assert (again.stored, again.duplicate, again.rejected) == (0, 3, 1)
    assert table_counts(case_path)["posts"] == 3


def test_a_facebook_page_post(case_path: Path) -> None:
    ingest(case_path, [SEARCH])
    got = posts(case_path)[PAGE_POST]
    assert got[:6] == (
        "facebook",
        "100064581234567",
        datetime(2021, 11, 5, 18, 2, 45),  # the API's date is UTC
        "post",
        "Read this before they delete it #Iran #FreeIran via @regimewatch https://bit.ly/3xYz",
        "en",
    )
    assert got[6:9] == (["Iran", "FreeIran"], ["regimewatch"], [STORY])
    extra = json.loads(str(got[9]))
    assert extra["crowdtangle_id"] == "12889510|4812345678901234"
    assert extra["platform_id"] == "100064581234567_4812345678901234"
    assert (extra["type"], extra["title"], extra["description"]) == (
        "link",
        "The story they hide",
        "A long read.",
    )
    assert extra["statistics"]["likeCount"] == 1100


def test_group_and_instagram_posts(case_path: Path) -> None:
    ingest(case_path, [SEARCH])
    got = posts(case_path)
    group = got[GROUP_POST]
    assert group[:2] == ("facebook", "1584793948440088")
    assert group[4:9] == ("همه بخوانید #ایران_آزاد", "fa", ["ایران_آزاد"], [], [STORY])
    insta = got[INSTAGRAM_POST]
    # On Instagram the handle is the account (as in the CSV export), the caption the text,
    # and the link to the post itself is not a shared URL.
    assert insta[:3] == ("instagram", "tehran.daily", datetime(2022, 9, 21, 15, 59, 30))
    assert insta[4:9] == (
        "#مهسا_امینی with @freedom.voice",
        "und",
        ["مهسا_امینی"],
        ["freedom.voice"],
        [],
    )
    assert json.loads(str(insta[9]))["statistics"] == {"commentCount": 44, "favoriteCount": 1020}


def test_profiles(case_path: Path) -> None:
    ingest(case_path, [SEARCH])
    got = accounts(case_path)
    page = got["100064581234567"]
    assert page[:8] == (
        "facebook",
        "voiceoftirana",
        "Voice of Tirana",
        "Independent news. #FreeIran",
        "AL",
        datetime(2019, 3, 4, 13, 15, 2),
        15021,
        "https://scontent.xx.fbcdn.net/v/t1.6435-1/p200x200/1.jpg",
    )
    assert json.loads(str(page[8])) == {
        "account_type": "facebook_page",
        "page_category": "NEWS_SITE",
        "verified": False,
        "url": "https://www.facebook.com/100064581234567",
    }
    assert got["1584793948440088"][1:3] == (None, "Friends of Free Iran")
    assert got["tehran.daily"][:3] == ("instagram", "tehran.daily", "Tehran Daily")


def test_rejects_name_the_post_and_the_line(case_path: Path) -> None:
    ingest(case_path, [SEARCH, LINKS])
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line NULLS FIRST")
    assert rejects[0][:2] == (None, "date")
    assert "post 4: expected date as 'YYYY-MM-DD HH:MM:SS' (UTC)" in str(rejects[0][2])
    assert rejects[1][:2] == (2, "postUrl")
    assert str(rejects[1][2]).startswith("post 1 of the response: postUrl is missing")
    assert rejects[2][:2] == (3, None)
    assert "not valid JSON" in str(rejects[2][2])


def test_json_lines_of_responses_and_the_same_posts_deduplicate(case_path: Path) -> None:
    ingest(case_path, [SEARCH])
    f = ingest(case_path, [LINKS]).files[0]
    # Two posts already stored, a post without postUrl and a line cut short.
    assert (f.read, f.stored, f.duplicate, f.rejected) == (4, 0, 2, 2)


def test_the_csv_export_and_the_api_give_one_post_the_same_keys(case_path: Path) -> None:
    ingest(case_path, [PAGES_CSV])
    f = ingest(case_path, [SEARCH]).files[0]
    assert f.duplicate == 1  # the page's post, exported as CSV and fetched from the API
    assert query(case_path, "SELECT count(*) FROM posts WHERE post_id = ?", [PAGE_POST]) == [(1,)]


def test_a_list_of_posts_and_json_lines_of_posts(tmp_path: Path) -> None:
    items = fixture_posts()[:3]
    document = tmp_path / "posts.json"
    document.write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = tmp_path / "posts.jsonl"
    lines.write_text("\n".join(json.dumps(p) for p in items) + "\n", encoding="utf-8")
    for path in (document, lines):
        assert sniff(path).name == "crowdtangle-api"
        case = tmp_path / f"{path.suffix[1:]}.duckdb"
        f = ingest(case, [path]).files[0]
        assert (f.read, f.stored, f.rejected) == (3, 3, 0), path
        assert set(posts(case)) == {PAGE_POST, GROUP_POST, INSTAGRAM_POST}


def test_bad_utf8_in_a_document_rejects_only_its_post(tmp_path: Path) -> None:
    items = fixture_posts()[:3]
    text = json.dumps({"status": 200, "result": {"posts": items}}, indent=1).encode("utf-8")
    bad = text.replace(b"The story they hide", b"The story \xff they hide")
    path = tmp_path / "bad.json"
    path.write_bytes(bad)
    case = tmp_path / "case.duckdb"
    f = ingest(case, [path]).files[0]
    assert (f.read, f.stored, f.rejected) == (3, 2, 1)
    [(reason,)] = query(case, "SELECT reason FROM rejects")
    assert reason == "post 1: invalid UTF-8 bytes; re-save the file as UTF-8"
    assert PAGE_POST not in posts(case)


def test_a_document_cut_short_keeps_what_came_before(tmp_path: Path) -> None:
    text = json.dumps({"status": 200, "result": {"posts": fixture_posts()[:3]}}, indent=1)
    cut = text[: text.index('"platformId": "4423151234_')]
    path = tmp_path / "cut.json"
    path.write_text(cut, encoding="utf-8")
    case = tmp_path / "case.duckdb"
    f = ingest(case, [path]).files[0]
    assert (f.stored, f.rejected) == (2, 1)
    [(reason,)] = query(case, "SELECT reason FROM rejects")
    assert str(reason).startswith("the file breaks off after post 2")


def test_zero_followers_are_kept(tmp_path: Path) -> None:
    post = fixture_posts()[0]
    post["account"]["subscriberCount"] = 0
    path = tmp_path / "zero.jsonl"
    path.write_text(json.dumps(post) + "\n", encoding="utf-8")
    case = tmp_path / "case.duckdb"
    ingest(case, [path])
    assert accounts(case)["100064581234567"][6] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ('{"status": 200, "result": {"posts": []}}\n', "holds no post"),
        ('{\n "status": 200,\n "result": {"posts": [', "breaks off before its first post"),
    ],
)
def test_files_without_posts_are_one_clear_error(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "ct.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FormatError, match=message):
        ingest(tmp_path / "case.duckdb", [path], fmt="crowdtangle-api")
    assert not (tmp_path / "case.duckdb").exists()


def test_platform_override_and_map_refused(tmp_path: Path) -> None:
    case = tmp_path / "case.duckdb"
    ingest(case, [SEARCH], options=ReadOptions(platform="ct"))
    assert query(case, "SELECT DISTINCT platform FROM posts") == [("ct",)]
    with pytest.raises(MappingError, match="CrowdTangle's API fields are fixed"):
        ingest(case, [SEARCH], options=ReadOptions(mapping={"text": "message"}))
