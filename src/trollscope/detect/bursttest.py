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

import duckdb
import numpy as np
import pyarrow as pa

from trollscope.detect.clock import US, clock_tick_us
from trollscope.detect.tails import binom_log_sf

# The traces whose keys are texts an account wrote.
TEXT_TRACES = ("co-text", "near-dup-text")
MIN_BURST = 3
_FIRSTS = "ts_bt_firsts"  # (platform, key, account_id, us): each account's first time

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
    con: duckdb.DuckDBPyConnection, trace: str, rows: str, window: float, jitter_s: float
) -> BurstTests:
    """Test every key of `rows` (a trace's rows: platform, account_id, key, us, post_id),
    viral ones included: the engine skips a key that thousands share within a window,
    and such a burst of one text is the strongest case there is."""
    window_us = max(1, round(window * US))
    tick_s = clock_tick_us(con, rows) / US
    q = (window + tick_s) / (2 * jitter_s)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_FIRSTS} AS
            SELECT platform, key, account_id, min(us) AS us FROM {rows} GROUP BY ALL"""
    )
    try:
        untested = int(
            con.execute(
                f"""SELECT count(*) FROM (
                        SELECT platform, key FROM {_FIRSTS} GROUP BY ALL HAVING count(*) >= 2)"""
            ).fetchall()[0][0]
        )
        counted = con.sql(
            f"""WITH dense AS (
                    SELECT platform, key, us,
                           count(*) OVER (PARTITION BY platform, key ORDER BY us
                                          RANGE BETWEEN CURRENT ROW AND {window_us} FOLLOWING)
                               AS m,
                           count(*) OVER (PARTITION BY platform, key) AS n
                    FROM {_FIRSTS}),
                best AS (
                    SELECT platform, key, max(n) AS n, max(m) AS m,
                           arg_max(us, (m, -us)) AS start
                    FROM dense WHERE n >= {MIN_BURST} GROUP BY ALL HAVING max(m) >= {MIN_BURST})
                SELECT b.platform, b.key, b.n, b.m, b.start,
                       list(f.account_id ORDER BY f.account_id) AS members
                FROM best b JOIN {_FIRSTS} f USING (platform, key)
                WHERE f.us BETWEEN b.start AND b.start + {window_us}
                GROUP BY b.platform, b.key, b.n, b.m, b.start
                ORDER BY b.platform, b.key"""
        ).to_arrow_table()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_FIRSTS}")
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
