"""The band join, written once as Ibis expressions: trace rows -> account-pair edges.

For one trace and window W (seconds), two distinct accounts co-act when they have rows
with the same (platform, key) and |t1 - t2| <= W (W = 0: same key, any time). Per account
pair the edge carries:
- `coactions`: distinct (post, post) pairs behind it (an account acting twice on one key
  never pairs with itself; a repeated share counts once per distinct post pair);
- `keys`: distinct keys shared;
- `score`: sum over those keys of ln(A / a_key), A the accounts in the trace and a_key
  those that touched the key (IDF: a key everyone touches counts little);
- `median_delay`: median |t1 - t2| in seconds (interpolated, as quantile 0.5);
- evidence: the first `evidence_limit` (key, post_a, post_b) triples in sorted order, and
  their total (a pair with a huge total collects all its triples before the cut; a top-n
  aggregate would avoid that, but the window function that does it portably is 2x slower).

These functions only build expressions over tables named in `traces.inputs`; `engine.py`
compiles them to the SQL of the engine that runs them (DuckDB or Spark).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

ROWS = "ts_rows"  # the trace's rows, materialised once per run
SKIPPED = "ts_skipped"  # (platform, key) left out as viral
PAIRS = "ts_pairs"  # the band join's rows, materialised once per run

ROW_SCHEMA = ibis.schema(
    {
        "platform": "string",
        "account_id": "string",
        "key": "string",
        "us": "int64",
        "post_id": "string",
    }
)


# The columns of an edge, in the order of the case's `edges` table.
EDGE_COLUMNS = (
    "trace",
    "window_s",
    "platform",
    "account_a",
    "account_b",
    "coactions",
    "keys",
    "score",
    "median_delay",
    "evidence",
    "evidence_total",
)

PAIR_SCHEMA = ibis.schema(
    {
        "platform": "string",
        "account_a": "string",
        "account_b": "string",
        "key": "string",
        "post_a": "string",
        "post_b": "string",
        "delay": "float64",
    }
)


def trace_rows(raw: ir.Table) -> ir.Table:
    """The distinct rows of a trace, without empty keys (an empty key never pairs)."""
    kept = raw.filter(raw.key.notnull() & (raw.key != ""))
    return kept.select(*ROW_SCHEMA.names).distinct()


def rows_table() -> ir.Table:
    return ibis.table(ROW_SCHEMA, name=ROWS)


def skipped_table() -> ir.Table:
    return ibis.table({"platform": "string", "key": "string"}, name=SKIPPED)


def burst(rows: ir.Table, window: float) -> ir.Table:
    """Per (platform, key), the most rows within one window (all its rows for window 0)."""
    window_us = round(window * 1_000_000)
    if window_us > 0:
        frame = ibis.range_window(
            preceding=0, following=window_us, group_by=[rows.platform, rows.key], order_by=rows.us
        )
        counted = rows.mutate(n=rows.count().over(frame))
        return counted.group_by("platform", "key").aggregate(burst=counted.n.max())
    return rows.group_by("platform", "key").aggregate(burst=rows.count())


def total_accounts(rows: ir.Table) -> ir.Table:
    """One row, one column `n`: the distinct (platform, account) pairs of the trace."""
    return rows.select("platform", "account_id").distinct().aggregate(n=ibis._.count())


def pairs(rows: ir.Table, skipped: ir.Table, window: float) -> ir.Table:
    """The band join: one row per (key, post_a, post_b) of two distinct accounts (a < b)
    within the window, with the delay in seconds. The engine materialises it once."""
    window_us = round(window * 1_000_000)
    kept = rows.anti_join(skipped, ["platform", "key"])
    if window_us > 0:
        # Time buckets one window wide: two rows within the window are at most one bucket
        # apart, so the join is an equality on (platform, key, bucket) against b's rows
        # copied into their neighbouring buckets, and only then filtered on |dt|. Without
        # it a key used all month (a trending tag) compares every pair of its rows.
        bucket = kept.us // window_us
        a = kept.mutate(bucket=bucket).view()
        # (The offsets are unnested on their own: Spark allows no generator inside an
        # expression.)
        shifted = kept.mutate(offset=ibis.literal([-1, 0, 1]).unnest())
        b = shifted.mutate(bucket=shifted.us // window_us + shifted.offset).view()
        on = [
            a.platform == b.platform,
            a.key == b.key,
            a.bucket == b.bucket,
            a.account_id < b.account_id,
            (a.us - b.us).abs() <= window_us,
        ]
    else:
        a, b = kept.view(), kept.view()
        on = [a.platform == b.platform, a.key == b.key, a.account_id < b.account_id]
    return a.join(b, on).select(
        platform=a.platform,
        account_a=a.account_id,
        account_b=b.account_id,
        key=a.key,
        post_a=a.post_id,
        post_b=b.post_id,
        delay=(a.us - b.us).abs() / 1e6,
    )


def pair_count(pairs: ir.Table) -> ir.Table:
    """One row, one column `n`: the distinct account pairs among the band join's rows."""
    return pairs.select("platform", "account_a", "account_b").distinct().aggregate(n=ibis._.count())


def pairs_table() -> ir.Table:
    return ibis.table(PAIR_SCHEMA, name=PAIRS)


def edges(
    pairs: ir.Table,
    rows: ir.Table,
    trace: str,
    window: float,
    accounts: int,
    evidence_limit: int = 20,
    min_keys: int = 1,
) -> ir.Table:
    """The edges of one trace from its materialised `pairs`; `rows` are the trace's rows
    (for each key's account count) and `accounts` its distinct accounts (IDF's A).
    `min_keys` > 1 keeps only pairs that met on that many keys (detect tests no others)."""
    pair = ["platform", "account_a", "account_b"]
    touched = rows.group_by("platform", "key").aggregate(n=rows.account_id.nunique())
    idf_of = touched.mutate(idf=(ibis.literal(float(accounts)) / touched.n).ln()).select(
        "platform", "key", "idf"
    )
    columns = EDGE_COLUMNS
    # Most account pairs co-act once (on the 1M scenario, four in five): their edge is
    # their one row, with no aggregation. Holistic aggregates (median, distinct counts,
    # evidence lists) over tens of millions of one-row groups are what exhausts memory at
    # scale, so only pairs with several rows go through them.
    sizes = pairs.group_by(pair).aggregate(rows_n=pairs.count())
    one = pairs.join(sizes.filter(sizes.rows_n == 1), pair)
    one = one.join(idf_of, ["platform", "key"])
    triple_one = ibis.struct({"key": one.key, "post_a": one.post_a, "post_b": one.post_b})
    single = one.select(
        trace=ibis.literal(trace),
        window_s=ibis.literal(float(window)),
        platform=one.platform,
        account_a=one.account_a,
        account_b=one.account_b,
        coactions=ibis.literal(1, "int64"),
        keys=ibis.literal(1, "int64"),
        score=one.idf,
        median_delay=one.delay,
        evidence=ibis.array([triple_one]),
        evidence_total=ibis.literal(1, "int64"),
    )

    many = pairs.semi_join(sizes.filter(sizes.rows_n > 1), pair)
    # The key-level part (keys, IDF score) needs the distinct (pair, key) rows; everything
    # else is one pass over the rows (one GROUP BY, not one per column: 2x faster).
    per_key = many.select(*pair, "key").distinct().join(idf_of, ["platform", "key"])
    scored = per_key.group_by(pair).aggregate(keys=per_key.count(), score=per_key.idf.sum())
    triple = ibis.struct({"key": many.key, "post_a": many.post_a, "post_b": many.post_b})
    main = many.group_by(pair).aggregate(
        coactions=ibis.struct({"a": many.post_a, "b": many.post_b}).nunique(),
        median_delay=many.delay.median(),
        evidence_total=many.count(),
        # Sorted, then cut: the triples are distinct per pair, so the sample is the same on
        # every engine.
        evidence=triple.collect(),
    )
    several = main.join(scored, pair).select(
        trace=ibis.literal(trace),
        window_s=ibis.literal(float(window)),
        platform="platform",
        account_a="account_a",
        account_b="account_b",
        coactions="coactions",
        keys="keys",
        score="score",
        median_delay="median_delay",
        evidence=ibis._.evidence.sort()[:evidence_limit],
        evidence_total="evidence_total",
    )
    if min_keys > 1:  # a one-row pair met on one key: none of them is kept
        return several.filter(several["keys"] >= min_keys).select(*columns)
    return single.select(*columns).union(several.select(*columns))
