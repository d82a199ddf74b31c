"""Hashtags, mentions and URL tokens in plain text: one definition, in SQL and in Python.

Formats with no entity columns (CNT's CSV, comment sections) carry only the text, so a
reader extracts hashtags and mentions from it in SQL (`entity_matches_sql`, then
`hashtags_sql` and `mentions_sql`; `tokens_sql` for a list of URLs in one field), and a
writer's `expected()` needs the same answer in Python (`hashtags`, `mentions`, `tokens`).
Both sides run the same patterns over the same character classes, built from Python's
Unicode database, so they agree character for character; DuckDB's `\\p{L}` would follow
RE2's own (newer) Unicode tables and drift from Python's.

The rules, after Twitter's and made platform-neutral:
- a word character is a letter, mark or decimal digit (categories L*, M*, Nd), `_`, or a
  zero-width (non-)joiner (Persian writes ZWNJ inside words: `#نیم‌فاصله`);
- a hashtag is `#` or `＃` and a run of word characters holding at least one letter; a
  mention is `@` or `＠` and a run of word characters (with `dotted`, for Instagram,
  runs joined by single inner dots);
- neither is preceded by a word character, `&` (HTML entities such as `&#39;`), `#`, `＃`,
  `@` or `＠` (so an e-mail address is not a mention, nor `x#y` a hashtag);
- URLs (`http://` or `https://` up to the next space) are skipped, so that a URL's
  `#fragment` or `/@user` path is not taken for a hashtag or mention.
Each occurrence is kept, in order, exactly as written: folding case is the traces' job.

For formats whose data lists no links (`urls_sql`, `urls`): a URL is `http://` or
`https://` and what follows up to the next space, without the punctuation that ends a
sentence around it (`see https://x.com/a.` links `https://x.com/a`); one that ends in `…`
was cut short (a retweet's truncated text) and is no link, since its stump
(`https://t.co/ab`) would pair posts that link different pages. And for formats with no
repost flag (`repost_handle_sql`, `repost_handle`): a text that begins `RT @handle:` is
Twitter's form of a retweet of `handle`.

Speed: one regex pass finds hashtags and mentions together, without capture groups (RE2
answers those with its slower submatch engines: three times slower on a million posts).
A match is the preceding character (none at the start of the text), the marker and the
name; the name is what follows the marker.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from functools import cache

from trollscope.sql import literal

_JOINERS = "\u200c\u200d"


def _category_runs() -> list[tuple[int, int, str]]:
    """(first, last, category) for each run of code points sharing a Unicode category."""
    category = unicodedata.category
    cats = list(map(category, map(chr, range(sys.maxunicode + 1))))
    # One character per category, so that a C-speed regex finds the runs.
    names = sorted(set(cats))
    letter = {name: chr(i + 65) for i, name in enumerate(names)}
    coded = "".join(map(letter.__getitem__, cats))
    return [
        (m.start(), m.end() - 1, names[ord(m.group(1)) - 65])
        for m in re.finditer(r"(.)\1*", coded, re.DOTALL)
    ]


def _merge(codes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(codes):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


@cache
def _classes() -> dict[str, list[tuple[int, int]]]:
    # About a fifth of a second, once per process, and only when a text format is read.
    runs = _category_runs()
    extra_word = [(ord(ch), ord(ch)) for ch in "_" + _JOINERS]
    # str.isspace() holds only for control characters and separators (Cc, Zs, Zl, Zp).
    spaces = [
        (code, code)
        for lo, hi, cat in runs
        if cat in ("Cc", "Zs", "Zl", "Zp")
        for code in range(lo, hi + 1)
        if chr(code).isspace()
    ]
    return {
        "WORD": _merge(
            [(lo, hi) for lo, hi, cat in runs if cat[0] in "LM" or cat == "Nd"] + extra_word
        ),
        "LETTER": _merge([(lo, hi) for lo, hi, cat in runs if cat[0] == "L"]),
        "SPACE": _merge(spaces),
    }


def _class_body(name: str, escape: Callable[[int], str]) -> str:
    return "".join(
        escape(lo) if lo == hi else f"{escape(lo)}-{escape(hi)}" for lo, hi in _classes()[name]
    )


# Patterns written once, with {WORD}, {LETTER}, {SPACE} standing for class bodies.
_URL = "[hH][tT][tT][pP][sS]?://[^{SPACE}]*"
_ENTITY = (
    "(?:^|[^{WORD}&#\uff03@\uff20])(?:[#\uff03][{WORD}]*[{LETTER}][{WORD}]*|[@\uff20][{WORD}]+)"
)
# Instagram's handles hold dots ("@freedom.voice"), inside only: a sentence's full stop
# after a handle ("@user.") stays outside it. Only Instagram data uses this rule: on
# Twitter and Telegram "@alice.Thanks" is @alice and a word.
_ENTITY_DOTTED = _ENTITY.replace("[@\uff20][{WORD}]+)", "[@\uff20][{WORD}]+(?:\\.[{WORD}]+)*)")
_TOKEN = "[^{SPACE}]+"
# What ends a sentence or closes a bracket or quote around a URL, not part of it.
URL_TRAIL = ".,;:!?'\")]}>\u00bb\u201d\u2019\u060c\u061b\u061f"
# A URL cut short, as in the truncated text of a retweet.
CUT = "\u2026"
# A link: a URL that ends in a character other than URL_TRAIL's (the greedy run backs off
# to it; one regex pass, three times faster than trimming each match in SQL lambdas).
_LINK = _URL + "[^{SPACE}" + re.escape(URL_TRAIL) + "]"
# Twitter's retweet text: "RT @handle: ...", the handle a run of word characters.
_REPOST = "^RT [@\uff20]([{WORD}]+):"
_PATTERNS = (
    ("url", _URL),
    ("link", _LINK),
    ("entity", _ENTITY),
    ("entity_dotted", _ENTITY_DOTTED),
    ("token", _TOKEN),
    ("repost", _REPOST),
)
HASH_MARKS = "#\uff03"
AT_MARKS = "@\uff20"


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


@cache
def _python() -> dict[str, re.Pattern[str]]:
    return {name: re.compile(_fill(pattern, _py)) for name, pattern in _PATTERNS}


@cache
def _sql_patterns() -> dict[str, str]:
    return {name: literal(_fill(pattern, _re2)) for name, pattern in _PATTERNS}


def entity_matches_sql(text: str, *, dotted: bool = False) -> str:
    """SQL: the raw hashtag and mention matches of `text`, for `hashtags_sql` and
    `mentions_sql`. Texts holding no marker (most, in real data) skip the regexes.
    `dotted`: handles may hold inner dots (Instagram)."""
    p = _sql_patterns()
    entity = p["entity_dotted" if dotted else "entity"]
    marked = " OR ".join(f"contains({text}, {literal(m)})" for m in HASH_MARKS + AT_MARKS)
    # Only a text holding "://" can hold a URL.
    bare = (
        f"CASE WHEN contains({text}, '://') "
        f"THEN regexp_replace({text}, {p['url']}, ' ', 'g') ELSE {text} END"
    )
    return f"CASE WHEN {marked} THEN regexp_extract_all({bare}, {entity}) ELSE []::VARCHAR[] END"


def _names_sql(matches: str, marks: str) -> str:
    # A match is [preceding character] marker name: the marker is its 1st or 2nd character.
    listed = ", ".join(literal(m) for m in marks)
    ours = f"lambda m: m[1] IN ({listed}) OR m[2] IN ({listed})"
    name = f"lambda m: CASE WHEN m[1] IN ({listed}) THEN m[2:] ELSE m[3:] END"
    return f"list_transform(list_filter({matches}, {ours}), {name})"


def hashtags_sql(matches: str) -> str:
    """SQL: the hashtags (without `#`) among the matches of `entity_matches_sql`."""
    return _names_sql(matches, HASH_MARKS)


def mentions_sql(matches: str) -> str:
    """SQL: the mentions (without `@`) among the matches of `entity_matches_sql`."""
    return _names_sql(matches, AT_MARKS)


def tokens_sql(text: str) -> str:
    """SQL: the whitespace-separated tokens of `text` (no empty strings; [] for NULL)."""
    return f"regexp_extract_all(coalesce({text}, ''), {_sql_patterns()['token']})"


def urls_sql(text: str) -> str:
    """SQL: the URLs written in `text`, in order, as `urls` finds them ([] for NULL)."""
    found = f"regexp_extract_all({text}, {_sql_patterns()['link']})"
    whole = f"list_filter({found}, lambda u: NOT suffix(u, {literal(CUT)}))"
    # Only a text holding "://" can hold a URL, and only one holding "…" one cut short
    # (most hold neither): the others skip the regex or the filter.
    return (
        f"CASE WHEN contains({text}, '://') THEN CASE WHEN contains({text}, {literal(CUT)}) "
        f"THEN {whole} ELSE {found} END ELSE []::VARCHAR[] END"
    )


def repost_handle_sql(text: str) -> str:
    """SQL: the handle a retweet's text `RT @handle: ...` names, else NULL."""
    pattern = _sql_patterns()["repost"]
    return (
        f"CASE WHEN starts_with({text}, 'RT ') "
        f"THEN nullif(regexp_extract({text}, {pattern}, 1), '') END"
    )


def urls(text: str | None) -> list[str]:
    """The URLs written in `text`, in order: trailing punctuation left out, and none that
    ends in `…` (cut short)."""
    return [u for u in _python()["link"].findall(text or "") if not u.endswith(CUT)]


def repost_handle(text: str | None) -> str | None:
    """The handle a retweet's text `RT @handle: ...` names, as `repost_handle_sql` finds it."""
    found = _python()["repost"].match(text or "")
    return found.group(1) if found else None


def _names(text: str | None, marks: str, dotted: bool) -> list[str]:
    bare = _python()["url"].sub(" ", text or "")
    return [
        m[1:] if m[0] in marks else m[2:]
        for m in _python()["entity_dotted" if dotted else "entity"].findall(bare)
        if m[0] in marks or m[1] in marks
    ]


def hashtags(text: str | None, *, dotted: bool = False) -> list[str]:
    """The hashtags of `text`, as `hashtags_sql` finds them."""
    return _names(text, HASH_MARKS, dotted)


def mentions(text: str | None, *, dotted: bool = False) -> list[str]:
    """The mentions of `text`, as `mentions_sql` finds them (`dotted`: Instagram's
    handles, with inner dots)."""
    return _names(text, AT_MARKS, dotted)


def tokens(text: str | None) -> list[str]:
    """The whitespace-separated tokens of `text`, as `tokens_sql` finds them."""
    return list(_python()["token"].findall(text or ""))
