"""The registry of traces: one `Trace` per co-action signal, in `TRACES`.

It feeds the CLI choices, dispatch, docs/traces.md and the tests. To add a trace: write
its `rows` (an Ibis expression over `inputs.Inputs`, keys made in `keys.py` where they
need normalising) and, if it needs lookup tables computed in Python, a `prepare`; then
add a `Trace` below with its default window, meaning and evidence wording.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import ibis
import ibis.expr.types as ir

from trollscope import inputs
from trollscope.inputs import Backend, Inputs
from trollscope.registry import Registry
from trollscope.traces.base import Trace
from trollscope.traces.keys import (
    HASHTAG_KEYS_SCHEMA,
    distinct_tags,
    fold_batch,
    normal_text,
    normal_url,
)


def _reference(kind: str) -> Callable[[Inputs], ir.Table]:
    def rows(i: Inputs) -> ir.Table:
        p = i.posts
        return p.filter((p.kind == kind) & p.ref_post_id.notnull()).select(
            "platform", "account_id", key=p.ref_post_id, us=p.us, post_id=p.post_id
        )

    return rows


# A repost whose original's id the data lacks (a table with "RT @user: ..." texts, which
# the readers mark as reposts) is keyed by its text: a platform copies the original's
# text into every repost of it, so equal texts are reposts of one post. The prefix keeps
# these keys apart from post ids.
REPOST_TEXT_KEY = "repost-text:"


def _reposts(i: Inputs) -> ir.Table:
    p = i.posts
    known = p.ref_post_id.notnull()
    r = p.filter((p.kind == "repost") & (known | p.text.notnull()))
    key = ibis.ifelse(r.ref_post_id.notnull(), r.ref_post_id, REPOST_TEXT_KEY + r.text)
    return r.select("platform", "account_id", key=key, us=r.us, post_id=r.post_id)


def _mentions(i: Inputs) -> ir.Table:
    p = i.posts
    m = p.select("platform", "account_id", "us", "post_id", m=p.mentions.unnest())
    return m.filter(m.m.notnull()).select(
        "platform", "account_id", key=m.m.lower(), us=m.us, post_id=m.post_id
    )


def _prepare_hashtags(con: duckdb.DuckDBPyConnection, engine: Backend) -> None:
    # Folding is Python (NFKC, case folding) over the distinct tags only (thousands, not
    # millions of rows), run on the engine where the posts are.
    del con  # the engine reads the posts itself
    engine.map_batches(
        inputs.HASHTAG_KEYS, distinct_tags(Inputs().posts), fold_batch, HASHTAG_KEYS_SCHEMA
    )


def _hashtags(i: Inputs) -> ir.Table:
    p = i.posts
    h = p.select("platform", "account_id", "us", "post_id", tag=p.hashtags.unnest())
    k = i.hashtag_keys
    j = h.join(k, h.tag == k.tag)
    return j.select("platform", "account_id", key=j.key, us=j.us, post_id=j.post_id)


def _links(i: Inputs) -> ir.Table:
    p = i.posts
    u = p.select("platform", "account_id", "us", "post_id", u=p.urls.unnest())
    u = u.filter(u.u.notnull() & u.u.re_search(r"\S"))
    return u.select("platform", "account_id", key=normal_url(u.u), us=u.us, post_id=u.post_id)


def _texts(i: Inputs) -> ir.Table:
    p = i.posts
    t = p.filter((p.kind != "repost") & p.text.notnull()).mutate(norm=normal_text(p.text))
    # What is left must hold a letter or digit, so a post of only a link or emoji has no key.
    t = t.filter(t.norm.re_search(r"[\p{L}\p{N}]"))
    key = t.norm.hexdigest("md5")
    return t.select("platform", "account_id", key=key, us=t.us, post_id=t.post_id)


def _prepare_neardup(con: duckdb.DuckDBPyConnection, engine: Backend) -> None:
    # MinHash/LSH is numpy work on the texts, run where the posts are; the clusters are
    # numpy on this machine's DuckDB, SQL on Spark (traces/neardup.py says why).
    from trollscope.traces.neardup import neardup_on

    neardup_on(con, engine)


def _neardup(i: Inputs) -> ir.Table:
    return i.neardup_rows


def _prepare_profiles(con: duckdb.DuckDBPyConnection, engine: Backend) -> None:
    # Handle shapes, location keys and bio clusters (MinHash) are Python over the accounts
    # (features/profile.py), run on the engine but for the bio clusters; the keys are SQL.
    from trollscope.traces.profile import profile_rows_on

    del con  # the engine reads the accounts itself
    profile_rows_on(engine)


def _profiles(i: Inputs) -> ir.Table:
    return i.profile_rows


def _prepare_avatars(con: duckdb.DuckDBPyConnection, engine: Backend) -> None:
    # Picture keys come from `trollscope avatars` (table avatar_hashes, made where the
    # files are) and go to the engine; the accounts' avatar strings are keyed there.
    from trollscope.traces.avatar import avatar_rows_on

    avatar_rows_on(con, engine)


def _avatars(i: Inputs) -> ir.Table:
    return i.avatar_rows


def _images(i: Inputs) -> ir.Table:
    p = i.posts
    m = p.select("platform", "account_id", "us", "post_id", m=p.media.unnest())
    # Media entries that are perceptual hashes ('phash:<16 hex>', see media.py); paths and
    # URLs are not keys: the same picture re-uploaded gets a new URL.
    m = m.filter(m.m.startswith("phash:"))
    return m.select("platform", "account_id", key=m.m, us=m.us, post_id=m.post_id)


def _creations(i: Inputs) -> ir.Table:
    a = i.accounts
    return a.filter(a.us.notnull()).select(
        "platform", "account_id", key=ibis.literal("created"), us=a.us, post_id=a.account_id
    )


TRACES: Registry[Trace] = Registry(
    "trace",
    (
        Trace(
            "co-repost",
            60.0,
            _reposts,
            "Two accounts reposted the same post within the window. Organic fans of a "
            "popular account do this too; it is evidence when it is frequent and rare-keyed.",
            said="reposted {n} of the same posts as {partner}",
            acted="reposted the same posts",
        ),
        Trace(
            "co-reply",
            60.0,
            _reference("reply"),
            "Two accounts replied to the same post within the window (swarming). A viral "
            "post draws many replies; repetition across posts is what matters.",
            said="replied to {n} of the same posts as {partner}",
            acted="replied to the same posts",
        ),
        # The slow scale: the same actions at a quarter-hour window, for farms whose members
        # act many minutes after a directive (docs/significance.md, "Slow farms").
        Trace(
            "co-repost-slow",
            900.0,
            _reposts,
            "co-repost at a slower scale: two accounts reposted the same post within 15 "
            "minutes of each other. Members who follow a directive tens of minutes late "
            "rarely meet within a minute; organic reactions to the same news meet at this "
            "scale too, so only repetition across many posts is evidence.",
            said="reposted {n} of the same posts as {partner}, minutes apart",
            acted="reposted the same posts minutes apart",
        ),
        Trace(
            "co-reply-slow",
            900.0,
            _reference("reply"),
            "co-reply at a slower scale: two accounts replied to the same post within 15 "
            "minutes of each other (a slow swarm); as co-repost-slow.",
            said="replied to {n} of the same posts as {partner}, minutes apart",
            acted="replied to the same posts minutes apart",
        ),
        Trace(
            "co-quote",
            60.0,
            _reference("quote"),
            "Two accounts quoted the same post within the window.",
            said="quoted {n} of the same posts as {partner}",
            acted="quoted the same posts",
        ),
        Trace(
            "co-mention",
            60.0,
            _mentions,
            "Two accounts mentioned the same account within the window.",
            said="mentioned {n} of the same accounts as {partner}",
            acted="mentioned the same accounts",
        ),
        Trace(
            "co-hashtag",
            60.0,
            _hashtags,
            "Two accounts used the same hashtag within the window. Trending tags make this "
            "common; rare tags pushed in bursts are the farm's signature.",
            prepare=_prepare_hashtags,
            said="used {n} of the same hashtags as {partner}",
            acted="used the same hashtags",
        ),
        Trace(
            "co-link",
            60.0,
            _links,
            "Two accounts shared the same (normalised) link within the window.",
            said="shared {n} of the same links as {partner}",
            acted="shared the same links",
        ),
        Trace(
            "co-text",
            60.0,
            _texts,
            "Two accounts posted the same text (after normalisation) within the window: "
            "copy-paste. Reposts are left out (their text is the original's). Common short "
            "phrases ('good morning') coincide by chance; IDF weighs them down.",
            said="posted {n} of the same texts as {partner}",
            acted="posted the same texts",
            # The key is an MD5, taken only of texts that hold a letter or digit.
            keys_checked=True,
        ),
        Trace(
            "near-dup-text",
            60.0,
            _neardup,
            "Two accounts posted nearly the same text (a word swapped, a link or emoji "
            "changed) within the window: MinHash over 5-character shingles in 10 LSH bands "
            "(Jaccard 0.8 shares a band 98% of the time, 0.3 about 2%); a post's key is its "
            "near-copy cluster, the band it shares with the most posts, so `keys` counts "
            "texts. Reposts are left out.",
            prepare=_prepare_neardup,
            said="posted near-copies of {n} of the same texts as {partner}",
            acted="posted near-copies of the same texts",
        ),
        Trace(
            "co-image",
            60.0,
            _images,
            "Two accounts attached the same picture (equal 64-bit perceptual hash, so "
            "resized or re-compressed copies match) within the window. Needs hashes in the "
            "data: photos present in a Telegram export, or a mapped phash column.",
            said="attached {n} of the same pictures as {partner}",
            acted="attached the same pictures",
        ),
        Trace(
            "batch-creation",
            60.0,
            _creations,
            "Two accounts of one platform were created within the window of each other "
            "(the evidence's post ids are the account ids). Farms register accounts in "
            "batches; on a big platform many accounts are created every minute, so a pair "
            "means little alone: it counts together with the other traces.",
            said="was created at the same time as {partner}",
            acted="were created at the same time",
        ),
        Trace(
            "profile-template",
            0.0,
            _profiles,
            "Two accounts of one platform share two parts of a profile template: a nearly "
            "identical bio (one LSH cluster of bios) and the same location; or that bio and "
            "the same name+digits handle shape (letters then 5+ digits, like name84736251); or "
            "that location and handle shape. Keys have no time (window 0; any window gives "
            "the same edges) and the evidence's post ids are account ids. One organisation's "
            "accounts share templates too.",
            prepare=_prepare_profiles,
            said="shares a profile template with {partner}",
            acted="share a profile template",
        ),
        Trace(
            "avatar-reuse",
            0.0,
            _avatars,
            "Two accounts of one platform wear the same profile picture: perceptual hashes "
            "within 4 bits of each other, the mirror image included (pictures hashed by "
            "`trollscope avatars`), or the same stored avatar file (equal avatar strings, "
            "default avatars never). Keys have no time (window 0); the evidence's post ids "
            "are account ids. A stolen celebrity photo or a stock picture is worn by "
            "strangers too.",
            prepare=_prepare_avatars,
            said="wears the same profile picture as {partner}",
            acted="wear the same profile picture",
        ),
    ),
)
