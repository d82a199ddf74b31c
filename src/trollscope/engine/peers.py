"""The peers' thresholds, to reproduce their networks beside ours: thresholds, not tests.

CooRTweet (`detect_groups(min_participation = N)`) keeps accounts with N rows or more in
its data (here: in the trace), pairs those that shared an object within the window, and
keeps a pair when one of its two accounts has N or more distinct *coordinated* posts
(posts shared within the window with another kept account). coordination-network-toolkit
keeps an edge whose weight, its co-actions, is at least its `--min-weight`. Neither rule
says how likely the pair is by chance; `trollscope detect` tests that, and with a rule
reports the rule's networks beside its own, with what chance gives of them
(`detect/thresholds.py`).

The rule is one Ibis expression over the scratch tables of a trace's band join
(`compute_edges`), so it runs where the edges ran, DuckDB or Spark, for `edges` and for
`detect` alike. Keys skipped as viral (more than `--max-burst` accounts within a window)
are left out, as they are from every edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trollscope.peerrule import PeerRule

if TYPE_CHECKING:  # the CLI reads PeerRule at start-up; Ibis loads with the rule's first use
    import ibis.expr.types as ir


def kept_pairs(rule: PeerRule, pairs: ir.Table | None = None) -> ir.Table:
    """The account pairs (`a`, `b`: account ids, a < b) that `rule` keeps, over the scratch
    tables a trace's band join left on its engine (`compute_edges`); `pairs`: the band
    join's rows (a, b, ra, rb) to read instead of its own (the same rows shifted in time,
    say)."""
    from trollscope.engine import coaction

    # The ids' declared type does not reach the SQL: one declaration serves both widths.
    if pairs is None:
        pairs = coaction.pairs_table("int64")
    posts = coaction.id_rows_table("int64").select("rid", "aid", "post_id")
    kept = pairs.select("a", "b").distinct()
    if rule.min_participation is not None:
        n = rule.min_participation
        rows = coaction.rows_table()
        counts = rows.group_by("platform", "account_id").aggregate(n=rows.count())
        active = counts.filter(counts.n >= n).join(
            coaction.account_ids_table("int64"), ["platform", "account_id"]
        )
        among = pairs.semi_join(active.select(a="aid"), "a").semi_join(active.select(b="aid"), "b")
        # An account's coordinated posts: its rows in a pair with another active account.
        sides = among.select(rid=among.ra).union(among.select(rid=among.rb), distinct=True)
        shared = sides.join(posts, "rid").select("aid", "post_id").distinct()
        per = shared.group_by("aid").aggregate(posts=shared.count())
        coordinated = per.filter(per.posts >= n).select("aid")
        met = among.select("a", "b").distinct()
        kept = met.semi_join(coordinated.select(a="aid"), "a").union(
            met.semi_join(coordinated.select(b="aid"), "b"), distinct=True
        )
    if rule.min_weight is not None:
        post_a = posts.select(ra="rid", post_a="post_id")
        post_b = posts.select(rb="rid", post_b="post_id")
        both = pairs.join(post_a, "ra").join(post_b, "rb")
        distinct = both.select("a", "b", "post_a", "post_b").distinct()
        weights = distinct.group_by("a", "b").aggregate(coactions=distinct.count())
        heavy = weights.filter(weights.coactions >= rule.min_weight).select("a", "b")
        kept = kept.semi_join(heavy, ["a", "b"])
    return kept


def named(pairs: ir.Table) -> ir.Table:
    """`pairs` (a, b) as (platform, account_a, account_b, a, b), by the trace's account ids."""
    from trollscope.engine import coaction

    ids = coaction.account_ids_table("int64")
    a_ids = ids.select(platform="platform", account_a="account_id", a="aid")
    b_ids = ids.select(account_b="account_id", b="aid")
    out = pairs.join(a_ids, "a").join(b_ids, "b")
    return out.select("platform", "account_a", "account_b", "a", "b")
