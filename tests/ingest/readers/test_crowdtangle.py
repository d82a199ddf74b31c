"""CrowdTangle's dashboard CSV exports (Facebook pages and groups, Instagram)."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import DATA, query, table_counts
from trollscope.cli import cli
from trollscope.errors import FormatError, MappingError, NothingReadError
from trollscope.ingest.readers import ReadOptions, sniff
from trollscope.ingest.run import ingest

PAGES = DATA / "crowdtangle" / "pages.csv"
INSTAGRAM = DATA / "crowdtangle" / "instagram.csv"
PAGE = "100064581234567"
FIRST = f"https://www.facebook.com/{PAGE}/posts/4812345678901234"
PHOTO = f"https://www.facebook.com/{PAGE}/photos/a.1234/4823456789012345/"
ARABIC = "https://www.facebook.com/100070001112223/posts/4812345678909999"


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT post_id, platform, account_id, created_at, kind, ref_post_id, text, "
        "hashtags, mentions, urls, extra FROM posts",
    )
    return {str(r[0]): r[1:] for r in rows}


def accounts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT account_id, platform, handle, display_name, bio, location, created_at, "
        "followers, extra FROM accounts",
    )
    return {str(r[0]): r[1:] for r in rows}


def export(tmp_path: Path, rows: list[dict[str, str]], name: str = "ct.csv") -> Path:
    header = ["Page Name", "User Name", "Facebook Id", "Post Created", "URL", "Message"]
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        for row in rows:
            out.writerow([row.get(c, "") for c in header])
    return path


def row(n: int, created: str) -> dict[str, str]:
    return {
        "Page Name": "Page",
        "User Name": "page",
        "Facebook Id": "111",
        "Post Created": created,
        "URL": f"https://www.facebook.com/111/posts/{n}",
        "Message": "hello",
    }


def test_the_content_names_the_format() -> None:
    assert sniff(PAGES).name == "crowdtangle"
    assert sniff(INSTAGRAM).name == "crowdtangle"


def test_counts_add_up_and_reingest_changes_nothing(case_path: Path) -> None:
    f = ingest(case_path, [PAGES]).files[0]
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("crowdtangle", 5, 3, 0, 2)
    before = table_counts(case_path)
    assert (before["posts"], before["accounts"], before["rejects"]) == (3, 2, 2)
    again = ingest(case_path, [PAGES]).files[0]
    assert (again.stored, again.duplicate, again.rejected) == (0, 3, 2)
    after = table_counts(case_path)
    assert {k: after[k] for k in ("posts", "accounts", "rejects")} == {
        k: before[k] for k in ("posts", "accounts", "rejects")
    }


def test_a_facebook_page_post(case_path: Path) -> None:
    ingest(case_path, [PAGES])
    got = posts(case_path)[FIRST]
    # 14:02:45 EDT is 18:02:45 UTC.
    assert got[:5] == ("facebook", PAGE, datetime(2021, 11, 5, 18, 2, 45), "post", None)
    assert got[5] == (
        "Read this before they delete it #Iran #FreeIran via @regimewatch https://bit.ly/3xYz"
    )
    # The link after redirects is the shared URL; the short link stays in extra.
    assert got[6:9] == (
        ["Iran", "FreeIran"],
        ["regimewatch"],
        ["https://www.example-news.org/story/42?utm_source=fb"],
    )
    # Counts in a locale that groups thousands with '.' ("1.234") are read as digits.
    assert json.loads(str(got[9])) == {
        "type": "Link",
        "total_interactions": 1234,
        "likes": 1100,
        "comments": 34,
        "shares": 100,
        "link": "https://bit.ly/3xYz",
        "link_text": "The story they hide",
        "description": "A long read.",
    }


def test_persian_and_arabic_text_round_trips_and_est_is_five_hours(case_path: Path) -> None:
    ingest(case_path, [PAGES])
    got = posts(case_path)
    photo = got[PHOTO]
    assert photo[2] == datetime(2021, 11, 8, 14, 30)  # 09:30 EST
    assert photo[5] == "ایران آزاد خواهد شد #ایران_آزاد\nنه به دیکتاتوری"
    assert photo[6] == ["ایران_آزاد"]
    # The photo's Link is the post's own page: not a shared link.
    assert photo[8] == []
    assert got[ARABIC][5] == '"الحرية" لإيران #ايران #FreeIran'
    assert got[ARABIC][6] == ["ايران", "FreeIran"]


def test_page_profiles(case_path: Path) -> None:
    ingest(case_path, [PAGES])
    got = accounts(case_path)
    assert got[PAGE] == (
        "facebook",
        "voiceoftirana",
        "Voice of Tirana",
        "Independent news. #FreeIran",
        "AL",  # Page Admin Top Country
        datetime(2019, 3, 4, 13, 15, 2),  # Page Created, in its row's zone (EDT)
        15021,  # "15.021"
        '{"page_category":"NEWS_SITE"}',
    )
    # No User Name: the page has no handle; no followers count: the likes stand in.
    assert got["100070001112223"][1:3] == (None, "صوت الحرية")
    assert got["100070001112223"][6] == 950


def test_bad_rows_are_rejected_with_line_field_and_reason(case_path: Path) -> None:
    ingest(case_path, [PAGES])
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    assert [(line, field) for line, field, _ in rejects] == [(5, "Facebook Id"), (6, "URL")]
    assert "'1.00071E+14' is in scientific notation" in str(rejects[0][2])
    assert "re-export the file with ids as text" in str(rejects[0][2])
    assert "URL is empty" in str(rejects[1][2])


def test_instagram_export(case_path: Path) -> None:
    ingest(case_path, [INSTAGRAM])
    got = posts(case_path)
    first = got["https://www.instagram.com/p/CiXyZ12abcd/"]
    # The handle is the id; "+08" and SGT are both eight hours east of UTC.
    assert first[:4] == ("instagram", "tehran.daily", datetime(2022, 9, 21, 15, 59, 30), "post")
    assert first[5:9] == ("#مهسا_امینی with @freedom.voice", ["مهسا_امینی"], ["freedom.voice"], [])
    second = got["https://www.instagram.com/p/CiAbC34efgh/"]
    assert second[2] == datetime(2022, 9, 22, 0, 0)
    profile = accounts(case_path)["tehran.daily"]
    assert profile[:3] == ("instagram", "tehran.daily", "Tehran Daily")
    assert profile[6] == 20500  # "20,500"


def test_zone_labels(tmp_path: Path) -> None:
    path = export(
        tmp_path,
        [
            row(1, "2021-07-05 18:02:45 BRT"),
            row(2, "2021-07-05 18:02:45 +0530"),
            row(3, "2021-07-05 18:02:45 UTC-3"),
            row(4, "2021-07-05 18:02:45 cest"),
            row(5, "2021-01-05 18:02:45 NZDT"),
        ],
    )
    case = tmp_path / "case.duckdb"
    assert ingest(case, [path]).files[0].rejected == 0
    times = {k.rsplit("/", 1)[1]: v[2] for k, v in posts(case).items()}
    assert times == {
        "1": datetime(2021, 7, 5, 21, 2, 45),
        "2": datetime(2021, 7, 5, 12, 32, 45),
        "3": datetime(2021, 7, 5, 21, 2, 45),
        "4": datetime(2021, 7, 5, 16, 2, 45),
        "5": datetime(2021, 1, 5, 5, 2, 45),
    }


def test_an_ambiguous_or_missing_zone_needs_timezone(tmp_path: Path) -> None:
    rows = [
        row(1, "2021-01-05 10:00:00 CST"),
        row(2, "2021-07-05 10:00:00"),
        row(3, "2021-07-05 10:00:00 XYZ"),
        row(4, "2021-07-05 10:00:00 EDT"),
    ]
    path = export(tmp_path, rows)
    case = tmp_path / "case.duckdb"
    f = ingest(case, [path]).files[0]
    assert (f.stored, f.rejected) == (1, 3)
    reasons = [r[0] for r in query(case, "SELECT reason FROM rejects ORDER BY line")]
    assert "the zone CST could be US Central (UTC-06:00) or China (UTC+08:00)" in reasons[0]
    assert "has no time zone" in reasons[1]
    assert "the time zone XYZ of Post Created is not one trollscope knows" in reasons[2]
    assert all("--timezone" in r for r in reasons)

    other = tmp_path / "named.duckdb"
    f = ingest(other, [path], options=ReadOptions(timezone="America/Chicago")).files[0]
    assert (f.stored, f.rejected) == (4, 0)
    times = {k.rsplit("/", 1)[1]: v[2] for k, v in posts(other).items()}
    # The zone settles what the label cannot, with its own DST; a clear label still wins.
    assert times == {
        "1": datetime(2021, 1, 5, 16, 0),
        "2": datetime(2021, 7, 5, 15, 0),
        "3": datetime(2021, 7, 5, 15, 0),
        "4": datetime(2021, 7, 5, 14, 0),
    }


def test_an_unknown_timezone_name_is_refused(tmp_path: Path) -> None:
    path = export(tmp_path, [row(1, "2021-01-05 10:00:00 CST")])
    case = tmp_path / "case.duckdb"
    with pytest.raises(MappingError, match="'Chicago' is not an IANA time zone"):
        ingest(case, [path], options=ReadOptions(timezone="Chicago"))
    assert not case.exists()


def test_the_cli_takes_timezone(tmp_path: Path) -> None:
    path = export(tmp_path, [row(1, "2021-01-05 10:00:00 CST")])
    case = tmp_path / "case.duckdb"
    runner = CliRunner()
    failed = runner.invoke(cli, ["ingest", str(path), "--into", str(case)])
    assert failed.exit_code == 1
    assert "--timezone" in failed.output
    done = runner.invoke(
        cli, ["ingest", str(path), "--into", str(case), "--timezone", "Asia/Shanghai", "--json"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["stored"] == 1
    assert [r[0] for r in query(case, "SELECT created_at FROM posts")] == [
        datetime(2021, 1, 5, 2, 0)
    ]


def test_every_row_rejected_is_one_clear_error(tmp_path: Path) -> None:
    path = export(tmp_path, [row(1, "05/01/2021 10:00")])
    with pytest.raises(NothingReadError, match="expected Post Created as 'YYYY-MM-DD HH:MM:SS"):
        ingest(tmp_path / "case.duckdb", [path])


def test_a_header_without_the_required_columns_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "ct.csv"
    path.write_text("Page Name,User Name,Post Created\nA,a,2021-01-01 00:00:00 UTC\n")
    with pytest.raises(FormatError, match="column\\(s\\) URL missing"):
        ingest(tmp_path / "case.duckdb", [path], fmt="crowdtangle")


def test_platform_override_and_map_refused(tmp_path: Path) -> None:
    path = export(tmp_path, [row(1, "2021-01-05 10:00:00 UTC")])
    case = tmp_path / "case.duckdb"
    ingest(case, [path], options=ReadOptions(platform="facebook-archive"))
    assert query(case, "SELECT DISTINCT platform FROM posts") == [("facebook-archive",)]
    with pytest.raises(MappingError, match="--map does not apply to the crowdtangle format"):
        ingest(case, [path], fmt="crowdtangle", options=ReadOptions(mapping={"text": "Message"}))
