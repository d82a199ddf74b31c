"""The CSV of coordination-network-toolkit (QUT Digital Observatory): `cnt-csv`.

The format, as CNT 1.5.2 reads it (`preprocess_csv_files` in its preprocess.py, and its
README): UTF-8 CSV, a header row, then one message per row in eight columns taken by
position (CNT skips the first row unread; "the names of the columns don't matter but the
order does"):

    message_id, user_id, username, repost_id, reply_id, message, timestamp, urls

repost_id / reply_id are empty unless the message is a repost / reply; timestamp is
seconds, integer or fractional (CNT calls float() on it; "the absolute offset does not
matter, but it needs to be consistent": we read it as POSIX seconds, UTC); urls is one
field of space-separated URLs.

Where we part from CNT, on purpose:
- A header naming all eight of CNT's columns in another order is read by name (CNT would
  mix the columns up). CNT's names in the wrong places of a header that lacks some of
  them is a FormatError, not a silent mix-up.
- A file with no header row (its first row's timestamp is a number) is read from its first
  row; CNT would drop that record silently as "the header". A first row whose timestamp
  is not a number is the header, whatever its names (as in CNT).
- urls split on any whitespace and never yield an empty URL (CNT splits on single spaces
  and stores "" for an empty field). A repost's urls are kept (CNT skips them for
  co-link; in trollscope the trace decides).
- hashtags and mentions come from the message text (the format has no entity columns;
  see entities.py for the rules).
- A row with both ids is a repost of repost_id; reply_id is kept in `extra`.
- The format does not say the platform: --platform, else "unknown".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from trollscope.errors import FormatError
from trollscope.ingest.readers.base import HEAD_BYTES, Head, ReadOptions, open_input
from trollscope.ingest.readers.csvsql import (
    MAX_LINE_BYTES,
    Check,
    SqlTableReader,
    TablePlan,
    TableQuery,
    csv_source,
    id_sql,
    key_check,
    keys_guard_sql,
)
from trollscope.ingest.readers.entities import (
    entity_matches_sql,
    hashtags_sql,
    mentions_sql,
    tokens_sql,
)
from trollscope.model import TimeRange
from trollscope.sql import ident, literal

COLUMNS = (
    "message_id",
    "user_id",
    "username",
    "repost_id",
    "reply_id",
    "message",
    "timestamp",
    "urls",
)

TIMESTAMP = COLUMNS.index("timestamp")
# The keys of a row (ids and the handle, which may hold no control character): each
# column and its cleaned value (see _normalised).
KEYS = {
    "message_id": "post_id",
    "user_id": "account_id",
    "username": ident("username"),
    "repost_id": "repost",
    "reply_id": "reply",
}
# A number as CNT writes one (what float() takes, less inf, nan and digit underscores).
NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_NUMBER = re.compile(NUMBER)
# POSIX seconds of 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999999 (what a time holds).
MIN_SECONDS = "-62135596800"
MAX_SECONDS = "253402300799.999999"
DEFAULT_PLATFORM = "unknown"
LABEL = "CNT CSV (coordination-network-toolkit)"
SNIFF_ROWS = 50


def is_number(text: str) -> bool:
    """Whether a timestamp field holds a number (spaces around it allowed, as in SQL)."""
    return _NUMBER.fullmatch(text.strip(" ")) is not None


def _first_row(path: Path) -> list[str] | None:
    """The first record of the file (a quoted field may span lines), or None if empty."""
    data = b""
    try:
        with open_input(path) as raw:
            # An odd number of quotes so far: a quoted field goes on to the next line.
            while len(data) < MAX_LINE_BYTES:
                line = raw.readline(MAX_LINE_BYTES)
                data += line
                if not line or data.count(b'"') % 2 == 0:
                    break
    except (OSError, EOFError) as exc:
        raise FormatError(
            path, f"could not be read ({exc}); a gzip file may be cut short or damaged."
        ) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(
            path,
            f"the first row is not valid UTF-8 (byte {exc.start}), so this is not a {LABEL} "
            "as exported.",
            "Re-save the file as UTF-8.",
        ) from exc
    try:
        row = next(csv.reader(io.StringIO(text)), None)
    except csv.Error as exc:  # a field past the csv module's limit (a line of JSON)
        raise FormatError(
            path,
            f"the first row is not CSV that can be read ({exc}), so this is not a {LABEL} "
            "as exported.",
            "Check the file, or pick its format with --format.",
        ) from exc
    if row is None or not any(cell.strip() for cell in row):
        return None
    return row


def layout(path: Path, first: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """The column names in file order, and whether the first row is a header."""
    expected = ", ".join(COLUMNS)
    if len(first) != len(COLUMNS):
        raise FormatError(
            path,
            f"this is not a {LABEL}: its first row has {len(first)} field(s), expected "
            f"{len(COLUMNS)} ({expected}).",
            "Check the file, or pick its format with --format.",
        )
    if is_number(first[TIMESTAMP]):
        return COLUMNS, False
    named = tuple(cell.strip().lower() for cell in first)
    if sorted(named) == sorted(COLUMNS):
        return named, True
    misplaced = [
        f"{cell} is column {i + 1}"
        for i, cell in enumerate(named)
        if cell in COLUMNS and cell != COLUMNS[i]
    ]
    if misplaced:
        raise FormatError(
            path,
            f"the header names some of CNT's columns in other places ({'; '.join(misplaced)}) "
            f"and lacks others, so its columns can be matched neither by name nor by position "
            f"(expected, in this order: {expected}).",
            "Reorder or rename the columns.",
        )
    return COLUMNS, True


def _normalised(source: str, times: TimeRange) -> str:
    """Source columns cleaned once: ids, the time, and the text's hashtag and mention
    matches."""
    c = {name: ident(name) for name in COLUMNS}
    number = literal(NUMBER)
    seconds = (
        f"CASE WHEN regexp_full_match(trim({c['timestamp']}), {number}) "
        f"THEN try_cast(trim({c['timestamp']}) AS DECIMAL(38, 6)) END"
    )
    inner = (
        f"SELECT {id_sql(c['message_id'])} AS post_id, {id_sql(c['user_id'])} AS account_id, "
        f"{id_sql(c['repost_id'])} AS repost, {id_sql(c['reply_id'])} AS reply, "
        f"{', '.join(c.values())}, {seconds} AS seconds, "
        f"{entity_matches_sql(c['message'])} AS matches FROM {source}"
    )
    return (
        "(SELECT *, "
        + times.sql(
            f"CASE WHEN seconds BETWEEN {MIN_SECONDS} AND {MAX_SECONDS} "
            "THEN make_timestamp(CAST(seconds * 1000000 AS BIGINT)) END"
        )
        + f" AS created_at, {keys_guard_sql(list(KEYS.values()))} AS _keys_bad "
        f"FROM ({inner}))"
    )


def build_plan(platform: str, header_rows: int, times: TimeRange) -> TablePlan:
    """The SQL plan: one post per row, kind and reference from the two id columns."""
    platform_sql = literal(platform)
    posts = {
        "platform": platform_sql,
        "post_id": "post_id",
        "account_id": "account_id",
        "created_at": "created_at",
        "text": ident("message"),
        "kind": (
            "CASE WHEN repost IS NOT NULL THEN 'repost' "
            "WHEN reply IS NOT NULL THEN 'reply' ELSE 'post' END"
        ),
        "ref_post_id": "coalesce(repost, reply)",
        "hashtags": hashtags_sql("matches"),
        "urls": tokens_sql(ident("urls")),
        "mentions": mentions_sql("matches"),
        "media": "[]::VARCHAR[]",
        "domains": "[]::VARCHAR[]",
        "extra": (
            "CASE WHEN repost IS NOT NULL AND reply IS NOT NULL "
            "THEN CAST(json_object('reply_id', reply) AS VARCHAR) END"
        ),
    }
    accounts = {
        "platform": platform_sql,
        "account_id": "account_id",
        "handle": ident("username"),
    }
    stamp = ident("timestamp")
    shown_time = f"coalesce('''' || left({stamp}, 80) || '''', 'nothing')"
    checks = [
        Check("message_id", "post_id IS NULL", "'the message_id is empty; every row needs one'"),
        Check("user_id", "account_id IS NULL", "'the user_id is empty; every row needs one'"),
        Check(
            "timestamp",
            "created_at IS NULL",
            f"CASE WHEN NOT coalesce(regexp_full_match(trim({stamp}), {literal(NUMBER)}), "
            "false) THEN 'expected seconds since 1970 (a number such "
            f"as 1606451170 or 1606451170.5), got ' || {shown_time} "
            f"ELSE 'the timestamp ' || {shown_time} || ' is not {times.words}' END",
        ),
        # What a record may hold (model.py): ids and the handle without control characters.
        *(key_check(column, key, "_keys_bad") for column, key in KEYS.items()),
    ]
    fields = ", ".join(f"coalesce({ident(name)}, '')" for name in COLUMNS)
    raw = (
        "CASE WHEN post_id IS NULL OR account_id IS NULL OR created_at IS NULL OR _keys_bad "
        f"THEN left(concat_ws(',', {fields}), 500) END"
    )
    return TablePlan(
        posts=posts, accounts=accounts, checks=checks, raw=raw, header_rows=header_rows
    )


class CntReader(SqlTableReader):
    name: ClassVar[str] = "cnt-csv"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = LABEL

    def sniff(self, head: Head) -> bool:
        """CNT's own header (its eight names, in any order), or a header-less file whose
        first rows all have eight fields, both ids, and a number as the timestamp."""
        rows: list[list[str]] = []
        whole = len(head.data) < HEAD_BYTES
        try:
            for row in csv.reader(io.StringIO(head.text.lstrip("\ufeff"))):
                rows.append(row)
                if len(rows) > SNIFF_ROWS:
                    whole = False
                    break
        except csv.Error:
            whole = False
        if not whole:
            rows = rows[:-1]  # the head may have cut the last row short
        if not rows:
            return False
        if sorted(cell.strip().lower() for cell in rows[0]) == sorted(COLUMNS):
            return True
        return all(_looks_like_record(row) for row in rows)

    def query(self, path: Path, options: ReadOptions) -> TableQuery:
        first = _first_row(path)
        if first is None:
            raise FormatError(
                path,
                f"the file is empty; expected a {LABEL}: a header row, then rows of "
                f"{', '.join(COLUMNS)}.",
            )
        names, has_header = layout(path, first)
        source = csv_source(path, names, has_header=has_header)
        plan = build_plan(
            options.platform or DEFAULT_PLATFORM, 1 if has_header else 0, options.times
        )
        return TableQuery(path, _normalised(source, options.times), plan, is_csv=True)


def _looks_like_record(row: Sequence[str]) -> bool:
    return (
        len(row) == len(COLUMNS)
        and bool(row[0].strip())
        and bool(row[1].strip())
        and is_number(row[TIMESTAMP])
        and not any(ch.isspace() for ch in row[3].strip() + row[4].strip())
    )
