"""CrowdTangle's dashboard CSV exports (Facebook pages, Facebook groups, Instagram): `crowdtangle`.

CrowdTangle (Meta's monitoring tool, closed in August 2024) let researchers export the
posts of a list or a search as CSV ("historical data"). Those exports are what CooRnet
users and many takedown studies hold. The Facebook pages export (since 2021) has these
columns, in this order:

    Page Name, User Name, Facebook Id, Page Category, Page Admin Top Country,
    Page Description, Page Created, Likes at Posting, Followers at Posting, Post Created,
    Post Created Date, Post Created Time, Type, Total Interactions, Likes, Comments,
    Shares, Love, Wow, Haha, Sad, Angry, Care, Video Share Status, Is Video Owner?,
    Post Views, Total Views, Total Views For All Crossposts, Video Length, URL, Message,
    Link, Final Link, Image Text, Link Text, Description, Sponsor Id, Sponsor Name,
    Sponsor Category, Total Interactions (weighted ...), Overperforming Score

A group export names the group in "Group Name"; an Instagram export has "Account" (the
name) and "User Name" (the handle) and no Facebook Id, and its caption is in
"Description". Older exports lack some columns: only User Name, URL and Post Created are
required, the rest may be absent.

What the reader does with it:

- Ids. The export has no post id: the post's permalink (URL) identifies it, and is the
  post_id. The account is its Facebook Id (a page or group id; in scientific notation it
  has lost digits and the row is rejected, as in the IRA reader); on Instagram, which
  has no id column, the handle (User Name).
- Time. Post Created is local time in the exporting user's dashboard zone, with that
  zone's label: "2021-07-05 18:02:45 BRT"; EST and EDT alternate within one file. A label
  that names one offset (EST, CEST, BRT, SGT, "+03", "UTC-3", ...: `ZONES`) gives the
  UTC time. A label that names several (CST is US Central or China; `AMBIGUOUS`), one
  not in the table, or none: the user names the zone with `--timezone` (an IANA name,
  DST-aware); without it the row is rejected saying so. Page Created has no label and is
  taken in the same zone as its row's Post Created (an assumption; at worst an hour off
  across a DST change).
- Platform: facebook when the header has Facebook Id, else instagram (--platform
  overrides).
- Text: Message (Facebook) or, in an export without Message, Description (Instagram's
  caption). hashtags and mentions come from it (`entities.py`; in an Instagram export a
  handle keeps its inner dots, "@freedom.voice"). urls: the shared link after redirects
  (Final Link), else Link, unless it points at the post itself (a photo's own page,
  Instagram's permalink). Every post is kind `post`: the export does not mark shares of
  other posts.
- Profile: Page Name / Group Name / Account is the display name, User Name the handle,
  Page Description the bio, Followers at Posting (else Likes at Posting) the followers.
  Page Admin Top Country (the country most of the page's admins are in, as Facebook
  reports it, not self-reported) is the location: farms run from abroad show there.
- Counts are written in the exporter's locale ("407.137" or "407,137"): digits only.
- extra of a post: type, total_interactions, likes, comments, shares, link (Link, when
  Final Link differs), link_text, image_text, description (Facebook: the link preview),
  title, sponsor_name; of an account: page_category.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from trollscope.ingest.readers.base import Head, ReadOptions
from trollscope.ingest.readers.csvsql import (
    Check,
    SqlTableReader,
    TablePlan,
    TableQuery,
    count_check,
    csv_source,
    key_check,
    keys_guard_sql,
    read_csv_header,
    require_columns,
)
from trollscope.ingest.readers.entities import entity_matches_sql, hashtags_sql, mentions_sql
from trollscope.ingest.readers.tweetsql import (
    fast_id_sql,
    fixed_columns_sql,
    header_names,
    json_object_sql,
    no_mapping,
    quoted_sql,
    scientific_sql,
)
from trollscope.model import TimeRange, shown_sql
from trollscope.sql import ident, literal

COLUMNS = (
    "Page Name",
    "Group Name",
    "Account",
    "User Name",
    "Facebook Id",
    "Page Category",
    "Page Admin Top Country",
    "Page Description",
    "Page Created",
    "Likes at Posting",
    "Followers at Posting",
    "Post Created",
    "Type",
    "Total Interactions",
    "Likes",
    "Comments",
    "Shares",
    "URL",
    "Message",
    "Link",
    "Final Link",
    "Image Text",
    "Link Text",
    "Description",
    "Title",
    "Sponsor Name",
)
REQUIRED = ("User Name", "URL", "Post Created")
# The counts of a row: the page's (followers, else likes) and the post's.
COUNTS = (
    "Likes at Posting",
    "Followers at Posting",
    "Total Interactions",
    "Likes",
    "Comments",
    "Shares",
)
# A count as exports write it: digits, in groups of three after a locale's separator.
_LOCALE_COUNT = "[0-9]+|[0-9]{1,3}([.,' \u00a0\u202f\u2019][0-9]{3})+"
LABEL = "CrowdTangle CSV export"

# Zone labels that name one UTC offset (minutes east of UTC). CrowdTangle writes the
# dashboard zone's abbreviation; tzdata's numeric labels ("+03") are parsed separately.
ZONES: dict[str, int] = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 60,
    "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "WAT": 60,
    "EET": 120, "EEST": 180, "SAST": 120, "CAT": 120,
    "MSK": 180, "EAT": 180, "TRT": 180, "IDT": 180,
    "IRST": 210, "IRDT": 270, "GST": 240, "GET": 240,
    "PKT": 300, "NPT": 345, "ICT": 420, "WIB": 420,
    "HKT": 480, "SGT": 480, "MYT": 480, "PHT": 480, "AWST": 480, "WITA": 480,
    "JST": 540, "KST": 540, "WIT": 540, "ACST": 570, "ACDT": 630,
    "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
    "NST": -210, "NDT": -150, "ADT": -180,
    "BRT": -180, "BRST": -120, "ART": -180, "UYT": -180, "CLST": -180,
    "CLT": -240, "PYT": -240, "BOT": -240, "VET": -240,
    "EST": -300, "EDT": -240, "COT": -300, "PET": -300, "ECT": -300,
    "CDT": -300, "MST": -420, "MDT": -360, "PDT": -420,
    "AKST": -540, "AKDT": -480, "HST": -600,
}  # fmt: skip
# Labels in use for more than one offset: the user must say which (--timezone).
AMBIGUOUS: dict[str, str] = {
    "CST": "US Central (UTC-06:00) or China (UTC+08:00)",
    "IST": "India (UTC+05:30), Ireland (UTC+01:00) or Israel (UTC+02:00)",
    "PST": "US Pacific (UTC-08:00) or the Philippines (UTC+08:00)",
    "AST": "Atlantic (UTC-04:00) or Arabia (UTC+03:00)",
    "BST": "British Summer Time (UTC+01:00) or Bangladesh (UTC+06:00)",
}
_STAMP = r"^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)\s*(.*)$"
_NUMERIC_ZONE = r"^(?:UTC|GMT)?([+-])([0-9]{1,2})(?::?([0-9]{2}))?$"
_FORMATS = "['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M']"


def _offset_sql(label: str) -> str:
    """Minutes east of UTC that a zone label names, or NULL (ambiguous, unknown, none)."""
    named = " ".join(f"WHEN {literal(k)} THEN {v}" for k, v in sorted(ZONES.items()))
    sign = f"CASE regexp_extract({label}, {literal(_NUMERIC_ZONE)}, 1) WHEN '-' THEN -1 ELSE 1 END"
    hours = f"CAST(regexp_extract({label}, {literal(_NUMERIC_ZONE)}, 2) AS INTEGER)"
    minutes = (
        f"coalesce(TRY_CAST(regexp_extract({label}, {literal(_NUMERIC_ZONE)}, 3) AS INTEGER), 0)"
    )
    return (
        f"CASE WHEN {label} = '' THEN NULL "
        f"WHEN regexp_full_match({label}, {literal(_NUMERIC_ZONE)}) "
        f"THEN {sign} * ({hours} * 60 + {minutes}) ELSE CASE {label} {named} END END"
    )


def _local_sql(stamp: str) -> str:
    """The wall-clock part of a CrowdTangle time as a TIMESTAMP, or NULL."""
    return f"try_strptime(regexp_extract({stamp}, {literal(_STAMP)}, 1), {_FORMATS})"


def _utc_sql(local: str, offset: str, timezone: str | None, times: TimeRange) -> str:
    """UTC time from a wall-clock time and its row's offset, else the --timezone zone;
    NULL outside `times`."""
    fallback = f"CAST(timezone({literal(timezone)}, {local}) AS TIMESTAMP)" if timezone else "NULL"
    return times.sql(
        f"CASE WHEN {offset} IS NOT NULL THEN {local} - to_minutes(CAST({offset} AS BIGINT)) "
        f"ELSE {fallback} END"
    )


def _count_sql(column: str) -> str:
    """A count written in any locale ('407.137', '407,137', '407 137', '407137') as
    BIGINT; NULL when empty or not a count (negative, '12K', beyond 64 bits)."""
    value = f"trim({column})"
    return (
        f"CASE WHEN regexp_full_match({value}, {literal(_LOCALE_COUNT)}) "
        f"THEN TRY_CAST(regexp_replace({value}, '[^0-9]', '', 'g') AS BIGINT) END"
    )


def _count_name(column: str) -> str:
    return f"_count{COUNTS.index(column)}"


def _nonempty(column: str) -> str:
    return f"nullif(trim({column}), '')"


def crowdtangle_source(
    projected: str, id_column: str, text: str, timezone: str | None, times: TimeRange
) -> str:
    """The export with ids, times and entities resolved, under `_`-prefixed names."""
    column = ident(id_column)
    # A numeric id in scientific notation has lost digits; a handle ("1e5") has not.
    account = (
        f"CASE WHEN NOT {scientific_sql(column)} THEN {fast_id_sql(column)} END"
        if id_column == "Facebook Id"
        else fast_id_sql(column)
    )
    stamp = f"trim({ident('Post Created')})"
    page_stamp = f"trim({ident('Page Created')})"
    label = f"upper(trim(regexp_extract({stamp}, {literal(_STAMP)}, 3)))"
    inner = (
        f"(SELECT *, {fast_id_sql(ident('URL'))} AS _post_id, {account} AS _account_id, "
        f"{_local_sql(stamp)} AS _local, {label} AS _label, "
        f"{_local_sql(page_stamp)} AS _page_local, "
        f"{entity_matches_sql(text, dotted=id_column == 'User Name')} AS _entities, "
        f"{keys_guard_sql([ident('URL'), column, ident('User Name')])} AS _keys_bad, "
        + ", ".join(f"{_count_sql(ident(c))} AS {_count_name(c)}" for c in COUNTS)
        + f" FROM {projected})"
    )
    return (
        f"(SELECT *, {_utc_sql('_local', '_offset', timezone, times)} AS _time, "
        f"{_utc_sql('_page_local', '_offset', timezone, times)} AS _page_created "
        f"FROM (SELECT *, {_offset_sql('_label')} AS _offset FROM {inner}))"
    )


def _time_reason(times: TimeRange) -> str:
    """Why Post Created gave no UTC time, and how to fix it."""
    ambiguous = " ".join(
        f"WHEN {literal(k)} THEN {literal(f'the zone {k} could be {v}')}"
        for k, v in sorted(AMBIGUOUS.items())
    )
    how = literal(
        "; name the dashboard's time zone with --timezone (an IANA name such as "
        "America/Chicago or Asia/Manila)"
    )
    return (
        f"CASE WHEN _local IS NOT NULL AND {times.sql('_local')} IS NULL THEN "
        f"'Post Created ' || {quoted_sql(ident('Post Created'))} || ' is not {times.words}' "
        "WHEN _local IS NULL THEN 'expected Post Created as ''YYYY-MM-DD HH:MM:SS "
        f"ZONE'' (e.g. ''2021-07-05 18:02:45 EDT''), got ' || {quoted_sql(ident('Post Created'))} "
        f"ELSE CASE _label WHEN '' THEN 'Post Created ' || {quoted_sql(ident('Post Created'))} "
        f"|| ' has no time zone' {ambiguous} "
        "ELSE 'the time zone ' || _label || ' of Post Created is not one trollscope knows' "
        f"END || {how} END"
    )


def crowdtangle_plan(platform: str, id_column: str, text: str, times: TimeRange) -> TablePlan:
    final_link = _nonempty(ident("Final Link"))
    link = _nonempty(ident("Link"))
    # A link to the post itself (Instagram's Link, a Facebook photo's own page) is not a
    # shared link: as a co-link key it would only ever match its own post.
    own = "rtrim(_post_id, '/')"
    shared = (
        f"CASE WHEN NOT starts_with(coalesce({final_link}, {link}), {own}) "
        f"THEN coalesce({final_link}, {link}) END"
    )
    posts = {
        "platform": literal(platform),
        "post_id": "_post_id",
        "account_id": "_account_id",
        "created_at": "_time",
        "text": text,
        "kind": "'post'",
        "hashtags": hashtags_sql("_entities"),
        "urls": f"list_filter([{shared}], lambda u: u IS NOT NULL)",
        "mentions": mentions_sql("_entities"),
        "media": "[]::VARCHAR[]",
        "domains": "[]::VARCHAR[]",
        "extra": json_object_sql(
            [
                ("type", _nonempty(ident("Type"))),
                ("total_interactions", _count_name("Total Interactions")),
                ("likes", _count_name("Likes")),
                ("comments", _count_name("Comments")),
                ("shares", _count_name("Shares")),
                ("link", f"CASE WHEN {final_link} <> {link} THEN {link} END"),
                ("link_text", _nonempty(ident("Link Text"))),
                ("image_text", _nonempty(ident("Image Text"))),
                (
                    "description",
                    _nonempty(ident("Description")) if text != ident("Description") else "NULL",
                ),
                ("title", _nonempty(ident("Title"))),
                ("sponsor_name", _nonempty(ident("Sponsor Name"))),
            ]
        ),
    }
    accounts = {
        "platform": literal(platform),
        "account_id": "_account_id",
        "handle": _nonempty(ident("User Name")),
        "display_name": (
            f"coalesce({_nonempty(ident('Page Name'))}, {_nonempty(ident('Group Name'))}, "
            f"{_nonempty(ident('Account'))})"
        ),
        "bio": _nonempty(ident("Page Description")),
        "location": _nonempty(ident("Page Admin Top Country")),
        "created_at": "_page_created",
        "followers": (
            f"coalesce({_count_name('Followers at Posting')}, {_count_name('Likes at Posting')})"
        ),
        "extra": json_object_sql([("page_category", _nonempty(ident("Page Category")))]),
    }
    checks = [
        Check(
            "URL", "_post_id IS NULL", "'URL is empty: the post''s link is its id in this export'"
        ),
        Check(
            id_column,
            "_account_id IS NULL",
            f"CASE WHEN {scientific_sql(ident(id_column))} THEN {literal(id_column)} || ' ' "
            f"|| {quoted_sql(ident(id_column))} || ' is in scientific notation: a spreadsheet "
            "rounded it and its digits are lost; re-export the file with ids as text' "
            f"ELSE {literal(id_column + ' is empty')} END",
        ),
        Check("Post Created", "_time IS NULL", _time_reason(times)),
        # What a record may hold (model.py); the page's fields are on the post's row.
        key_check("URL", "_post_id", "_keys_bad"),
        key_check(id_column, "_account_id", "_keys_bad"),
        *(
            [key_check("User Name", ident("User Name"), "_keys_bad")]
            if id_column != "User Name"
            else []
        ),
        *(count_check(c, ident(c), _count_name(c)) for c in COUNTS),
        Check(
            "Page Created",
            f"_page_created IS NULL AND nullif(trim({ident('Page Created')}), '') IS NOT NULL",
            "'expected Page Created as ''YYYY-MM-DD HH:MM:SS'' "
            f"{times.words}, got ' || {shown_sql(ident('Page Created'))}",
        ),
    ]
    return TablePlan(
        posts=posts,
        accounts=accounts,
        checks=checks,
        raw=(
            f"left(concat_ws(',', {ident('User Name')}, {ident('Facebook Id')}, "
            f"{ident('Post Created')}, {ident('URL')}), 500)"
        ),
    )


class CrowdTangleReader(SqlTableReader):
    name: ClassVar[str] = "crowdtangle"
    version: ClassVar[str] = "1"
    takes_timezone: ClassVar[bool] = True
    description: ClassVar[str] = (
        "CrowdTangle dashboard CSV export: Facebook pages or groups, Instagram "
        "(User Name, URL, Post Created, ...)"
    )

    def sniff(self, head: Head) -> bool:
        return set(REQUIRED) <= header_names(head.first_line.lstrip("\ufeff"))

    def query(self, path: Path, options: ReadOptions) -> TableQuery:
        no_mapping(path, options, self.name)
        header = read_csv_header(path, LABEL)
        require_columns(path, header, REQUIRED, LABEL)
        # Instagram exports have no id column: the handle is the account's id there.
        on_facebook = "Facebook Id" in header
        id_column = "Facebook Id" if on_facebook else "User Name"
        platform = options.platform or ("facebook" if on_facebook else "instagram")
        # Instagram's caption is in Description; on Facebook that is the link preview.
        caption_only = "Message" not in header and "Description" in header
        text = ident("Description" if caption_only else "Message")
        projected = fixed_columns_sql(csv_source(path, header), header, COLUMNS)
        source = crowdtangle_source(projected, id_column, text, options.timezone, options.times)
        plan = crowdtangle_plan(platform, id_column, text, options.times)
        return TableQuery(path, source, plan, is_csv=True)
