"""Burst tests: many accounts posting one text within the window, against their own
jittered timelines.

A copy-paste campaign can be one text, posted by a thousand pages within a minute, in
data that holds nothing else: no pair and no account repeats anything, yet nothing
organic does that. Organic copying spreads over hours ("copy and paste this to your
status"), one friend after another. So for the authored-text traces (`co-text`, and
`near-dup-text`, whose keys are near-copy clusters) every key is tested as a group:

    n accounts posted the text (each at its first time on it); M is the most of them
    within one window of W seconds. Under the null, each account's time is shifted by
    its own offset, uniform within +-J (the jitter, 30 minutes by default),
    independently: given where one account lands, each other one lands within the W
    after it with probability at most q = (W + tick) / 2J (tick: the data's clock tick), so

        p = min(1, n * P(Binomial(n - 1, q) >= M - 1))   (a union bound over who leads).

Keys with M >= 3 are tested (with two, it is a pair, and the pair tests have it); the
other keys that two accounts or more posted count as tested with p = 1. The group is the
accounts of the densest window.

Their number grows with the texts (every greeting or slogan that three accounts post
together is a test), not with what is found. So in detect the tests wait on the
engine (`pending_burst_tests`), with a floor of each p-value (prefilter.py,
`binomial_log_floor`), and only those that could pass Benjamini-Hochberg, and those
inside a network, come back with their members (`fetch`, `fetch_inside`).

Only authored text: a repost, a shared link or a hashtag is a reaction to something
others see too, and a viral post or a news shock draws hundreds of organic reactions
within minutes; for those, one burst is no evidence, and the pair and account tests ask
for repetition. Identical text written by many within a minute is the campaign's
fingerprint; what else does it (docs/significance.md, "Known limits"): share buttons that
fill in the same words, greetings at midnight.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from trollscope.detect import prefilter
from trollscope.detect.clock import US
from trollscope.detect.tails import binom_log_sf

if TYPE_CHECKING:
    from trollscope.inputs import Backend

# The traces whose keys are texts an account wrote.
TEXT_TRACES = ("co-text", "near-dup-text")
MIN_BURST = 3
_FIRSTS = "ts_bt_firsts"  # (platform, key, account_id, us): each account's first time
_FIRSTS_SCHEMA = ibis.schema(
    {"platform": "string", "key": "string", "account_id": "string", "us": "int64"}
)

BURST_TEST_SCHEMA = pa.schema(
    [
        ("trace", pa.string()),
        ("window_s", pa.float64()),
        ("platform", pa.string()),
        ("key", pa.string()),
        ("accounts", pa.int64()),  # n: accounts that posted the key
        ("burst", pa.int64()),  # M: the most within one window
        ("expected", pa.float64()),  # what shifted timelines put in a window: 1 + (n - 1) q
        ("start_us", pa.int64()),  # where the densest window begins
        ("members", pa.list_(pa.string())),  # the accounts of that window
        ("log_p", pa.float64()),
    ]
)


@dataclass(frozen=True, slots=True)
class BurstTests:
    table: pa.Table
    untested: int


@dataclass(frozen=True, slots=True)
class BurstPending:
    """One trace's burst tests, still on the engine in `table` (PENDING_SCHEMA) until
    Benjamini-Hochberg's line is known, as its pair tests are (prefilter.py)."""

    trace: str
    table: str
    window: float
    q: float  # the chance that a shifted account lands within the window of another
    tested: int  # burst tests in the table (M >= MIN_BURST)
    untested: int  # keys two accounts or more posted, with no burst: p = 1
    weight_sum: float  # their raw weights (the mean of their members'), summed


# A burst test's statistics, as `_densest` gives them.
STATISTICS_SCHEMA = ibis.schema(
    {
        "platform": "string",
        "key": "string",
        "n": "int64",
        "m": "int64",
        "start": "int64",
        "members": "array<string>",
    }
)
PENDING_SCHEMA = ibis.schema(
    dict(STATISTICS_SCHEMA.items()) | {"raw_weight": "float64", "log_floor": "float64"}
)
ORDER = ("platform", "key")


def log_pvalues(accounts: np.ndarray, burst: np.ndarray, q: float) -> np.ndarray:
    """ln min(1, n P(Binomial(n - 1, q) >= M - 1)); 0 where M < MIN_BURST."""
    n = accounts.astype(np.float64)
    m = burst.astype(np.float64)
    tail = binom_log_sf(m - 1, n - 1, min(1.0, q))  # ln P(X >= M - 1)
    out = np.where(m >= MIN_BURST, np.log(np.maximum(n, 1.0)) + tail, 0.0)
    return np.minimum(out, 0.0)


def null_rate(window: float, jitter_s: float, tick_us: int) -> float:
    """q: given where one account lands, the chance that another lands within the window
    after it, their times shifted uniformly within +-`jitter_s`."""
    return (window + tick_us / US) / (2 * jitter_s)


def burst_tests(
    engine: Backend, trace: str, rows: ir.Table, window: float, jitter_s: float, tick_us: int
) -> BurstTests:
    """Test every key of `rows` (a trace's rows, `coaction.ROW_SCHEMA`) and bring every
    test back. detect keeps them on the engine instead (`pending_burst_tests`)."""
    window_us = max(1, round(window * US))
    with _firsts_on(engine, rows) as firsts:
        untested = _shared_keys(engine, firsts)
        counted = engine.fetch(_densest(firsts, window_us).order_by(list(ORDER)))
    return BurstTests(
        burst_table(trace, window, null_rate(window, jitter_s, tick_us), counted),
        untested - counted.num_rows,
    )


def pending_burst_tests(
    engine: Backend,
    trace: str,
    rows: ir.Table,
    window: float,
    jitter_s: float,
    tick_us: int,
    table: str,
) -> BurstPending:
    """Test every key of `rows` (a trace's rows, `coaction.ROW_SCHEMA`), viral ones
    included: the engine skips a key that thousands share within a window, and such a
    burst of one text is the strongest case there is. The tests wait on the engine as
    `table`, with each one's raw weight (its members', from prefilter.WEIGHTS) and the
    floor of its ln p-value. `tick_us`: the data's clock tick (`clock.clock_tick`)."""
    window_us = max(1, round(window * US))
    q = null_rate(window, jitter_s, tick_us)
    weights = ibis.table(prefilter.WEIGHTS_SCHEMA, name=prefilter.WEIGHTS)
    try:
        with _firsts_on(engine, rows) as firsts:
            untested = _shared_keys(engine, firsts)
            dense = _densest(firsts, window_us, weights)
            floor = prefilter.binomial_log_floor(dense.n, dense.m, min(1.0, q), MIN_BURST)
            # Stored, not cached, as the pair tests' pending tables are (run.py).
            engine.store(table, dense.mutate(log_floor=floor).select(*PENDING_SCHEMA.names))
        tested, weight_sum = prefilter.counted(engine, table)
    except BaseException:
        engine.drop(table)
        raise
    return BurstPending(trace, table, window, q, tested, untested - tested, weight_sum)


def fetch(
    engine: Backend, p: BurstPending, log_mean_weight: float, log_cut: float | None
) -> pa.Table:
    """`p`'s burst tests whose floor of ln(p / w) is at most `log_cut` (None: every one),
    with their tails (BURST_TEST_SCHEMA)."""
    t = ibis.table(PENDING_SCHEMA, name=p.table)
    if log_cut is not None:
        t = t.filter(prefilter.bound(t, log_mean_weight) <= prefilter.double(log_cut))
    found = engine.fetch(t.select(*STATISTICS_SCHEMA.names).order_by(list(ORDER)))
    return burst_table(p.trace, p.window, p.q, found)


def fetch_inside(
    engine: Backend, p: BurstPending, log_mean_weight: float, log_cut: float
) -> pa.Table:
    """`p`'s burst tests that `fetch` at `log_cut` left on the engine and that more than
    half of whose members lie in one network of prefilter.MEMBERS (a network's p-value
    combines them: networks.network_log_p), with their tails."""
    t = ibis.table(PENDING_SCHEMA, name=p.table)
    t = t.filter(prefilter.bound(t, log_mean_weight) > prefilter.double(log_cut))
    each = t.select("platform", "key", size=t.members.length(), account_id=t.members.unnest())
    networks = ibis.table(prefilter.MEMBERS_SCHEMA, name=prefilter.MEMBERS)
    joined = each.join(networks, ["platform", "account_id"])
    inside = joined.group_by("platform", "key", "size", "network").aggregate(n=joined.count())
    inside = inside.filter(2 * inside.n > inside.size).select("platform", "key")
    found = t.semi_join(inside, ["platform", "key"])
    rows = engine.fetch(found.select(*STATISTICS_SCHEMA.names).order_by(list(ORDER)))
    return burst_table(p.trace, p.window, p.q, rows)


def burst_table(trace: str, window: float, q: float, counted: pa.Table) -> pa.Table:
    """Burst tests (BURST_TEST_SCHEMA) from their statistics (STATISTICS_SCHEMA), with
    their tails taken here: neither engine has a binomial tail."""
    n = counted.num_rows
    accounts = counted.column("n").to_numpy()
    log_p = log_pvalues(accounts, counted.column("m").to_numpy(), q)
    return pa.table(
        {
            "trace": pa.array([trace] * n, pa.string()),
            "window_s": pa.array(np.full(n, window), pa.float64()),
            "platform": counted.column("platform"),
            "key": counted.column("key"),
            "accounts": counted.column("n").cast(pa.int64()),
            "burst": counted.column("m").cast(pa.int64()),
            "expected": pa.array(1.0 + (accounts - 1) * min(1.0, q), pa.float64()),
            "start_us": counted.column("start").cast(pa.int64()),
            "members": counted.column("members"),
            "log_p": pa.array(log_p, pa.float64()),
        },
        schema=BURST_TEST_SCHEMA,
    )


@contextmanager
def _firsts_on(engine: Backend, rows: ir.Table) -> Iterator[ir.Table]:
    """Each account's first time on each key, materialised: read three times."""
    engine.materialize(
        _FIRSTS, rows.group_by("platform", "key", "account_id").aggregate(us=rows.us.min())
    )
    try:
        yield ibis.table(_FIRSTS_SCHEMA, name=_FIRSTS)
    finally:
        engine.drop(_FIRSTS)


def _shared_keys(engine: Backend, firsts: ir.Table) -> int:
    """The keys that two accounts or more posted: tested, with p = 1 if none bursts."""
    shared = firsts.group_by("platform", "key").aggregate(n=firsts.count())
    shared = shared.filter(shared.n >= 2)
    found = engine.fetch(shared.aggregate(n=shared.count()))
    return int(found.column("n")[0].as_py() or 0) if found.num_rows else 0


def _densest(firsts: ir.Table, window_us: int, weights: ir.Table | None = None) -> ir.Table:
    """Per key with MIN_BURST accounts or more in one window: its accounts (n), the most
    in one window (m), where the first such window starts, and its accounts, sorted; with
    `weights` (prefilter.WEIGHTS_SCHEMA), their mean raw weight too (1 if not listed)."""
    key = [firsts.platform, firsts.key]
    within = ibis.range_window(preceding=0, following=window_us, group_by=key, order_by=firsts.us)
    dense = firsts.mutate(m=firsts.count().over(within), n=firsts.count().over(group_by=key))
    dense = dense.filter(dense.n >= MIN_BURST)
    best = dense.group_by("platform", "key").aggregate(
        n=dense.n.max(),
        m=dense.m.max(),
        # The densest window, the earliest of equals.
        start=dense.us.argmax(ibis.struct({"m": dense.m, "later": -dense.us})),
    )
    best = best.filter(best.m >= MIN_BURST)
    inside = best.join(firsts, ["platform", "key"])
    inside = inside.filter(inside.us.between(inside.start, inside.start + window_us))
    members = {"members": inside.account_id.collect().sort()}
    if weights is not None:
        w = weights.select(w_platform="platform", w_account="account_id", w="weight")
        inside = inside.left_join(
            w, (inside.platform == w.w_platform) & (inside.account_id == w.w_account)
        )
        members = {
            "members": inside.account_id.collect().sort(),
            "raw_weight": inside.w.fill_null(1.0).mean(),
        }
    return inside.group_by("platform", "key", "n", "m", "start").aggregate(**members)
