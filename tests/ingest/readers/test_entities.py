"""Hashtags, mentions and URL tokens from text: concrete cases, and SQL == Python."""

from __future__ import annotations

from functools import cache

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trollscope.ingest.readers import entities

CASES = [
    # (text, hashtags, mentions)
    ("#FreeIran and #IranRegimeChange @user_1 hi", ["FreeIran", "IranRegimeChange"], ["user_1"]),
    # Persian: underscores and a zero-width non-joiner inside a tag.
    ("سلام #ایران_آزاد و #نیم\u200cفاصله @کاربر", ["ایران_آزاد", "نیم\u200cفاصله"], ["کاربر"]),
    # Arabic comma and question mark end a tag; Arabic-Indic digits belong to it.
    ("#حرية، #إيران؟ #عام٢٠٢٢", ["حرية", "إيران", "عام٢٠٢٢"], []),
    # e-mail, HTML entity, inner #, digits only, URL fragment and path: none of them.
    ("a@b.com &#39; x#y #123 https://x.com/#frag http://t.co/@u", [], []),
    ("#a#b #c ##d #e@f @g#h", ["a", "c", "e"], ["g"]),
    ("\uff03全角 \uff20full #️⃣", ["全角"], ["full"]),
    ("line\n#next @ok, @ok", ["next"], ["ok", "ok"]),
    ("", [], []),
]


@cache
def _connection() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def _sql(text: str, dotted: bool = False) -> tuple[list[str], list[str], list[str]]:
    row = (
        _connection()
        .execute(
            f"SELECT {entities.hashtags_sql('m')}, {entities.mentions_sql('m')}, "
            f"{entities.tokens_sql('s')} "
            f"FROM (SELECT s, {entities.entity_matches_sql('s', dotted=dotted)} AS m "
            "FROM (SELECT ?::VARCHAR AS s))",
            [text],
        )
        .fetchall()[0]
    )
    return row[0], row[1], row[2]


def _sql_links(text: str | None) -> tuple[list[str], str | None]:
    """The URLs and the retweeted handle of `text`, by the SQL side."""
    row = (
        _connection()
        .execute(
            f"SELECT {entities.urls_sql('s')}, {entities.repost_handle_sql('s')} "
            "FROM (SELECT ?::VARCHAR AS s)",
            [text],
        )
        .fetchall()[0]
    )
    return row[0], row[1]


@pytest.mark.parametrize(("text", "tags", "mentions"), CASES)
def test_cases(text: str, tags: list[str], mentions: list[str]) -> None:
    assert entities.hashtags(text) == tags
    assert entities.mentions(text) == mentions
    assert _sql(text)[:2] == (tags, mentions)


DOTTED = [
    # (text, mentions by Twitter's rule, by Instagram's: inner dots belong to the handle)
    ("#x with @freedom.voice.", ["freedom"], ["freedom.voice"]),
    ("@a.b.c @d. @e..f @g_h.i#j", ["a", "d", "e", "g_h"], ["a.b.c", "d", "e", "g_h.i"]),
    ("@alice.Thanks a@b.c", ["alice"], ["alice.Thanks"]),
]


@pytest.mark.parametrize(("text", "plain", "dotted"), DOTTED)
def test_instagram_handles_keep_their_inner_dots(
    text: str, plain: list[str], dotted: list[str]
) -> None:
    assert entities.mentions(text) == plain
    assert entities.mentions(text, dotted=True) == dotted
    assert _sql(text)[1] == plain
    assert _sql(text, dotted=True)[1] == dotted


def test_tokens() -> None:
    assert entities.tokens(" a  b\tc\u00a0d\n") == ["a", "b", "c", "d"]
    assert entities.tokens("") == []
    assert entities.tokens(None) == []
    assert _sql(" a  b\tc\u00a0d\n")[2] == ["a", "b", "c", "d"]


URLS = [
    # (text, URLs): punctuation around a link is not part of it; a link cut short is none.
    (
        "see https://x.com/a. and (http://y.org/b?c=1), ok",
        ["https://x.com/a", "http://y.org/b?c=1"],
    ),
    ("HTTPS://Example.com/Path#frag!", ["HTTPS://Example.com/Path#frag"]),
    ("«https://x.com/a»، https://x.com/b؟", ["https://x.com/a", "https://x.com/b"]),
    ("RT @u: long text https://t.co/ab\u2026", []),
    ("https:// and http://. and ftp://x.org and www.x.org", []),
    ("two https://a.io/1\nhttps://a.io/1", ["https://a.io/1", "https://a.io/1"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "urls"), URLS)
def test_urls(text: str, urls: list[str]) -> None:
    assert entities.urls(text) == urls
    assert _sql_links(text)[0] == urls


REPOSTS = [
    # (text, the handle it retweets)
    ("RT @alice_1: hello #x", "alice_1"),
    ("RT @کاربر: سلام", "کاربر"),
    ("RT @alice hello", None),  # no colon: not the retweet form
    (" RT @alice: x", None),
    ("rt @alice: x", None),
    ("Great! RT @alice: x", None),
    ("RT @: x", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "handle"), REPOSTS)
def test_repost_handle(text: str, handle: str | None) -> None:
    assert entities.repost_handle(text) == handle
    assert _sql_links(text)[1] == handle


def test_null_text_has_no_links() -> None:
    assert entities.urls(None) == []
    assert entities.repost_handle(None) is None
    assert _sql_links(None) == ([], None)


CHARS = st.sampled_from(
    "#@\uff03\uff20&_ \n\t.,/:hHtpsRT\u200c\u00a0ای\u064e٣xA1)\u2026\u00bb"
) | st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


@settings(max_examples=200, deadline=None)
@given(st.text(CHARS, max_size=40))
def test_sql_and_python_agree(text: str) -> None:
    assert _sql(text) == (
        entities.hashtags(text),
        entities.mentions(text),
        entities.tokens(text),
    )
    assert _sql(text, dotted=True) == (
        entities.hashtags(text, dotted=True),
        entities.mentions(text, dotted=True),
        entities.tokens(text),
    )


@settings(max_examples=150, deadline=None)
@given(st.text(CHARS, max_size=30))
def test_sql_and_python_agree_on_links(tail: str) -> None:
    texts = [tail, "RT @" + tail, "https://" + tail, "x http://a" + tail]
    # One query for the four texts (a query per text made this test slow).
    row = (
        _connection()
        .execute(
            "SELECT list_transform(?::VARCHAR[], lambda s: "
            f"[{entities.urls_sql('s')}, [{entities.repost_handle_sql('s')}]])",
            [texts],
        )
        .fetchall()[0][0]
    )
    assert row == [[entities.urls(t), [entities.repost_handle(t)]] for t in texts]
