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


CHARS = st.sampled_from("#@\uff03\uff20&_ \n\t.,/:hHtps\u200c\u00a0ای\u064e٣xA1") | st.characters(
    exclude_categories=("Cs",), exclude_characters="\x00"
)


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
