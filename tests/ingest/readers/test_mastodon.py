"""Mastodon: API Status entities, as JSON lines or JSON arrays."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, query
from trollscope.errors import FormatError, MappingError
from trollscope.ingest.readers import ReadOptions, sniff
from trollscope.ingest.readers.mastodon import html_text
from trollscope.ingest.run import ingest

TIMELINE = DATA / "mastodon" / "home_timeline.json"
STATUSES = DATA / "mastodon" / "statuses.jsonl"
FIRST = "https://mastodon.social/users/alice/statuses/113105781003478201"
ERIN_POST = "https://journal.example/users/Erin/statuses/112999000000000777"
REPLY = "https://example.net/users/alice/statuses/113105800000000003"


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT post_id, account_id, created_at, kind, ref_post_id, ref_account_id, text, "
        "lang, hashtags, mentions, urls, media, client, extra FROM posts",
    )
    return {str(r[0]): r[1:] for r in rows}


def accounts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(
        case,
        "SELECT account_id, handle, display_name, bio, created_at, followers, following, "
        "avatar, extra FROM accounts",
    )
    return {str(r[0]): r[1:] for r in rows}


def test_the_content_names_the_format() -> None:
    for path in (TIMELINE, STATUSES, DATA / "mastodon" / "home_timeline.json.gz"):
        assert sniff(path).name == "mastodon", path


def test_a_timeline_array_counts_add_up(case_path: Path) -> None:
    f = ingest(case_path, [TIMELINE]).files[0]
    # Five statuses, and the reblogged and the quoted status (one post, twice).
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == ("mastodon", 7, 6, 1, 0)


def test_a_post_with_html_tags_mentions_and_links(case_path: Path) -> None:
    ingest(case_path, [TIMELINE])
    got = posts(case_path)[FIRST]
    assert got[:6] == (
        "alice@mastodon.social",
        datetime(2024, 9, 10, 8, 0),
        "post",
        None,
        None,
        # Tags dropped, <br> and paragraphs as line breaks, entities decoded, the script
        # left out, the link's hidden parts kept (its whole URL).
        "Report @Erin now #StopErin\nline two <b> & https://example.org/report?utm_source=x"
        "\n\nsecond paragraph",
    )
    assert got[6:12] == (
        "en",
        ["StopErin"],
        ["erin@journal.example"],
        ["https://example.org/report?utm_source=x", "https://example.org/report"],
        [],
        "Web",
    )
    extra = json.loads(str(got[12]))
    assert (extra["id"], extra["favourites_count"]) == ("113105781003478201", 30)


def test_reblog_reply_quote_and_thread(case_path: Path) -> None:
    ingest(case_path, [TIMELINE])
    got = posts(case_path)
    reblog = got["https://mastodon.social/users/bob/statuses/113105790000000002/activity"]
    assert reblog[:6] == (
        "bob@mastodon.social",
        datetime(2024, 9, 10, 8, 2),
        "repost",
        ERIN_POST,
        "erin@journal.example",
        None,
    )
    # The reblogged status is a post of its own, with its media (the local copy's URL).
    original = got[ERIN_POST]
    assert original[:3] == ("erin@journal.example", datetime(2024, 9, 10, 7, 0), "post")
    assert original[10] == [
        "https://files.mastodon.social/cache/media_attachments/files/113/105/700/original/abc.jpg"
    ]
    # A reply names its parent by the serving instance's id; its author from the mention.
    reply = got[REPLY]
    assert reply[:7] == (
        "alice@example.net",
        datetime(2024, 9, 10, 8, 1),
        "reply",
        "113105700000000001",
        "erin@journal.example",
        "@Erin shame on you #ایران",
        "fa",
    )
    assert reply[7] == ["ایران"]
    quote = got["https://mastodon.social/users/alice/statuses/113105810000000004"]
    assert quote[2:5] == ("quote", ERIN_POST, "erin@journal.example")
    thread = got["https://mastodon.social/users/alice/statuses/113105820000000005"]
    assert thread[2:5] == ("reply", "113105781003478201", "alice@mastodon.social")


def test_the_same_username_on_two_instances_is_two_accounts(case_path: Path) -> None:
    ingest(case_path, [TIMELINE])
    got = accounts(case_path)
    assert got["alice@mastodon.social"][:7] == (
        "alice@mastodon.social",  # a local acct ("alice") qualified from account.url
        "Alice 🌹",
        "Human rights & freedom. #FreeIran",
        datetime(2022, 11, 5),
        10,
        20,
        "https://files.mastodon.social/accounts/avatars/000/109302/original/a.png",
    )
    assert got["alice@example.net"][:2] == ("alice@example.net", "Another Alice")
    assert got["erin@journal.example"][0] == "Erin@journal.example"  # as written
    bob = got["bob@mastodon.social"]
    assert bob[1] == "Bob <img src=x onerror=alert(1)>"  # data, escaped where shown
    assert bob[6] is None  # Mastodon's default avatar is no avatar
    assert json.loads(str(bob[7]))["id"] == "109400"


def test_json_lines_pages_events_and_rejects(case_path: Path) -> None:
    ingest(case_path, [TIMELINE])
    f = ingest(case_path, [STATUSES]).files[0]
    # A status, a page of two, a streaming update, a delete (no record), a context of two;
    # four bad statuses and a line cut short.
    assert (f.read, f.stored, f.duplicate, f.rejected) == (11, 1, 5, 5)
    rejects = query(case_path, "SELECT line, field, reason FROM rejects ORDER BY line")
    assert rejects[:4] == [
        (6, "uri", "uri is missing"),
        (
            7,
            "created_at",
            "expected created_at like '2024-09-09T19:46:02.102Z', got '10/09/2024 09:02'",
        ),
        (
            8,
            "account.followers_count",
            "account.followers_count -5 is not a count (a whole number from 0 to "
            "9223372036854775807)",
        ),
        (
            9,
            "account.acct",
            "account.acct 'eve\\x1b[31m' holds a control character; ids and handles may not",
        ),
    ]
    assert rejects[4][:2] == (10, None)
    assert "the line may be cut short" in str(rejects[4][2])


def test_a_status_without_tags_or_mentions_takes_them_from_its_text(case_path: Path) -> None:
    ingest(case_path, [STATUSES])
    got = posts(case_path)["https://mastodon.social/users/bob/statuses/113106000000000010"]
    assert got[7:10] == (["Untagged"], ["alice@mastodon.social"], [])


def test_html_text_keeps_no_markup() -> None:
    assert html_text("<p>a &amp; b<br/>c</p><p>d<style>p{}</style></p>") == ("a & b\nc\n\nd", [])
    assert html_text('<a href="https://x.example/" class="mention">@x</a>') == ("@x", [])
    # A tag never closed is not markup: it stays, as text (escaped wherever it is shown).
    assert html_text("<p>1 < 2 <unclosed") == ("1 < 2 <unclosed", [])
    assert html_text("") == (None, [])


def test_another_format_and_a_mapping_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text('{"platformId": "1", "postUrl": "x"}\n', encoding="utf-8")
    with pytest.raises(FormatError, match="this is not Mastodon API JSON"):
        ingest(tmp_path / "case.duckdb", [path], fmt="mastodon")
    with pytest.raises(MappingError, match="--map does not apply"):
        ingest(
            tmp_path / "case.duckdb",
            [TIMELINE],
            options=ReadOptions(mapping={"text": "content"}),
        )


def test_a_document_nested_deeper_than_any_api_rejects_only_that_item(tmp_path: Path) -> None:
    # 200 kB of brackets: ijson's prefixed events would take gigabytes (their memory grows
    # with the square of the depth); the item is set aside and the others are read.
    statuses = json.loads(TIMELINE.read_text("utf-8"))[:2]
    deep = "[" * 100_000 + "]" * 100_000
    text = "[\n" + ",\n".join([json.dumps(statuses[0]), deep, json.dumps(statuses[1])]) + "\n]\n"
    path = tmp_path / "deep.json"
    path.write_text(text, encoding="utf-8")
    f = ingest(tmp_path / "case.duckdb", [path], fmt="mastodon").files[0]
    assert (f.read, f.stored, f.rejected) == (4, 3, 1)  # the reblog carries its original
    [(line, reason)] = query(tmp_path / "case.duckdb", "SELECT line, reason FROM rejects")
    assert (line, reason) == (None, "item 2: the value nests deeper than 512 levels")


def test_gzip_reads_the_same(case_path: Path) -> None:
    f = ingest(case_path, [DATA / "mastodon" / "home_timeline.json.gz"]).files[0]
    assert (f.read, f.stored, f.duplicate, f.rejected) == (7, 6, 1, 0)
