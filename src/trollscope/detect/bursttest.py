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

Only authored text: a repost, a shared link or a hashtag is a reaction to something
others see too, and a viral post or a news shock draws hundreds of organic reactions
within minutes; for those, one burst is no evidence, and the pair and account tests ask
for repetition. Identical text written by many within a minute is the campaign's
fingerprint; what else does it (docs/significance.md, "Known limits"): share buttons that
fill in the same words, greetings at midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

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


def log_pvalues(accounts: np.ndarray, burst: np.ndarray, q: float) -> np.ndarray:
    """ln min(1, n P(Binomial(n - 1, q) >= M - 1)); 0 where M < MIN_BURST."""
    n = accounts.astype(np.float64)
    m = burst.astype(np.float64)
    tail = binom_log_sf(m - 1, n - 1, min(1.0, q))  # ln P(X >= M - 1)
    out = np.where(m >= MIN_BURST, np.log(np.maximum(n, 1.0)) + tail, 0.0)
    return np.minimum(out, 0.0)


def burst_tests(
    engine: Backend, trace: str, rows: ir.Table, window: float, jitter_s: float, tick_us: int
) -> BurstTests:
    """Test every key of `rows` (a trace's rows, `coaction.ROW_SCHEMA`), viral ones
    included: the engine skips a key that thousands share within a window, and such a
    burst of one text is the strongest case there is. `tick_us`: the data's clock tick
    (`clock.clock_tick`)."""
    window_us = max(1, round(window * US))
    q = (window + tick_us / US) / (2 * jitter_s)
    # Read three times below: made once.
    engine.materialize(
        _FIRSTS, rows.group_by("platform", "key", "account_id").aggregate(us=rows.us.min())
    )
    try:
        firsts = ibis.table(_FIRSTS_SCHEMA, name=_FIRSTS)
        shared = firsts.group_by("platform", "key").aggregate(n=firsts.count())
        shared = shared.filter(shared.n >= 2)
        found = engine.fetch(shared.aggregate(n=shared.count()))
        untested = int(found.column("n")[0].as_py()) if found.num_rows else 0
        counted = engine.fetch(_densest(firsts, window_us))
    finally:
        engine.drop(_FIRSTS)
    kept = counted
    n = kept.num_rows
    log_p = log_pvalues(kept.column("n").to_numpy(), kept.column("m").to_numpy(), q)
    return BurstTests(
        pa.table(
            {
                "trace": pa.array([trace] * n, pa.string()),
                "window_s": pa.array(np.full(n, window), pa.float64()),
                "platform": kept.column("platform"),
                "key": kept.column("key"),
                "accounts": kept.column("n").cast(pa.int64()),
                "burst": kept.column("m").cast(pa.int64()),
                "expected": pa.array(
                    1.0 + (kept.column("n").to_numpy() - 1) * min(1.0, q), pa.float64()
                ),
                "start_us": kept.column("start").cast(pa.int64()),
                "members": kept.column("members"),
                "log_p": pa.array(log_p, pa.float64()),
            },
            schema=BURST_TEST_SCHEMA,
        ),
        untested - n,
    )


def _densest(firsts: ir.Table, window_us: int) -> ir.Table:
    """Per key with MIN_BURST accounts or more in one window: its accounts (n), the most
    in one window (m), where the first such window starts, and its accounts, sorted."""
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
    members = inside.group_by("platform", "key", "n", "m", "start").aggregate(
        members=inside.account_id.collect().sort()
    )
    return members.order_by("platform", "key")
