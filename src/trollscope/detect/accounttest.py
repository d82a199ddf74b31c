"""Account tests: does an account meet others within the window more often than its own
jittered timeline allows, over all its partners together?

A pair test asks whether two accounts met too often. In campaign data (a hashtag sample,
the pages that pushed one story) a farm member meets a different handful of partners on
each key, rarely the same one twice, and no pair can be significant: the evidence is
spread over the partners. This test adds it up per account, against a null that keeps
everything about the other accounts, and about the account's own activity, except when
it acts:

    the account's actions in each period are shifted together by one offset, uniform
    within +-J (the jitter, 30 minutes by default), independently of every other account
    and period; the other accounts' actions stay where they are.

A unit is a (key, period) the account touched, on a key that another account touched
too. The unit *met* when one of the account's actions there lies within W of another
account's action on that key; units whose first meeting is the same post of the account
count once (a post with three hashtags is one coincidence). Under the null, a unit meets
with probability at most

    lambda_u = min(1, sum over the account's actions r in the unit of c_r / (2R + 1)),

where time is cut into bins one window wide, R = P / (2W) bins, and c_r counts the bins
within R = J / W of r's bin that lie within one bin of some action on the key (a shifted
action meets another only if it lands in one of those): the key's own timing in the data,
the account's own actions included (which errs towards larger lambda, fewer flags). With
K units met and mu = the sum of lambda_u over the account's units, the p-value is the
Poisson tail P(X >= K | X >= 1), X ~ Poisson(mu) (independent Bernoulli units are less
dispersed than a Poisson; accounts are only tested when they met someone, hence the
condition), and 1 when K < 2.

What it keeps unflagged, and why: a viral cascade, a news shock or a live event is a key
whose actions spread over tens of minutes, so the bins around a participant's action are
occupied and lambda_u is large: meeting someone there is expected. A farm that acts
within seconds of a directive occupies two or three bins, and lambda_u is small for every
member, on key after key. An account that posts dozens of times on a tag in an hour
occupies those bins itself: lambda_u reaches 1 and its bursts are no evidence. Why J is
half an hour and not the period: organic reactions cluster within the hour after what
they react to, and a jitter of hours moved a reacting account away from that cluster,
where it would rarely meet anyone, so heavy organic accounts looked synchronous
(docs/significance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from trollscope.detect.clock import US
from trollscope.detect.pairtest import log_pvalues
from trollscope.engine import coaction

ACCOUNT_TEST_SCHEMA = pa.schema(
    [
        ("trace", pa.string()),
        ("window_s", pa.float64()),
        ("platform", pa.string()),
        ("account_id", pa.string()),
        ("units", pa.int64()),  # (key, period) units on keys others touched too
        ("met", pa.int64()),  # K: units that met someone within the window
        ("expected", pa.float64()),  # mu: what the jitter allows
        ("partners", pa.int64()),  # distinct accounts met within the window
        ("log_p", pa.float64()),
    ]
)

_OCC = "ts_at_occ"  # (kid, bin, cum): a key's bins within one bin of an action, counted
_UNITS = "ts_at_units"  # (aid, kid, h, lam)
_MET = "ts_at_met"  # (aid, k, partners)


@dataclass(frozen=True, slots=True)
class AccountTests:
    """The accounts of one trace that met someone within the window twice or more,
    tested, and how many others were tested with p = 1."""

    table: pa.Table
    untested: int


def account_tests(
    con: duckdb.DuckDBPyConnection, trace: str, window: float, jitter_s: float, period_s: float
) -> AccountTests:
    """Test every account of the trace whose rows the engine left in its scratch tables
    (`coaction.ID_ROWS`, `PAIRS`, `ACCOUNT_IDS`: `compute_edges(..., keep_scratch=True)`)."""
    window_us = max(1, round(window * US))
    period_us = max(1, round(period_s * US))
    reach = max(1, round(jitter_s / window))  # R: bins a shift can move an action
    rows, pairs = coaction.ID_ROWS, coaction.PAIRS
    try:
        # The bins within one bin of some action on each key, numbered in order per key;
        # `cum` is how many such bins lie at or before `bin`.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_OCC} AS
                SELECT kid, bin, row_number() OVER (PARTITION BY kid ORDER BY bin) AS cum
                FROM (SELECT DISTINCT kid, us // {window_us} + d AS bin
                      FROM {rows}, (SELECT unnest([-1, 0, 1]) AS d))"""
        )
        # c_r for each action: the occupied bins within R of its own, by two as-of
        # lookups of the running count; lambda_u summed per (account, key, period).
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_UNITS} AS
                WITH r AS (SELECT aid, kid, us // {window_us} AS bin,
                                  us // {period_us} AS h FROM {rows}),
                hi AS (SELECT r.aid, r.kid, r.bin, r.h, o.cum AS upto
                       FROM r ASOF JOIN {_OCC} o ON o.kid = r.kid AND o.bin <= r.bin + {reach}),
                c AS (SELECT hi.aid, hi.kid, hi.h,
                             hi.upto - coalesce(lo.cum, 0) AS bins
                      FROM hi ASOF LEFT JOIN {_OCC} lo
                           ON lo.kid = hi.kid AND lo.bin < hi.bin - {reach})
                SELECT aid, kid, h,
                       least(1.0, sum(bins) / {2 * reach + 1}.0) AS lam
                FROM c GROUP BY ALL"""
        )
        # Units met: each side of every pair row, deduplicated by its first meeting post.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_MET} AS
                WITH sides AS (
                    SELECT a AS aid, ra AS rid, b AS partner FROM {pairs}
                    UNION ALL SELECT b, rb, a FROM {pairs}),
                u AS (SELECT s.aid, r.kid, r.us // {period_us} AS h,
                             arg_min(r.post_id, (r.us, r.post_id)) AS first
                      FROM sides s JOIN {rows} r ON r.rid = s.rid GROUP BY ALL)
                SELECT u.aid, count(DISTINCT (u.h, u.first)) AS k, p.partners
                FROM u JOIN (SELECT aid, count(DISTINCT partner) AS partners FROM sides
                             GROUP BY aid) p USING (aid)
                GROUP BY u.aid, p.partners"""
        )
        table = con.sql(
            f"""SELECT acc.platform, acc.account_id, u.units, m.k AS met, u.mu AS expected,
                       m.partners
                FROM {_MET} m
                JOIN (SELECT aid, count(*) AS units, sum(lam ORDER BY h, kid) AS mu
                      FROM {_UNITS} GROUP BY aid) u USING (aid)
                JOIN {coaction.ACCOUNT_IDS} acc USING (aid)
                ORDER BY acc.platform, acc.account_id"""
        ).to_arrow_table()
    finally:
        for name in (_OCC, _UNITS, _MET):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    met = table.column("met").to_numpy()
    log_p = log_pvalues(met, table.column("expected").to_numpy())
    tested = met >= 2
    n = int(tested.sum())
    kept = table.filter(pa.array(tested))
    return AccountTests(
        pa.table(
            {
                "trace": pa.array([trace] * n, pa.string()),
                "window_s": pa.array(np.full(n, window), pa.float64()),
                "platform": kept.column("platform"),
                "account_id": kept.column("account_id"),
                "units": kept.column("units").cast(pa.int64()),
                "met": kept.column("met").cast(pa.int64()),
                "expected": kept.column("expected").cast(pa.float64()),
                "partners": kept.column("partners").cast(pa.int64()),
                "log_p": pa.array(log_p[tested], pa.float64()),
            },
            schema=ACCOUNT_TEST_SCHEMA,
        ),
        int(table.num_rows - n),
    )
