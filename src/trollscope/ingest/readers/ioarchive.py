"""Twitter's information-operations archive: the tweets CSV and the users CSV.

Twitter (now X) published the tweets and profiles of state-backed accounts it removed
(IRA, Iran, China, ...), one tweets CSV and one users CSV per release. The layout:

tweets: tweetid, userid, user_display_name, user_screen_name, user_reported_location,
  user_profile_description, user_profile_url, follower_count, following_count,
  account_creation_date, account_language, tweet_language, tweet_text, tweet_time,
  tweet_client_name, in_reply_to_userid, in_reply_to_tweetid, quoted_tweet_tweetid,
  is_retweet, retweet_userid, retweet_tweetid, latitude, longitude, quote_count,
  reply_count, like_count, retweet_count, hashtags, urls, user_mentions, poll_choices
users: the ten profile columns, userid to account_language.

What the reader does with it:

- Ids are kept as text. For accounts with fewer than 5,000 followers the releases replace
  userid, user_screen_name and user_display_name by the same hash; it is kept as given
  (it is still a stable key within a release). `123.0` is read as `123`; an id in
  scientific notation (`1.0e+18`) has lost its digits and the row is rejected.
- tweet_time is 'YYYY-MM-DD HH:MM' in UTC (minute resolution; ':SS' is accepted too);
  account_creation_date is 'YYYY-MM-DD'. Both are stored as UTC. A row whose time or
  creation date is not in that shape is rejected, not stored without it.
- Kind, when a row says several things: retweet > quote > reply. A retweet row describes
  the retweeted tweet (its text is "RT @..." and its quote/reply fields can be the
  original's), so the account's own act is the repost. A quote embeds and broadcasts its
  target like a repost with a comment, while a reply's target is where it is threaded;
  the target that loses is not dropped but kept in `extra` (in_reply_to_tweetid,
  in_reply_to_userid, quoted_tweet_tweetid). A reply with only in_reply_to_userid (a tweet
  starting with @name, not threaded) is a reply with no ref_post_id. The archive has no
  quoted user id, so a quote's ref_account_id is NULL.
- hashtags (without '#'), urls and user_mentions (user ids, hashed like userid) are
  Python-repr lists "['a', 'b']"; JSON lists and the unquoted "[a, b]" are read too.
- `extra` of a post: latitude and longitude as given (the placeholder 'absent' dropped),
  quote_count, reply_count, like_count, retweet_count as integers, poll_choices as given,
  and the losing reference ids above. `extra` of an account: profile_url.
- Every column is kept somewhere. The releases have no media column (media links are
  among `urls`), so `media` is empty, and `domains` is left empty (it derives from `urls`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal

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
from trollscope.ingest.readers.tweetsql import (
    fast_id_sql,
    fixed_columns_sql,
    header_names,
    indexed_checks,
    json_object_sql,
    lossy_reason_sql,
    no_mapping,
    problem_sql,
    pylist_sql,
    scientific_sql,
    unescape_common_sql,
)
from trollscope.model import TimeRange, count_sql
from trollscope.sql import literal

PLATFORM = "twitter"
TWEET_COLUMNS = (
    "tweetid",
    "userid",
    "user_display_name",
    "user_screen_name",
    "user_reported_location",
    "user_profile_description",
    "user_profile_url",
    "follower_count",
    "following_count",
    "account_creation_date",
    "account_language",
    "tweet_language",
    "tweet_text",
    "tweet_time",
    "tweet_client_name",
    "in_reply_to_userid",
    "in_reply_to_tweetid",
    "quoted_tweet_tweetid",
    "is_retweet",
    "retweet_userid",
    "retweet_tweetid",
    "latitude",
    "longitude",
    "quote_count",
    "reply_count",
    "like_count",
    "retweet_count",
    "hashtags",
    "urls",
    "user_mentions",
    "poll_choices",
)
USER_COLUMNS = TWEET_COLUMNS[1:11]
TWEETS_REQUIRED = ("tweetid", "userid", "tweet_time")
USERS_REQUIRED = ("userid", "user_screen_name", "account_creation_date")
# Reference ids: rejected when in scientific notation (a wrong ref id would tie unrelated
# accounts together as co-reposters of a post that does not exist).
REF_IDS = (
    "retweet_tweetid",
    "retweet_userid",
    "quoted_tweet_tweetid",
    "in_reply_to_tweetid",
    "in_reply_to_userid",
)

COUNT_COLUMNS = ("quote_count", "reply_count", "like_count", "retweet_count")
ACCOUNT_COUNTS = ("follower_count", "following_count")

# Accepted time layouts by their length: telling them apart by length first keeps
# strptime strict (alone, '%Y' would take '19' as the year 19) and costs no regex.
_TIMES = {16: "%Y-%m-%d %H:%M", 19: "%Y-%m-%d %H:%M:%S"}
_DATES = {10: "%Y-%m-%d", **_TIMES}
# is_retweet spellings. Matched with CASE, not IN: a long IN list becomes a join, which
# stops DuckDB from numbering rows in a streaming window (it would hold the whole file).
_FLAGS = {"true": True, "t": True, "1": True, "1.0": True, "yes": True}
_FLAGS |= {"false": False, "f": False, "0": False, "0.0": False, "no": False, "": False}


def _parsed(column: str, layouts: Mapping[int, str], times: TimeRange) -> str:
    """A TIMESTAMP from text in one of `layouts` (by length) within `times`, else NULL."""
    value = f"trim({column})"
    cases = " ".join(
        f"WHEN {length} THEN try_strptime({value}, {literal(fmt)})"
        for length, fmt in layouts.items()
    )
    return times.sql(f"CASE length({value}) {cases} END")


def _got(column: str) -> str:
    """SQL quoting the offending value for a reason: got '...' or got nothing."""
    return f"coalesce('''' || left({column}, 80) || '''', 'nothing')"


def _account_columns(times: TimeRange) -> str:
    """Derived account columns, shared by the tweets and users layouts."""
    created = _parsed("account_creation_date", _DATES, times)
    counts = ", ".join(f"{count_sql(name)} AS _{name}" for name in ACCOUNT_COUNTS)
    return f"{fast_id_sql('userid')} AS _account_id, {created} AS _account_created, {counts}"


def _account_map(platform: str) -> dict[str, str]:
    return {
        "platform": literal(platform),
        "account_id": "_account_id",
        "handle": "user_screen_name",
        "display_name": "user_display_name",
        "bio": "user_profile_description",
        "location": "user_reported_location",
        "created_at": "_account_created",
        "followers": "_follower_count",
        "following": "_following_count",
        "lang": "account_language",
        "extra": json_object_sql([("profile_url", "user_profile_url")]),
    }


_ACCOUNT_ID_CHECKS = (
    Check("userid", "_account_id IS NULL", "'userid is empty; every row needs one'"),
    Check("userid", scientific_sql("userid"), lossy_reason_sql("userid", "userid")),
)


def _account_checks(times: TimeRange) -> tuple[Check, ...]:
    """What a row's account must hold (model.py): a key and a handle without control
    characters, counts, and a creation date in the range. A bad creation date is
    rejected, not blanked: the releases always have a valid one, so a bad one means a
    damaged row, and the batch-creation signal relies on this field."""
    return (
        key_check("userid", "_account_id", "_keys_bad"),
        key_check("user_screen_name", "user_screen_name", "_keys_bad"),
        *(count_check(name, name, f"_{name}") for name in ACCOUNT_COUNTS),
        Check(
            "account_creation_date",
            "account_creation_date IS NOT NULL AND trim(account_creation_date) <> '' "
            "AND _account_created IS NULL",
            f"'expected account_creation_date as ''YYYY-MM-DD'' {times.words}, got ' || "
            + _got("account_creation_date"),
        ),
    )


def tweet_checks(times: TimeRange) -> tuple[Check, ...]:
    return (
        Check("tweetid", "_post_id IS NULL", "'tweetid is empty; every tweet needs its id'"),
        Check("tweetid", scientific_sql("tweetid"), lossy_reason_sql("tweetid", "tweetid")),
        *_ACCOUNT_ID_CHECKS,
        Check(
            "tweet_time",
            "_time IS NULL",
            f"'expected ''YYYY-MM-DD HH:MM'' UTC {times.words}, got ' || " + _got("tweet_time"),
        ),
        Check(
            "is_retweet",
            "_is_retweet IS NULL",
            "'expected is_retweet as True/False or 1/0, got ' || " + _got("is_retweet"),
        ),
        *(Check(name, scientific_sql(name), lossy_reason_sql(name, name)) for name in REF_IDS),
        key_check("tweetid", "_post_id", "_keys_bad"),
        *(key_check(name, f"_{name}", "_keys_bad") for name in REF_IDS),
        *(count_check(name, name, f"_{name}") for name in COUNT_COLUMNS),
        *_account_checks(times),
    )


def user_checks(times: TimeRange) -> tuple[Check, ...]:
    return (*_ACCOUNT_ID_CHECKS, *_account_checks(times))


def tweets_source(source: str, times: TimeRange) -> str:
    """The tweets CSV with parsed ids, times, counts and kind, under `_`-prefixed names."""
    time = _parsed("tweet_time", _TIMES, times)
    flag = "lower(trim(coalesce(is_retweet, '')))"
    flags = " ".join(f"WHEN {literal(k)} THEN {str(v).lower()}" for k, v in _FLAGS.items())
    ids = ", ".join(f"{fast_id_sql(name)} AS _{name}" for name in REF_IDS)
    counts = ", ".join(f"{count_sql(name)} AS _{name}" for name in COUNT_COLUMNS)
    parsed = (
        f"SELECT *, {fast_id_sql('tweetid')} AS _post_id, {_account_columns(times)}, "
        f"{time} AS _time, CASE {flag} {flags} END AS _is_retweet, {ids}, {counts}, "
        f"{keys_guard_sql(['tweetid', 'userid', 'user_screen_name', *REF_IDS])} AS _keys_bad, "
        f"{unescape_common_sql('hashtags')} AS _hashtags FROM {source}"
    )
    kind = (
        "CASE WHEN _is_retweet OR _retweet_tweetid IS NOT NULL THEN 'repost' "
        "WHEN _quoted_tweet_tweetid IS NOT NULL THEN 'quote' "
        "WHEN _in_reply_to_tweetid IS NOT NULL OR _in_reply_to_userid IS NOT NULL "
        "THEN 'reply' ELSE 'post' END"
    )
    problem = problem_sql(tweet_checks(times))
    return f"(SELECT *, {kind} AS _kind, {problem} AS _problem FROM ({parsed}))"


def _placeholder_null(column: str) -> str:
    return f"CASE WHEN trim({column}) IN ('', 'absent') THEN NULL ELSE {column} END"


def tweets_plan(platform: str, times: TimeRange) -> TablePlan:
    extra = json_object_sql(
        [
            ("latitude", _placeholder_null("latitude")),
            ("longitude", _placeholder_null("longitude")),
            *((name, f"_{name}") for name in COUNT_COLUMNS),
            ("poll_choices", "nullif(trim(poll_choices), '')"),
            ("in_reply_to_tweetid", "CASE WHEN _kind <> 'reply' THEN _in_reply_to_tweetid END"),
            ("in_reply_to_userid", "CASE WHEN _kind <> 'reply' THEN _in_reply_to_userid END"),
            ("quoted_tweet_tweetid", "CASE WHEN _kind <> 'quote' THEN _quoted_tweet_tweetid END"),
        ]
    )
    posts: Mapping[str, str] = {
        "platform": literal(platform),
        "post_id": "_post_id",
        "account_id": "_account_id",
        "created_at": "_time",
        "text": "tweet_text",
        "lang": "tweet_language",
        "kind": "_kind",
        "ref_post_id": (
            "CASE _kind WHEN 'repost' THEN _retweet_tweetid WHEN 'quote' "
            "THEN _quoted_tweet_tweetid WHEN 'reply' THEN _in_reply_to_tweetid END"
        ),
        "ref_account_id": (
            "CASE _kind WHEN 'repost' THEN _retweet_userid "
            "WHEN 'reply' THEN _in_reply_to_userid END"
        ),
        "hashtags": pylist_sql("_hashtags"),
        "urls": pylist_sql("urls"),
        "mentions": pylist_sql("user_mentions"),
        "media": "[]::VARCHAR[]",
        "domains": "[]::VARCHAR[]",
        "client": "tweet_client_name",
        "extra": extra,
    }
    return TablePlan(
        posts=posts,
        accounts=_account_map(platform),
        checks=indexed_checks(tweet_checks(times)),
        raw="left(concat_ws(',', tweetid, userid, tweet_time, tweet_text), 500)",
    )


def users_plan(platform: str, times: TimeRange) -> TablePlan:
    return TablePlan(
        posts=None,
        accounts=_account_map(platform),
        checks=indexed_checks(user_checks(times)),
        raw="left(concat_ws(',', userid, user_screen_name, account_creation_date), 500)",
    )


class _ArchiveReader(SqlTableReader):
    version: ClassVar[str] = "1"
    columns: ClassVar[tuple[str, ...]]
    required: ClassVar[tuple[str, ...]]

    def plan(self, platform: str, times: TimeRange) -> TablePlan:
        raise NotImplementedError

    def source(self, projected: str, times: TimeRange) -> str:
        return projected

    def query(self, path: Path, options: ReadOptions) -> TableQuery:
        no_mapping(path, options, self.name)
        header = read_csv_header(path, self.description)
        require_columns(path, header, self.required, self.description)
        projected = fixed_columns_sql(csv_source(path, header), header, self.columns)
        plan = self.plan(options.platform or PLATFORM, options.times)
        return TableQuery(path, self.source(projected, options.times), plan, is_csv=True)


class IoTweetsReader(_ArchiveReader):
    name: ClassVar[str] = "io-tweets"
    description: ClassVar[str] = (
        "Twitter information-operations tweets CSV (tweetid, userid, tweet_time, ...)"
    )
    columns: ClassVar[tuple[str, ...]] = TWEET_COLUMNS
    required: ClassVar[tuple[str, ...]] = TWEETS_REQUIRED

    def sniff(self, head: Head) -> bool:
        return set(TWEETS_REQUIRED) <= header_names(head.first_line)

    def plan(self, platform: str, times: TimeRange) -> TablePlan:
        return tweets_plan(platform, times)

    def source(self, projected: str, times: TimeRange) -> str:
        return tweets_source(projected, times)


class IoUsersReader(_ArchiveReader):
    name: ClassVar[str] = "io-users"
    description: ClassVar[str] = (
        "Twitter information-operations users CSV (userid, user_screen_name, "
        "account_creation_date, ...)"
    )
    unit: ClassVar[Literal["posts", "accounts"]] = "accounts"
    columns: ClassVar[tuple[str, ...]] = USER_COLUMNS
    required: ClassVar[tuple[str, ...]] = USERS_REQUIRED

    def sniff(self, head: Head) -> bool:
        names = header_names(head.first_line)
        return set(USERS_REQUIRED) <= names and "tweetid" not in names

    def plan(self, platform: str, times: TimeRange) -> TablePlan:
        return users_plan(platform, times)

    def source(self, projected: str, times: TimeRange) -> str:
        guard = keys_guard_sql(["userid", "user_screen_name"])
        checked = f"(SELECT *, {_account_columns(times)}, {guard} AS _keys_bad FROM {projected})"
        return f"(SELECT *, {problem_sql(user_checks(times))} AS _problem FROM {checked})"
