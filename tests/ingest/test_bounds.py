"""Impossible times are refused at the record's boundary, by every reader (model.py).

Each of these was stored before and crashed a later command (`info`, the rhythm and
creation signals, `detect`), or refused a whole mapped file over one row (issue 19)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import query
from trollscope.cli import cli
from trollscope.errors import MappingError
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest
from trollscope.model import EARLIEST, TimeRange

RANGE = "between 2004-01-01 and tomorrow (UTC)"

IMPOSSIBLE = [
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "infinity",
    "-infinity",
    "epoch",
    "0",  # POSIX 0: 1970, before any platform
    "-9.99e19",
    "-99900000000000000000",  # POSIX seconds past the year 9999 made the whole file fail
    "1999-12-31T23:59:59Z",
    "2021-01-01T00:00:00+25:00",  # no zone is 25 hours off UTC
]


def _rejects(case: Path) -> list[tuple[object, ...]]:
    return query(case, "SELECT line, field, reason FROM rejects ORDER BY line")


def test_a_mapped_table_rejects_each_impossible_time_and_keeps_the_rest(
    tmp_path: Path, case_path: Path
) -> None:
    rows = ["id,user,t", "1,u,2021-01-01T00:00:00Z"]
    rows += [f"{i + 2},u,{value}" for i, value in enumerate(IMPOSSIBLE)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    options = ReadOptions(mapping=parse_mapping("post_id=id,account_id=user,created_at=t"))
    result = ingest(case_path, [path], options=options)
    f = result.files[0]
    assert (f.read, f.stored, f.rejected) == (len(IMPOSSIBLE) + 1, 1, len(IMPOSSIBLE))
    got = _rejects(case_path)
    assert [line for line, _, _ in got] == list(range(3, len(IMPOSSIBLE) + 3))
    for (_, field, reason), value in zip(got, IMPOSSIBLE, strict=True):
        assert field == "created_at"
        assert RANGE in str(reason) and repr(value) in str(reason), reason
    # The commands that crashed on such a case run.
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, ["info", str(case_path)])
    assert out.exit_code == 0, out.output


def test_twarc2_rejects_times_outside_the_range(tmp_path: Path, case_path: Path) -> None:
    def tweet(i: int, when: str) -> str:
        return json.dumps(
            {"id": str(i), "author_id": "7", "text": "hi", "created_at": when}, ensure_ascii=False
        )

    lines = [
        tweet(1, "2022-10-31T16:35:09.000Z"),
        tweet(2, "0000-01-01T00:00:00.000Z"),
        tweet(3, "1970-01-01T00:00:00.000Z"),
        tweet(4, "9999-12-31T00:00:00.000Z"),
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest(case_path, [path])
    assert (result.files[0].stored, result.files[0].rejected) == (1, 3)
    got = _rejects(case_path)
    assert [(line, field) for line, field, _ in got] == [(i, "created_at") for i in (2, 3, 4)]
    assert all(f"is not {RANGE}" in str(reason) for _, _, reason in got)
    assert '"1970-01-01T00:00:00.000Z"' in str(got[1][2])


def test_io_tweets_reject_a_time_before_the_platforms(tmp_path: Path, case_path: Path) -> None:
    header = "tweetid,userid,tweet_time,tweet_text,is_retweet"
    path = tmp_path / "io.csv"
    path.write_text(
        f"{header}\n1,7,2019-10-07 02:15,hi,False\n2,7,1999-10-07 02:15,hi,False\n",
        encoding="utf-8",
    )
    result = ingest(case_path, [path], options=ReadOptions())
    assert (result.files[0].stored, result.files[0].rejected) == (1, 1)
    ((line, field, reason),) = _rejects(case_path)
    assert (line, field) == (3, "tweet_time") and RANGE in str(reason)


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (EARLIEST, True),
        (EARLIEST.replace(year=2003), False),
        (datetime(2020, 1, 1), True),
        (TimeRange().high().replace(year=TimeRange().high().year + 1), False),
        (None, True),  # no time is not an impossible time
    ],
)
def test_the_range_itself(when: datetime | None, inside: bool) -> None:
    assert TimeRange().contains(when) is inside


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(MappingError, match="--earliest 2022-01-01 is after --latest 2021-12-31"):
        TimeRange(date(2022, 1, 1), date(2021, 12, 31))
    assert TimeRange(latest=date(2021, 12, 31)).contains(datetime(2021, 12, 31, 23, 59, 59))


# Counts, keys (ids and handles) and account times: a bad one rejects the record that
# holds it, naming the field and the value (escaped), in every reader (issue 19).


def _csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def _lines(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _telegram(records: list[dict[str, Any]]) -> str:
    chat = {"name": "C", "type": "public_channel", "id": 1, "messages": records}
    return json.dumps(chat, ensure_ascii=False, indent=1)


@dataclass(frozen=True)
class Fmt:
    """One format: its `i`-th record (1 good, 2 the one the test spoils), how records
    become a file, and the line of record 2 (None: the format has no lines)."""

    name: str
    suffix: str
    record: Callable[[int], dict[str, Any]]
    render: Callable[[list[dict[str, Any]]], str]
    line: int | None
    mapping: str = ""


def _twarc2(i: int) -> dict[str, Any]:
    user = {
        "id": str(6 + i),
        "username": f"user{i}",
        "created_at": "2015-01-01T00:00:00.000Z",
        "public_metrics": {
            "followers_count": 10,
            "following_count": 5,
            "tweet_count": 3,
            "listed_count": 0,
        },
    }
    tweet = {
        "id": str(i),
        "author_id": str(6 + i),
        "text": "hi",
        "created_at": "2021-07-05T10:00:00.000Z",
    }
    return {"data": [tweet], "includes": {"users": [user]}}


FORMATS = {
    f.name: f
    for f in [
        Fmt(
            "io-tweets",
            "csv",
            lambda i: {
                "tweetid": str(i),
                "userid": str(6 + i),
                "user_screen_name": f"user{i}",
                "follower_count": "10",
                "following_count": "5",
                "account_creation_date": "2015-01-01",
                "tweet_time": "2021-07-05 10:00",
                "tweet_text": "hi",
                "is_retweet": "False",
                "retweet_tweetid": "",
                "like_count": "3",
                "retweet_count": "1",
            },
            _csv,
            3,
        ),
        Fmt(
            "io-users",
            "csv",
            lambda i: {
                "userid": str(6 + i),
                "user_screen_name": f"user{i}",
                "follower_count": "10",
                "following_count": "5",
                "account_creation_date": "2015-01-01",
            },
            _csv,
            3,
        ),
        Fmt(
            "ira",
            "csv",
            lambda i: {
                "external_author_id": str(6 + i),
                "author": f"user{i}",
                "content": "hi",
                "publish_date": "7/5/2021 10:00",
                "followers": "10",
                "following": "5",
                "updates": "3",
                "tweet_id": str(i),
            },
            _csv,
            3,
        ),
        Fmt(
            "crowdtangle",
            "csv",
            lambda i: {
                "Page Name": "P",
                "User Name": f"user{i}",
                "Facebook Id": str(6 + i),
                "Page Created": "2015-01-01 10:00:00",
                "Likes at Posting": "5",
                "Followers at Posting": "10",
                "Post Created": "2021-07-05 10:00:00 EDT",
                "Likes": "3",
                "URL": f"https://www.facebook.com/{6 + i}/posts/{i}",
                "Message": "hi",
            },
            _csv,
            3,
        ),
        Fmt(
            "cnt-csv",
            "csv",
            lambda i: {
                "message_id": str(i),
                "user_id": str(6 + i),
                "username": f"user{i}",
                "repost_id": "",
                "reply_id": "",
                "message": "hi",
                "timestamp": "1625479200",
                "urls": "",
            },
            _csv,
            3,
        ),
        Fmt(
            "table",
            "csv",
            lambda i: {
                "id": str(i),
                "user": str(6 + i),
                "t": "2021-07-05T10:00:00Z",
                "h": f"user{i}",
                "f": "10",
                "g": "5",
                "c": "2015-01-01T00:00:00Z",
                "r": "",
                "ra": "",
            },
            _csv,
            3,
            "post_id=id,account_id=user,created_at=t,handle=h,followers=f,following=g,"
            "account_created_at=c,reply_to=r,ref_account_id=ra",
        ),
        Fmt("twarc2", "jsonl", _twarc2, _lines, 2),
        Fmt(
            "twitter-v1",
            "jsonl",
            lambda i: {
                "id_str": str(i),
                "created_at": "Mon Jul 05 10:00:00 +0000 2021",
                "text": "hi",
                "user": {
                    "id_str": str(6 + i),
                    "screen_name": f"user{i}",
                    "created_at": "Thu Jan 01 00:00:00 +0000 2015",
                    "followers_count": 10,
                    "friends_count": 5,
                    "statuses_count": 3,
                },
            },
            _lines,
            2,
        ),
        Fmt(
            "crowdtangle-api",
            "jsonl",
            lambda i: {
                "platformId": f"{6 + i}_{i}",
                "platform": "Facebook",
                "date": "2021-07-05 10:00:00",
                "postUrl": f"https://www.facebook.com/{6 + i}/posts/{i}",
                "message": "hi",
                "account": {
                    "platformId": str(6 + i),
                    "handle": f"user{i}",
                    "name": "P",
                    "subscriberCount": 10,
                    "pageCreatedDate": "2015-01-01 10:00:00",
                },
                "statistics": {"actual": {"likeCount": 3}},
            },
            _lines,
            2,
        ),
        Fmt(
            "telegram",
            "json",
            lambda i: {
                "id": i,
                "type": "message",
                "date": "2021-07-05T10:00:00",
                "date_unixtime": "1625479200",
                "from": "A",
                "from_id": f"user{6 + i}",
                "text": "hi",
            },
            _telegram,
            None,
        ),
    ]
}


def _set(record: dict[str, Any], path: str, value: object) -> None:
    """Set `a.b[0].c` in a nested record (a CSV record's path is its column)."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path) if "." in path or "[" in path else [path]
    target: Any = record
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    target[parts[-1]] = value


def _ingest_spoiled(
    tmp_path: Path,
    case_path: Path,
    fmt: Fmt,
    changes: dict[str, object],
    times: TimeRange | None = None,
) -> tuple[Any, list[tuple[object, ...]]]:
    spoiled = fmt.record(2)
    for path, value in changes.items():
        _set(spoiled, path, value)
    file = tmp_path / f"input.{fmt.suffix}"
    file.write_text(fmt.render([fmt.record(1), spoiled]), encoding="utf-8")
    options = ReadOptions(mapping=parse_mapping(fmt.mapping), **({"times": times} if times else {}))
    result = ingest(case_path, [file], fmt=fmt.name, options=options)
    return result.files[0], _rejects(case_path)


COUNT = "is not a count"
KEY = "control character"
TIME = RANGE

# (format, {path: value} spoiling record 2, the field the reject names, what its reason
# says, the value as the reason shows it)
SPOILED = [
    # counts: negative, beyond 64 bits, not whole, not a number
    ("io-tweets", {"follower_count": "-5"}, "follower_count", COUNT, "'-5'"),
    ("io-tweets", {"following_count": "1.2e29"}, "following_count", COUNT, "'1.2e29'"),
    ("io-tweets", {"like_count": "2.5"}, "like_count", COUNT, "'2.5'"),
    ("io-tweets", {"retweet_count": "many"}, "retweet_count", COUNT, "'many'"),
    ("io-users", {"follower_count": "-5"}, "follower_count", COUNT, "'-5'"),
    ("io-users", {"following_count": "9223372036854775808"}, "following_count", COUNT, "'9"),
    ("ira", {"followers": "-5"}, "followers", COUNT, "'-5'"),
    ("ira", {"updates": "1.2e29"}, "updates", COUNT, "'1.2e29'"),
    ("crowdtangle", {"Followers at Posting": "-5"}, "Followers at Posting", COUNT, "'-5'"),
    ("crowdtangle", {"Likes": "12K"}, "Likes", COUNT, "'12K'"),
    ("table", {"f": "-5"}, "followers", COUNT, "'-5'"),
    ("table", {"g": "1.2e29"}, "following", COUNT, "'1.2e29'"),
    ("twarc2", {"includes.users[0].public_metrics.followers_count": -5},
     "includes.users[0].public_metrics.followers_count", COUNT, "-5"),
    ("twarc2", {"includes.users[0].public_metrics.following_count": 1.2e29},
     "includes.users[0].public_metrics.following_count", COUNT, "1.2e"),
    ("twarc2", {"includes.users[0].public_metrics.tweet_count": 2.5},
     "includes.users[0].public_metrics.tweet_count", COUNT, "2.5"),
    ("twitter-v1", {"user.followers_count": -5}, "user.followers_count", COUNT, "-5"),
    ("twitter-v1", {"user.friends_count": "5"}, "user.friends_count", COUNT, "'5'"),
    ("crowdtangle-api", {"account.subscriberCount": -5}, "account.subscriberCount", COUNT, "-5"),
    ("crowdtangle-api", {"statistics.actual.likeCount": 1.2e29},
     "statistics.actual.likeCount", COUNT, "1.2e"),
    # ids and handles: C0, DEL and C1 characters
    ("io-tweets", {"userid": "8\x1b"}, "userid", KEY, "'8\\x1b'"),
    ("io-tweets", {"user_screen_name": "user\x1b]0;x\x07"}, "user_screen_name", KEY,
     "'user\\x1b]0;x\\x07'"),
    ("io-tweets", {"retweet_tweetid": "9\x7f"}, "retweet_tweetid", KEY, "'9\\x7f'"),
    ("io-users", {"user_screen_name": "user\x85"}, "user_screen_name", KEY, "'user\\x85'"),
    ("ira", {"author": "user\x1b"}, "author", KEY, "'user\\x1b'"),
    ("crowdtangle", {"User Name": "user\x1b"}, "User Name", KEY, "'user\\x1b'"),
    ("crowdtangle", {"URL": "https://x.org/\x1b"}, "URL", KEY, "'https://x.org/\\x1b'"),
    ("cnt-csv", {"username": "user\x1b"}, "username", KEY, "'user\\x1b'"),
    ("cnt-csv", {"repost_id": "3\x1b"}, "repost_id", KEY, "'3\\x1b'"),
    ("table", {"h": "user\x1b"}, "handle", KEY, "'user\\x1b'"),
    ("table", {"r": "3\x1b"}, "reply_to", KEY, "'3\\x1b'"),
    ("twarc2", {"data[0].id": "2\x1b"}, "data[0].id", KEY, "'2\\x1b'"),
    ("twarc2", {"includes.users[0].username": "user\x1b"},
     "includes.users[0].username", KEY, "'user\\x1b'"),
    ("twitter-v1", {"id_str": "2\x9b"}, "id_str", KEY, "'2\\x9b'"),
    ("twitter-v1", {"user.screen_name": "user\x1b"}, "user.screen_name", KEY, "'user\\x1b'"),
    ("crowdtangle-api", {"postUrl": "https://x.org/\x1b"}, "postUrl", KEY,
     "'https://x.org/\\x1b'"),
    ("crowdtangle-api", {"account.handle": "user\x1b"}, "account.handle", KEY, "'user\\x1b'"),
    ("telegram", {"from_id": "user\x1b8"}, "from_id", KEY, "'user\\x1b8'"),
    ("telegram", {"forwarded_from": "Bob\x07"}, "forwarded_from", KEY, "'Bob\\x07'"),
    # an account's creation time outside the range, or unreadable
    ("crowdtangle", {"Page Created": "9999-01-01 10:00:00"}, "Page Created", TIME,
     "'9999-01-01 10:00:00'"),
    ("crowdtangle", {"Page Created": "yesterday"}, "Page Created", "expected", "'yesterday'"),
    ("table", {"c": "infinity"}, "account_created_at", TIME, "'infinity'"),
    ("twarc2", {"includes.users[0].created_at": "0000-01-01T00:00:00.000Z"},
     "includes.users[0].created_at", "expected", "0000-01-01"),
    ("twarc2", {"includes.users[0].created_at": "1970-01-01T00:00:00.000Z"},
     "includes.users[0].created_at", TIME, "1970-01-01"),
    ("twitter-v1", {"user.created_at": "Thu Jan 01 00:00:00 +0000 1970"}, "user.created_at",
     TIME, "1970"),
    ("crowdtangle-api", {"account.pageCreatedDate": "9999-01-01 00:00:00"},
     "account.pageCreatedDate", TIME, "9999-01-01"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "changes", "field", "words", "shown"),
    SPOILED,
    ids=[f"{c[0]}-{next(iter(c[1]))}-{next(iter(c[1].values()))!r}" for c in SPOILED],
)
def test_a_bad_count_key_or_account_time_rejects_its_record(
    tmp_path: Path,
    case_path: Path,
    fmt: str,
    changes: dict[str, object],
    field: str,
    words: str,
    shown: str,
) -> None:
    result, rejects = _ingest_spoiled(tmp_path, case_path, FORMATS[fmt], changes)
    assert (result.read, result.stored, result.duplicate, result.rejected) == (2, 1, 0, 1)
    ((line, got_field, reason),) = rejects
    assert (line, got_field) == (FORMATS[fmt].line, field)
    assert words in str(reason) and shown in str(reason), reason
    # Nothing of the spoiled record is stored: not its post, not its author's profile
    # (a JSON tweet's author is a profile of its own, good in itself when only the
    # tweet's id is bad).
    assert query(case_path, "SELECT count(*) FROM posts")[0][0] == (fmt != "io-users")
    authors = 2 if field in ("data[0].id", "id_str") else 1
    assert query(case_path, "SELECT count(*) FROM accounts")[0][0] == authors


GOOD_COUNTS = ["0", "17", "+17", "17.0", "1e3", " 17 ", "9223372036854775807", ""]


@pytest.mark.parametrize("value", GOOD_COUNTS)
@pytest.mark.parametrize(("fmt", "column"), [("io-users", "follower_count"), ("table", "f")])
def test_counts_as_tables_write_them_are_read(
    tmp_path: Path, case_path: Path, fmt: str, column: str, value: str
) -> None:
    result, rejects = _ingest_spoiled(tmp_path, case_path, FORMATS[fmt], {column: value})
    assert (result.stored, result.rejected, rejects) == (2, 0, [])
    expected = int(Decimal(value)) if value.strip() else None
    got = query(case_path, "SELECT followers FROM accounts WHERE account_id = '8'")
    assert got == [(expected,)]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_reader_takes_the_time_range_from_its_options(
    tmp_path: Path, case_path: Path, fmt: str
) -> None:
    """Record 2 is from 2022; with --latest 2021-12-31 it is outside the range."""
    later = {
        "io-tweets": {"tweet_time": "2022-06-01 10:00"},
        "io-users": {"account_creation_date": "2022-06-01"},
        "ira": {"publish_date": "6/1/2022 10:00"},
        "crowdtangle": {"Post Created": "2022-06-01 10:00:00 EDT"},
        "cnt-csv": {"timestamp": "1654077600"},
        "table": {"t": "2022-06-01T10:00:00Z"},
        "twarc2": {"data[0].created_at": "2022-06-01T10:00:00.000Z"},
        "twitter-v1": {"created_at": "Wed Jun 01 10:00:00 +0000 2022"},
        "crowdtangle-api": {"date": "2022-06-01 10:00:00"},
        "telegram": {"date_unixtime": "1654077600"},
    }[fmt]
    times = TimeRange(latest=date(2021, 12, 31))
    result, rejects = _ingest_spoiled(tmp_path, case_path, FORMATS[fmt], later, times)
    assert (result.stored, result.rejected) == (1, 1)
    ((line, _, reason),) = rejects
    assert line == FORMATS[fmt].line
    assert "between 2004-01-01 and 2021-12-31 (UTC)" in str(reason), reason
    # And by default, the same file is read whole.
    again = ingest(
        tmp_path / "default.duckdb",
        [tmp_path / f"input.{FORMATS[fmt].suffix}"],
        fmt=fmt,
        options=ReadOptions(mapping=parse_mapping(FORMATS[fmt].mapping)),
    )
    assert (again.files[0].stored, again.files[0].rejected) == (2, 0)


def test_an_earlier_start_lets_older_times_in(tmp_path: Path, case_path: Path) -> None:
    old = {"t": "1999-05-01T10:00:00Z", "c": "1997-01-01T00:00:00Z"}
    result, rejects = _ingest_spoiled(tmp_path, case_path, FORMATS["table"], old)
    assert (result.stored, result.rejected) == (1, 1)
    result, rejects = _ingest_spoiled(
        tmp_path, tmp_path / "wide.duckdb", FORMATS["table"], old, TimeRange(date(1995, 1, 1))
    )
    assert (result.stored, result.rejected, rejects) == (2, 0, [])


def test_ingest_and_scan_take_earliest_and_latest(tmp_path: Path, case_path: Path) -> None:
    from click.testing import CliRunner

    path = tmp_path / "t.csv"
    path.write_text("id,user,t\n1,u,2021-01-01T00:00:00Z\n2,u,2022-06-01T00:00:00Z\n")
    args = ["ingest", str(path), "--into", str(case_path), "--map",
            "post_id=id,account_id=user,created_at=t"]  # fmt: skip
    out = CliRunner().invoke(cli, [*args, "--latest", "2021-12-31"])
    assert out.exit_code == 0, out.output
    ((_, field, reason),) = _rejects(case_path)
    assert field == "created_at" and "between 2004-01-01 and 2021-12-31 (UTC)" in str(reason)
    out = CliRunner().invoke(cli, [*args, "--earliest", "2022-01-01", "--latest", "2021-12-31"])
    assert out.exit_code == 1
    assert "--earliest 2022-01-01 is after --latest 2021-12-31" in out.output, out.output
    out = CliRunner().invoke(cli, [*args, "--earliest", "01/02/2020"])
    assert out.exit_code == 2 and "'%Y-%m-%d'" in out.output, out.output
    out = CliRunner().invoke(cli, ["scan", "--help"])
    assert "--earliest" in out.output and "--latest" in out.output


def test_times_before_2000_or_in_the_future_are_warned_about_and_counted(
    tmp_path: Path, case_path: Path
) -> None:
    """A widened --earliest or --latest admits 1990s or future dates; ingest warns about
    them and `info` counts them (issue 21)."""
    from click.testing import CliRunner

    path = tmp_path / "t.csv"
    path.write_text(
        "id,user,t,joined\n"
        "1,u,1995-03-01T00:00:00Z,1994-01-01T00:00:00Z\n"
        "2,v,2021-01-01T00:00:00Z,2020-01-01T00:00:00Z\n"
        "3,v,1999-12-31T23:59:59Z,2020-01-01T00:00:00Z\n"
        "4,w,2099-01-01T00:00:00Z,2020-01-01T00:00:00Z\n"
    )
    args = ["ingest", str(path), "--into", str(case_path), "--earliest", "1990-01-01",
            "--latest", "2100-01-01", "--map",
            "post_id=id,account_id=user,created_at=t,account_created_at=joined"]  # fmt: skip
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())
    assert "warning: 2 posts and 1 accounts are dated before 2000" in said, said
    assert "warning: 1 posts and 0 accounts are dated after tomorrow (UTC)" in said, said
    out = CliRunner().invoke(cli, ["info", str(case_path), "--json"])
    assert json.loads(out.output)["odd_times"] == {
        "posts_before_2000": 2,
        "accounts_before_2000": 1,
        "posts_future": 1,
        "accounts_future": 0,
    }
    out = CliRunner().invoke(cli, ["info", str(case_path)])
    assert "2 posts and 1 accounts are dated before 2000" in " ".join(out.output.split())
    # Within the default range nothing is warned about (the odd rows are rejected).
    fresh = tmp_path / "fresh.duckdb"
    options = ReadOptions(mapping=parse_mapping("post_id=id,account_id=user,created_at=t"))
    result = ingest(fresh, [path], options=options)
    assert set(result.odd_times.values()) == {0} and result.files[0].rejected == 3
