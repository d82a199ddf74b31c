"""coordination-network-toolkit's CSV (`cnt-csv`), through the real ingest pipeline."""

from __future__ import annotations

import gzip
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, query, table_counts
from trollscope.errors import FormatError, NothingReadError
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.registry import sniff
from trollscope.ingest.run import ingest
from trollscope.ingest.writers import cnt as cnt_writer
from trollscope.model import Account, Kind, Post

MESSAGES = DATA / "cnt" / "messages.csv"
BAD = DATA / "cnt" / "bad.csv"
NO_HEADER = DATA / "cnt" / "no_header.csv"
HEADER = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
NFD_AZADI = unicodedata.normalize("NFD", "آزادی")


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT post_id, account_id, created_at, kind, ref_post_id, text, hashtags, urls, "
        "mentions, platform, extra FROM posts",
    )
    return {str(r[0]): r[1:] for r in rows}


def rejects(case: Path) -> list[tuple[object, ...]]:
    return query(case, "SELECT line, field, reason FROM rejects ORDER BY line")


def test_messages(case_path: Path) -> None:
    result = ingest(case_path, [MESSAGES])
    f = result.files[0]
    # 1002 appears twice: the second copy is a duplicate, not a second post.
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("cnt-csv", 6, 5, 1, 0)
    got = posts(case_path)
    # (account, time, kind, ref, text, hashtags, urls, mentions, platform, extra)
    assert got["1001"] == (
        "u1",
        datetime(2020, 11, 27, 4, 26, 10),
        "post",
        None,
        "Free speech now #FreeIran @bob_2 https://example.com/a#frag",
        ["FreeIran"],  # not "frag": it is part of the URL
        ["https://example.com/a"],
        ["bob_2"],
        "unknown",
        None,
    )
    assert got["1002"][:7] == (
        "u2",
        datetime(2020, 11, 27, 4, 26, 15, 250000),
        "repost",
        "1001",
        "RT Free speech now #FreeIran",
        ["FreeIran"],
        [],  # an empty urls field gives no URL (CNT would store "")
    )
    assert got["1003"][:8] == (
        "u3",
        datetime(2020, 11, 27, 4, 26, 40),
        "reply",
        "1001",
        "سلام دنیا #ایران_آزاد #نیم\u200cفاصله @alice",
        ["ایران_آزاد", "نیم\u200cفاصله"],
        # Two spaces between the URLs and one after: no empty URLs.
        ["https://t.co/x", "https://example.org/b"],
        ["alice"],
    )
    assert got["1004"][:7] == (
        "u1",
        datetime(2020, 11, 27, 4, 30),
        "post",
        None,
        'Line one, with a comma\r\nand a "quoted" second line',
        [],
        [],
    )
    # Both ids set: a repost, with the reply id kept aside.
    assert got["1005"][2:4] == ("repost", "1001")
    assert got["1005"][-1] == '{"reply_id":"1002"}'
    assert got["1005"][5] == ["حرية"]
    text = got["1005"][4]
    assert isinstance(text, str)
    assert text.encode() == f"مرحبا بالعالم #حرية و {NFD_AZADI}".encode(), "NFD kept as given"
    assert sorted(query(case_path, "SELECT account_id, handle, platform FROM accounts")) == [
        ("u1", "alice", "unknown"),
        ("u2", "bob_2", "unknown"),
        ("u3", "کاربر", "unknown"),
        ("u4", "دیوید", "unknown"),
    ]
    assert rejects(case_path) == []


def test_platform_option(case_path: Path) -> None:
    ingest(case_path, [MESSAGES], options=ReadOptions(platform="twitter"))
    assert query(case_path, "SELECT DISTINCT platform FROM posts") == [("twitter",)]
    assert query(case_path, "SELECT DISTINCT platform FROM accounts") == [("twitter",)]


def test_bad_rows_are_set_aside_with_their_line(case_path: Path) -> None:
    result = ingest(case_path, [BAD])
    f = result.files[0]
    assert (f.read, f.stored, f.duplicate, f.rejected) == (8, 2, 0, 6)
    assert f.read == f.stored + f.duplicate + f.rejected
    assert sorted(posts(case_path)) == ["2001", "2008"]
    got = rejects(case_path)
    assert got[0][:1] == (3,) and "more fields than the header has" in str(got[0][2])
    assert got[1][:2] == (4, "urls") and "fewer fields than the header has" in str(got[1][2])
    assert got[2:] == [
        (
            5,
            "timestamp",
            "expected seconds since 1970 (a number such as 1606451170 or 1606451170.5), "
            "got 'yesterday'",
        ),
        (6, "user_id", "the user_id is empty; every row needs one"),
        (7, "message_id", "the message_id is empty; every row needs one"),
        (8, "timestamp", "the timestamp '1e20' is not between 2004-01-01 and tomorrow (UTC)"),
    ]
    assert query(case_path, "SELECT raw FROM rejects WHERE line = 5") == [
        ("2004,u4,dave,,,not a time,yesterday,",)
    ]


def test_reingest_changes_nothing(case_path: Path) -> None:
    ingest(case_path, [MESSAGES, BAD])
    before = table_counts(case_path)
    snapshot = posts(case_path)
    again = ingest(case_path, [MESSAGES, BAD])
    assert [(f.read, f.stored, f.duplicate, f.rejected) for f in again.files] == [
        (6, 0, 6, 0),
        (8, 0, 2, 6),
    ]
    after = table_counts(case_path)
    assert after == {**before, "sources": before["sources"] + 2}
    assert posts(case_path) == snapshot


def test_file_without_header_is_read_from_its_first_row(case_path: Path) -> None:
    result = ingest(case_path, [NO_HEADER])
    assert (result.files[0].read, result.files[0].stored) == (2, 2)
    got = posts(case_path)
    assert got["3001"][:3] == ("u1", datetime(2020, 11, 27, 4, 26, 10), "post")
    assert got["3001"][6] == ["https://example.com/x"]
    assert got["3002"][2:5] == ("repost", "3001", "second, record")


def test_row_numbers_without_header(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "no_header.csv"
    path.write_text(
        "1,u1,a,,,fine,1606451170,\n"
        "2,u2,b,,,late,noon,\n"  # row 2: bad time
        "3,u3,c,,,too,1606451170,,x\n"  # row 3: too many fields
        "4,,d,,,no user,1606451170,\n",  # row 4: no user
        encoding="utf-8",
    )
    result = ingest(case_path, [path], fmt="cnt-csv")
    assert (result.files[0].read, result.files[0].stored, result.files[0].rejected) == (4, 1, 3)
    assert [(line, field) for line, field, _ in rejects(case_path)] == [
        (2, "timestamp"),
        (3, None),
        (4, "user_id"),
    ]


def test_header_in_another_order_is_read_by_name(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "reordered.csv"
    path.write_text(
        "user_id,message_id,timestamp,username,message,urls,reply_id,repost_id\n"
        "u9,900,1606451170,ivy,hello #there,https://a.example/x,,\n"
        "u9,901,1606451171,ivy,answer,,900,\n",
        encoding="utf-8",
    )
    ingest(case_path, [path], fmt="cnt-csv")
    got = posts(case_path)
    assert got["900"][:7] == (
        "u9",
        datetime(2020, 11, 27, 4, 26, 10),
        "post",
        None,
        "hello #there",
        ["there"],
        ["https://a.example/x"],
    )
    assert got["901"][2:4] == ("reply", "900")


def test_header_names_in_wrong_places(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "user_id,id,name,rt,re,text,when,links\nu1,1,a,,,x,1606451170,\n", encoding="utf-8"
    )
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="cnt-csv")
    assert str(info.value) == (
        f"{path}: the header names some of CNT's columns in other places (user_id is column 1) "
        "and lacks others, so its columns can be matched neither by name nor by position "
        "(expected, in this order: message_id, user_id, username, repost_id, reply_id, "
        "message, timestamp, urls). Reorder or rename the columns."
    )
    assert not case_path.exists()


def test_other_header_names_are_read_by_position(tmp_path: Path, case_path: Path) -> None:
    # CNT: "The names of the columns don't matter but the order does."
    path = tmp_path / "named.csv"
    path.write_text(
        "id,uid,name,rt,re,text,when,links\n5,u5,e,,,hi,1606451170,\n", encoding="utf-8"
    )
    ingest(case_path, [path], fmt="cnt-csv")
    assert posts(case_path)["5"][:3] == ("u5", datetime(2020, 11, 27, 4, 26, 10), "post")


def test_another_format_is_a_format_error(case_path: Path) -> None:
    shares = DATA / "table" / "coortweet_shares.csv"
    with pytest.raises(FormatError) as info:
        ingest(case_path, [shares], fmt="cnt-csv")
    assert str(info.value) == (
        f"{shares}: this is not a CNT CSV (coordination-network-toolkit): its first row has "
        "4 field(s), expected 8 (message_id, user_id, username, repost_id, reply_id, message, "
        "timestamp, urls). Check the file, or pick its format with --format."
    )


def test_empty_file(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="cnt-csv")
    assert str(info.value) == (
        f"{path}: the file is empty; expected a CNT CSV (coordination-network-toolkit): a "
        "header row, then rows of message_id, user_id, username, repost_id, reply_id, message, "
        "timestamp, urls."
    )


def test_header_only_reads_nothing(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text(HEADER, encoding="utf-8")
    with pytest.raises(NothingReadError, match="no records found; expected a CNT CSV"):
        ingest(case_path, [path])


def test_invalid_utf8_row_is_rejected(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "bytes.csv"
    path.write_bytes(
        HEADER.encode() + b"1,u1,a,,,ok,1606451170,\n2,u2,\xff\xfe,,,bad,1606451170,\n"
    )
    result = ingest(case_path, [path])
    assert (result.files[0].stored, result.files[0].rejected) == (1, 1)
    ((line, _, reason),) = rejects(case_path)
    assert line == 3
    assert "invalid UTF-8" in str(reason)


def test_all_rows_rejected(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "times.csv"
    path.write_text(HEADER + "1,u1,a,,,x,soon,\n", encoding="utf-8")
    with pytest.raises(NothingReadError) as info:
        ingest(case_path, [path])
    assert "all 1 records were rejected" in str(info.value)
    assert "line 2, field timestamp: expected seconds since 1970" in str(info.value)


def test_gzip(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "messages.csv.gz"
    path.write_bytes(gzip.compress(MESSAGES.read_bytes()))
    result = ingest(case_path, [path])
    assert (result.files[0].format, result.files[0].stored) == ("cnt-csv", 5)


def test_broken_gzip(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(MESSAGES.read_bytes())[:20])
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="cnt-csv")
    # Found before the reader runs (a named format is checked like a sniffed one).
    assert str(info.value).startswith(f"{path}: the gzip data is damaged (")
    assert str(info.value).endswith(
        "Test it with `gunzip -t cut.csv.gz`, then copy or download it again."
    )


def test_sniff() -> None:
    assert sniff(MESSAGES).name == "cnt-csv"
    assert sniff(NO_HEADER).name == "cnt-csv"
    assert sniff(DATA / "table" / "coortweet_shares.csv").name == "coortweet"


@pytest.mark.parametrize(
    "content",
    [
        "a,b,c,d,e,f,g,h\n1,2,3,4,5,6,7,8\n",  # a header CNT's names are not in
        "1,u1,a,,,x,noon,\n",  # 7th field not a number
        "1,u1,a,,,x,1606451170\n",  # 7 fields
        "1,,a,,,x,1606451170,\n",  # no user id
        "1,u1,a,,,x,1606451170,\n2,u2,b,,,y,1606451180,,\n",  # a later row of 9 fields
    ],
)
def test_sniff_is_conservative(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FormatError, match="could not be recognised"):
        sniff(path)


def test_writer_round_trip(tmp_path: Path, case_path: Path) -> None:
    when = datetime(2021, 3, 4, 5, 6, 7, 890123)
    written = [
        Post("x", "1", "7", when, Kind.POST, "hi #one @two https://t.co/a#b", urls=["u1 u2", ""]),
        Post("x", "2", "7", when, Kind.REPOST, "RT", ref_post_id="1"),
        Post(
            "x",
            "3",
            "8",
            datetime(1969, 12, 31, 23, 59, 58, 500000),
            Kind.REPLY,
            None,
            ref_post_id="1",
        ),
        Post("x", "4", "8", when, Kind.QUOTE, "quoting", ref_post_id="1"),
    ]
    profiles = {"7": Account("x", "7", handle="seven"), "8": Account("x", "8")}
    path = tmp_path / "out.csv"
    cnt_writer.write(path, written, profiles)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER.strip()
    assert lines[1] == "1,7,seven,,,hi #one @two https://t.co/a#b,1614834367.890123,u1 u2 "
    assert lines[3] == "3,8,,,1,,-1.500000,"
    # The writer keeps a time before 1970; the reader refuses it (outside the record's
    # range), naming the value.
    result = ingest(case_path, [path])
    assert result.files[0].rejected == 1
    assert rejects(case_path) == [
        (4, "timestamp", "the timestamp '-1.500000' is not between 2004-01-01 and tomorrow (UTC)")
    ]
    got = posts(case_path)
    for post in written:
        if post.post_id == "3":
            continue
        want, _ = cnt_writer.expected(post, profiles[post.account_id])
        row = got[want.post_id]
        assert row[:8] == (
            want.account_id,
            want.created_at,
            str(want.kind),
            want.ref_post_id,
            want.text,
            want.hashtags,
            want.urls,
            want.mentions,
        )
    assert got["1"][5:8] == (["one"], ["u1", "u2"], ["two"])
    assert got["4"][2:4] == ("post", None)  # CNT has no quote column
    assert "3" not in got
