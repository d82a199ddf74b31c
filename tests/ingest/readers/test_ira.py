"""The FiveThirtyEight / Clemson IRA tweets release (russian-troll-tweets) and its writer."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, query, table_counts
from trollscope.errors import FormatError, NothingReadError
from trollscope.ingest.readers import sniff
from trollscope.ingest.run import ingest
from trollscope.ingest.writers import ira as writer
from trollscope.model import Account, Kind, Post

SAMPLE = DATA / "ira" / "IRAhandle_tweets_sample.csv"
HEADER = (
    "external_author_id,author,content,region,language,publish_date,harvested_date,"
    "following,followers,updates,post_type,account_type,retweet,account_category,"
    "new_june_2018,alt_external_id,tweet_id,article_url,tco1_step1,tco2_step1,tco3_step1"
)
GOP = "905874659358453760"  # 10_GOP's user id, in the sample only inside article_url


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT post_id, account_id, created_at, kind, ref_post_id, ref_account_id, text, "
        "lang, hashtags, mentions, urls, platform FROM posts",
    )
    return {str(r[0]): r[1:] for r in rows}


def ira_file(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "ira.csv"
    columns = HEADER.split(",")
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(columns)
        for row in rows:
            out.writerow([row.get(c, "") for c in columns])
    return path


GOOD = {
    "external_author_id": "5",
    "author": "A",
    "content": "hi",
    "publish_date": "1/2/2016 3:04",
    "tweet_id": "77",
}


def test_counts_add_up_and_reingest_changes_nothing(case_path: Path) -> None:
    f = ingest(case_path, [SAMPLE]).files[0]
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("ira", 17, 14, 0, 3)
    assert f.read == f.stored + f.duplicate + f.rejected
    before = table_counts(case_path)
    assert (before["posts"], before["accounts"], before["rejects"]) == (14, 3, 3)
    again = ingest(case_path, [SAMPLE]).files[0]
    assert (again.stored, again.duplicate, again.rejected) == (0, 14, 3)
    after = table_counts(case_path)
    assert {k: after[k] for k in ("posts", "accounts", "rejects")} == {
        k: before[k] for k in ("posts", "accounts", "rejects")
    }


def test_exact_ids_come_from_article_url(case_path: Path) -> None:
    # The sample's id columns went through a spreadsheet: "9.06E+17", "9.1458E+17".
    ingest(case_path, [SAMPLE])
    got = posts(case_path)
    first = got["914580356430536707"]
    assert first[:5] == (GOP, datetime(2017, 10, 1, 19, 58), "post", None, None)
    assert str(first[5]).startswith('"We have a sitting Democrat US Senator on trial')
    assert first[6:] == (
        "en",
        [],
        ["nedryun"],
        ["https://twitter.com/10_gop/status/914580356430536707/video/1"],
        "twitter",
    )
    assert {row[0] for pid, row in got.items() if pid.startswith("91")} == {GOP}


def test_kinds_hashtags_and_mentions(case_path: Path) -> None:
    ingest(case_path, [SAMPLE])
    got = posts(case_path)
    # RETWEET: a repost whose reference the release does not hold.
    assert got["914623490375979008"][2:4] == ("repost", None)
    assert got["914623490375979008"][7] == ["BoycottNFL"]
    # The flag emoji right after a hashtag is not part of it.
    assert got["914312219952861184"][1:3] == (datetime(2017, 10, 1, 2, 13), "repost")
    assert got["914312219952861184"][7] == ["StandForOurAnthem"]
    # QUOTE_TWEET (retweet=1 too) is a quote.
    assert got["915725584461910016"][2:5] == ("quote", None, None)
    assert got["915358980473544705"][7:9] == (["PRStrong"], ["POTUS", "FLOTUS"])
    assert got["914322215537119234"][2] == "post"
    assert got["914322215537119234"][8] == ["SenatorMenendez", "CarmenYulinCruz"]


def test_original_release_layout(case_path: Path) -> None:
    # Rows shaped as the release itself: four-digit years, exact tweet_id, and a
    # float-rounded external_author_id ("1679000000") beside the exact alt_external_id.
    ingest(case_path, [SAMPLE])
    got = posts(case_path)
    assert got["709311111111111111"] == (
        "2882013788",
        datetime(2016, 3, 14, 8, 5),
        "repost",  # post_type empty, retweet=1
        None,
        None,
        "Москва сегодня #СтопМайдан @ru_news_example https://t.co/AbCdEf1234",
        "ru",
        ["СтопМайдан"],
        ["ru_news_example"],
        ["http://example.ru/news/2016/03/14"],
        "twitter",
    )
    thread = got["750811111111111112"]
    assert thread[:3] == ("1679181234", datetime(2016, 7, 6, 23, 59), "quote")
    assert thread[5] == (
        "Line one of a thread\nline two #BlackLivesMatter\n@example_friend line three"
    )
    assert thread[7:10] == (
        ["BlackLivesMatter"],
        ["example_friend"],
        [
            "https://twitter.com/example_friend/status/750800000000000000",
            "http://example.org/a",
            "http://example.org/b",
        ],
    )


def test_accounts(case_path: Path) -> None:
    ingest(case_path, [SAMPLE])
    rows = query(
        case_path,
        "SELECT account_id, handle, location, followers, following, created_at, extra "
        "FROM accounts ORDER BY account_id",
    )
    got = {str(r[0]): r[1:] for r in rows}
    # The first row's counts win; "Unknown" (Social Studio's placeholder) is no location.
    assert got[GOP][:5] == ("10_GOP", None, 9636, 1052, None)
    assert json.loads(str(got[GOP][5])) == {
        "account_type": "Right",
        "account_category": "RightTroll",
        "new_june_2018": "0",
    }
    assert got["1679181234"][:4] == ("EXAMPLE_US_VOICE", "United States", 2840, 310)
    assert "1679000000" not in got


def test_rejects_say_why_and_how_to_fix(case_path: Path) -> None:
    ingest(case_path, [SAMPLE])
    found = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    fix = (
        " A spreadsheet or a float column rounds ids and their digits are lost: re-export the "
        "file with the id columns as text, or keep article_url, which holds both exact ids."
    )
    # Row 15 spans three physical lines: the next rows are 16, 17, 18 (lines 18, 19, 20).
    assert found == [
        (
            16,
            "publish_date",
            "expected publish_date as 'M/D/YYYY H:MM' UTC (or 'M/D/YY H:MM') "
            "between 2004-01-01 and tomorrow (UTC), "
            "got '2016-03-14T08:05:00'",
        ),
        (
            17,
            "tweet_id",
            "no exact tweet id: tweet_id '7.09311E+17' is in scientific notation, and "
            "article_url is empty." + fix,
        ),
        (
            18,
            "external_author_id",
            "no exact account id: article_url is empty, alt_external_id is empty and "
            "external_author_id '2.88E+09' is in scientific notation." + fix,
        ),
    ]


def test_shared_sample_stores_every_row_with_exact_ids(shared_data: Path, case_path: Path) -> None:
    path = shared_data / "ira-sample" / "IRAhandle_tweets_sample.csv"
    f = ingest(case_path, [path]).files[0]
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("ira", 100, 100, 0, 0)
    ids = [str(r[0]) for r in query(case_path, "SELECT post_id FROM posts")]
    assert len(set(ids)) == 100
    assert all(re.fullmatch(r"9[0-9]{17}", i) for i in ids), "every id exact, 18 digits"
    assert query(case_path, "SELECT DISTINCT account_id FROM posts") == [(GOP,)]
    assert query(case_path, "SELECT kind, count(*) FROM posts GROUP BY kind ORDER BY kind") == [
        ("post", 66),
        ("quote", 1),
        ("repost", 33),
    ]
    assert query(case_path, "SELECT min(created_at), max(created_at) FROM posts") == [
        (datetime(2017, 10, 1, 2, 13), datetime(2017, 10, 15, 23, 34))
    ]


def test_language_names(tmp_path: Path, case_path: Path) -> None:
    path = ira_file(
        tmp_path,
        [
            {**GOOD, "language": "English"},
            {**GOOD, "tweet_id": "78", "language": "LANGUAGE UNDEFINED"},
            {**GOOD, "tweet_id": "79", "language": "Farsi (Persian)", "content": "سلام #ایران"},
            {**GOOD, "tweet_id": "80", "language": "Klingon"},
        ],
    )
    ingest(case_path, [path])
    got = posts(case_path)
    assert [got[i][6] for i in ("77", "78", "79", "80")] == ["en", "und", "fa", "Klingon"]
    assert got["79"][5:8] == ("سلام #ایران", "fa", ["ایران"])


def test_invalid_utf8_row_is_rejected(tmp_path: Path, case_path: Path) -> None:
    path = ira_file(tmp_path, [GOOD, {**GOOD, "tweet_id": "78", "content": "XX"}])
    path.write_bytes(path.read_bytes().replace(b"XX", b"\xc3\x28"))
    f = ingest(case_path, [path]).files[0]
    assert (f.read, f.stored, f.rejected) == (2, 1, 1)
    assert query(case_path, "SELECT line, reason FROM rejects") == [
        (3, "invalid UTF-8 bytes; re-save the file as UTF-8")
    ]


def test_missing_column_and_other_formats(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "no_date.csv"
    path.write_text(HEADER.replace("publish_date,", "") + "\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="ira")
    assert str(info.value).startswith(
        f"{path}: this is not a FiveThirtyEight IRA tweets CSV (external_author_id, author, "
        "content, publish_date, ...): column(s) publish_date missing from the header"
    )
    tweets = DATA / "ioarchive" / "tweets.csv"
    with pytest.raises(FormatError) as info:
        ingest(case_path, [tweets], fmt="ira")
    assert (
        "column(s) external_author_id, author, content, publish_date missing from the header "
        "(found: tweetid, userid, user_display_name," in str(info.value)
    )
    assert not case_path.exists()


def test_empty_and_unreadable_files(tmp_path: Path, case_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="the file is empty; expected a FiveThirtyEight IRA"):
        ingest(case_path, [empty], fmt="ira")
    path = ira_file(tmp_path, [{**GOOD, "publish_date": "soon"}])
    with pytest.raises(NothingReadError) as info:
        ingest(case_path, [path])
    assert "line 2, field publish_date: expected publish_date as 'M/D/YYYY H:MM' UTC" in str(
        info.value
    )


def test_sniffed() -> None:
    assert sniff(SAMPLE).name == "ira"


def test_writer_layout_and_read_back(tmp_path: Path, case_path: Path) -> None:
    post = Post(
        platform="generic",
        post_id="12",
        account_id="34",
        created_at=datetime(2016, 3, 4, 5, 6, 59),
        kind=Kind.QUOTE,
        text="#A @b",
        lang="ru",
        ref_post_id="99",
        urls=["u1", "", "u2", "u3", "u4"],
    )
    account = Account("generic", "34", handle="H", location=None, followers=2, following=1)
    path = tmp_path / "out.csv"
    writer.write(path, [post], {"34": account})
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    assert lines[0] == HEADER
    assert lines[1] == (
        "34,H,#A @b,Unknown,Russian,3/4/2016 5:06,,1,2,,QUOTE_TWEET,,1,,,34,12,"
        "http://twitter.com/34/statuses/12,u1,u2,u3"
    )
    ingest(case_path, [path])
    assert posts(case_path)["12"] == (
        "34",
        datetime(2016, 3, 4, 5, 6),
        "quote",
        None,
        None,
        "#A @b",
        "ru",
        ["A"],
        ["b"],
        ["u1", "u2", "u3"],
        "twitter",
    )
