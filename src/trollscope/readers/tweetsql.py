"""SQL pieces shared by the Twitter archive readers (`ioarchive.py`, `ira.py`).

Each function returns a DuckDB SQL expression over a column expression, so a reader's
`TablePlan` stays declarative and every row is parsed in DuckDB, never in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from trollscope.readers.csvsql import sql_string

# A number in scientific notation ("9.06E+17", "1.0e+18"): a float column or a spreadsheet
# has rounded it, so the digits of a 64-bit id are gone and cannot be recovered.
_SCIENTIFIC = r"[+-]?[0-9]*\.?[0-9]+[eE][+-]?[0-9]+"

# One item of a Python-repr list: '...' or "..." with backslash escapes inside.
_REPR_ITEM = r"'(?:[^'\\]|\\.)*'" + "|" + r'"(?:[^"\\]|\\.)*"'
# The escapes Python's repr (and JSON) writes, longest first; anything else is literal.
_ESCAPE_TOKEN = (
    r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # JSON surrogate pair
    r"|\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}|\\.|[^\\]+"
)
_SIMPLE_ESCAPES = {"n": "chr(10)", "t": "chr(9)", "r": "chr(13)"}

# Hashtags as Twitter links them: '#' or the fullwidth '＃', not after a letter, digit,
# '_' or '&' (an HTML entity such as &#39;), then letters, marks, digits, '_' and the
# joiners Persian and Arabic spellings need (ZWNJ, ZWJ), with at least one letter or mark.
_TAG_CHAR = r"\p{L}\p{M}\p{N}_\x{200c}\x{200d}"
HASHTAG_RE = rf"(?:^|[^\p{{L}}\p{{M}}\p{{N}}_&])[#＃]([{_TAG_CHAR}]*[\p{{L}}\p{{M}}][{_TAG_CHAR}]*)"
# Mentions: '@' or '＠' not after a letter, digit, '_' or one of !#$%&*@ (so e-mail
# addresses are not mentions) except right after "RT" ("RT@name:"), then a screen name:
# ASCII letters, digits, '_', at most 20 (the limit of the oldest accounts).
MENTION_RE = (
    r"(?:^|[^\p{L}\p{N}_!#$%&*@＠]|(?:^|[^\p{L}\p{N}_+~.-])[Rr][Tt]:?)[@＠]([A-Za-z0-9_]{1,20})"
)


def scientific_sql(column: str) -> str:
    """True when the text in `column` is a number in scientific notation (a lossy id)."""
    return f"coalesce(regexp_full_match(trim({column}), {sql_string(_SCIENTIFIC)}), false)"


def lossy_reason_sql(name: str, column: str) -> str:
    """The reject reason for an id in scientific notation, quoting the value."""
    return (
        f"{sql_string(name + ' ')} || '''' || left(trim({column}), 40) || '''' || "
        + sql_string(
            " is in scientific notation: a spreadsheet or a float column rounded it and the "
            "id's digits are lost. Re-export the file with the id columns as text "
            "(e.g. pandas dtype=str, or format the column as Text)."
        )
    )


def count_sql(column: str) -> str:
    """A count column ('17', '17.0', '1e3') as BIGINT; NULL when empty or not a number."""
    return f"try_cast(try_cast(trim({column}) AS DOUBLE) AS BIGINT)"


def _char_sql(code: str, token: str) -> str:
    """chr(code) for a valid Unicode scalar value; else the escape `token` kept as text."""
    return (
        f"CASE WHEN {code} <= 1114111 AND NOT ({code} BETWEEN 55296 AND 57343) "
        f"THEN chr(CAST({code} AS INTEGER)) ELSE {token} END"
    )


def _decode_escapes_sql(item: str) -> str:
    """Undo Python-repr / JSON backslash escapes in `item` (only called when it has one)."""
    simple = " ".join(
        f"WHEN t = '\\{ch}' THEN {expr}" for ch, expr in sorted(_SIMPLE_ESCAPES.items())
    )
    pair = (
        "65536 + (CAST('0x' || t[3:6] AS BIGINT) - 55296) * 1024 "
        "+ CAST('0x' || t[9:12] AS BIGINT) - 56320"
    )
    code = "CAST('0x' || t[3:] AS BIGINT)"
    token = (
        f"CASE WHEN length(t) = 12 AND t[1:2] = '\\u' THEN {_char_sql(pair, 't')} "
        "WHEN length(t) > 2 AND t[1] = '\\' AND t[2] IN ('x', 'u', 'U') "
        f"THEN {_char_sql(code, 't')} "
        f"{simple} WHEN length(t) = 2 AND t[1] = '\\' THEN t[2] ELSE t END"
    )
    return (
        f"array_to_string(list_transform(regexp_extract_all({item}, "
        f"{sql_string(_ESCAPE_TOKEN)}), lambda t: {token}), '')"
    )


def pylist_sql(column: str) -> str:
    """A list column as the archives write it, to VARCHAR[].

    Python's repr "['a', 'b']" (escapes undone), JSON '["a", "b"]', and the unquoted
    "[a, b]" of older releases; "[]" and an empty field are the empty list.
    """
    items = f"regexp_extract_all({column}, {sql_string(_REPR_ITEM)})"
    unquote = f"CASE WHEN contains(x, '\\') THEN {_decode_escapes_sql('x[2:-2]')} ELSE x[2:-2] END"
    bare = (
        f"list_filter(list_transform(string_split(regexp_replace(trim({column}), "
        r"'^\[|\]$', '', 'g'), ','), lambda x: trim(x)), lambda x: x <> '')"
    )
    return (
        f"CASE WHEN {column} IS NULL OR regexp_full_match({column}, '\\s*(\\[\\s*\\])?\\s*') "
        "THEN []::VARCHAR[] "
        f"WHEN regexp_matches({column}, '^\\s*\\[\\s*[''\"]') AND len({items}) > 0 "
        f"THEN list_transform({items}, lambda x: {unquote}) ELSE {bare} END"
    )


def hashtags_sql(text: str) -> str:
    """Hashtags in a tweet's text (without '#'), in order of appearance."""
    return f"coalesce(regexp_extract_all({text}, {sql_string(HASHTAG_RE)}, 1), []::VARCHAR[])"


def mentions_sql(text: str) -> str:
    """Screen names mentioned in a tweet's text (without '@'), in order of appearance."""
    return f"coalesce(regexp_extract_all({text}, {sql_string(MENTION_RE)}, 1), []::VARCHAR[])"


def json_object_sql(pairs: Sequence[tuple[str, str]]) -> str:
    """A JSON object text of the non-NULL values among `pairs` (key, SQL); NULL if none.

    Built by concatenation so that absent values take no space and a row with nothing
    extra stores NULL rather than '{}'.
    """
    parts = ", ".join(
        f"CASE WHEN ({expr}) IS NOT NULL THEN {sql_string(_json_key(key))} || "
        f"CAST(to_json({expr}) AS VARCHAR) END"
        for key, expr in pairs
    )
    return f"'{{' || nullif(concat_ws(',', {parts}), '') || '}}'"


def _json_key(key: str) -> str:
    return '"' + key + '":'
