"""Twitter API v2 JSON lines (twarc2): response pages and flattened tweets."""

from __future__ import annotations

import gzip
import json
import tempfile
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DATA, counts, query, table_counts, texts
from tests.ingest.test_roundtrip import datasets
from trollscope.errors import FormatError, MappingError, NothingReadError
from trollscope.ingest.readers import ReadOptions, jsonfile, jsonrows
from trollscope.ingest.readers.base import Head
from trollscope.ingest.readers.registry import sniff
from trollscope.ingest.readers.twarc2 import Twarc2Reader
from trollscope.ingest.run import ingest
from trollscope.ingest.writers import twarc2 as writer
from trollscope.model import Account, Post

PAGES = DATA / "twarc2" / "search_pages.jsonl"
FLAT = DATA / "twarc2" / "flattened.jsonl"
V1 = DATA / "twitter_v1" / "stream.jsonl"

SARA, AHMAD, NEWS, CRITIC = "1349149096909668353", "1400000000000000001", "25073877", "987654321"
T0, T1, T2, T3 = (
    "1587000000000000000",
    "1587125186523250689",
    "1587125300000000002",
    "1587125400000000003",
)
T4, T5, T6 = "1587126000000000004", "1587126100000000005", "1587126200000000006"

POST_SQL = (
    "SELECT post_id, account_id, created_at, kind, ref_post_id, ref_account_id, hashtags, "
    "urls, mentions, media, client, lang, platform, extra FROM posts"
)


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    return {str(r[0]): r[1:] for r in query(case, POST_SQL)}


# (account, time, kind, ref post, ref account, hashtags, urls, mentions, media, client, lang,
#  platform, extra): what both fixtures hold, written out by hand from the API objects.
EXPECTED = {
    T0: (
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
    T1: (
        SARA,
        datetime(2022, 10, 31, 16, 35, 9),
        "post",
        None,
        None,
        ["FreeIran", "ایران_آزاد"],
        # the photo's own t.co link (it has a media_key) is media, not a shared URL
        ["https://www.example.org/news/1?utm_source=twitter"],
        ["critic_journalist"],
        ["https://pbs.twimg.com/media/FgXyZaBcDeF.jpg"],
        "Twitter for Android",
        "fa",
        "twitter",
        None,
    ),
    T2: (
        AHMAD,
        datetime(2022, 10, 31, 16, 36, 0),
        "repost",
        T0,
        NEWS,
        ["عاجل"],
        ["https://news.example.net/ar/2022/10/31/protests"],
        ["NewsAgencyAr"],
        [],
        "Twitter for iPhone",
        "ar",
        "twitter",
        None,
    ),
    T3: (
        AHMAD,
        datetime(2022, 10, 31, 16, 37, 30),
        "reply",
        T1,
        SARA,
        ["FreeIran"],
        [],
        ["sara_ahmadi84736"],
        [],
        "Twitter for iPhone",
        "fa",
        "twitter",
        None,
    ),
    T4: (
        CRITIC,
        datetime(2022, 10, 31, 16, 39, 12),
        "quote",
        T0,
        NEWS,
        [],
        ["https://twitter.com/NewsAgencyAr/status/1587000000000000000"],
        [],
        [],
        "Twitter Web App",
        "en",
        "twitter",
        None,
    ),
    # The retweeted tweet was deleted (the page's errors say so): its author comes from
    # the mention at the "RT @" prefix.
    T5: (
        SARA,
        datetime(2022, 10, 31, 16, 39, 40),
        "repost",
        "1586999999999999999",
        CRITIC,
        [],
        [],
        ["critic_journalist"],
        [],
        "Twitter for Android",
        "en",
        "twitter",
        None,
    ),
    # A long tweet: the whole text and its entities are in note_tweet.
    T6: (
        NEWS,
        datetime(2022, 10, 31, 16, 39, 59),
        "post",
        None,
        None,
        ["حرية_الصحافة"],
        [],
        [],
        [],
        "TweetDeck",
        "ar",
        "twitter",
        None,
    ),
}

ACCOUNTS = {
    SARA: (
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
    ),
    AHMAD: (
        "ahmad_k1985",
        "Ahmad K",
        None,  # the API writes an empty bio as ""
        None,
        datetime(2021, 6, 2, 8, 0, 41),
        12,
        840,
        "https://pbs.twimg.com/profile_images/1349149254/ahmad_k1985_normal.jpg",
        None,
        '{"tweet_count":3021,"listed_count":0,"verified":false,"protected":false}',
    ),
    NEWS: (
        "NewsAgencyAr",
        "وكالة الأنباء",
        "أخبار عاجلة على مدار الساعة",
        "الدوحة",
        datetime(2009, 3, 18, 11, 22, 9),
        2500000,
        120,
        "https://pbs.twimg.com/profile_images/1349149254/NewsAgencyAr_normal.jpg",
        None,
        '{"tweet_count":450000,"listed_count":9800,"verified":true,"protected":false}',
    ),
    CRITIC: (
        "critic_journalist",
        "Critic Journalist",
        "Journalist. Views my own.",
        "London, England",
        datetime(2012, 5, 30, 14, 1, 55),
        48000,
        1500,
        "https://pbs.twimg.com/profile_images/1349149254/critic_journalist_normal.jpg",
        None,
        '{"tweet_count":22000,"listed_count":600,"verified":false,"protected":false}',
    ),
}

ACCOUNT_SQL = (
    "SELECT account_id, handle, display_name, bio, location, created_at, followers, "
    "following, avatar, lang, extra FROM accounts"
)


def accounts(case: Path) -> dict[str, tuple[object, ...]]:
    return {str(r[0]): r[1:] for r in query(case, ACCOUNT_SQL)}


def test_search_pages(case_path: Path) -> None:
    result = ingest(case_path, [PAGES])
    f = result.files[0]
    assert f.format == "twarc2"
    # 6 data tweets + the retweeted/quoted T0 in both pages' includes; T0 twice: 1 duplicate.
    # The deleted tweet of page 2's `errors` is not a record.
    assert counts(f) == (8, 7, 1, 0)
    assert f.read == f.stored + f.duplicate + f.rejected
    assert posts(case_path) == EXPECTED
    assert accounts(case_path) == ACCOUNTS
    assert f.accounts_new == 4
    assert table_counts(case_path)["rejects"] == 0


def test_flattened(case_path: Path) -> None:
    result = ingest(case_path, [FLAT])
    f = result.files[0]
    # 6 lines + the full tweets embedded in referenced_tweets (T0 in T2, T1 in T3, T0 in T4;
    # T5's retweeted tweet is only a reference): T0 and T1 come twice.
    assert counts(f) == (9, 7, 2, 0)
    assert posts(case_path) == EXPECTED
    assert accounts(case_path) == ACCOUNTS


def test_pages_and_flattened_agree(tmp_path: Path) -> None:
    ingest(tmp_path / "a.duckdb", [PAGES])
    ingest(tmp_path / "b.duckdb", [FLAT])
    sql = "SELECT * EXCLUDE (source_id) FROM posts ORDER BY post_id"
    assert query(tmp_path / "a.duckdb", sql) == query(tmp_path / "b.duckdb", sql)


def test_text_is_kept_exactly(case_path: Path) -> None:
    ingest(case_path, [PAGES])
    got = texts(case_path)
    assert got[T1] == (
        "آزادی برای ایران #FreeIran #ایران_آزاد @critic_journalist "
        "https://t.co/AbCdEf1234 https://t.co/PhOtO12345"
    )
    # A retweet's text is the API's, "RT @user: ..." as given.
    assert got[T2] == "RT @NewsAgencyAr: عاجل: مظاهرات في عدة مدن #عاجل https://t.co/Ar4bic0001"
    # A long tweet: note_tweet.text, not the truncated text.
    assert got[T6] == "هذا نص طويل عن الأحداث الجارية في المنطقة " * 7 + "#حرية_الصحافة"


def _flat_lines() -> list[bytes]:
    return FLAT.read_bytes().splitlines(keepends=True)


def test_decomposed_text_is_not_normalised(tmp_path: Path, case_path: Path) -> None:
    tweet = json.loads(_flat_lines()[0])
    # Persian "آ" decomposed (NFD: alef + madda above) and a decomposed "é".
    text = unicodedata.normalize("NFD", "آزادی café #آزادی")
    assert text != unicodedata.normalize("NFC", text)
    tweet["text"] = text
    tag = text.split("#")[1]
    tweet["entities"] = {"hashtags": [{"start": 13, "end": 13 + 1 + len(tag), "tag": tag}]}
    path = tmp_path / "nfd.jsonl"
    path.write_text(json.dumps(tweet, ensure_ascii=False) + "\n", encoding="utf-8")
    ingest(case_path, [path])
    [(stored, tags)] = query(case_path, "SELECT text, hashtags FROM posts")
    assert str(stored).encode() == text.encode()
    assert tags == [tag]
    assert tag.encode() == unicodedata.normalize("NFD", "آزادی").encode()


def test_sniffed_from_content(tmp_path: Path) -> None:
    assert sniff(PAGES).name == "twarc2"
    assert sniff(FLAT).name == "twarc2"
    assert sniff(V1).name == "twitter-v1"
    # A page longer than the 64 KiB head is still recognised from its start.
    page = json.loads(PAGES.read_bytes().splitlines()[0])
    page["data"] = page["data"] * 200
    big = tmp_path / "big.jsonl"
    big.write_bytes(json.dumps(page).encode() + b"\n")
    assert big.stat().st_size > 64 * 1024
    assert sniff(big).name == "twarc2"
    assert not Twarc2Reader().sniff(Head(V1, V1.read_bytes()[:4096]))


def test_truncated_line_is_a_reject(tmp_path: Path, case_path: Path) -> None:
    lines = _flat_lines()
    # A download cut off mid-line (after the Arabic text), then the next line follows.
    cut = lines[1][: lines[1].index(b'"lang"')]
    column = len(cut.decode()) + 1
    path = tmp_path / "cut.jsonl"
    path.write_bytes(lines[0] + cut + b"\n" + lines[2])
    result = ingest(case_path, [path])
    f = result.files[0]
    # line 1: T1; line 3: T3 and its embedded T1 (a duplicate); line 2: rejected.
    assert counts(f) == (4, 2, 1, 1)
    assert set(posts(case_path)) == {T1, T3}
    [(line, field, reason, raw)] = query(case_path, "SELECT line, field, reason, raw FROM rejects")
    assert (line, field) == (2, None)
    assert reason == (
        f"invalid JSON at column {column}: unexpected end of data; "
        "the line is cut short (a truncated file?)"
    )
    assert raw == cut.decode("utf-8", errors="backslashreplace")


def test_invalid_utf8_is_a_reject(tmp_path: Path, case_path: Path) -> None:
    lines = _flat_lines()
    bad = lines[3].replace(b"propaganda", b"propa\xff\xfeganda")
    at = bad.index(b"\xff") + 1
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(lines[0] + b"\n" + bad)  # line 2 blank, line 3 bad
    result = ingest(case_path, [path])
    assert counts(result.files[0]) == (2, 1, 0, 1)
    assert query(case_path, "SELECT line, field, reason FROM rejects") == [
        (
            3,
            None,
            f"invalid UTF-8 bytes at byte {at} of the line; the file must be UTF-8: "
            "re-save or re-export it as UTF-8",
        )
    ]


def test_missing_fields_and_bad_times(tmp_path: Path, case_path: Path) -> None:
    tweets = [json.loads(line) for line in _flat_lines()]
    no_author = {k: v for k, v in tweets[0].items() if k != "author_id"}
    no_id = {k: v for k, v in tweets[5].items() if k != "id"}
    bad_time = dict(tweets[4], created_at="yesterday")
    page = json.loads(PAGES.read_bytes().splitlines()[1])
    del page["data"][1]["created_at"]
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in (no_author, no_id, bad_time, page))
        + "\n",
        encoding="utf-8",
    )
    result = ingest(case_path, [path])
    f = result.files[0]
    # page: T4, T6, and T0 from includes stored; T5 (data[1]) rejected.
    assert counts(f) == (7, 3, 0, 4)
    assert set(posts(case_path)) == {T0, T4, T6}
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    need = "every tweet needs id, author_id, created_at"
    assert rejects == [
        (1, "author_id", f"the tweet has no author_id; {need}"),
        (2, "id", f"the tweet has no id; {need}"),
        (3, "created_at", 'expected a time like 2022-03-23T15:47:42.000Z, got "yesterday"'),
        (4, "data[1].created_at", f"the tweet has no created_at; {need}"),
    ]


@pytest.mark.parametrize("spill", [2048, 1])
def test_wrong_json_types_are_rejects(
    tmp_path: Path, case_path: Path, monkeypatch: pytest.MonkeyPatch, spill: int
) -> None:
    monkeypatch.setattr(jsonrows, "SPILL_ROWS", spill)
    tweets = [json.loads(line) for line in _flat_lines()]
    number_tag = json.loads(json.dumps(tweets[0]))
    number_tag["entities"]["hashtags"][0]["tag"] = 7
    list_entities = dict(tweets[4], entities=["not", "an", "object"])
    text_number = dict(tweets[3], text=12)
    path = tmp_path / "types.jsonl"
    lines = [number_tag, list_entities, text_number, [1, 2]]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    result = ingest(case_path, [path])
    f = result.files[0]
    # line 4's embedded T0 is stored; every line's own tweet is rejected.
    assert counts(f) == (5, 1, 0, 4)
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    assert rejects[0] == (1, "entities.hashtags", 'expected a list of texts, got [7,"ایران_آزاد"]')
    assert rejects[1][:2] == (2, "entities")
    assert str(rejects[1][2]).startswith("unexpected structure in entities: AttributeError")
    assert rejects[2] == (3, "text", "expected text, got a JSON number")
    assert rejects[3] == (4, None, "expected one JSON object per line, got a JSON array")


def test_empty_file(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n  \n")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="twarc2")
    assert str(info.value) == (
        f"{path}: the file is empty; expected a Twitter API v2 JSONL file from twarc2, "
        "pages or flattened tweets."
    )
    assert not case_path.exists()


def test_csv_with_format_twarc2(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "shares.csv"
    path.write_text("object_id,account_id,content_id,timestamp_share\n9,a,1,100\n")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="twarc2")
    assert str(info.value) == (
        f"{path}: this is not a Twitter API v2 JSONL file from twarc2, pages or flattened "
        "tweets: its first line is not a JSON object (it starts "
        "'object_id,account_id,content_id,timestamp_share'). "
        "Check the file, or name its format with --format."
    )


def test_v1_file_with_format_twarc2(case_path: Path) -> None:
    with pytest.raises(FormatError, match="read it with --format twitter-v1"):
        ingest(case_path, [V1], fmt="twarc2")


def test_users_pages_are_not_tweets(tmp_path: Path, case_path: Path) -> None:
    users = json.loads(PAGES.read_bytes().splitlines()[0])["includes"]["users"]
    path = tmp_path / "users.jsonl"
    path.write_text(json.dumps({"data": users, "meta": {"result_count": 4}}) + "\n")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="twarc2")
    assert "its first line is a page of users (twarc2 users, followers, ...)" in str(info.value)
    assert not Twarc2Reader().sniff(Head.of(path))


def test_other_json_lines_with_format_twarc2(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_text('{"name": "channel", "type": "public_channel", "messages": []}\n')
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="twarc2")
    assert "expected a twarc2 response page (data, includes, meta) or a tweet (id, " in str(
        info.value
    )
    assert "the first line has name, type, messages." in str(info.value)


def test_nothing_readable(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "text": "no author"}\n', encoding="utf-8")
    with pytest.raises(NothingReadError, match="line 1, field author_id: the tweet has no"):
        ingest(case_path, [path], fmt="twarc2")


def test_map_is_refused(case_path: Path) -> None:
    with pytest.raises(MappingError, match="--map does not apply to the twarc2 format"):
        ingest(case_path, [FLAT], options=ReadOptions(mapping={"text": "body"}))


def test_bom_crlf_and_gzip(tmp_path: Path) -> None:
    body = b"\xef\xbb\xbf" + b"".join(line.rstrip(b"\n") + b"\r\n" for line in _flat_lines())
    plain = tmp_path / "crlf.jsonl"
    plain.write_bytes(body)
    packed = tmp_path / "flat.jsonl.gz"
    packed.write_bytes(gzip.compress(body))
    for source in (plain, packed):
        case = tmp_path / f"{source.name}.duckdb"
        result = ingest(case, [source])
        assert counts(result.files[0]) == (9, 7, 2, 0)
        assert posts(case) == EXPECTED


def test_reingest_changes_nothing(case_path: Path) -> None:
    ingest(case_path, [PAGES, FLAT])
    before = table_counts(case_path)
    again = ingest(case_path, [PAGES, FLAT])
    after = table_counts(case_path)
    assert {k: after[k] for k in ("posts", "accounts", "rejects")} == {
        k: before[k] for k in ("posts", "accounts", "rejects")
    }
    assert again.total("stored") == 0
    assert again.total("read") == again.total("duplicate") == 17


@pytest.mark.parametrize(("chunk", "spill"), [(1, 2048), (1000, 1)])
def test_small_chunks_give_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, spill: int
) -> None:
    ingest(tmp_path / "a.duckdb", [PAGES, FLAT])
    monkeypatch.setattr(jsonrows, "SPILL_ROWS", spill)
    ingest(tmp_path / "b.duckdb", [PAGES, FLAT], options=ReadOptions(chunk_size=chunk))
    for table in ("posts", "accounts"):
        sql = f"SELECT * FROM {table} ORDER BY ALL"
        assert query(tmp_path / "a.duckdb", sql) == query(tmp_path / "b.duckdb", sql)


@pytest.mark.parametrize("packed", [False, True])
def test_worker_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packed: bool) -> None:
    """A big file is parsed by worker processes (each reading a byte range of it, or, when
    gzipped, blocks sent to them): same rows, same line numbers as inline."""
    lines = _flat_lines()
    body = b"".join(lines * 30)
    bad_line = len(lines) * 30 + 1
    data = body + b'{"id": "9", "author_id": "1", "created_at": "soon"}\n' + body
    path = tmp_path / ("many.jsonl.gz" if packed else "many.jsonl")
    path.write_bytes(gzip.compress(data) if packed else data)
    ingest(tmp_path / "inline.duckdb", [path])
    monkeypatch.setattr(jsonfile, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(jsonfile, "BLOCK_BYTES", 10_000)
    result = ingest(tmp_path / "workers.duckdb", [path])
    assert counts(result.files[0]) == (9 * 60 + 1, 7, 9 * 60 - 7, 1)
    for table in ("posts", "accounts"):
        sql = f"SELECT * EXCLUDE (source_id) FROM {table} ORDER BY ALL"
        assert query(tmp_path / "inline.duckdb", sql) == query(tmp_path / "workers.duckdb", sql)
    assert query(tmp_path / "workers.duckdb", "SELECT line, field FROM rejects") == [
        (bad_line, "created_at")
    ]


@pytest.mark.parametrize("parallel", [False, True])
def test_overlong_line(
    tmp_path: Path, case_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    monkeypatch.setattr(jsonfile, "MAX_LINE_BYTES", 5000)
    monkeypatch.setattr(jsonfile, "BLOCK_BYTES", 100)
    if parallel:
        monkeypatch.setattr(jsonfile, "PARALLEL_MIN_BYTES", 0)
    lines = _flat_lines()
    huge = json.dumps(dict(json.loads(lines[0]), text="x" * 8000)).encode() + b"\n"
    short = json.dumps({"id": "5", "author_id": "6", "created_at": "2022-01-01T00:00:00.000Z"})
    path = tmp_path / "long.jsonl"
    path.write_bytes(short.encode() + b"\n" + huge + short.encode() + b"\n" + lines[5])
    assert len(huge) > 5000 > len(lines[5])
    result = ingest(case_path, [path])
    assert counts(result.files[0]) == (4, 2, 1, 1)
    assert query(case_path, "SELECT line, reason FROM rejects") == [
        (2, "the line is longer than 5000 bytes; no tweet or response page is that long")
    ]
    assert set(posts(case_path)) == {"5", T6}


def test_writer_shape(tmp_path: Path) -> None:
    post = Post(
        "x",
        "1587125186523250689",
        "42",
        datetime(2022, 10, 31, 16, 35, 9, 123456),
        kind="reply",
        text="@a سلام #ایران",
        ref_post_id="1",
        ref_account_id="7",
        hashtags=["ایران"],
        mentions=["a"],
        media=["https://pbs.twimg.com/media/x.jpg"],
    )
    account = Account("x", "42", handle="a42", created_at=datetime(2020, 1, 2, 3, 4, 5))
    path = tmp_path / "w.jsonl"
    writer.write(path, [post], {"42": account})
    tweet = json.loads(path.read_bytes())
    assert tweet["created_at"] == "2022-10-31T16:35:09.123Z"
    assert tweet["referenced_tweets"] == [{"type": "replied_to", "id": "1"}]
    assert tweet["in_reply_to_user_id"] == "7"
    assert tweet["entities"]["hashtags"] == [{"start": 8, "end": 14, "tag": "ایران"}]
    assert tweet["attachments"]["media"][0]["url"] == "https://pbs.twimg.com/media/x.jpg"
    assert tweet["author"]["username"] == "a42"
    assert tweet["author"]["created_at"] == "2020-01-02T03:04:05.000Z"
    assert tweet["author"]["public_metrics"]["followers_count"] == 0
    assert "__twarc" in tweet
    writer.write(path, [post], {"42": account}, pages=True)
    page = json.loads(path.read_bytes())
    assert set(page) == {"data", "includes", "meta", "__twarc"}
    assert "author" not in page["data"][0]
    assert page["includes"]["users"][0]["id"] == "42"


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=datasets())
def test_pages_round_trip(data: tuple[list[Post], dict[str, Account]]) -> None:
    """Written as response pages, read back as `expected` says (as flattened is, in
    tests/ingest/test_roundtrip.py)."""
    posts_in, profiles = data
    with tempfile.TemporaryDirectory() as tmp:
        path, case = Path(tmp) / "pages.jsonl", Path(tmp) / "case.duckdb"
        writer.write(path, posts_in, profiles, pages=True)
        result = ingest(case, [path])
        assert result.files[0].rejected == 0
        stored = {str(r[1]): r for r in query(case, "SELECT * EXCLUDE (source_id) FROM posts")}
        stored_accounts = {
            str(r[1]): r for r in query(case, "SELECT * EXCLUDE (source_id) FROM accounts")
        }
    for post in posts_in:
        want, account = writer.expected(post, profiles[post.account_id])
        got = stored[post.post_id]
        assert got[1:] == (
            want.post_id,
            want.account_id,
            want.created_at,
            want.text,
            want.lang,
            want.kind,
            want.ref_post_id,
            want.ref_account_id,
            want.hashtags,
            want.urls,
            want.mentions,
            want.media,
            [],
            want.client,
            None,
        )
        got_account = stored_accounts[account.account_id]
        assert got_account[2:] == (
            account.handle,
            account.display_name,
            account.bio,
            account.location,
            account.created_at,
            account.followers,
            account.following,
            account.avatar,
            account.lang,
            account.extra,
        )


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def json_paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path into a parsed JSON value (keys and list indices), the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += json_paths(item, (*prefix, index))
    return found


def mutate(value: object, path: tuple[object, ...], new: object) -> object:
    if not path:
        return new
    parent = value
    for step in path[:-1]:
        parent = parent[step]  # type: ignore[index]
    parent[path[-1]] = new  # type: ignore[index]
    return value


def hostile_lines(data: st.DataObject, source: Path) -> bytes:
    """The fixture's lines with one to three values, anywhere but in line 1, replaced by
    arbitrary JSON."""
    lines = [json.loads(line) for line in source.read_bytes().splitlines()]
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(1, len(lines) - 1))
        path = data.draw(st.sampled_from(json_paths(lines[index])))
        lines[index] = mutate(lines[index], path, data.draw(JSON))
    return b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in lines)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hostile_values_never_crash(data: st.DataObject) -> None:
    """Any value replaced by any JSON: the file is read, and every record is accounted for."""
    source = data.draw(st.sampled_from([PAGES, FLAT]))
    with tempfile.TemporaryDirectory() as tmp:
        path, case = Path(tmp) / "hostile.jsonl", Path(tmp) / "case.duckdb"
        path.write_bytes(hostile_lines(data, source))
        try:
            f = ingest(case, [path], fmt="twarc2").files[0]
        except NothingReadError:
            return
        assert f.read == f.stored + f.duplicate + f.rejected
        assert f.rejected == table_counts(case)["rejects"]
