"""Twitter API v1.1 tweets, one JSON object per line (twarc 1, the streaming API)."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DATA, counts, query, table_counts, texts
from tests.ingest.readers.test_twarc2 import hostile_lines
from tests.ingest.test_roundtrip import datasets
from trollscope.errors import FormatError, NothingReadError
from trollscope.ingest.readers.registry import sniff
from trollscope.ingest.run import ingest
from trollscope.ingest.writers import twitter_v1 as writer
from trollscope.model import Account, Post

STREAM = DATA / "twitter_v1" / "stream.jsonl"
THREE = DATA / "twitter_v1" / "three_tweets.jsonl"
TWARC2 = DATA / "twarc2" / "flattened.jsonl"

SARA, AHMAD, NEWS, CRITIC = "1349149096909668353", "1400000000000000001", "25073877", "987654321"
S0, S1 = "1587000000000000000", "1587125186523250689"
RT, REPLY, QUOTE, LONG = (
    "1587125300000000002",
    "1587125400000000003",
    "1587126000000000004",
    "1587126150000000005",
)

POST_SQL = (
    "SELECT post_id, account_id, created_at, kind, ref_post_id, ref_account_id, hashtags, "
    "urls, mentions, media, client, lang, platform, extra FROM posts"
)
ACCOUNT_SQL = (
    "SELECT account_id, handle, display_name, bio, location, created_at, followers, "
    "following, avatar, lang, extra FROM accounts"
)


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    return {str(r[0]): r[1:] for r in query(case, POST_SQL)}


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_stream(case_path: Path) -> None:
    result = ingest(case_path, [STREAM])
    f = result.files[0]
    assert f.format == "twitter-v1"
    # 5 lines + the retweeted original (S0) and the quoted tweet (S1 again: a duplicate).
    assert counts(f) == (7, 6, 1, 0)
    # (account, time, kind, ref post, ref account, hashtags, urls, mentions, media, client,
    #  lang, platform, extra)
    assert posts(case_path) == {
        S1: (
            SARA,
            datetime(2022, 10, 31, 16, 35, 9),
            "post",
            None,
            None,
            ["FreeIran", "ایران_آزاد"],
            ["https://www.example.org/news/1?utm_source=twitter"],
            ["critic_journalist"],
            ["https://pbs.twimg.com/media/FgXyZaBcDeF.jpg"],
            "Twitter for Android",
            "fa",
            "twitter",
            None,
        ),
        RT: (
            AHMAD,
            datetime(2022, 10, 31, 16, 36, 0),
            "repost",
            S0,
            NEWS,
            [],  # the RT's own (truncated) entities hold no hashtag
            [],
            ["NewsAgencyAr"],
            [],
            "Twitter for iPhone",
            "ar",
            "twitter",
            None,
        ),
        # The original, from retweeted_status: its entities from extended_tweet.
        S0: (
            NEWS,
            datetime(2022, 10, 31, 14, 2, 11),
            "post",
            None,
            None,
            ["عاجل"],
            ["https://news.example.net/ar/2022/10/31/protests"],
            [],
            [],
            "TweetDeck",
            "ar",
            "twitter",
            None,
        ),
        QUOTE: (
            CRITIC,
            datetime(2022, 10, 31, 16, 39, 12),
            "quote",
            S1,
            SARA,
            [],
            ["https://twitter.com/sara_ahmadi84736/status/1587125186523250689"],
            [],
            [],
            "Twitter Web App",
            "en",
            "twitter",
            None,
        ),
        REPLY: (
            AHMAD,
            datetime(2022, 10, 31, 16, 37, 30),
            "reply",
            S1,
            SARA,
            [],
            [],
            ["sara_ahmadi84736"],
            [],
            "Twitter for iPhone",
            "ar",
            "twitter",
            None,
        ),
        # A streamed long tweet: hashtags and media only in extended_tweet.
        LONG: (
            SARA,
            datetime(2022, 10, 31, 16, 39, 50),
            "post",
            None,
            None,
            ["ایران_آزاد"],
            [],
            [],
            ["https://pbs.twimg.com/media/FgPeRsIaN05.jpg"],
            "Twitter for Android",
            "fa",
            "twitter",
            None,
        ),
    }
    accounts = {str(r[0]): r[1:] for r in query(case_path, ACCOUNT_SQL)}
    assert accounts[SARA] == (
        "sara_ahmadi84736",
        "سارا احمدی",
        "فعال حقوق بشر #FreeIran",
        "Iran",
        datetime(2021, 1, 12, 23, 10, 5),
        152,
        389,
        "https://pbs.twimg.com/profile_images/1349149254/sara_ahmadi84736_normal.jpg",
        None,
        '{"tweet_count":10322,"listed_count":0,"verified":false,"protected":false}',
    )
    assert accounts[NEWS] == (
        "NewsAgencyAr",
        "وكالة الأنباء",
        "أخبار عاجلة على مدار الساعة",
        "الدوحة",
        datetime(2009, 3, 18, 11, 22, 9),
        2500000,
        120,
        "https://pbs.twimg.com/profile_images/1349149254/NewsAgencyAr_normal.jpg",
        "ar",
        '{"tweet_count":450000,"listed_count":9800,"verified":true,"protected":false}',
    )
    assert accounts[AHMAD][:4] == ("ahmad_k1985", "Ahmad K", None, None)
    assert set(accounts) == {SARA, AHMAD, NEWS, CRITIC}


def test_untruncated_text(case_path: Path) -> None:
    ingest(case_path, [STREAM])
    got = texts(case_path)
    raw = [json.loads(line) for line in lines(STREAM)]
    assert got[S1] == (
        "آزادی برای ایران #FreeIran #ایران_آزاد @critic_journalist "
        "https://t.co/AbCdEf1234 https://t.co/PhOtO12345"
    )
    assert got[REPLY] == "@sara_ahmadi84736 مرحبا، شكراً على المشاركة"
    # A retweet keeps its own text as given; the original's whole text is in S0.
    assert got[RT] == raw[1]["text"]
    assert got[RT].startswith("RT @NewsAgencyAr: عاجل: مظاهرات في عدة مدن")
    assert got[RT].endswith("…")
    assert got[S0] == raw[1]["retweeted_status"]["extended_tweet"]["full_text"]
    assert got[LONG] == (
        "این یک متن طولانی دربارهٔ اعتراض\u200cها در شهرهای مختلف است " * 4
        + "#ایران_آزاد https://t.co/PhOtO00005"
    )


def test_first_tweet_is_stored(case_path: Path) -> None:
    """coordination-network-toolkit's loader stores 2 rows of a 3-tweet file: not here."""
    result = ingest(case_path, [THREE])
    assert counts(result.files[0]) == (3, 3, 0, 0)
    assert posts(case_path)["1400000000000000101"][:3] == (
        SARA,
        datetime(2021, 6, 2, 6, 0, 0),
        "post",
    )
    assert texts(case_path) == {
        "1400000000000000101": "صبح بخیر تهران #تهران",
        "1400000000000000102": "صباح الخير من بيروت #لبنان",
        "1400000000000000103": "Good morning from London #London",
    }
    assert [r[0] for r in query(case_path, "SELECT hashtags FROM posts ORDER BY post_id")] == [
        ["تهران"],
        ["لبنان"],
        ["London"],
    ]


def test_sniffed_from_content() -> None:
    assert sniff(STREAM).name == "twitter-v1"
    assert sniff(THREE).name == "twitter-v1"


def test_numeric_ids_only(tmp_path: Path, case_path: Path) -> None:
    # Some tools keep only the numeric ids; beyond 2**53 they must not be rounded.
    path = tmp_path / "ids.jsonl"
    path.write_text(
        '{"created_at": "Wed Oct 10 20:19:24 +0000 2018", "id": 1050118621198921728, '
        '"text": "hi", "user": {"id": 9007199254740993, "screen_name": "big"}}\n',
        encoding="utf-8",
    )
    ingest(case_path, [path])
    assert query(case_path, "SELECT post_id, account_id, created_at FROM posts") == [
        ("1050118621198921728", "9007199254740993", datetime(2018, 10, 10, 20, 19, 24))
    ]


def test_truncated_line_is_a_reject(tmp_path: Path, case_path: Path) -> None:
    got = lines(STREAM)
    cut = got[1][: got[1].index(b'"source"')]
    path = tmp_path / "cut.jsonl"
    path.write_bytes(got[0] + cut + b"\n" + got[3])
    result = ingest(case_path, [path])
    assert counts(result.files[0]) == (3, 2, 0, 1)
    assert set(posts(case_path)) == {S1, REPLY}
    [(line, field, reason)] = query(case_path, "SELECT line, field, reason FROM rejects")
    assert (line, field) == (2, None)
    assert reason == (
        f"invalid JSON at column {len(cut.decode()) + 1}: unexpected end of data; "
        "the line is cut short (a truncated file?)"
    )


def test_invalid_utf8_is_a_reject(tmp_path: Path, case_path: Path) -> None:
    got = lines(THREE)
    bad = got[2].replace(b"London #London", b"Lon\xc3don #London")
    at = bad.index(b"\xc3") + 1
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(got[0] + got[1] + bad)
    result = ingest(case_path, [path])
    assert counts(result.files[0]) == (3, 2, 0, 1)
    assert query(case_path, "SELECT line, field, reason FROM rejects") == [
        (
            3,
            None,
            f"invalid UTF-8 bytes at byte {at} of the line; the file "
            "must be UTF-8: re-save or re-export it as UTF-8",
        )
    ]


def test_missing_fields_bad_times_and_control_messages(tmp_path: Path, case_path: Path) -> None:
    tweet = json.loads(lines(THREE)[0])
    no_user = {k: v for k, v in tweet.items() if k != "user"}
    no_id = {k: v for k, v in tweet.items() if k not in ("id", "id_str")}
    no_user_id = dict(tweet, user={"screen_name": "anon"})
    hour_25 = dict(tweet, created_at="Wed Jun 02 25:00:00 +0000 2021")
    no_zone = dict(tweet, created_at="2021-06-02 06:00:00")
    records = [no_user, no_id, no_user_id, hour_25, no_zone, tweet]
    control = [
        {"delete": {"status": {"id": 1, "id_str": "1", "user_id": 3, "user_id_str": "3"}}},
        {"limit": {"track": 12, "timestamp_ms": "1622613600000"}},
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in records + control) + "\n",
        encoding="utf-8",
    )
    result = ingest(case_path, [path], fmt="twitter-v1")
    # Stream control messages are not tweets and not records.
    assert counts(result.files[0]) == (6, 1, 0, 5)
    need = "every tweet needs id_str, created_at and a user with id_str"
    assert query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line") == [
        (1, "user", f"the tweet has no user; {need}"),
        (2, "id_str", f"the tweet has no id_str; {need}"),
        (3, "user.id_str", f"the tweet's user has no id_str; {need}"),
        (
            4,
            "created_at",
            "expected a time like 'Wed Oct 10 20:19:24 +0000 2018', "
            'got "Wed Jun 02 25:00:00 +0000 2021"',
        ),
        (
            5,
            "created_at",
            "expected a time like 'Wed Oct 10 20:19:24 +0000 2018', got \"2021-06-02 06:00:00\"",
        ),
    ]


def test_wrong_types_are_rejects(tmp_path: Path, case_path: Path) -> None:
    tweet = json.loads(lines(THREE)[0])
    bad_tags = json.loads(json.dumps(tweet))
    bad_tags["entities"]["hashtags"] = "#تهران"
    bad_lang = dict(tweet, lang=["fa"])
    path = tmp_path / "types.jsonl"
    path.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in (bad_tags, bad_lang)) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(NothingReadError) as info:
        ingest(case_path, [path])
    message = str(info.value)
    assert "all 2 records were rejected" in message
    assert "line 1, field entities.hashtags: unexpected structure in entities.hashtags" in message
    assert "line 2, field lang: expected text, got a JSON array" in message


def test_empty_file(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="twitter-v1")
    assert str(info.value) == (
        f"{path}: the file is empty; expected a Twitter API v1.1 JSONL file, one tweet per line."
    )


def test_csv_with_format_v1(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "tweets.csv"
    path.write_text("tweetid,userid,tweet_time\n1,2,2020-01-01 00:00\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="twitter-v1")
    assert str(info.value) == (
        f"{path}: this is not a Twitter API v1.1 JSONL file, one tweet per line: its first "
        "line is not a JSON object (it starts 'tweetid,userid,tweet_time'). "
        "Check the file, or name its format with --format."
    )


def test_v2_file_with_format_v1(case_path: Path) -> None:
    with pytest.raises(FormatError) as info:
        ingest(case_path, [TWARC2], fmt="twitter-v1")
    assert "its first line is Twitter API v2 data (author_id / data); read it with " in str(
        info.value
    )


def test_reingest_changes_nothing(case_path: Path) -> None:
    ingest(case_path, [STREAM, THREE])
    before = table_counts(case_path)
    again = ingest(case_path, [STREAM, THREE])
    after = table_counts(case_path)
    assert {k: after[k] for k in ("posts", "accounts", "rejects")} == {
        k: before[k] for k in ("posts", "accounts", "rejects")
    }
    assert again.total("stored") == 0
    assert again.total("read") == again.total("duplicate") == 10


def test_writer_shape(tmp_path: Path) -> None:
    post = Post(
        "x",
        "1050118621198921728",
        "42",
        datetime(2018, 10, 10, 20, 19, 24, 999999),
        kind="repost",
        text="RT @a: سلام",
        ref_post_id="7",
        ref_account_id="8",
        client="Twitter for iPhone",
    )
    path = tmp_path / "w.jsonl"
    writer.write(path, [post], {"42": Account("x", "42", handle="a42")})
    tweet = json.loads(path.read_bytes())
    assert tweet["created_at"] == "Wed Oct 10 20:19:24 +0000 2018"
    assert (tweet["id"], tweet["id_str"]) == (1050118621198921728, "1050118621198921728")
    assert tweet["full_text"] == "RT @a: سلام"
    assert tweet["source"] == (
        '<a href="https://mobile.twitter.com" rel="nofollow">Twitter for iPhone</a>'
    )
    assert tweet["retweeted_status"] == {"id": 7, "id_str": "7", "user": {"id": 8, "id_str": "8"}}
    assert tweet["user"]["screen_name"] == "a42"
    assert tweet["user"]["profile_image_url_https"].startswith("https://abs.twimg.com/")
    long = Post("x", "1", "42", datetime(2018, 1, 1), text="ب" * 200)
    writer.write(path, [long], {}, mode="compat")
    streamed = json.loads(path.read_bytes())
    assert streamed["truncated"] is True
    assert len(streamed["text"]) == 140
    assert streamed["extended_tweet"]["full_text"] == "ب" * 200


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=datasets())
def test_streaming_shape_round_trip(data: tuple[list[Post], dict[str, Account]]) -> None:
    """Written in the streaming shape (extended_tweet), read back as `expected` says (the
    default REST shape is covered by tests/ingest/test_roundtrip.py)."""
    posts_in, profiles = data
    with tempfile.TemporaryDirectory() as tmp:
        path, case = Path(tmp) / "stream.jsonl", Path(tmp) / "case.duckdb"
        writer.write(path, posts_in, profiles, mode="compat")
        result = ingest(case, [path])
        assert result.files[0].rejected == 0
        stored = {str(r[0]): r for r in query(case, POST_SQL)}
        got_texts = texts(case)
    for post in posts_in:
        want, _ = writer.expected(post, profiles[post.account_id])
        assert stored[post.post_id] == (
            want.post_id,
            want.account_id,
            want.created_at,
            want.kind,
            want.ref_post_id,
            want.ref_account_id,
            want.hashtags,
            want.urls,
            want.mentions,
            want.media,
            want.client,
            want.lang,
            "twitter",
            None,
        )
        assert got_texts[post.post_id] == want.text


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hostile_values_never_crash(data: st.DataObject) -> None:
    """Any value replaced by any JSON: the file is read, and every record is accounted for."""
    source = data.draw(st.sampled_from([STREAM, THREE]))
    with tempfile.TemporaryDirectory() as tmp:
        path, case = Path(tmp) / "hostile.jsonl", Path(tmp) / "case.duckdb"
        path.write_bytes(hostile_lines(data, source))
        try:
            f = ingest(case, [path], fmt="twitter-v1").files[0]
        except NothingReadError:
            return
        assert f.read == f.stored + f.duplicate + f.rejected
        assert f.rejected == table_counts(case)["rejects"]


@pytest.mark.parametrize("field", ["entities", "extended_entities"])
def test_extended_tweet_parts_that_are_not_objects_are_rejects(
    tmp_path: Path, case_path: Path, field: str
) -> None:
    """Found by the property test above: a retweeted status whose extended_tweet.entities
    was `true` crashed the reject's own field lookup."""
    lines = STREAM.read_text(encoding="utf-8").splitlines()
    tweets = [json.loads(line) for line in lines]
    rt = next(t for t in tweets if "retweeted_status" in t)
    rt["retweeted_status"]["extended_tweet"] = {"full_text": "x", field: True}
    rt["extended_tweet"] = {"full_text": "x", field: True}
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(t) for t in tweets) + "\n", encoding="utf-8")
    f = ingest(case_path, [path], fmt="twitter-v1").files[0]
    assert f.read == f.stored + f.duplicate + f.rejected
    assert f.rejected >= 1
    reasons = [str(r[0]) for r in query(case_path, "SELECT field FROM rejects")]
    assert any(f"extended_tweet.{field}" in r for r in reasons), reasons
