"""Bluesky: Jetstream events, repository records and AppView post views."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, query
from trollscope.errors import FormatError
from trollscope.ingest.readers import ReadOptions, sniff
from trollscope.ingest.run import ingest

JETSTREAM = DATA / "bluesky" / "jetstream.jsonl"
APPVIEW = DATA / "bluesky" / "appview.jsonl"
THREAD = DATA / "bluesky" / "thread.json"
ALICE = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
BOB = "did:plc:z72i7hdynmk6r22z27h6tvur"
CAROL = "did:plc:vwzwgnygau7ed7b7wt5ux7y2"
ERIN = "did:plc:q6gjnaw2blty4crticxkmujt"
FIRST = f"at://{ALICE}/app.bsky.feed.post/3l3qo2vutsw2b"
ERIN_POST = f"at://{ERIN}/app.bsky.feed.post/3l3sw11111111"


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT post_id, account_id, created_at, kind, ref_post_id, ref_account_id, text, "
        "lang, hashtags, mentions, urls, media, extra FROM posts",
    )
    return {str(r[0]): r[1:] for r in rows}


def accounts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case, "SELECT account_id, handle, display_name, bio, created_at, avatar FROM accounts"
    )
    return {str(r[0]): r[1:] for r in rows}


def test_the_content_names_the_format() -> None:
    for path in (JETSTREAM, APPVIEW, THREAD):
        assert sniff(path).name == "bluesky", path


def test_jetstream_counts_add_up_and_other_events_are_not_records(case_path: Path) -> None:
    f = ingest(case_path, [JETSTREAM]).files[0]
    # 18 lines: 6 post and repost creates (one replayed), 5 bad lines; the identity,
    # profile, like, follow, delete and account events are not records.
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("bluesky", 11, 5, 1, 5)
    assert f.read == f.stored + f.duplicate + f.rejected
    again = ingest(case_path, [JETSTREAM]).files[0]
    assert (again.stored, again.duplicate, again.rejected) == (0, 6, 5)


def test_a_post_with_facets(case_path: Path) -> None:
    ingest(case_path, [JETSTREAM])
    got = posts(case_path)[FIRST]
    assert got[:7] == (
        ALICE,
        datetime(2024, 9, 9, 19, 46, 2, 102000),
        "post",
        None,
        None,
        "Free them all #FreeIran with @bob.bsky.social https://example.org/report?utm_source=x",
        "en",
    )
    # The #tag facet, then the record's tags; the mention is the DID; the link facet.
    assert got[7:11] == (
        ["FreeIran", "IranRevolution"],
        [BOB],
        ["https://example.org/report?utm_source=x"],
        [],
    )
    assert json.loads(str(got[11]))["time_us"] == 1725911162329308


def test_reply_repost_and_quote_point_at_the_post(case_path: Path) -> None:
    ingest(case_path, [JETSTREAM])
    got = posts(case_path)
    reply = got[f"at://{BOB}/app.bsky.feed.post/3l3qo3bcdzk2c"]
    assert reply[2:6] == ("reply", FIRST, ALICE, "آزادی برای ایران #ایران_آزاد")
    assert (reply[6], reply[7]) == ("fa", ["ایران_آزاد"])
    repost = got[f"at://{CAROL}/app.bsky.feed.repost/3l3qo4aaaak2x"]
    assert repost[2:6] == ("repost", FIRST, ALICE, None)
    # A quote with an image (recordWithMedia), by a did:web account; the terminal escape
    # in the text is data, kept as written.
    quote = got["at://did:web:dave.example.com/app.bsky.feed.post/3l3qo5qqqqk2a"]
    assert quote[2:6] == ("quote", FIRST, ALICE, "Look at this \x1b]52;c;aGk=\x07 and read it")
    assert quote[10] == ["bafkreibabqmqqkxhmtyfbvpfq6pbfxiy3gsuywwbrgd3t5mm4iegzlcbgy"]


def test_a_post_without_facets_takes_entities_from_its_text(case_path: Path) -> None:
    ingest(case_path, [JETSTREAM])
    got = posts(case_path)[f"at://{CAROL}/app.bsky.feed.post/3l3qo6ssssk2a"]
    assert got[7:10] == (
        ["NoFacet"],
        ["carol.example.com"],
        ["https://news.example/a", "https://news.example/card"],  # the text's, the card's
    )


def test_handles_come_from_identity_events_profiles_and_mention_spans(case_path: Path) -> None:
    ingest(case_path, [JETSTREAM])
    got = accounts(case_path)
    assert got[ALICE] == (
        "alice.bsky.social",
        "Alice <script>alert(1)</script>",  # data, escaped where it is shown
        "Human rights. #FreeIran\u202e",
        datetime(2023, 4, 12, 9, 0),
        f"https://cdn.bsky.app/img/avatar/plain/{ALICE}/"
        "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy@jpeg",
    )
    assert got[BOB][0] == "bob.bsky.social"  # from the text the mention facet spans
    # An identity event whose DID holds a control character is left out; the accounts
    # of rejected posts are not stored.
    assert not [a for a in got if "evil" in a or "4ni3q" in a]


def test_rejects_name_the_line_and_the_field(case_path: Path) -> None:
    ingest(case_path, [JETSTREAM])
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    assert rejects[:4] == [
        (13, "commit.record.createdAt", "commit.record.createdAt is missing"),
        (
            14,
            "commit.record.createdAt",
            "commit.record.createdAt '1970-01-01T00:00:00.000Z' is not between 2004-01-01 "
            "and tomorrow (UTC)",
        ),
        (15, "commit.record.subject.uri", "commit.record.subject.uri is missing"),
        (17, "did", "did 'did:plc:bad\\x07id' holds a control character; ids and handles may not"),
    ]
    assert rejects[4][:2] == (18, None)
    assert "not valid JSON" in str(rejects[4][2])
    assert str(query(case_path, "SELECT DISTINCT file FROM rejects")[0][0]).endswith(
        "jetstream.jsonl"
    )


def test_appview_pages_views_feeds_and_records(case_path: Path) -> None:
    f = ingest(case_path, [APPVIEW]).files[0]
    # Posts: 2 + 1 quoted; feed: a reply, its parent and root (one post), a post already
    # seen, a repost reason, a bad count; records: a post, a like (no record), a bad URI.
    assert (f.read, f.stored, f.duplicate, f.rejected) == (11, 6, 3, 2)
    got = posts(case_path)
    quote = got[f"at://{CAROL}/app.bsky.feed.post/3l3sxb3mrd33l"]
    assert quote[2:5] == ("quote", ERIN_POST, ERIN)
    assert got[ERIN_POST][5] == "My reporting on the farm."  # the quoted view is a post
    assert got[f"at://{ALICE}/app.bsky.feed.post/3l3sxa2lqc22k"][8] == [ERIN]
    repost = got[f"at://{BOB}/app.bsky.feed.repost/3l3sxd5otf55n"]
    assert repost[:5] == (
        BOB,
        datetime(2024, 9, 10, 8, 2),
        "repost",
        f"at://{ALICE}/app.bsky.feed.post/3l3sxa2lqc22k",
        ALICE,
    )
    profiles = accounts(case_path)
    assert profiles[ERIN][:2] == ("erin.bsky.social", "Erin, journalist")
    assert profiles[CAROL][:2] == (None, "Carol \u202eloraC")  # handle.invalid is no handle
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    assert rejects == [
        (
            2,
            "feed[2].post.repostCount",
            "repostCount -3 is not a count (a whole number from 0 to 9223372036854775807)",
        ),
        (
            3,
            "records[2].uri",
            'expected uri as at://DID/COLLECTION/RKEY, got "https://bsky.app/profile/bob/post/1"',
        ),
    ]


def test_a_thread_document_walks_parents_and_replies(case_path: Path) -> None:
    f = ingest(case_path, [THREAD]).files[0]
    assert (f.read, f.stored, f.duplicate, f.rejected) == (3, 3, 0, 0)
    got = posts(case_path)
    nested = got[f"at://{ALICE}/app.bsky.feed.post/3l3sxh9sxj99r"]
    assert nested[2:4] == ("reply", f"at://{BOB}/app.bsky.feed.post/3l3sxc4nse44m")
    assert json.loads(str(nested[11]))["root"] == ERIN_POST


def test_gzip_reads_the_same(case_path: Path) -> None:
    f = ingest(case_path, [DATA / "bluesky" / "jetstream.jsonl.gz"]).files[0]
    assert (f.read, f.stored, f.duplicate, f.rejected) == (11, 5, 1, 5)
    assert gzip.decompress((DATA / "bluesky" / "jetstream.jsonl.gz").read_bytes()) == (
        JETSTREAM.read_bytes()
    )


def test_a_file_of_likes_only_holds_no_records(tmp_path: Path) -> None:
    lines = [line for line in JETSTREAM.read_text("utf-8").splitlines() if "feed.like" in line]
    path = tmp_path / "likes.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match="no records found"):
        ingest(tmp_path / "case.duckdb", [path], fmt="bluesky")


def test_another_format_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "tweets.jsonl"
    path.write_text('{"id_str": "1", "text": "hi", "user": {}}\n', encoding="utf-8")
    with pytest.raises(FormatError, match="this is not Bluesky JSON"):
        ingest(tmp_path / "case.duckdb", [path], fmt="bluesky")


def test_platform_override(tmp_path: Path) -> None:
    case = tmp_path / "case.duckdb"
    ingest(case, [THREAD], options=ReadOptions(platform="bsky-mirror"))
    assert query(case, "SELECT DISTINCT platform FROM posts") == [("bsky-mirror",)]
