"""Twitter's information-operations archive: the tweets CSV (io-tweets), the users CSV
(io-users) and their writers."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, query, table_counts
from trollscope.errors import FormatError, MappingError, NothingReadError
from trollscope.ingest.readers import ReadOptions, sniff
from trollscope.ingest.run import ingest
from trollscope.ingest.writers import ioarchive as writer
from trollscope.model import Account, Kind, Post

TWEETS = DATA / "ioarchive" / "tweets.csv"
USERS = DATA / "ioarchive" / "users.csv"
# The releases' exact header (e.g. the Internet Archive mirror's ioa_tweets.csv).
HEADER = (
    "tweetid,userid,user_display_name,user_screen_name,user_reported_location,"
    "user_profile_description,user_profile_url,follower_count,following_count,"
    "account_creation_date,account_language,tweet_language,tweet_text,tweet_time,"
    "tweet_client_name,in_reply_to_userid,in_reply_to_tweetid,quoted_tweet_tweetid,"
    "is_retweet,retweet_userid,retweet_tweetid,latitude,longitude,quote_count,"
    "reply_count,like_count,retweet_count,hashtags,urls,user_mentions,poll_choices"
)
USERS_HEADER = (
    "userid,user_display_name,user_screen_name,user_reported_location,"
    "user_profile_description,user_profile_url,follower_count,following_count,"
    "account_creation_date,account_language"
)
# Hashed user ids, as the releases write them for accounts under 5,000 followers.
H1 = "ewVOWwMSMJ64c/QnLp8FDmDIH9+DR0ld7qRlZFnyMEU="
H2 = "+Fs1ymZsHaHdShEXUCJr+H5yFjjIuZNRfWxTcIjBKZw="
H3 = "BN7Eko3UwTH4FvMWPDnSOqj5phpfot7GiCpplFTxD2o="
POST_COLUMNS = (
    "post_id, account_id, created_at, kind, ref_post_id, ref_account_id, text, lang, "
    "hashtags, urls, mentions, client, extra, platform"
)


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(case, f"SELECT {POST_COLUMNS} FROM posts")
    return {str(r[0]): r[1:] for r in rows}


def accounts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT account_id, handle, display_name, bio, location, created_at, followers, "
        "following, lang, extra, platform FROM accounts",
    )
    return {str(r[0]): r[1:] for r in rows}


def rejects(case: Path) -> list[tuple[object, ...]]:
    return query(case, "SELECT line, field, reason FROM rejects ORDER BY source_id, line")


def tweets_file(tmp_path: Path, rows: list[dict[str, str]], name: str = "t.csv") -> Path:
    """A tweets CSV with the real header; unnamed columns are empty."""
    path = tmp_path / name
    columns = HEADER.split(",")
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(columns)
        for row in rows:
            out.writerow([row.get(c, "") for c in columns])
    return path


GOOD = {"tweetid": "1", "userid": "u1", "tweet_time": "2020-01-02 03:04"}


def test_tweets_counts_add_up_and_reingest_changes_nothing(case_path: Path) -> None:
    result = ingest(case_path, [TWEETS])
    f = result.files[0]
    assert (f.format, f.unit, f.read, f.stored, f.duplicate, f.rejected) == (
        "io-tweets",
        "posts",
        12,
        7,
        1,  # the last row repeats the first
        4,
    )
    assert f.read == f.stored + f.duplicate + f.rejected
    assert f.accounts_new == 3
    before = table_counts(case_path)
    assert (before["posts"], before["accounts"], before["rejects"]) == (7, 3, 4)
    again = ingest(case_path, [TWEETS]).files[0]
    assert (again.read, again.stored, again.duplicate, again.rejected) == (12, 0, 8, 4)
    after = table_counts(case_path)
    assert {k: after[k] for k in ("posts", "accounts", "rejects")} == {
        k: before[k] for k in ("posts", "accounts", "rejects")
    }


def test_kinds_and_references(case_path: Path) -> None:
    ingest(case_path, [TWEETS])
    got = posts(case_path)
    # (account, time, kind, ref post, ref account)
    assert got["1181022834736566272"][:5] == (H1, datetime(2019, 10, 7, 2, 15), "post", None, None)
    assert got["1181023000000000001"][:5] == (
        H2,
        datetime(2019, 10, 7, 2, 16),
        "repost",
        "1181010000000000000",
        "4224729994",
    )
    assert got["1181023500000000002"][:5] == (
        H1,
        datetime(2019, 10, 7, 2, 30),
        "reply",
        "1181010000000000000",
        "4224729994",
    )
    # A quote: the archive has no quoted user id.
    assert got["1181024000000000003"][:5] == (
        "4224729994",
        datetime(2019, 10, 7, 3, 0),
        "quote",
        "1180990000000000000",
        None,
    )
    # is_retweet=1 and a quoted tweet: the retweet wins; the quote is kept in extra.
    assert got["1181027000000000009"][2:5] == ("repost", "1181024000000000003", "4224729994")
    assert json.loads(str(got["1181027000000000009"][11]))["quoted_tweet_tweetid"] == (
        "1180990000000000000"
    )
    # A reply to a user only (a tweet starting with @name), with seconds in its time.
    assert got["1181027500000000010"][1:5] == (
        datetime(2019, 10, 7, 4, 5, 59),
        "reply",
        None,
        "4224729994",
    )
    # "1181025000000000005.0" (an id that went through a float column) is the integer id.
    assert "1181025000000000005" in got
    assert {row[-1] for row in got.values()} == {"twitter"}


def test_list_columns(case_path: Path) -> None:
    ingest(case_path, [TWEETS])
    got = posts(case_path)
    # (hashtags, urls, mentions)
    assert got["1181022834736566272"][7:10] == (
        ["ایران_آزاد", "مهسا\u200cامینی"],
        ["https://iranfreedom.example/news?id=1,2"],
        [],
    )
    assert got["1181023500000000002"][7:10] == (
        ["FreeIran", "IranRegimeChange"],
        [],
        ["4224729994", H3],
    )
    assert got["1181023000000000001"][7:10] == (["القدس_لنا"], [], ["4224729994"])
    # The unquoted list of older releases.
    assert got["1181027000000000009"][7] == ["FreeIran"]


def test_text_kept_byte_for_byte(case_path: Path) -> None:
    ingest(case_path, [TWEETS])
    got = posts(case_path)
    assert got["1181022834736566272"][5:7] == (
        "ایران آزاد خواهد شد #ایران_آزاد #مهسا\u200cامینی https://t.co/xY12",
        "fa",
    )
    # Decomposed (NFD) Arabic stays decomposed; composed stays composed.
    nfd = got["1181023000000000001"][5]
    assert nfd == (
        "RT @IranNews24: \u0627\u0655\u064a\u0631\u0627\u0646 و "
        "\u0623\u0645\u0631\u064a\u0643\u0627 #القدس_لنا"
    )
    assert unicodedata.normalize("NFC", str(nfd)) != nfd
    assert (
        got["1181025000000000005"][5]
        == "\u0623\u0645\u0631\u064a\u0643\u0627 #\u0627\u0655\u064a\u0631\u0627\u0646"
    )
    assert got["1181025000000000005"][7] == ["\u0627\u0655\u064a\u0631\u0627\u0646"]
    # A quoted multi-line text keeps its line breaks and quotes.
    assert got["1181024000000000003"][5] == 'Look at this:\n"the regime lies"\nRead the thread ⬇️'


def test_extra_keeps_counts_coordinates_and_polls(case_path: Path) -> None:
    ingest(case_path, [TWEETS])
    got = posts(case_path)
    assert json.loads(str(got["1181024000000000003"][11])) == {
        "latitude": "35.6892",
        "longitude": "51.3890",
        "quote_count": 1,
        "reply_count": 0,
        "like_count": 0,
        "retweet_count": 12,
    }
    # "absent" coordinates are dropped; "5.0" likes are 5.
    assert json.loads(str(got["1181023500000000002"][11])) == {
        "quote_count": 0,
        "reply_count": 3,
        "like_count": 5,
        "retweet_count": 0,
    }
    assert json.loads(str(got["1181025000000000005"][11]))["poll_choices"] == "نعم|لا"
    # Nothing extra at all (empty counts, absent coordinates): NULL, not "{}".
    assert got["1181023000000000001"][11] is None
    assert got["1181022834736566272"][10] == "Twitter for Android"


def test_hashed_and_named_accounts(case_path: Path) -> None:
    ingest(case_path, [TWEETS])
    got = accounts(case_path)
    # (handle, display name, bio, location, created, followers, following, lang, extra)
    assert got[H1][:9] == (
        H1,
        H1,
        "حقوق بشر | human rights",
        "تهران، ایران",
        datetime(2017, 5, 8),
        512,
        733,
        "fa",
        None,
    )
    assert got["4224729994"][:9] == (
        "IranNews24",
        "Iran News 24",
        "اخبار ایران و جهان",
        "Iran",
        datetime(2015, 10, 13),
        18250,  # written "18250.0"
        1200,
        "en",
        '{"profile_url":"http://t.co/abc123"}',
    )
    assert got[H2][2:4] == (None, None)  # empty bio and location


def test_tweet_rejects_name_row_and_field(case_path: Path) -> None:
    ingest(case_path, [TWEETS])
    found = rejects(case_path)
    # Row numbers: header = row 1, and the three-line quoted text of row 5 is one row,
    # so the bad time on physical line 8 is row 6.
    assert found[0] == (
        6,
        "tweet_time",
        "expected 'YYYY-MM-DD HH:MM' UTC "
        "between 2004-01-01 and tomorrow (UTC), got '07/10/2019 03:05'",
    )
    assert found[1][:2] == (8, "tweetid")
    assert str(found[1][2]).startswith(
        "tweetid '1.18103E+18' is in scientific notation: a spreadsheet or a float column "
        "rounded it and the id's digits are lost. Re-export the file with the id columns as text"
    )
    assert found[2:] == [
        (9, "userid", "userid is empty; every row needs one"),
        (
            10,
            "tweet_time",
            "expected 'YYYY-MM-DD HH:MM' UTC between 2004-01-01 and tomorrow (UTC), got nothing",
        ),
    ]
    raw = query(case_path, "SELECT file, raw FROM rejects WHERE line = 6")
    assert raw == [(str(TWEETS), f"1181024500000000004,{H1},07/10/2019 03:05,زمان نامعتبر")]


def test_users_file(case_path: Path) -> None:
    result = ingest(case_path, [USERS])
    f = result.files[0]
    assert (f.format, f.unit, f.read, f.stored, f.duplicate, f.rejected) == (
        "io-users",
        "accounts",
        6,
        3,
        1,  # the last row repeats the first
        2,
    )
    assert f.read == f.stored + f.duplicate + f.rejected
    assert table_counts(case_path)["posts"] == 0
    got = accounts(case_path)
    assert set(got) == {H1, H2, "4224729994"}
    assert got[H2][:8] == (H2, H2, "خط اول\nخط دوم", None, datetime(2017, 5, 9), 17, 23, "ar")
    # Row 5 follows the two-line bio of row 4.
    assert rejects(case_path) == [
        (
            5,
            "account_creation_date",
            "expected account_creation_date as 'YYYY-MM-DD' "
            "between 2004-01-01 and tomorrow (UTC), got 'May 2017'",
        ),
        (6, "userid", "userid is empty; every row needs one"),
    ]
    again = ingest(case_path, [USERS]).files[0]
    assert (again.stored, again.duplicate, again.rejected) == (0, 4, 2)


def test_users_fill_the_gaps_of_profiles_seen_in_tweets(case_path: Path) -> None:
    ingest(case_path, [TWEETS])
    assert accounts(case_path)[H2][2] is None
    f = ingest(case_path, [USERS]).files[0]
    assert (f.stored, f.duplicate) == (0, 4)
    assert accounts(case_path)[H2][2] == "خط اول\nخط دوم"


def test_sniffing_tells_tweets_from_users() -> None:
    assert sniff(TWEETS).name == "io-tweets"
    assert sniff(USERS).name == "io-users"


def test_gzip_release(tmp_path: Path, case_path: Path) -> None:
    packed = tmp_path / "tweets.csv.gz"
    with TWEETS.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    f = ingest(case_path, [packed]).files[0]
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("io-tweets", 12, 7, 1, 4)


def test_python_repr_escapes_in_lists(tmp_path: Path, case_path: Path) -> None:
    # Python's repr escapes non-printable characters (the ZWNJ of Persian hashtags) and
    # quotes; both must come back as the characters.
    path = tweets_file(
        tmp_path,
        [
            {
                **GOOD,
                "hashtags": r"['مهسا\u200cامینی', 'it\'s', "
                + '"o\'k"'
                + r", 'back\\slash', '\xe9t\xe9']",
            },
            {**GOOD, "tweetid": "2", "hashtags": '["json", "list"]', "urls": "[]"},
        ],
    )
    ingest(case_path, [path])
    got = posts(case_path)
    assert got["1"][7] == ["مهسا\u200cامینی", "it's", "o'k", "back\\slash", "été"]
    assert got["2"][7:9] == (["json", "list"], [])


def test_bad_rows_in_a_generated_file(tmp_path: Path, case_path: Path) -> None:
    path = tweets_file(
        tmp_path,
        [
            GOOD,
            {**GOOD, "tweetid": "2", "tweet_time": "1570414500"},
            {**GOOD, "tweetid": "3", "is_retweet": "maybe"},
            {**GOOD, "tweetid": "4", "retweet_tweetid": "1.18101E+18"},
            {**GOOD, "tweetid": "5", "account_creation_date": "2017/05/08"},
        ],
    )
    f = ingest(case_path, [path]).files[0]
    assert (f.read, f.stored, f.rejected) == (5, 1, 4)
    found = rejects(case_path)
    assert found[0] == (
        3,
        "tweet_time",
        "expected 'YYYY-MM-DD HH:MM' UTC between 2004-01-01 and tomorrow (UTC), got '1570414500'",
    )
    assert found[1] == (4, "is_retweet", "expected is_retweet as True/False or 1/0, got 'maybe'")
    assert found[2][:2] == (5, "retweet_tweetid")
    assert str(found[2][2]).startswith("retweet_tweetid '1.18101E+18' is in scientific notation")
    assert found[3] == (
        6,
        "account_creation_date",
        "expected account_creation_date as 'YYYY-MM-DD' "
        "between 2004-01-01 and tomorrow (UTC), got '2017/05/08'",
    )


def test_invalid_utf8_row_is_rejected(tmp_path: Path, case_path: Path) -> None:
    path = tweets_file(tmp_path, [GOOD, {**GOOD, "tweetid": "2", "tweet_text": "XX"}, GOOD])
    path.write_bytes(path.read_bytes().replace(b"XX", b"\xff\xfe"))
    f = ingest(case_path, [path]).files[0]
    assert (f.read, f.stored, f.duplicate, f.rejected) == (3, 1, 1, 1)
    ((line, _field, reason),) = rejects(case_path)
    assert (line, reason) == (3, "invalid UTF-8 bytes; re-save the file as UTF-8")


def test_missing_required_column(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "no_time.csv"
    path.write_text(HEADER.replace("tweet_time,", "") + "\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="io-tweets")
    message = str(info.value)
    assert message.startswith(
        f"{path}: this is not a Twitter information-operations tweets CSV (tweetid, userid, "
        "tweet_time, ...): column(s) tweet_time missing from the header (found: tweetid, userid,"
    )
    assert not case_path.exists()


def test_coortweet_file_as_io_tweets(case_path: Path) -> None:
    shares = DATA / "table" / "coortweet_shares.csv"
    with pytest.raises(FormatError) as info:
        ingest(case_path, [shares], fmt="io-tweets")
    assert "column(s) tweetid, userid, tweet_time missing from the header (found: object_id, " in (
        str(info.value)
    )
    with pytest.raises(FormatError, match="column\\(s\\) userid, user_screen_name, account_"):
        ingest(case_path, [shares], fmt="io-users")


def test_empty_and_header_only_files(tmp_path: Path, case_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="the file is empty; expected a Twitter information"):
        ingest(case_path, [empty], fmt="io-tweets")
    header = tmp_path / "header.csv"
    header.write_text(HEADER + "\n", encoding="utf-8")
    with pytest.raises(NothingReadError, match="no records found"):
        ingest(case_path, [header])


def test_nothing_readable_is_an_error(tmp_path: Path, case_path: Path) -> None:
    path = tweets_file(tmp_path, [{**GOOD, "tweet_time": "yesterday"}])
    with pytest.raises(NothingReadError) as info:
        ingest(case_path, [path])
    assert (
        "line 2, field tweet_time: expected 'YYYY-MM-DD HH:MM' UTC "
        "between 2004-01-01 and tomorrow (UTC), got 'yesterday'" in str(info.value)
    )


def test_a_column_mapping_is_refused(case_path: Path) -> None:
    with pytest.raises(MappingError, match="--map does not apply to the io-tweets format"):
        ingest(case_path, [TWEETS], options=ReadOptions(mapping={"text": "tweet_text"}))


def test_writer_layout(tmp_path: Path) -> None:
    post = Post(
        platform="generic",
        post_id="10",
        account_id="7",
        created_at=datetime(2021, 3, 4, 5, 6, 59),
        kind=Kind.REPOST,
        text="RT @x: سلام",
        ref_post_id="9",
        ref_account_id="8",
        hashtags=["a", "ب"],
        urls=["http://x.example/1"],
    )
    account = Account(platform="generic", account_id="7", handle="h7", followers=3)
    path = tmp_path / "out.csv"
    writer.write(path, [post], {"7": account})
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    assert lines[0] == HEADER
    assert lines[1] == (
        "10,7,,h7,,,,3,,,,,RT @x: سلام,2021-03-04 05:06,,,,,True,8,9,absent,absent,,,,,"
        "\"['a', 'ب']\",['http://x.example/1'],[],"
    )
    users = tmp_path / "users.csv"
    writer.write_users(users, [account])
    assert users.read_bytes().decode("utf-8").split("\r\n")[:2] == [USERS_HEADER, "7,,h7,,,,3,,,"]


def test_written_files_read_back(tmp_path: Path, case_path: Path) -> None:
    posts_in = [
        Post("generic", "1", "7", datetime(2021, 3, 4, 5, 6, 59), Kind.QUOTE, "q", ref_post_id="2"),
        Post("generic", "3", "7", datetime(2021, 3, 4, 5, 7), Kind.REPLY, "r", ref_account_id="8"),
    ]
    account = Account("generic", "7", handle="h7", created_at=datetime(2015, 1, 2, 3, 4))
    tweets, users = tmp_path / "t.csv", tmp_path / "u.csv"
    writer.write(tweets, posts_in, {"7": account})
    writer.write_users(users, [account])
    ingest(case_path, [tweets, users])
    got = posts(case_path)
    assert got["1"][:4] == ("7", datetime(2021, 3, 4, 5, 6), "quote", "2")
    assert got["3"][:5] == ("7", datetime(2021, 3, 4, 5, 7), "reply", None, "8")
    assert accounts(case_path)["7"][0] == "h7"
    assert accounts(case_path)["7"][4] == datetime(2015, 1, 2)
    assert writer.expected_account("7", account) == Account(
        "twitter", "7", handle="h7", created_at=datetime(2015, 1, 2)
    )
