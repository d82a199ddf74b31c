"""Traces: every co-action signal as rows (platform, account_id, key, t, post_id).

A trace says "this account did this keyed thing at this time". Two accounts that share a
key within a window are co-actors (see `engine.py`). One registry, `TRACES`, feeds the
CLI choices, dispatch, docs and tests. Each trace is a SQL query over the case's `posts`.

Built here so far: co-repost, co-reply, co-quote, co-mention, co-hashtag, co-link,
co-text. Still to build (issue 4): near-duplicate text (MinHash/LSH), co-image, batch
creation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Trace:
    """One co-action signal.

    `sql` selects platform, account_id, key, t (TIMESTAMP, UTC) and post_id from `posts`.
    `window` is the default co-action window in seconds (0: same key, any time).
    `meaning` says what sharing the key means and what it does not prove.
    """

    name: str
    window: float
    sql: str
    meaning: str


def _reference(kind: str) -> str:
    return (
        "SELECT platform, account_id, ref_post_id AS key, created_at AS t, post_id "
        f"FROM posts WHERE kind = '{kind}' AND ref_post_id IS NOT NULL"
    )


# Hashtags are compared case-folded, with Arabic letter variants written as their Persian
# forms (ي/ی, ك/ک) and tatweel and zero-width joiners removed, so that the same tag typed
# on different keyboards is one key.
_FOLD = (
    "lower(replace(replace(replace(replace(replace(nfc_normalize({x}), 'ي', 'ی'), "
    "'ك', 'ک'), 'ـ', ''), '\u200c', ''), '\u200d', ''))"
)

# URLs: scheme and host lower-cased, fragment dropped, tracking parameters (utm_*, fbclid,
# gclid) removed, a trailing '?' or '/' dropped. An empty URL is never a key.
_URL = (
    "regexp_replace(regexp_replace(regexp_replace(regexp_replace("
    "lower(regexp_extract({x}, '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*')) || "
    "regexp_replace({x}, '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*', ''), "
    "'#.*$', ''), "
    "'([?&])(utm_[^=&]*|fbclid|gclid)=[^&]*', '\\1', 'g'), "
    "'[?&]+$', ''), "
    "'([?])&+', '\\1', 'g')"
)

# Text for co-text: a leading "RT @name:", URLs and mentions removed; Arabic/Persian
# letter variants unified, diacritics (harakat, superscript alef), tatweel and zero-width
# joiners removed; punctuation and symbols dropped; case folded; spacing collapsed. What is
# left must hold a letter or digit, so that a post of only a link or emoji has no key.
_TEXT = (
    "trim(regexp_replace(lower(regexp_replace(regexp_replace(regexp_replace("
    "regexp_replace(regexp_replace(replace(replace(nfc_normalize({x}), 'ي', 'ی'), 'ك', 'ک'), "
    "'^RT @[^:]*:', ''), "
    "'https?://\\S+', ' ', 'g'), "
    "'[@＠][\\w\u200c\u200d]+', ' ', 'g'), "
    "'[\u064b-\u065f\u0670\u0640\u200c\u200d]', '', 'g'), "
    "'[\\p{P}\\p{S}]', ' ', 'g')), "
    "'\\s+', ' ', 'g'))"
)

TRACES: dict[str, Trace] = {
    t.name: t
    for t in (
        Trace(
            "co-repost",
            60.0,
            _reference("repost"),
            "Two accounts reposted the same post within the window. Organic fans of a "
            "popular account do this too; it is evidence when it is frequent and rare-keyed.",
        ),
        Trace(
            "co-reply",
            60.0,
            _reference("reply"),
            "Two accounts replied to the same post within the window (swarming). A viral "
            "post draws many replies; repetition across posts is what matters.",
        ),
        Trace(
            "co-quote",
            60.0,
            _reference("quote"),
            "Two accounts quoted the same post within the window.",
        ),
        Trace(
            "co-mention",
            60.0,
            "SELECT platform, account_id, lower(m) AS key, created_at AS t, post_id "
            "FROM (SELECT *, unnest(mentions) AS m FROM posts) WHERE m IS NOT NULL AND m <> ''",
            "Two accounts mentioned the same account within the window.",
        ),
        Trace(
            "co-hashtag",
            60.0,
            f"SELECT platform, account_id, {_FOLD.format(x='h')} AS key, created_at AS t, "
            "post_id FROM (SELECT *, unnest(hashtags) AS h FROM posts) "
            "WHERE h IS NOT NULL AND h <> ''",
            "Two accounts used the same hashtag within the window. Trending tags make this "
            "common; rare tags pushed in bursts are the farm's signature.",
        ),
        Trace(
            "co-link",
            60.0,
            f"SELECT platform, account_id, {_URL.format(x='u')} AS key, created_at AS t, "
            "post_id FROM (SELECT *, unnest(urls) AS u FROM posts) "
            "WHERE u IS NOT NULL AND trim(u) <> ''",
            "Two accounts shared the same (normalised) link within the window.",
        ),
        Trace(
            "co-text",
            60.0,
            f"SELECT platform, account_id, md5(norm) AS key, created_at AS t, post_id FROM ("
            f"SELECT *, {_TEXT.replace('{x}', 'text')} AS norm FROM posts "
            "WHERE kind <> 'repost' AND text IS NOT NULL) "
            "WHERE regexp_matches(norm, '[\\p{L}\\p{N}]')",
            "Two accounts posted the same text (after normalisation) within the window: "
            "copy-paste. Reposts are left out (their text is the original's). Common short "
            "phrases ('good morning') coincide by chance; IDF weighs them down.",
        ),
    )
}
