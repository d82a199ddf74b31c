"""Object-share tables (CooRTweet's shapes) and mapped CSV / Parquet tables."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import DATA, query, table_counts
from trollscope.errors import FormatError, MappingError, NothingReadError
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest

SHARES = DATA / "table" / "coortweet_shares.csv"
OBJECTS = DATA / "table" / "coortweet_objects.csv"
COMMENTS = DATA / "table" / "comments.csv"
COMMENT_MAP = "post_id=comment_id,account_id=user,created_at=posted,text=body,reply_to=reply_to"


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT post_id, account_id, created_at, kind, ref_post_id, text, hashtags, urls, "
        "domains, media, platform FROM posts",
    )
    return {str(r[0]): r[1:] for r in rows}


def test_coortweet_shares(case_path: Path) -> None:
    result = ingest(case_path, [SHARES], options=ReadOptions(platform="twitter"))
    f = result.files[0]
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("coortweet", 6, 5, 1, 0)
    got = posts(case_path)
    assert set(got) == {"101", "102", "103", "104~902", "104~903"}
    assert got["101"][:4] == ("a1", datetime(2021, 6, 16, 22, 4, 51), "repost", "900")
    assert got["102"][:4] == ("a2", datetime(2021, 6, 16, 22, 5, 0), "repost", "900")
    assert got["104~903"][:4] == ("a3", datetime(2021, 6, 16, 22, 8, 20), "repost", "903")
    assert got["101"][-1] == "twitter"
    assert sorted(r[0] for r in query(case_path, "SELECT account_id FROM accounts")) == [
        "a1",
        "a2",
        "a3",
    ]


def test_coortweet_objects_gathered_per_post(case_path: Path) -> None:
    result = ingest(case_path, [OBJECTS])
    f = result.files[0]
    assert (f.read, f.stored, f.duplicate, f.rejected) == (3, 2, 0, 1)
    got = posts(case_path)
    assert set(got) == {"10", "11"}
    # (account, time, kind, ref, text, hashtags, urls, domains, media, platform)
    assert got["10"] == (
        "fb_1",
        datetime(2021, 8, 21, 23, 50, 36),
        "post",
        None,
        None,
        ["33"],
        ["500", "501"],
        ["70", "71"],
        [],
        "unknown",
    )
    assert got["11"][8] == ["9280"]
    assert query(case_path, "SELECT file, line, field, reason FROM rejects") == [
        (str(OBJECTS), 6, "post_id", "the post id is empty; every row needs one")
    ]


def test_mapped_csv(case_path: Path) -> None:
    result = ingest(
        case_path,
        [COMMENTS],
        options=ReadOptions(platform="forum", mapping=parse_mapping(COMMENT_MAP)),
    )
    f = result.files[0]
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("table", 5, 3, 0, 2)
    got = posts(case_path)
    assert got["c1"][:5] == (
        "u1",
        datetime(2021, 6, 1, 12, 0),
        "post",
        None,
        "First comment, with a comma",
    )
    # 14:00 at +02:00 is 12:00 UTC; the quoted text keeps its line break.
    assert got["c2"][:5] == (
        "u2",
        datetime(2021, 6, 1, 12, 0),
        "reply",
        "c1",
        "A reply\nspanning two lines",
    )
    assert got["c5"][:2] == ("u1", datetime(2021, 6, 1, 12, 10))
    assert got["c5"][4] == "سلام دنیا #ایران"
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    # Row numbers count the header as row 1 and the two-line quoted field as one row.
    assert rejects == [
        (
            4,
            "created_at",
            "expected a time (POSIX seconds or ISO 8601) "
            "between 2004-01-01 and tomorrow (UTC), got 'not-a-time'",
        ),
        (5, "account_id", "the account id is empty; every row needs one"),
    ]


def test_mapped_parquet(tmp_path: Path, case_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "who": ["x", "y"],
            "at": pa.array([datetime(2022, 1, 2, 3, 4, 5), datetime(2022, 1, 2, 3, 4, 6)]),
            "msg": ["hello", "مرحبا"],
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    mapping = parse_mapping("post=id,account=who,time=at,text=msg")
    result = ingest(case_path, [path], options=ReadOptions(mapping=mapping))
    assert (result.files[0].read, result.files[0].stored) == (2, 2)
    got = posts(case_path)
    assert got["2"][:2] == ("y", datetime(2022, 1, 2, 3, 4, 6))
    assert got["2"][4] == "مرحبا"


def test_row_numbers_after_malformed_rows(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "shares.csv"
    path.write_bytes(
        b"object_id,account_id,content_id,timestamp_share\n"
        b"9,a,1,1606451100\n"
        b"9,b,2,1606451100,extra\n"  # row 3: too many fields
        b"9,\xff\xfe,3,1606451100\n"  # row 4: invalid UTF-8
        b"9,c,4,soon\n"  # row 5: not a time
        b"9,d,5,1606451200\n"
    )
    result = ingest(case_path, [path])
    f = result.files[0]
    assert (f.read, f.stored, f.rejected) == (5, 2, 3)
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    assert [(line, field) for line, field, _ in rejects] == [
        (3, None),  # DuckDB names no field for a row with too many fields
        (4, "account_id"),
        (5, "created_at"),
    ]
    assert "more fields than the header" in str(rejects[0][2])
    assert "invalid UTF-8" in str(rejects[1][2])
    assert (
        rejects[2][2] == "expected a time (POSIX seconds or ISO 8601) "
        "between 2004-01-01 and tomorrow (UTC), got 'soon'"
    )


def test_missing_required_column(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("user,posted,body\nu1,1,hi\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], options=ReadOptions(mapping=parse_mapping(COMMENT_MAP)))
    assert str(info.value).startswith(f"{path}: this is not a CSV or Parquet table")
    assert "column(s) comment_id, reply_to missing from the header" in str(info.value)
    assert "(found: user, posted, body)" in str(info.value)
    assert not case_path.exists(), "a failed ingest must not leave a new case behind"


def test_mapping_must_name_required_fields(case_path: Path) -> None:
    with pytest.raises(MappingError, match="the column mapping lacks created_at"):
        ingest(
            case_path,
            [COMMENTS],
            options=ReadOptions(mapping=parse_mapping("post=comment_id,account=user")),
        )


def test_bad_mapping_text() -> None:
    with pytest.raises(MappingError, match="'account' is not FIELD=COLUMN"):
        parse_mapping("account")
    with pytest.raises(MappingError, match="unknown field 'colour'"):
        parse_mapping("colour=red")


def test_empty_file(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(FormatError, match="the file is empty"):
        ingest(case_path, [path])


def test_header_only_reads_nothing(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("object_id,account_id,content_id,timestamp_share\n", encoding="utf-8")
    with pytest.raises(NothingReadError, match="no records found"):
        ingest(case_path, [path])


def test_every_row_rejected_is_an_error(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("object_id,account_id,content_id,timestamp_share\n1,a,2,x\n", encoding="utf-8")
    with pytest.raises(NothingReadError) as info:
        ingest(case_path, [path])
    assert "all 1 records were rejected" in str(info.value)
    assert "line 2, field created_at: expected a time" in str(info.value)


def test_wrong_header_with_format(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="coortweet")
    assert str(info.value) == (
        f"{path}: this is not a CooRTweet object-share table: expected the columns "
        "object_id, account_id, content_id, timestamp_share (or account_id, post_id, url_id, "
        "hashtag_id, domain_id, phash_id, timestamp), found a, b, c. Name its columns with --map, "
        "or pick another --format."
    )


def test_unrecognised_content(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path])
    message = str(info.value)
    assert "the format could not be recognised from its content (first line: 'a,b,c')" in message
    assert "--format" in message


def test_reingest_changes_nothing(case_path: Path) -> None:
    mapped = ReadOptions(mapping=parse_mapping(COMMENT_MAP))
    ingest(case_path, [SHARES, OBJECTS])
    ingest(case_path, [COMMENTS], options=mapped)
    before = table_counts(case_path)
    again = ingest(case_path, [SHARES, OBJECTS])
    again.files += ingest(case_path, [COMMENTS], options=mapped).files
    after = table_counts(case_path)
    assert {k: after[k] for k in ("posts", "accounts", "rejects")} == {
        k: before[k] for k in ("posts", "accounts", "rejects")
    }
    assert after["sources"] == before["sources"] + 3  # each ingest is recorded
    assert again.total("stored") == 0
    assert again.total("read") == again.total("duplicate") + again.total("rejected")


# --- image hashes --------------------------------------------------------------------------


def test_phash_column_becomes_canonical_media_keys(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(
        "id,user,ts,picture,img_hash\n"
        "p1,u1,1606451110,a.jpg,0FAB784480EC6967\n"
        "p1,u1,1606451110,b.jpg,phash:1111222233334444\n"  # a second image of p1: gathered
        "p2,u2,1606451116,c.jpg,0xfab784480ec6967\n"  # hex() dropped the leading zero
        "p3,u3,1606451117,d.jpg,\n"  # no hash: not a reject
        "p4,u4,1606451118,e.jpg,9280\n"  # row 6: an image id, not a hash
        "p5,u5,1606451119,f.jpg, 0fab784480ec696 \n",  # row 7: 15 digits
        encoding="utf-8",
    )
    mapping = parse_mapping("post=id,user=user,time=ts,image=picture,phash=img_hash")
    result = ingest(case_path, [path], options=ReadOptions(platform="forum", mapping=mapping))
    f = result.files[0]
    # Records are posts: the two rows of p1 are one.
    assert (f.read, f.stored, f.duplicate, f.rejected) == (5, 3, 0, 2)
    media = dict(query(case_path, "SELECT post_id, media FROM posts"))
    assert media == {
        "p1": ["a.jpg", "b.jpg", "phash:0fab784480ec6967", "phash:1111222233334444"],
        "p2": ["c.jpg", "phash:0fab784480ec6967"],
        "p3": ["d.jpg"],
    }
    assert query(case_path, "SELECT file, line, field, reason FROM rejects ORDER BY line") == [
        (
            str(path),
            6,
            "phash",
            "expected a 64-bit perceptual hash (16 hex digits, optionally after phash: "
            "or 0x), got '9280'",
        ),
        (
            str(path),
            7,
            "phash",
            "expected a 64-bit perceptual hash (16 hex digits, optionally after phash: "
            "or 0x), got ' 0fab784480ec696 '",
        ),
    ]


def test_phash_alone_fills_media(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "posts.parquet"
    pq.write_table(
        pa.table(
            {
                "id": ["q1", "q2"],
                "who": ["x", "y"],
                "at": [1606451101, 1606451102],
                "h": ["ABCDEF0123456789", None],
            }
        ),
        path,
    )
    mapping = parse_mapping("post=id,account=who,time=at,phash=h")
    ingest(case_path, [path], options=ReadOptions(mapping=mapping))
    assert dict(query(case_path, "SELECT post_id, media FROM posts")) == {
        "q1": ["phash:abcdef0123456789"],
        "q2": [],
    }


def test_coortweet_phash_ids_stay_as_given(case_path: Path) -> None:
    """CooRTweet's phash_id is an anonymised id, not a hash: media, never a reject."""
    ingest(case_path, [OBJECTS])
    assert dict(query(case_path, "SELECT post_id, media FROM posts"))["11"] == ["9280"]


def test_timezone_places_local_times_of_a_mapped_table(tmp_path: Path) -> None:
    path = tmp_path / "comments.csv"
    path.write_text(
        "id,user,posted\n"
        "1,a,2021-01-05 10:00:00\n"  # local, winter: UTC-6 in Chicago
        "2,a,2021-07-05 10:00:00\n"  # local, summer: UTC-5
        "3,a,2021-07-05T10:00:00+02:00\n"  # an offset of its own: kept
        "4,a,2021-07-05 10:00:00Z\n"  # UTC, said so: kept
        "5,a,1625479200\n",  # POSIX seconds are UTC
        encoding="utf-8",
    )
    mapping = parse_mapping("post_id=id,account_id=user,created_at=posted")
    naive = tmp_path / "utc.duckdb"
    ingest(naive, [path], options=ReadOptions(mapping=mapping))
    local = tmp_path / "local.duckdb"
    ingest(local, [path], options=ReadOptions(mapping=mapping, timezone="America/Chicago"))
    as_utc = {k: v[1] for k, v in posts(naive).items()}
    assert as_utc["1"] == datetime(2021, 1, 5, 10, 0)
    assert {k: v[1] for k, v in posts(local).items()} == {
        "1": datetime(2021, 1, 5, 16, 0),
        "2": datetime(2021, 7, 5, 15, 0),
        "3": datetime(2021, 7, 5, 8, 0),
        "4": datetime(2021, 7, 5, 10, 0),
        "5": datetime(2021, 7, 5, 10, 0),
    }
    assert {k: as_utc[k] for k in "345"} == {k: v[1] for k, v in posts(local).items() if k in "345"}


def test_timezone_is_refused_where_the_format_says_its_zone(case_path: Path) -> None:
    twarc2 = DATA / "twarc2" / "flattened.jsonl"
    with pytest.raises(MappingError, match="--timezone does not apply to the twarc2 format"):
        ingest(case_path, [twarc2], options=ReadOptions(timezone="Europe/Berlin"))
    assert not case_path.exists()


# --- entities and reposts from text ------------------------------------------------------

TEXT_MAP = "post_id=id,account_id=user,created_at=ts,text=body"


def _texts_file(tmp_path: Path, rows: list[str], header: str = "id,user,ts,body") -> Path:
    path = tmp_path / "texts.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _lists(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(case, "SELECT post_id, hashtags, mentions, urls, kind, ref_account_id FROM posts")
    return {str(r[0]): r[1:] for r in rows}


def test_a_mapped_table_takes_entities_from_its_text(tmp_path: Path, case_path: Path) -> None:
    path = _texts_file(
        tmp_path,
        [
            '1,a,1606451100,"#Vote now @Alice https://x.com/a?utm_source=t. #نه_به_جنگ"',
            '2,b,1606451110,"no entities at all, a@b.com"',
            '3,c,1606451120,"(https://y.org/p), https://t.co/cut\u2026"',
            "4,d,1606451130,",
        ],
    )
    ingest(case_path, [path], options=ReadOptions(mapping=parse_mapping(TEXT_MAP)), fmt="table")
    got = _lists(case_path)
    assert got["1"][:3] == (
        ["Vote", "نه_به_جنگ"],
        ["Alice"],
        ["https://x.com/a?utm_source=t"],
    )
    assert got["2"][:3] == ([], [], [])
    assert got["3"][:3] == ([], [], ["https://y.org/p"])
    assert got["4"][:3] == ([], [], [])


def test_mapped_entity_columns_win_over_the_text(tmp_path: Path, case_path: Path) -> None:
    path = _texts_file(
        tmp_path,
        [
            '1,a,1606451100,"#fromtext @fromtext https://from.text/",listed',
            '1,a,1606451100,"#fromtext @fromtext https://from.text/",second',
            '2,b,1606451110,"#fromtext @fromtext",',
        ],
        header="id,user,ts,body,tags",
    )
    mapping = parse_mapping(TEXT_MAP + ",hashtags=tags")
    ingest(case_path, [path], options=ReadOptions(mapping=mapping), fmt="table")
    got = _lists(case_path)
    # hashtags: the column's values, gathered; mentions and urls: from the text, once.
    assert got["1"][:3] == (["listed", "second"], ["fromtext"], ["https://from.text/"])
    assert got["2"][:3] == ([], ["fromtext"], [])


def test_without_text_nothing_is_taken(case_path: Path) -> None:
    """CooRTweet's objects table names its lists and has no text: they stay as given."""
    ingest(case_path, [OBJECTS])
    got = _lists(case_path)
    assert got["10"][:3] == (["33"], [], ["500", "501"])


def test_retweet_texts_become_reposts(tmp_path: Path, case_path: Path) -> None:
    path = _texts_file(
        tmp_path,
        [
            '1,a,1606451100,"RT @Source_1: #Vote now",,',
            '2,b,1606451110,"RT @Source_1: #Vote now",,',
            '3,c,1606451120,"RT @Source_1: replying, in retweet form",1,',
            '4,d,1606451130,"RT @Source_1: with its author given",,acct9',
            '5,e,1606451140,"not RT @Source_1: a quote of a retweet",,',
            '6,f,1606451150,"RT @Source_1 no colon",,',
        ],
        header="id,user,ts,body,parent,author",
    )
    mapping = parse_mapping(TEXT_MAP + ",reply_to=parent,ref_account_id=author")
    ingest(case_path, [path], options=ReadOptions(mapping=mapping), fmt="table")
    got = {k: v[3:] for k, v in _lists(case_path).items()}
    assert got == {
        "1": ("repost", "Source_1"),
        "2": ("repost", "Source_1"),
        "3": ("reply", None),  # the column says reply: the text does not overrule it
        "4": ("repost", "acct9"),  # the column names the author: kept
        "5": ("post", None),
        "6": ("post", None),
    }
    # The retweeted account is mentioned, as in Twitter's own entities.
    assert _lists(case_path)["1"][:2] == (["Vote"], ["Source_1"])


def test_a_repost_column_is_the_only_repost_flag(tmp_path: Path, case_path: Path) -> None:
    path = _texts_file(
        tmp_path,
        ['1,a,1606451100,"RT @Source_1: hi",', '2,b,1606451110,"RT @Source_1: hi",9'],
        header="id,user,ts,body,obj",
    )
    mapping = parse_mapping(TEXT_MAP + ",repost_of=obj")
    ingest(case_path, [path], options=ReadOptions(mapping=mapping), fmt="table")
    got = {k: v[3:] for k, v in _lists(case_path).items()}
    assert got == {"1": ("post", None), "2": ("repost", None)}


@pytest.mark.parametrize(
    ("trace", "key"),
    [("co-hashtag", "#Vote"), ("co-mention", "@Alice"), ("co-link", "https://x.com/a")],
)
def test_traces_find_pairs_in_a_mapped_table_by_its_text(
    tmp_path: Path, case_path: Path, trace: str, key: str
) -> None:
    """Issue 21: a troll archive mapped as a table had no keys for these traces."""
    from click.testing import CliRunner

    from trollscope.cli import cli

    # a and b use four keys, each within seconds of the other; c uses them hours later.
    rows = [
        f'{who}{i},{who},{1606451100 + 600 * i + lag},"text {key}{i}, said {who}"'
        for i in range(4)
        for who, lag in (("a", 0), ("b", 3), ("c", 7200))
    ]
    path = _texts_file(tmp_path, rows)
    ingest(case_path, [path], options=ReadOptions(mapping=parse_mapping(TEXT_MAP)), fmt="table")
    run = CliRunner().invoke(cli, ["edges", str(case_path), "--trace", trace, "--window", "60"])
    assert run.exit_code == 0, run.output
    assert f"1 {trace} edges written" in run.stdout
    assert query(case_path, "SELECT account_a, account_b, keys FROM edges") == [("a", "b", 4)]


def test_retweet_texts_without_ids_are_co_reposts(tmp_path: Path, case_path: Path) -> None:
    """Issue 21: "RT @user: ..." rows of a mapped table became reposts with no original's
    id, so co-repost had no key. Equal texts are reposts of one post: a and b repost three
    posts seconds apart, c the same hours later, d other posts at the same moments."""
    from click.testing import CliRunner

    from trollscope.cli import cli

    rows = [
        f'{who}{i},{who},{1606451100 + 600 * i + lag},"RT @Source_{i}: {text} {i}"'
        for i in range(3)
        for who, lag, text in (
            ("a", 0, "vote"),
            ("b", 5, "vote"),
            ("c", 7200, "vote"),
            ("d", 2, "other"),
        )
    ]
    path = _texts_file(tmp_path, rows)
    ingest(case_path, [path], options=ReadOptions(mapping=parse_mapping(TEXT_MAP)), fmt="table")
    run = CliRunner().invoke(cli, ["edges", str(case_path), "--trace", "co-repost"])
    assert run.exit_code == 0, run.output
    assert query(case_path, "SELECT account_a, account_b, keys FROM edges") == [("a", "b", 3)]
