"""Object-share tables and any CSV or Parquet file with a column mapping.

CooRTweet's input shape is one row per shared object: (object, account, content, time).
Comment sections, forum dumps and other platforms' exports are tables too. Both are read
here: the user (or the CooRTweet defaults) maps canonical fields to the file's columns,
e.g. `--map account_id=user_id,text=message,created_at=ts,post_id=id`.

Fields a mapping may name (aliases in brackets):
  post_id [post, id, content_id], account_id [account, user], created_at [time, timestamp],
  text, lang, client, platform (a column holding the platform per row),
  repost_of / reply_to / quote_of (the referenced post: sets kind and ref_post_id),
  ref_account_id, hashtags [hashtag], urls [url], mentions [mention], media [image],
  domains [domain], phash: one value per row, several rows per post are gathered into one
  post, handle, display_name, bio, location, account_created_at, followers, following,
  avatar.

`phash` is a 64-bit perceptual hash of an attached image as the data gives it. It goes
into the post's media in the one spelling the Telegram reader also writes,
`phash:<16 hex>` (see media.py), so the co-image trace compares hashes from any source;
a value that is not such a hash rejects its row (field `phash`) rather than becoming a
key that can never match. `media` stays as given: CooRTweet's `phash_id`, an anonymised
integer id and not a hash, is mapped there.

Rows that share a post id are one post (their list fields are gathered). If rows of one
post id point at different referenced posts (an object-share table can say that a
retweet shared two objects), each pair is kept as its own post `ID~REF`, so no share is
lost; see docs/formats.md.

A table with a text column and no column for hashtags, mentions or urls takes them from
the text (`entities.py`, the definition every reader without entity columns uses): a
troll archive mapped as a table otherwise had no keys for co-hashtag, co-mention or
co-link at all. A column that is mapped is used as it is. Without `repost_of` the table
has no repost flag, so a text in Twitter's retweet form `RT @handle: ...` makes its post
a repost (unless the row refers to a post as a reply or quote), with `ref_account_id`
the handle when no column gives it: the text names no id, and its reference post is
unknown, so co-repost cannot use it, but the post is no longer the account's own text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import duckdb

from trollscope.errors import FormatError, MappingError
from trollscope.ingest.readers.base import Head, ReadOptions
from trollscope.ingest.readers.csvsql import (
    ORDINAL,
    Check,
    SqlTableReader,
    TablePlan,
    TableQuery,
    count_check,
    csv_source,
    id_sql,
    key_check,
    keys_guard_sql,
    parquet_source,
    read_csv_header,
    require_columns,
    time_sql,
)
from trollscope.ingest.readers.entities import (
    entity_matches_sql,
    hashtags_sql,
    mentions_sql,
    repost_handle_sql,
    urls_sql,
)
from trollscope.model import TimeRange, count_sql, shown_sql
from trollscope.sql import ident, literal

SCALAR_POST = ("post_id", "account_id", "created_at", "text", "lang", "client", "platform")
REFERENCES = {"repost_of": "repost", "reply_to": "reply", "quote_of": "quote"}
LISTS = ("hashtags", "urls", "mentions", "media", "domains")
# Gathered into `media` as canonical `phash:<hex>` entries.
PHASH = "phash"
ACCOUNT_FIELDS = (
    "handle",
    "display_name",
    "bio",
    "location",
    "account_created_at",
    "followers",
    "following",
    "avatar",
)

# Ids and handles (keys: no control characters) and counts, checked per row.
KEYS = ("post_id", "account_id", *REFERENCES, "ref_account_id", "handle")
COUNTS = ("followers", "following")

FIELDS = (*SCALAR_POST, *REFERENCES, "ref_account_id", *LISTS, PHASH, *ACCOUNT_FIELDS)
ALIASES = {
    "post": "post_id",
    "id": "post_id",
    "content_id": "post_id",
    "account": "account_id",
    "user": "account_id",
    "time": "created_at",
    "timestamp": "created_at",
    "hashtag": "hashtags",
    "url": "urls",
    "mention": "mentions",
    "image": "media",
    "domain": "domains",
}
REQUIRED = ("post_id", "account_id", "created_at")
# The lists a text holds, taken from it when no column gives them.
TEXT_LISTS = ("hashtags", "mentions", "urls")
# Columns computed from each row's text (`_normalised_columns`) for `build_plan`.
ENTITIES, TEXT_URLS, RT_HANDLE = "_entities", "_text_urls", "_rt_handle"

# CooRTweet's shapes: the raw object-share table, and its prepared multi-object table.
# (In the files' own column order, so that error messages show the header as it is.)
COORTWEET_SHARES = {
    "repost_of": "object_id",
    "account_id": "account_id",
    "post_id": "content_id",
    "created_at": "timestamp_share",
}
COORTWEET_OBJECTS = {
    "account_id": "account_id",
    "post_id": "post_id",
    "urls": "url_id",
    "hashtags": "hashtag_id",
    "domains": "domain_id",
    "media": "phash_id",
    "created_at": "timestamp",
}


def parse_mapping(text: str) -> dict[str, str]:
    """Parse `field=column,field=column` into a canonical mapping (aliases resolved)."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, column = part.partition("=")
        key, column = key.strip(), column.strip()
        if not sep or not key or not column:
            raise MappingError(
                f"--map entry {part!r} is not FIELD=COLUMN (e.g. account_id=user_id)."
            )
        canonical = ALIASES.get(key, key)
        if canonical not in FIELDS:
            raise MappingError(
                f"--map names unknown field {key!r}; known fields: {', '.join(FIELDS)}."
            )
        mapping[canonical] = column
    return mapping


def _normalise(mapping: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, column in mapping.items():
        canonical = ALIASES.get(key, key)
        if canonical not in FIELDS:
            raise MappingError(f"unknown field {key!r} in the column mapping.")
        out[canonical] = column
    return out


class _TableBase(SqlTableReader):
    """Reads a table through a mapping; subclasses supply the default mapping."""

    version: ClassVar[str] = "1"
    default_platform: ClassVar[str] = "unknown"
    # A table's times may be local without an offset ("2021-03-01 14:00"): --timezone.
    takes_timezone: ClassVar[bool] = True

    def mapping_for(
        self, path: Path, header: Sequence[str], options: ReadOptions
    ) -> dict[str, str]:
        return _normalise(options.mapping)

    def query(self, path: Path, options: ReadOptions) -> TableQuery:
        is_parquet = _is_parquet(path)
        header = _parquet_header(path) if is_parquet else read_csv_header(path, self.description)
        mapping = self.mapping_for(path, header, options)
        missing_fields = [f for f in REQUIRED if f not in mapping]
        if missing_fields:
            raise MappingError(
                f"{path}: the column mapping lacks {', '.join(missing_fields)}; add them with "
                f"--map, e.g. --map {missing_fields[0]}=COLUMN (columns: {', '.join(header)})."
            )
        require_columns(path, header, sorted(set(mapping.values())), self.description)
        source = parquet_source(path) if is_parquet else csv_source(path, header)
        platform = options.platform or self.default_platform
        plan = build_plan(mapping, platform, options.times)
        columns = _normalised_columns(mapping, options.times, options.timezone)
        normalised = f"(SELECT {columns} FROM {source})"
        return TableQuery(path, normalised, plan, is_csv=not is_parquet)


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


def _parquet_header(path: Path) -> list[str]:
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {parquet_source(path)}").fetchall()
    except duckdb.Error as exc:
        raise FormatError(path, f"is not a readable Parquet file ({exc}).") from exc
    finally:
        con.close()
    return [str(row[0]) for row in rows]


def lists_from_text(mapping: Mapping[str, str]) -> tuple[str, ...]:
    """The entity lists a mapped table takes from its text: those no column gives."""
    return tuple(name for name in TEXT_LISTS if name not in mapping) if "text" in mapping else ()


def reposts_from_text(mapping: Mapping[str, str]) -> bool:
    """Whether `RT @handle:` texts mark reposts: there is text and no repost column."""
    return "text" in mapping and "repost_of" not in mapping


def _text_columns(mapping: Mapping[str, str]) -> list[str]:
    """Per row, what `build_plan` takes from the text: the entity matches, the URLs and
    the retweeted handle, each only when needed (the regexes cost on every row)."""
    if "text" not in mapping:
        return []
    text = f"CAST({ident(mapping['text'])} AS VARCHAR)"
    found = lists_from_text(mapping)
    cols = []
    if "hashtags" in found or "mentions" in found:
        cols.append(f"{entity_matches_sql(text)} AS {ENTITIES}")
    if "urls" in found:
        cols.append(f"{urls_sql(text)} AS {TEXT_URLS}")
    if reposts_from_text(mapping):
        cols.append(f"{repost_handle_sql(text)} AS {RT_HANDLE}")
    return cols


def _normalised_columns(
    mapping: Mapping[str, str], times: TimeRange, timezone: str | None = None
) -> str:
    """Source columns under canonical names: ids cleaned, times parsed (those without an
    offset in `timezone`, else UTC; NULL outside `times`), counts parsed, raw text kept."""
    cols = []
    for canonical, column in mapping.items():
        src = ident(column)
        raw = f"CAST({src} AS VARCHAR)"
        cols.append(f"{raw} AS {ident('raw_' + canonical)}")
        if canonical in ("created_at", "account_created_at"):
            cols.append(f"{time_sql(raw, times, timezone)} AS {ident(canonical)}")
        elif canonical in COUNTS:
            cols.append(f"{count_sql(raw)} AS {ident(canonical)}")
        elif canonical in ("text", "bio", "display_name", "location", "client", "lang"):
            cols.append(f"{raw} AS {ident(canonical)}")
        elif canonical == PHASH:
            cols.append(f"{phash_sql(raw)} AS {ident(canonical)}")
        else:
            cols.append(f"{id_sql(raw)} AS {ident(canonical)}")
    keys = [f"CAST({ident(mapping[name])} AS VARCHAR)" for name in KEYS if name in mapping]
    cols.append(f"{keys_guard_sql(keys) if keys else 'false'} AS _keys_bad")
    cols += _text_columns(mapping)
    return ", ".join(cols)


# The blanks media.normalise_phash strips around a hash (RE2 escapes).
_BLANK = r"[ \t\n\r\f\v]"


def phash_sql(column: str) -> str:
    """SQL for `media.normalise_phash` of a text column: `phash:<16 hex>`, or NULL when
    the value is empty or not a 64-bit hash. Written in SQL so that the rows never leave
    DuckDB; the tests hold both versions to the same cases."""
    bare = (
        f"regexp_replace(lower(regexp_replace({column}, "
        f"'^{_BLANK}+|{_BLANK}+$', '', 'g')), '^phash:', '')"
    )
    return (
        f"CASE WHEN regexp_full_match({bare}, '0x[0-9a-f]{{1,16}}') "
        f"THEN 'phash:' || lpad(substr({bare}, 3), 16, '0') "
        f"WHEN regexp_full_match({bare}, '[0-9a-f]{{16}}') THEN 'phash:' || {bare} END"
    )


def _time_reason(raw: str, times: TimeRange) -> str:
    return f"'expected a time (POSIX seconds or ISO 8601) {times.words}, got ' || {shown_sql(raw)}"


def build_plan(mapping: Mapping[str, str], platform: str, times: TimeRange) -> TablePlan:
    """The SQL plan for a mapped table: one post per (post id, referenced post)."""
    has = set(mapping)
    refs = [r for r in REFERENCES if r in has]
    if len(refs) > 1:
        raise MappingError(
            f"map at most one of repost_of, reply_to, quote_of (got {', '.join(refs)})."
        )
    ref = refs[0] if refs else None
    # arg_min(x, ordinal) is "x of the first row" without sorting each group.
    platform_sql = (
        f"coalesce(arg_min(platform, {ORDINAL}), {literal(platform)})"
        if "platform" in has
        else literal(platform)
    )

    def first(name: str) -> str:
        return f"arg_min({ident(name)}, {ORDINAL})" if name in has else "NULL"

    def gathered(name: str) -> str:
        # A post's media are its media values and its hashes, together.
        sources = [name, PHASH] if name == "media" else [name]
        lists = [f"list({ident(source)})" for source in sources if source in has]
        if not lists:
            return "[]::VARCHAR[]"
        values = lists[0] if len(lists) == 1 else f"list_concat({', '.join(lists)})"
        # Distinct values, sorted, NULLs dropped (list_distinct drops them).
        return f"list_sort(list_distinct({values}))"

    def listed(name: str) -> str:
        # A column given wins; else the first row's text holds the list (the row whose
        # text is the post's).
        if name in has or name not in lists_from_text(mapping):
            return gathered(name)
        if name == "urls":
            return f"arg_min({TEXT_URLS}, {ORDINAL})"
        matches = f"arg_min({ENTITIES}, {ORDINAL})"
        return hashtags_sql(matches) if name == "hashtags" else mentions_sql(matches)

    ref_key = ident(ref) if ref else "NULL"
    # A post that refers to no post (by a column) is a repost when its text says so.
    retweeted = f"arg_min({RT_HANDLE}, {ORDINAL})" if reposts_from_text(mapping) else None
    as_retweet = f"{ref_key} IS NULL AND {retweeted} IS NOT NULL" if retweeted else "false"
    own_kind = f"CASE WHEN {as_retweet} THEN 'repost' ELSE 'post' END" if retweeted else "'post'"
    ref_account = (
        f"CASE WHEN {as_retweet} THEN coalesce({first('ref_account_id')}, {retweeted}) "
        f"ELSE {first('ref_account_id')} END"
        if retweeted
        else first("ref_account_id")
    )
    post_id = (
        f"CASE WHEN count(*) OVER (PARTITION BY post_id) > 1 "
        f"THEN post_id || '~' || {ref_key} ELSE post_id END"
        if ref
        else "post_id"
    )
    posts = {
        "platform": platform_sql,
        "post_id": post_id,
        "account_id": first("account_id"),
        "created_at": "min(created_at)",
        "text": first("text"),
        "lang": first("lang"),
        "kind": (
            f"CASE WHEN {ref_key} IS NULL THEN {own_kind} ELSE {literal(REFERENCES[ref])} END"
            if ref
            else own_kind
        ),
        "ref_post_id": ref_key,
        "ref_account_id": ref_account,
        **{name: listed(name) for name in LISTS},
        "client": first("client"),
    }
    accounts = {
        "platform": platform_sql,
        "account_id": first("account_id"),
        "handle": first("handle"),
        "display_name": first("display_name"),
        "bio": first("bio"),
        "location": first("location"),
        "created_at": first("account_created_at"),
        "followers": first("followers"),
        "following": first("following"),
        "avatar": first("avatar"),
    }
    checks = [
        Check("post_id", "post_id IS NULL", "'the post id is empty; every row needs one'"),
        Check("account_id", "account_id IS NULL", "'the account id is empty; every row needs one'"),
        Check("created_at", "created_at IS NULL", _time_reason("raw_created_at", times)),
        # What a record may hold (model.py): keys without control characters, counts,
        # and the author's creation time in the range (its row is the post's record).
        *(key_check(name, ident(name), "_keys_bad") for name in KEYS if name in has),
        *(count_check(name, ident("raw_" + name), ident(name)) for name in COUNTS if name in has),
    ]
    if "account_created_at" in has:
        checks.append(
            Check(
                "account_created_at",
                "account_created_at IS NULL "
                "AND nullif(trim(raw_account_created_at), '') IS NOT NULL",
                _time_reason("raw_account_created_at", times),
            )
        )
    if PHASH in has:
        checks.append(
            Check(
                PHASH,
                f"{ident(PHASH)} IS NULL AND NOT regexp_full_match("
                f"coalesce(raw_phash, ''), '{_BLANK}*')",
                "'expected a 64-bit perceptual hash (16 hex digits, optionally after "
                "phash: or 0x), got ''' || left(raw_phash, 80) || ''''",
            )
        )
    group_by = ["post_id", ref_key] if ref else ["post_id"]
    return TablePlan(
        posts=posts,
        accounts=accounts,
        checks=checks,
        group_by=group_by,
        raw="concat_ws(',', raw_post_id, raw_account_id, raw_created_at)",
        row_identity="row(" + ", ".join(ident("raw_" + name) for name in sorted(mapping)) + ")",
    )


class TableReader(_TableBase):
    name: ClassVar[str] = "table"
    description: ClassVar[str] = "CSV or Parquet table with a column mapping (--map)"
    sniffable: ClassVar[bool] = False

    def sniff(self, head: Head) -> bool:
        return False


class CoortweetReader(_TableBase):
    name: ClassVar[str] = "coortweet"
    description: ClassVar[str] = "CooRTweet object-share table (object_id, account_id, ...)"

    def sniff(self, head: Head) -> bool:
        header = _header_names(head.first_line)
        return set(COORTWEET_SHARES.values()) <= header or set(COORTWEET_OBJECTS.values()) <= header

    def mapping_for(
        self, path: Path, header: Sequence[str], options: ReadOptions
    ) -> dict[str, str]:
        user = _normalise(options.mapping)
        if set(COORTWEET_SHARES.values()) <= set(header):
            default = dict(COORTWEET_SHARES)
        elif set(COORTWEET_OBJECTS.values()) <= set(header):
            default = dict(COORTWEET_OBJECTS)
        elif not user:
            raise FormatError(
                path,
                "this is not a CooRTweet object-share table: expected the columns "
                f"{', '.join(COORTWEET_SHARES.values())} (or "
                f"{', '.join(COORTWEET_OBJECTS.values())}), found {', '.join(header)}.",
                "Name its columns with --map, or pick another --format.",
            )
        else:
            default = {}
        if any(k in user for k in (*REFERENCES, *LISTS, PHASH)):
            # The user says what the object is: drop our guess for it.
            default.pop("repost_of", None)
        default.update(user)
        return default


def _header_names(line: str) -> set[str]:
    return {cell.strip().strip('"') for cell in re.split(r"[,\t]", line)}
