"""SQL pieces shared by the Twitter archive readers (`ioarchive.py`, `ira.py`).

Each function returns a DuckDB SQL expression over a column expression, so a reader's
`TablePlan` stays declarative and every row is parsed in DuckDB, never in Python.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from trollscope.errors import MappingError
from trollscope.ingest.readers.base import ReadOptions
from trollscope.ingest.readers.csvsql import Check
from trollscope.sql import ident, literal

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
# Non-printable characters common in hashtags, which repr writes as escapes: zero-width
# space, ZWNJ, ZWJ, LRM, RLM, no-break space, soft hyphen, Arabic letter mark, BOM.
_COMMON_ESCAPES = (0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0xA0, 0xAD, 0x61C, 0xFEFF)


def scientific_sql(column: str) -> str:
    """True when the text in `column` is a number in scientific notation (a lossy id)."""
    # contains() first: the regex then runs only on the few values with an 'e' in them.
    return (
        f"coalesce((contains({column}, 'e') OR contains({column}, 'E')) AND "
        f"regexp_full_match(trim({column}), {literal(_SCIENTIFIC)}), false)"
    )


def fast_id_sql(column: str) -> str:
    """The same as csvsql.id_sql (trimmed, NULL when empty, `123.0` -> `123`), with the
    regex run only on values that have a '.' in them (ids rarely do)."""
    value = f"trim({column})"
    return (
        f"nullif(CASE WHEN contains({value}, '.') THEN "
        f"regexp_replace({value}, '^(-?[0-9]+)\\.0+$', '\\1') ELSE {value} END, '')"
    )


def problem_sql(checks: Sequence[Check]) -> str:
    """One CASE naming the first failed check by its index, so that each condition is
    evaluated once per row (a plan's reject field and reason would each evaluate it)."""
    return "CASE " + " ".join(f"WHEN {c.bad} THEN {i}" for i, c in enumerate(checks)) + " END"


def indexed_checks(checks: Sequence[Check], column: str = "_problem") -> list[Check]:
    """The checks of `problem_sql`, testing its index column instead of the condition."""
    return [Check(c.field, f"{column} = {i}", c.reason) for i, c in enumerate(checks)]


def lossy_reason_sql(name: str, column: str) -> str:
    """The reject reason for an id in scientific notation, quoting the value."""
    return f"{literal(name + ' ')} || '''' || left(trim({column}), 40) || '''' || " + literal(
        " is in scientific notation: a spreadsheet or a float column rounded it and the "
        "id's digits are lost. Re-export the file with the id columns as text "
        "(e.g. pandas dtype=str, or format the column as Text)."
    )


def quoted_sql(column: str) -> str:
    """A column's value for a reject reason: 'value' (trimmed, at most 80 characters), or
    nothing when it is NULL."""
    return f"coalesce('''' || left(trim({column}), 80) || '''', 'nothing')"


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
        f"{literal(_ESCAPE_TOKEN)}), lambda t: {token}), '')"
    )


def unescape_common_sql(column: str) -> str:
    """`column` with the escapes repr writes most often in hashtags undone at once.

    Python's repr escapes every non-printable character, and Persian and Arabic hashtags
    are full of them (ZWNJ, ZWJ, direction marks). Undoing those with a few replace()
    calls on the whole list text is exact when there is no escaped backslash, and lets
    most rows take pylist_sql's fast path instead of the per-item decoder.
    """
    replaced = column
    for code in _COMMON_ESCAPES:
        escape = f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"
        replaced = f"replace({replaced}, {literal(escape)}, chr({code}))"
    return (
        f"CASE WHEN contains({column}, '\\') AND NOT contains({column}, '\\\\') "
        f"THEN {replaced} ELSE {column} END"
    )


def pylist_sql(column: str) -> str:
    """A list column as the archives write it, to VARCHAR[].

    Python's repr "['a', 'b']" (escapes undone), JSON '["a", "b"]', and the unquoted
    "[a, b]" of older releases; "[]" and an empty field are the empty list.
    """
    inner = f"{column}[3:-3]"
    separator, opening, closing = literal("', '"), literal("['"), literal("']")
    # Fast path, exact for repr output: single-quoted items, no escapes, and every quote
    # inside is part of a "', '" separator. Anything else takes the general path.
    plain = (
        f"starts_with({column}, {opening}) AND ends_with({column}, {closing}) "
        f"AND length({column}) >= 4 AND NOT contains({column}, '\\') "
        f"AND NOT contains(replace({inner}, {separator}, ''), '''')"
    )
    items = f"regexp_extract_all({column}, {literal(_REPR_ITEM)})"
    unquote = f"CASE WHEN contains(x, '\\') THEN {_decode_escapes_sql('x[2:-2]')} ELSE x[2:-2] END"
    bare = (
        f"list_filter(list_transform(string_split(regexp_replace(trim({column}), "
        r"'^\[|\]$', '', 'g'), ','), lambda x: trim(x)), lambda x: x <> '')"
    )
    return (
        f"CASE WHEN {column} IS NULL OR {column} = '[]' THEN []::VARCHAR[] "
        f"WHEN {plain} THEN string_split({inner}, {separator}) "
        f"WHEN regexp_full_match({column}, '\\s*(\\[\\s*\\])?\\s*') THEN []::VARCHAR[] "
        f"WHEN regexp_matches({column}, '^\\s*\\[\\s*[''\"]') AND len({items}) > 0 "
        f"THEN list_transform({items}, lambda x: {unquote}) ELSE {bare} END"
    )


def json_object_sql(pairs: Sequence[tuple[str, str]]) -> str:
    """A JSON object text of the non-NULL values among `pairs` (key, SQL); NULL if none.

    Built by concatenation so that absent values take no space and a row with nothing
    extra stores NULL rather than '{}'.
    """
    parts = ", ".join(
        f"CASE WHEN ({expr}) IS NOT NULL THEN {literal(_json_key(key))} || "
        f"CAST(to_json({expr}) AS VARCHAR) END"
        for key, expr in pairs
    )
    return f"'{{' || nullif(concat_ws(',', {parts}), '') || '}}'"


def _json_key(key: str) -> str:
    return '"' + key + '":'


def header_names(first_line: str) -> set[str]:
    """The column names in a CSV header line, for sniffing (none when it is not CSV)."""
    try:
        row = next(csv.reader([first_line]), [])
    except csv.Error:  # a NUL or a lone carriage return: not a header
        return set()
    return {cell.strip() for cell in row}


def fixed_columns_sql(source: str, header: Sequence[str], columns: Sequence[str]) -> str:
    """`source` with exactly `columns`: those the file lacks are NULL, others are dropped.

    Releases differ by a column or two (later ones added poll_choices, quote_count, ...),
    so only a format's required columns are demanded and the rest may be absent.
    """
    present = set(header)
    cols = ", ".join(
        ident(name) if name in present else f"NULL::VARCHAR AS {ident(name)}" for name in columns
    )
    return f"(SELECT {cols} FROM {source})"


def no_mapping(path: Path, options: ReadOptions, fmt: str) -> None:
    """A fixed-layout format takes no --map: say so rather than silently ignore it."""
    if options.mapping:
        raise MappingError(
            f"{path}: --map does not apply to the {fmt} format, whose columns are fixed. "
            "Drop --map, or read the file as a mapped table with --format table."
        )
