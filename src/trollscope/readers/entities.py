"""Hashtags, mentions and URL tokens in plain text: one definition, in SQL and in Python.

Formats with no entity columns (CNT's CSV, comment sections) carry only the text, so a
reader extracts hashtags and mentions from it in SQL (`hashtags_sql`, `mentions_sql`,
`tokens_sql`), and a writer's `expected()` needs the same answer in Python (`hashtags`,
`mentions`, `tokens`). Both sides use the same patterns over the same character classes,
built from Python's Unicode database, so they agree character for character; DuckDB's
`\\p{L}` would follow RE2's own (newer) Unicode tables and drift from Python's.

The rules, after Twitter's and made platform-neutral:
- a word character is a letter, mark or decimal digit (categories L*, M*, Nd), `_`, or a
  zero-width (non-)joiner (Persian writes ZWNJ inside words: `#نیم‌فاصله`);
- a hashtag is `#` or `＃` and a run of word characters holding at least one letter, not
  preceded by a word character, `&` (HTML entities such as `&#39;`) or another `#`;
- a mention is `@` or `＠` and a run of word characters, not preceded by a word character
  or `@` (so an e-mail address is not a mention);
- URLs (`http://` or `https://` up to the next space) are skipped, so that a URL's
  `#fragment` or `/@user` path is not taken for a hashtag or mention.
Each occurrence is kept, in order, exactly as written: folding case is the traces' job.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from functools import cache

_JOINERS = "\u200c\u200d"


def _ranges(keep: Callable[[str, str], bool]) -> list[tuple[int, int]]:
    """Code point ranges whose (character, category) `keep` accepts."""
    out: list[tuple[int, int]] = []
    start = -1
    category = unicodedata.category
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if keep(char, category(char)):
            if start < 0:
                start = code
        elif start >= 0:
            out.append((start, code - 1))
            start = -1
    if start >= 0:
        out.append((start, sys.maxunicode))
    return out


def _is_word(char: str, cat: str) -> bool:
    return cat[0] in "LM" or cat == "Nd" or char == "_" or char in _JOINERS


@cache
def _classes() -> dict[str, list[tuple[int, int]]]:
    # About a third of a second, once per process, and only when a text format is read.
    return {
        "WORD": _ranges(_is_word),
        "LETTER": _ranges(lambda _char, cat: cat[0] == "L"),
        "SPACE": _ranges(lambda char, cat: char.isspace() and cat != "Cs"),
    }


def _class_body(name: str, escape: Callable[[int], str]) -> str:
    return "".join(
        escape(lo) if lo == hi else f"{escape(lo)}-{escape(hi)}" for lo, hi in _classes()[name]
    )


# Patterns written once, with {WORD}, {LETTER}, {SPACE} standing for class bodies.
_URL = "[hH][tT][tT][pP][sS]?://[^{SPACE}]*"
_HASHTAG = "(?:^|[^{WORD}&#\uff03])[#\uff03]([{WORD}]+)"
_MENTION = "(?:^|[^{WORD}@\uff20])[@\uff20]([{WORD}]+)"
_HAS_LETTER = "[{LETTER}]"
_TOKEN = "[^{SPACE}]+"


def _fill(pattern: str, escape: Callable[[int], str]) -> str:
    bodies = {name: _class_body(name, escape) for name in ("WORD", "LETTER", "SPACE")}
    for name, body in bodies.items():
        pattern = pattern.replace("{" + name + "}", body)
    # The fixed characters (#, ＃, @, ＠, &) are escaped the same way for both engines.
    return "".join(ch if ch.isascii() else escape(ord(ch)) for ch in pattern)


def _re2(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _py(code: int) -> str:
    return f"\\U{code:08x}"


def _sql_literal(pattern: str) -> str:
    return "'" + pattern.replace("'", "''") + "'"


@cache
def _python() -> dict[str, re.Pattern[str]]:
    return {
        name: re.compile(_fill(pattern, _py))
        for name, pattern in (
            ("url", _URL),
            ("hashtag", _HASHTAG),
            ("mention", _MENTION),
            ("letter", _HAS_LETTER),
            ("token", _TOKEN),
        )
    }


@cache
def _sql_patterns() -> dict[str, str]:
    return {
        name: _sql_literal(_fill(pattern, _re2))
        for name, pattern in (
            ("url", _URL),
            ("hashtag", _HASHTAG),
            ("mention", _MENTION),
            ("letter", _HAS_LETTER),
            ("token", _TOKEN),
        )
    }


def without_urls_sql(text: str) -> str:
    """SQL: `text` with its URLs blanked out (the input of the two extractors below)."""
    return f"regexp_replace({text}, {_sql_patterns()['url']}, ' ', 'g')"


def hashtags_sql(stripped: str) -> str:
    """SQL: the hashtags (without `#`) of a text already passed through `without_urls_sql`."""
    p = _sql_patterns()
    return (
        f"list_filter(regexp_extract_all(coalesce({stripped}, ''), {p['hashtag']}, 1), "
        f"tag -> regexp_matches(tag, {p['letter']}))"
    )


def mentions_sql(stripped: str) -> str:
    """SQL: the mentions (without `@`) of a text already passed through `without_urls_sql`."""
    return f"regexp_extract_all(coalesce({stripped}, ''), {_sql_patterns()['mention']}, 1)"


def tokens_sql(text: str) -> str:
    """SQL: the whitespace-separated tokens of `text` (no empty strings; [] for NULL)."""
    return f"regexp_extract_all(coalesce({text}, ''), {_sql_patterns()['token']})"


def _stripped(text: str) -> str:
    return _python()["url"].sub(" ", text)


def hashtags(text: str | None) -> list[str]:
    """The hashtags of `text`, as `hashtags_sql` finds them."""
    found = _python()["hashtag"].findall(_stripped(text or ""))
    letter = _python()["letter"]
    return [tag for tag in found if letter.search(tag)]


def mentions(text: str | None) -> list[str]:
    """The mentions of `text`, as `mentions_sql` finds them."""
    return list(_python()["mention"].findall(_stripped(text or "")))


def tokens(text: str | None) -> list[str]:
    """The whitespace-separated tokens of `text`, as `tokens_sql` finds them."""
    return list(_python()["token"].findall(text or ""))
