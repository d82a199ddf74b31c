"""The FiveThirtyEight / Clemson release of IRA tweets (russian-troll-tweets).

About 3 million tweets of 2,848 Internet Research Agency handles, coded by Linvill and
Warren, in 13 CSVs of 21 columns: external_author_id, author, content, region, language,
publish_date, harvested_date, following, followers, updates, post_type, account_type,
retweet, account_category, new_june_2018, alt_external_id, tweet_id, article_url,
tco1_step1, tco2_step1, tco3_step1.

What the reader does with it:

- Ids. The exact ids live in article_url, "http://twitter.com/<user id>/statuses/<tweet
  id>", which no number parser has touched; they are taken from there first. In the
  release itself external_author_id is already float-rounded ("906000000000000000" for
  user 905874659358453760), and a file that went through a spreadsheet has every id
  column in scientific notation ("9.06E+17", tweet_id "9.1458E+17"). So: post_id =
  article_url's tweet id, else tweet_id; account_id = article_url's user id, else
  alt_external_id, else external_author_id; an id column in scientific notation is never
  used. A row with no exact id left is rejected with how to fix it (export ids as text).
- publish_date is 'M/D/YYYY H:MM' in UTC (minute precision); after a spreadsheet it is
  'M/D/YY H:MM' (two-digit years 00-68 are 20xx, 69-99 are 19xx, as DuckDB's %y reads them;
  the release's tweets are all from this century).
- Kind: post_type RETWEET -> repost, QUOTE_TWEET -> quote (those rows also have
  retweet=1), an empty post_type with retweet=1 -> repost, else post. The release has no
  id of the reposted or quoted tweet, so ref_post_id and ref_account_id are NULL; the
  expanded links (tco*_step1) often point at a twitter.com status, but that can be media
  of a third tweet, so it is not taken as the reference. Replies are not marked either
  (their content starts with "'@name"); they stay posts.
- urls: the expanded links tco1_step1..tco3_step1 as given. hashtags and mentions: taken
  from the content by the project's one definition (`entities.py`), without '#' / '@'.
- language is a language name ("English"); common names are mapped to ISO 639-1 codes
  (as other readers store), "LANGUAGE UNDEFINED" to "und", others kept as given.
- region (Social Studio's guess) is the account's location; its placeholder "Unknown" is
  stored as NULL. author is the handle; following/followers are the account's counts.
- extra of an account: account_type, account_category, new_june_2018; of a post:
  harvested_date (as given) and updates.
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
from trollscope.model import TimeRange, count_sql
from trollscope.sql import literal

PLATFORM = "twitter"
COLUMNS = (
    "external_author_id",
    "author",
    "content",
    "region",
    "language",
    "publish_date",
    "harvested_date",
    "following",
    "followers",
    "updates",
    "post_type",
    "account_type",
    "retweet",
    "account_category",
    "new_june_2018",
    "alt_external_id",
    "tweet_id",
    "article_url",
    "tco1_step1",
    "tco2_step1",
    "tco3_step1",
)

# Counts: the account's followers and following, and its tweets so far (`updates`).
COUNTS = ("followers", "following", "updates")
REQUIRED = ("external_author_id", "author", "content", "publish_date")
NO_REGION = "Unknown"
# Language names as the release writes them -> ISO 639-1 (the codes other readers store).
LANGUAGE_CODES = {
    "Albanian": "sq",
    "Arabic": "ar",
    "Bulgarian": "bg",
    "Catalan": "ca",
    "Croatian": "hr",
    "Czech": "cs",
    "Danish": "da",
    "Dutch": "nl",
    "English": "en",
    "Estonian": "et",
    "Farsi (Persian)": "fa",
    "Finnish": "fi",
    "French": "fr",
    "German": "de",
    "Greek": "el",
    "Hebrew": "he",
    "Hindi": "hi",
    "Hungarian": "hu",
    "Icelandic": "is",
    "Indonesian": "id",
    "Italian": "it",
    "Japanese": "ja",
    "Korean": "ko",
    "Kurdish": "ku",
    "LANGUAGE UNDEFINED": "und",
    "Latvian": "lv",
    "Lithuanian": "lt",
    "Macedonian": "mk",
    "Malay": "ms",
    "Norwegian": "no",
    "Polish": "pl",
    "Portuguese": "pt",
    "Pushto": "ps",
    "Romanian": "ro",
    "Russian": "ru",
    "Serbian": "sr",
    "Simplified Chinese": "zh",
    "Slovak": "sk",
    "Slovenian": "sl",
    "Somali": "so",
    "Spanish": "es",
    "Swedish": "sv",
    "Tagalog (Filipino)": "tl",
    "Thai": "th",
    "Traditional Chinese": "zh",
    "Turkish": "tr",
    "Ukrainian": "uk",
    "Urdu": "ur",
    "Uzbek": "uz",
    "Vietnamese": "vi",
}

_STATUS_URL = r"^\s*https?://(?:www\.|mobile\.)?twitter\.com/([0-9]+)/status(?:es)?/([0-9]+)"
_LONG_YEAR = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4} [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?"
_SHORT_YEAR = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2} [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?"
_HOW_TO_FIX = (
    " A spreadsheet or a float column rounds ids and their digits are lost: re-export the "
    "file with the id columns as text, or keep article_url, which holds both exact ids."
)


def _exact(column: str) -> str:
    """The id in `column` unless it is in scientific notation (then its digits are gone)."""
    return f"CASE WHEN NOT {scientific_sql(column)} THEN {fast_id_sql(column)} END"


def _time(column: str, times: TimeRange) -> str:
    value = f"trim({column})"
    return times.sql(
        f"CASE WHEN regexp_full_match({value}, {literal(_LONG_YEAR)}) "
        f"THEN try_strptime({value}, ['%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M']) "
        f"WHEN regexp_full_match({value}, {literal(_SHORT_YEAR)}) "
        f"THEN try_strptime({value}, ['%m/%d/%y %H:%M:%S', '%m/%d/%y %H:%M']) END"
    )


def _language(column: str) -> str:
    cases = " ".join(
        f"WHEN {literal(name)} THEN {literal(code)}"
        for name, code in sorted(LANGUAGE_CODES.items())
    )
    return f"CASE {column} {cases} ELSE {column} END"


def ira_source(projected: str, times: TimeRange) -> str:
    """The release with exact ids, parsed time, counts and kind, under `_`-prefixed names."""
    url_user = f"nullif(regexp_extract(article_url, {literal(_STATUS_URL)}, 1), '')"
    url_tweet = f"nullif(regexp_extract(article_url, {literal(_STATUS_URL)}, 2), '')"
    post_type = "upper(trim(coalesce(post_type, '')))"
    kind = (
        f"CASE WHEN {post_type} = 'RETWEET' THEN 'repost' "
        f"WHEN {post_type} = 'QUOTE_TWEET' THEN 'quote' "
        f"WHEN {post_type} = '' AND lower(trim(retweet)) IN ('1', '1.0', 'true') "
        "THEN 'repost' ELSE 'post' END"
    )
    account = f"coalesce({url_user}, {_exact('alt_external_id')}, {_exact('external_author_id')})"
    return (
        f"(SELECT *, coalesce({url_tweet}, {_exact('tweet_id')}) AS _post_id, "
        f"{account} AS _account_id, {_time('publish_date', times)} AS _time, {kind} AS _kind, "
        f"{', '.join(f'{count_sql(name)} AS _{name}' for name in COUNTS)}, "
        f"{keys_guard_sql(['tweet_id', 'alt_external_id', 'external_author_id', 'author'])} "
        "AS _keys_bad, "
        f"{entity_matches_sql('content')} AS _entities "
        f"FROM {projected})"
    )


def _lost(column: str) -> str:
    """Why an id column gave no exact id: it is empty, or in scientific notation."""
    return (
        f"CASE WHEN trim(coalesce({column}, '')) = '' THEN '{column} is empty' "
        f"ELSE '{column} ' || {quoted_sql(column)} || ' is in scientific notation' END"
    )


def _no_link() -> str:
    return (
        "CASE WHEN trim(coalesce(article_url, '')) = '' THEN 'article_url is empty' "
        f"ELSE 'article_url ' || {quoted_sql('article_url')} || ' is not a "
        "twitter.com/<user id>/statuses/<tweet id> link' END"
    )


def ira_plan(platform: str, times: TimeRange) -> TablePlan:
    posts = {
        "platform": literal(platform),
        "post_id": "_post_id",
        "account_id": "_account_id",
        "created_at": "_time",
        "text": "content",
        "lang": _language("language"),
        "kind": "_kind",
        "hashtags": hashtags_sql("_entities"),
        "urls": "list_filter([tco1_step1, tco2_step1, tco3_step1], lambda u: u IS NOT NULL)",
        "mentions": mentions_sql("_entities"),
        "media": "[]::VARCHAR[]",
        "domains": "[]::VARCHAR[]",
        "extra": json_object_sql([("harvested_date", "harvested_date"), ("updates", "_updates")]),
    }
    accounts = {
        "platform": literal(platform),
        "account_id": "_account_id",
        "handle": "author",
        "location": f"CASE WHEN trim(region) = {literal(NO_REGION)} THEN NULL ELSE region END",
        "followers": "_followers",
        "following": "_following",
        "extra": json_object_sql(
            [(name, name) for name in ("account_type", "account_category", "new_june_2018")]
        ),
    }
    checks = [
        Check(
            "tweet_id",
            "_post_id IS NULL",
            f"'no exact tweet id: ' || {_lost('tweet_id')} || ', and ' || {_no_link()} || '.' "
            f"|| {literal(_HOW_TO_FIX)}",
        ),
        Check(
            "external_author_id",
            "_account_id IS NULL",
            f"'no exact account id: ' || {_no_link()} || ', ' || {_lost('alt_external_id')} "
            f"|| ' and ' || {_lost('external_author_id')} || '.' || {literal(_HOW_TO_FIX)}",
        ),
        Check(
            "publish_date",
            "_time IS NULL",
            "'expected publish_date as ''M/D/YYYY H:MM'' UTC (or ''M/D/YY H:MM'') "
            f"{times.words}, got ' || " + quoted_sql("publish_date"),
        ),
        # What a record may hold (model.py); the account's fields are on the post's row.
        key_check("tweet_id", "_post_id", "_keys_bad"),
        key_check("external_author_id", "_account_id", "_keys_bad"),
        key_check("author", "author", "_keys_bad"),
        *(count_check(name, name, f"_{name}") for name in COUNTS),
    ]
    return TablePlan(
        posts=posts,
        accounts=accounts,
        checks=checks,
        raw="left(concat_ws(',', external_author_id, author, publish_date, tweet_id, "
        "article_url), 500)",
    )


class IraReader(SqlTableReader):
    name: ClassVar[str] = "ira"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "FiveThirtyEight IRA tweets CSV (external_author_id, author, content, publish_date, ...)"
    )

    def sniff(self, head: Head) -> bool:
        return set(REQUIRED) <= header_names(head.first_line)

    def query(self, path: Path, options: ReadOptions) -> TableQuery:
        no_mapping(path, options, self.name)
        header = read_csv_header(path, self.description)
        require_columns(path, header, REQUIRED, self.description)
        projected = fixed_columns_sql(csv_source(path, header), header, COLUMNS)
        plan = ira_plan(options.platform or PLATFORM, options.times)
        return TableQuery(path, ira_source(projected, options.times), plan, is_csv=True)
