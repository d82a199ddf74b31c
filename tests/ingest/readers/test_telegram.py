"""Telegram Desktop exports (result.json): one channel, a full export, older exports, damage.

The fixtures' "date" fields are local times of an exporting machine in Tehran (+03:30),
so a test that passes with UTC times shows that date_unixtime was used.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import imagehash
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from tests.conftest import DATA, query, table_counts
from trollscope.cli import cli
from trollscope.errors import FormatError, MappingError
from trollscope.ingest.readers import ReadOptions, sniff
from trollscope.ingest.readers.base import Head
from trollscope.ingest.readers.telegram import TelegramReader
from trollscope.ingest.run import ingest
from trollscope.ingest.writers import WRITERS
from trollscope.model import Account, Kind, Post

CHANNEL = DATA / "telegram" / "channel" / "result.json"
FULL = DATA / "telegram" / "full" / "result.json"
OLD = DATA / "telegram" / "old_export" / "result.json"
BAD = DATA / "telegram" / "bad_messages" / "result.json"

CHANNEL_NAME = "صدای آزادی | Voice of Freedom"
COLUMNS = (
    "post_id, account_id, created_at, kind, ref_post_id, ref_account_id, text, hashtags, "
    "urls, mentions, media, client, extra, platform"
)


def posts(case: Path) -> dict[str, dict[str, Any]]:
    rows = query(case, f"SELECT {COLUMNS} FROM posts")
    names = [c.strip() for c in COLUMNS.split(",")]
    return {str(r[0]): dict(zip(names, r, strict=True)) for r in rows}


def accounts(case: Path) -> dict[str, tuple[object, ...]]:
    rows = query(case, "SELECT account_id, handle, display_name, bio FROM accounts")
    return {str(r[0]): r[1:] for r in rows}


def rejects(case: Path) -> list[tuple[object, ...]]:
    return query(case, "SELECT line, field, reason FROM rejects ORDER BY reason")


def counts(result: Any) -> tuple[int, int, int, int]:
    f = result.files[0]
    assert f.read == f.stored + f.duplicate + f.rejected
    return (f.read, f.stored, f.duplicate, f.rejected)


# --- one channel ------------------------------------------------------------------------


def test_channel_export(case_path: Path) -> None:
    result = ingest(case_path, [CHANNEL])
    assert result.files[0].format == "telegram"
    # 9 items: 2 service messages are not records; the other 7 are posts.
    assert counts(result) == (7, 7, 0, 0)
    got = posts(case_path)
    assert sorted(got) == [f"1514781346/{n}" for n in (2, 3, 4, 5, 6, 8, 9)]

    plain = got["1514781346/2"]
    assert plain["account_id"] == "channel1514781346"
    assert plain["created_at"] == datetime(2021, 3, 1, 12, 34, 56)  # "date" says 16:04:56
    assert plain["kind"] == "post"
    assert plain["text"] == "ما می\u200cخواهیم آزاد باشیم"  # with its zero-width non-joiner
    assert plain["platform"] == "telegram"
    assert plain["extra"] is None

    rich = got["1514781346/3"]
    assert rich["text"] == (
        "خبر فوری: تظاهرات امروز #ایران #FreeIran\nبیشتر: https://example.org/news?id=7 و "
        "اینجا — @iran_news علی رضایی"
    )
    assert rich["hashtags"] == ["ایران", "FreeIran"]
    assert rich["urls"] == ["https://example.org/news?id=7", "https://t.me/example_channel/99"]
    assert rich["mentions"] == ["iran_news", "user5123456789"]
    assert rich["created_at"] == datetime(2021, 3, 1, 13, 35)

    forward = got["1514781346/4"]
    assert (forward["kind"], forward["ref_post_id"], forward["ref_account_id"]) == (
        "repost",
        None,
        "name:قناة الحرية",
    )
    assert forward["text"] == "الحرية للشعب الإيراني"
    assert forward["media"] == ["photos/photo_1@01-03-2021_17-35-00.jpg"]

    reply = got["1514781346/5"]
    assert (reply["kind"], reply["ref_post_id"], reply["ref_account_id"]) == (
        "reply",
        "1514781346/3",
        None,
    )

    video = got["1514781346/6"]
    assert video["media"] == []  # the file was not exported: no path to compare
    assert json.loads(video["extra"]) == {
        "author": "Admin Sara",
        "edited_unixtime": "1614700000",
        "media_missing": ["file"],
        "media_type": "video_file",
    }

    no_author = got["1514781346/8"]  # no from_id: a post of the channel itself
    assert (no_author["account_id"], no_author["client"]) == ("channel1514781346", "@vote")

    forwarded_reply = got["1514781346/9"]  # forwarded from a hidden account, as a reply
    assert (forwarded_reply["kind"], forwarded_reply["ref_account_id"]) == ("repost", None)
    assert forwarded_reply["text"] is None
    assert json.loads(forwarded_reply["extra"]) == {"reply_to_message_id": 2}

    assert accounts(case_path) == {"channel1514781346": (None, CHANNEL_NAME, None)}
    assert rejects(case_path) == []


def test_text_is_kept_byte_for_byte(case_path: Path) -> None:
    ingest(case_path, [CHANNEL])
    text = posts(case_path)["1514781346/5"]["text"]
    # The fixture spells آزادی decomposed (alef + combining madda, NFD): kept as given.
    assert text == "پاسخ: \u0627\u0653زادی"
    assert text.encode("utf-8") == "پاسخ: \u0627\u0653زادی".encode()
    assert "\u0622" not in text


def test_reingest_changes_nothing(case_path: Path) -> None:
    ingest(case_path, [CHANNEL, FULL, BAD])
    before = table_counts(case_path)
    again = ingest(case_path, [CHANNEL, FULL, BAD])
    assert [(f.stored, f.duplicate, f.rejected) for f in again.files] == [
        (0, 7, 0),
        (0, 6, 0),
        (0, 2, 4),
    ]
    after = table_counts(case_path)
    assert {k: after[k] for k in ("posts", "accounts", "rejects")} == {
        k: before[k] for k in ("posts", "accounts", "rejects")
    }


def test_gzip_export(tmp_path: Path, case_path: Path) -> None:
    packed = tmp_path / "result.json.gz"
    packed.write_bytes(gzip.compress(CHANNEL.read_bytes()))
    assert counts(ingest(case_path, [packed])) == (7, 7, 0, 0)


# --- the full export --------------------------------------------------------------------


def test_full_export(case_path: Path) -> None:
    result = ingest(case_path, [FULL])
    assert counts(result) == (6, 6, 0, 0)
    got = posts(case_path)
    # Message ids repeat across chats (10 and 11 are in two chats): the chat tells them apart.
    assert sorted(got) == [
        "1600000003/5",
        "1700000001/10",
        "1700000001/11",
        "1700000001/12",
        "5000000002/10",
        "5000000002/11",
    ]
    assert got["1700000001/10"]["account_id"] == "user5000000002"
    assert got["1700000001/10"]["hashtags"] == ["خبر"]
    assert got["1700000001/10"]["created_at"] == datetime(2021, 5, 3, 0, 1, 40)
    assert (got["1700000001/11"]["kind"], got["1700000001/11"]["ref_post_id"]) == (
        "reply",
        "1700000001/10",
    )
    # A reply to a message of another chat (reply_to_peer_id) points into that chat.
    assert got["1700000001/12"]["ref_post_id"] == "1514781346/3"
    assert got["5000000002/11"]["mentions"] == ["reza_k"]
    assert got["5000000002/11"]["account_id"] == "user5000000001"
    assert got["1600000003/5"]["account_id"] == "channel1600000003"  # from left_chats
    assert accounts(case_path) == {
        # The exporting user's profile; the phone number is not stored anywhere.
        "user5000000001": ("sara_a", "Sara Ahmadi", "روزنامه\u200cنگار"),
        "user5000000002": (None, "Reza", None),
        "channel1600000003": (None, "قناة الحرية", None),
    }
    dump = str(query(case_path, "SELECT * FROM accounts")) + str(
        query(case_path, "SELECT * FROM posts")
    )
    assert "912" not in dump


def test_chunks_and_progress() -> None:
    size = FULL.stat().st_size
    batches = list(TelegramReader().read(FULL, ReadOptions(chunk_size=2)))
    assert sum(b.records for b in batches) == 6
    assert sum(b.posts.num_rows for b in batches) == 6
    done = [b.bytes_done for b in batches]
    assert done == sorted(done)
    assert done[-1] == size


# --- older exports ----------------------------------------------------------------------


def test_old_export_without_unixtime(case_path: Path) -> None:
    assert counts(ingest(case_path, [OLD])) == (3, 3, 0, 0)
    got = posts(case_path)
    first = got["1008396628/4984"]
    # No date_unixtime: the local "date" is all there is, and extra says so.
    assert first["created_at"] == datetime(2021, 1, 31, 21, 2, 29)
    assert json.loads(first["extra"]) == {
        "time_source": "date: local time of the exporting machine, zone unknown"
    }
    # A numeric from_id equal to the chat's id is the chat; another number is a user.
    assert first["account_id"] == "channel1008396628"
    assert got["1008396628/4985"]["account_id"] == "user123456789"
    assert got["1008396628/4985"]["ref_post_id"] == "1008396628/4984"
    assert got["1008396628/4986"]["account_id"] == "channel1008396628"  # no from_id
    assert accounts(case_path)["user123456789"] == (None, "Mina", None)


# --- bad messages -----------------------------------------------------------------------


def test_bad_messages_are_rejected_with_where_and_why(case_path: Path) -> None:
    result = ingest(case_path, [BAD])
    assert counts(result) == (6, 2, 0, 4)
    assert sorted(posts(case_path)) == ["1800000005/1", "1800000005/6"]
    assert rejects(case_path) == [
        (
            None,
            "date_unixtime",
            "chat 'Bad Channel' message #2 (id 2): has neither date_unixtime nor date; "
            "expected date_unixtime (POSIX seconds, UTC)",
        ),
        (
            None,
            "date_unixtime",
            "chat 'Bad Channel' message #3 (id 3): date_unixtime 'abc' is not a number "
            "(expected POSIX seconds, UTC)",
        ),
        (
            None,
            "type",
            "chat 'Bad Channel' message #4 (id 4): Telegram Desktop exported this message as "
            "'unsupported': its author, time and content are not in the file",
        ),
        (
            None,
            "reply_to_message_id",
            "chat 'Bad Channel' message #5 (id 5): reply_to_message_id 'four' is not a "
            "message id (a number)",
        ),
    ]
    raw = query(case_path, "SELECT raw FROM rejects WHERE field = 'type'")
    assert json.loads(str(raw[0][0])) == {"id": 4, "type": "unsupported"}


def test_truncated_file_keeps_what_was_read(tmp_path: Path, case_path: Path) -> None:
    data = CHANNEL.read_bytes()
    cut = data.index(b'"id": 5,') + 20  # inside message #5
    path = tmp_path / "result.json"
    path.write_bytes(data[:cut])
    result = ingest(case_path, [path])
    # Messages 2, 3, 4 are kept; the cut is one reject standing for the missing rest.
    assert counts(result) == (4, 3, 0, 1)
    assert sorted(posts(case_path)) == ["1514781346/2", "1514781346/3", "1514781346/4"]
    assert rejects(case_path) == [
        (
            None,
            None,
            f"the file ends at byte {cut} in the middle of the JSON (parse error: premature "
            f"EOF), after chat '{CHANNEL_NAME}' message #4 (id 4): the messages before it are "
            "kept, any after it are missing. The export did not finish or the file was "
            "damaged; re-export the chat to get all of it.",
        )
    ]


def test_truncated_full_export(tmp_path: Path, case_path: Path) -> None:
    data = FULL.read_bytes()
    cut = data.index("بيان اليوم".encode())  # inside the last chat's only message
    path = tmp_path / "result.json"
    path.write_bytes(data[:cut])
    assert counts(ingest(case_path, [path])) == (6, 5, 0, 1)
    reason = str(rejects(case_path)[0][2])
    assert reason.startswith(f"the file ends at byte {cut} in the middle of the JSON")
    assert "after chat 'Reza' message #2 (id 11)" in reason


def test_file_cut_before_any_message(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(CHANNEL.read_bytes()[:60])
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="telegram")
    assert str(info.value) == (
        f"{path}: is not valid JSON near byte 60 (parse error: premature EOF); expected a "
        "Telegram Desktop export (result.json, machine-readable JSON)."
    )
    assert not case_path.exists()


def test_file_cut_inside_its_first_message(tmp_path: Path, case_path: Path) -> None:
    data = BAD.read_bytes()
    cut = data.index(b'"good one"')
    path = tmp_path / "result.json"
    path.write_bytes(data[:cut])
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path])
    assert str(info.value) == (
        f"{path}: breaks off before its first message, near byte {cut} (parse error: "
        "premature EOF); expected a Telegram Desktop export (result.json). Re-export the "
        "chat; the file is cut short or damaged."
    )


def test_invalid_utf8_rejects_only_its_message(tmp_path: Path, case_path: Path) -> None:
    data = CHANNEL.read_bytes()
    word = "للشعب".encode()  # only in message 4 (its text and text_entities)
    assert data.count(word) == 2
    path = tmp_path / "result.json"
    path.write_bytes(data.replace(word, b"\xff\xfe"))
    assert counts(ingest(case_path, [path])) == (7, 6, 0, 1)
    assert "1514781346/4" not in posts(case_path)
    assert rejects(case_path) == [
        (
            None,
            None,
            f"chat '{CHANNEL_NAME}' message #4 (id 4): holds bytes that are not UTF-8 (read as "
            "U+FFFD), so its text cannot be kept exactly. Fix the file's encoding or re-export "
            "the chat",
        )
    ]


def _big_export(full: bool, count: int) -> dict[str, Any]:
    messages = [
        {
            "id": n,
            "type": "message",
            "date": "2022-01-01T00:00:00",
            "date_unixtime": str(1640995200 + n),
            "from": "کانال",
            "from_id": "channel42",
            "text": f"پیام شماره {n} " + "متن " * 20,
        }
        for n in range(1, count + 1)
    ]
    chat = {"name": "کانال", "type": "public_channel", "id": 42, "messages": messages}
    if not full:
        return chat
    return {"about": "x", "chats": {"about": "y", "list": [chat]}}


@pytest.mark.parametrize("full", [False, True], ids=["one-chat", "full-export"])
def test_invalid_utf8_far_from_a_real_replacement_char(
    tmp_path: Path, case_path: Path, full: bool
) -> None:
    """A genuine U+FFFD in a clean part of a large file is kept; only the message with
    the broken bytes (chunks away from it) is rejected."""
    export = _big_export(full, 3000)
    export_messages = export["chats"]["list"][0]["messages"] if full else export["messages"]
    export_messages[2500]["text"] = "a real \ufffd here"
    data = json.dumps(export, ensure_ascii=False, indent=1).encode("utf-8")
    assert len(data) > 4 * 64 * 1024
    marker = "پیام شماره 10 ".encode()
    assert data.count(marker) == 1
    path = tmp_path / "result.json"
    path.write_bytes(data.replace(marker, marker[:-3] + b"\xc0 "))
    assert counts(ingest(case_path, [path])) == (3000, 2999, 0, 1)
    assert posts(case_path)["42/2501"]["text"] == "a real \ufffd here"
    reason = str(rejects(case_path)[0][2])
    assert reason.startswith("chat 'کانال' message #10 (id 10): holds bytes that are not UTF-8")


def test_messages_before_chat_id(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(
        json.dumps({"name": "X", "messages": [], "type": "public_channel", "id": 1}),
        encoding="utf-8",
    )
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="telegram")
    assert str(info.value) == (
        f"{path}: chat 'X': its messages come before its id; Telegram Desktop writes name, "
        "type and id first, and post ids are built from the chat id. Re-export the chat, or "
        "rewrite the file with the chat's id before 'messages'."
    )


# --- not an export ----------------------------------------------------------------------


def test_empty_file(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(b"")
    with pytest.raises(FormatError, match="the file is empty; there is nothing to ingest"):
        ingest(case_path, [path])
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="telegram")
    assert str(info.value) == (
        f"{path}: the file is empty; expected a Telegram Desktop export (result.json)."
    )


def test_json_lines_given_as_telegram(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "tweets.jsonl"
    lines = [
        {"id": "1", "text": "hello", "author_id": "7", "created_at": "2021-01-01T00:00:00.000Z"},
        {"id": "2", "text": "again", "author_id": "7", "created_at": "2021-01-01T00:01:00.000Z"},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="telegram")
    assert str(info.value) == (
        f"{path}: has no top-level 'messages' (one chat) nor 'chats' (a full export); "
        "expected a Telegram Desktop export (result.json, machine-readable JSON). Export with "
        "Telegram Desktop: Export chat history, format 'Machine-readable JSON'."
    )
    assert not case_path.exists()


def test_csv_given_as_telegram(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("id,text\n1,hello\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        ingest(case_path, [path], fmt="telegram")
    assert str(info.value) == (
        f"{path}: is not valid JSON near byte 16 (lexical error: invalid char in json text.); "
        "expected a Telegram Desktop export (result.json, machine-readable JSON)."
    )


def test_top_level_array(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text('[{"id": 1}]', encoding="utf-8")
    with pytest.raises(FormatError, match="holds an array at its top level, not an object"):
        ingest(case_path, [path], fmt="telegram")


def test_map_is_refused(case_path: Path) -> None:
    with pytest.raises(MappingError, match="a Telegram export's fields are fixed"):
        ingest(case_path, [CHANNEL], options=ReadOptions(mapping={"text": "body"}))


def test_cli_exit_code_for_a_wrong_file(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"hello": "world"}', encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["ingest", str(path), "--format", "telegram", "--into", str(case_path)]
    )
    assert result.exit_code == 1
    assert "has no top-level 'messages' (one chat) nor 'chats'" in result.stderr


# --- sniffing ---------------------------------------------------------------------------


def test_sniff_recognises_both_shapes() -> None:
    assert sniff(CHANNEL).name == "telegram"
    assert sniff(FULL).name == "telegram"
    assert sniff(OLD).name == "telegram"


def _head(data: bytes) -> Head:
    return Head(path=Path("x.json"), data=data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # A one-chat export whose head is cut inside a Persian character.
        (CHANNEL.read_bytes()[:301], True),
        (b'\xef\xbb\xbf{"name": "a", "type": "private_group", "id": 5, "messages": [', True),
        (b'{"about": "Here is the data", "personal_information": {"user_id": 1', True),
        (b'{"about": "x", "chats": {"about": "y", "list": [', True),
        # JSON lines of chats: one object per line is not what Telegram writes.
        (
            b'{"name": "a", "type": "public_channel", "id": 1, "messages": []}\n'
            b'{"name": "b", "type": "public_channel", "id": 2, "messages": []}\n',
            False,
        ),
        (b'{"messages": [], "type": "inbox"}', False),
        (b'{"id": "1", "text": "a tweet"}\n', False),
        (b'[{"id": 1}]', False),
        (b"id,text\n1,a\n", False),
    ],
)
def test_sniff_head(data: bytes, expected: bool) -> None:
    assert TelegramReader().sniff(_head(data)) is expected


# --- the writer -------------------------------------------------------------------------


def _read_back(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    got: dict[str, dict[str, Any]] = {}
    profiles: dict[str, dict[str, Any]] = {}
    for batch in TelegramReader().read(path, ReadOptions()):
        assert batch.rejects.num_rows == 0, batch.rejects.to_pylist()
        got.update({row["post_id"]: row for row in batch.posts.to_pylist()})
        for row in batch.accounts.to_pylist():
            profiles.setdefault(row["account_id"], row)
    return got, profiles


def _as_row(record: Any) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in record.__slots__}
    if "kind" in row:
        row["kind"] = str(row["kind"])
    return row


def test_writer_round_trip(tmp_path: Path, case_path: Path) -> None:
    telegram = WRITERS["telegram"]
    when = datetime(2022, 9, 20, 18, 30, 5, 250_000)
    authors = {"user7": Account(platform="x", account_id="user7", display_name="مهسا")}
    written = [
        Post("x", "11", "user7", when, text="آزادی #مهسا_امینی now", hashtags=["مهسا_امینی"]),
        # A hashtag and a url the text does not show are appended after a space.
        Post("x", "12", "user7", when, text="see", hashtags=["Iran"], urls=["https://a.example/x"]),
        Post("x", "13", "user7", when, Kind.REPOST, text="fwd", ref_account_id="Some Channel"),
        Post(
            "x",
            "14",
            "user7",
            when,
            Kind.REPLY,
            text="yes @ali",
            ref_post_id="11",
            mentions=["ali"],
        ),
        Post(
            "x",
            "tweet-15",
            "",
            when,
            Kind.QUOTE,
            ref_post_id="11",
            client="@bot",
            media=["photos/a.jpg", "photos/b.jpg"],
        ),
    ]
    path = tmp_path / "result.json"
    telegram.write(path, written, authors)
    # The file is what Telegram Desktop writes: one chat object, recognised by sniffing.
    assert sniff(path).name == "telegram"
    shape = json.loads(path.read_text(encoding="utf-8"))
    assert (shape["name"], shape["type"], shape["id"]) == (
        "trollscope simulated channel",
        "public_channel",
        1000000001,
    )
    assert shape["messages"][1]["text"] == [
        "see",
        " ",
        {"type": "hashtag", "text": "#Iran"},
        " ",
        {"type": "link", "text": "https://a.example/x"},
    ]
    assert shape["messages"][2]["forwarded_from"] == "Some Channel"
    assert shape["messages"][3]["reply_to_message_id"] == 11

    got, profiles = _read_back(path)
    for post in written:
        want_post, want_account = telegram.expected(post, authors.get(post.account_id))
        assert got[want_post.post_id] == _as_row(want_post)
        assert want_account is not None
        assert profiles[want_account.account_id] == _as_row(want_account)
    # Concrete values, not only what expected() says.
    assert got["1000000001/11"]["text"] == "آزادی #مهسا_امینی now"
    assert got["1000000001/11"]["hashtags"] == ["مهسا_امینی"]
    assert got["1000000001/11"]["created_at"] == datetime(2022, 9, 20, 18, 30, 5)
    assert got["1000000001/12"]["text"] == "see #Iran https://a.example/x"
    assert got["1000000001/13"]["ref_account_id"] == "name:Some Channel"
    assert got["1000000001/14"]["ref_post_id"] == "1000000001/11"
    assert got["1000000001/14"]["mentions"] == ["ali"]
    hashed = [k for k in got if k not in {f"1000000001/{n}" for n in range(11, 15)}]
    assert len(hashed) == 1
    assert got[hashed[0]]["kind"] == "post"  # a quote has no Telegram form
    assert got[hashed[0]]["account_id"] == "channel1000000001"
    assert got[hashed[0]]["media"] == ["photos/a.jpg"]
    assert got[hashed[0]]["client"] == "@bot"

    result = ingest(case_path, [path])
    assert counts(result) == (5, 5, 0, 0)


_WORD = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Z", "C")), max_size=12)


@st.composite
def _written(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any]]:
    ids = draw(st.lists(st.text(max_size=8), min_size=1, max_size=6, unique=True))
    posts = [
        Post(
            platform="sim",
            post_id=post_id,
            account_id=draw(st.sampled_from(["", "user1", "channel9", "کاربر"])),
            created_at=draw(
                st.datetimes(min_value=datetime(2004, 1, 1), max_value=datetime(2025, 12, 31))
            ),
            kind=draw(st.sampled_from(list(Kind))),
            text=draw(st.none() | st.text(max_size=40)),
            ref_post_id=draw(st.none() | st.sampled_from(ids)),
            ref_account_id=draw(st.none() | _WORD),
            hashtags=draw(st.lists(_WORD, max_size=3)),
            urls=draw(st.lists(_WORD, max_size=2)),
            mentions=draw(st.lists(_WORD, max_size=2)),
            media=draw(st.lists(st.sampled_from(["p/1.jpg", "(File not included.)", ""]))),
            client=draw(st.none() | _WORD),
        )
        for post_id in ids
    ]
    names = {
        account_id: Account(platform="sim", account_id=account_id, display_name=draw(_WORD))
        for account_id in ("user1", "channel9", "کاربر")
    }
    return posts, names


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_written())
def test_writer_round_trip_property(case: tuple[list[Any], dict[str, Any]]) -> None:
    telegram = WRITERS["telegram"]
    written, authors = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.json"
        telegram.write(path, written, authors)
        got, profiles = _read_back(path)
    assert len(got) == len(written)
    for post in written:
        want_post, want_account = telegram.expected(post, authors.get(post.account_id))
        assert got[want_post.post_id] == _as_row(want_post)
        assert want_account is not None
        assert profiles[want_account.account_id] == _as_row(want_account)


# --- photos: perceptual hashes ------------------------------------------------------------


def _drawn(size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A drawn picture (shapes: a pHash describes a picture's low frequencies)."""
    image = Image.new("RGB", (640, 480), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((80, 60, 360, 340), fill=(200, 30, 30))
    draw.rectangle((380, 200, 600, 440), fill=(20, 40, 180))
    draw.polygon([(50, 460), (300, 380), (200, 470)], fill=(30, 160, 60))
    return image.resize(size) if size != image.size else image


def _photo_message(mid: int, account: str, **media: str) -> dict[str, Any]:
    return {
        "id": mid,
        "type": "message",
        "date": "2022-03-01T10:00:00",
        "date_unixtime": str(1646128800 + mid),
        "from": account,
        "from_id": account,
        "text": "",
        **media,
    }


def _key(path: Path) -> str:
    """The co-image key of a picture, computed by imagehash itself, not by trollscope."""
    with Image.open(path) as image:
        return "phash:" + str(imagehash.phash(image))


def test_photos_in_the_export_get_a_perceptual_hash(tmp_path: Path, case_path: Path) -> None:
    export = tmp_path / "ChatExport_2022-03-01"
    (export / "photos").mkdir(parents=True)
    (export / "files").mkdir()
    (export / "stickers").mkdir()
    _drawn().save(export / "photos" / "photo_1.jpg", quality=90)
    # The same picture as another account's client sent it: smaller, more compressed.
    _drawn((320, 240)).save(export / "photos" / "photo_2.jpg", quality=40)
    _drawn().save(export / "stickers" / "sticker.webp")
    _drawn().save(tmp_path / "outside.jpg")  # beside the export, not in it
    (export / "files" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    (export / "photos" / "photo_7.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    messages = [
        _photo_message(1, "user1", photo="photos/photo_1.jpg"),
        _photo_message(2, "user2", photo="photos/photo_2.jpg"),
        _photo_message(3, "user3", photo="photos/photo_3.jpg"),  # not in the folder
        _photo_message(4, "user1", file="files/clip.mp4", mime_type="video/mp4"),
        _photo_message(5, "user2", file="stickers/sticker.webp", mime_type="image/webp"),
        _photo_message(6, "user3", photo="../outside.jpg"),
        _photo_message(7, "user1", photo="photos/photo_7.jpg"),
        _photo_message(8, "user2", photo="(File not included. Change data exporting settings)"),
    ]
    chat = {"name": "Pictures", "type": "public_supergroup", "id": 77, "messages": messages}
    path = export / "result.json"
    path.write_text(json.dumps(chat, indent=1), encoding="utf-8")

    result = ingest(case_path, [path])
    assert counts(result) == (8, 8, 0, 0)  # no picture, good or bad, rejects its message
    key = _key(export / "photos" / "photo_1.jpg")
    media = {post_id: row["media"] for post_id, row in posts(case_path).items()}
    assert media == {
        "77/1": ["photos/photo_1.jpg", key],
        "77/2": ["photos/photo_2.jpg", key],  # re-encoded, same key
        "77/3": ["photos/photo_3.jpg"],
        "77/4": ["files/clip.mp4"],
        "77/5": ["stickers/sticker.webp", key],  # an image sent as a file
        "77/6": ["../outside.jpg"],  # kept as written, never opened
        "77/7": ["photos/photo_7.jpg"],
        "77/8": [],
    }


def test_photo_hashes_with_a_relative_export_path(
    tmp_path: Path, case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Media paths are relative to the export's folder, wherever the command runs."""
    export = tmp_path / "export"
    (export / "photos").mkdir(parents=True)
    _drawn().save(export / "photos" / "photo_1.jpg")
    chat = {
        "name": "Pictures",
        "type": "public_channel",
        "id": 5,
        "messages": [_photo_message(1, "channel5", photo="photos/photo_1.jpg")],
    }
    (export / "result.json").write_text(json.dumps(chat), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    ingest(case_path, [Path("export/result.json")])
    (media,) = [row["media"] for row in posts(case_path).values()]
    assert media == ["photos/photo_1.jpg", _key(export / "photos" / "photo_1.jpg")]
