"""Which account pairs share more keys than their activity and the keys' popularity explain.

The null (docs/significance.md says why this one and not a shift of timelines alone):
every account keeps how much it does in each period (six hours by default: its rhythm)
and every key keeps how many accounts touch it in that period (what is popular then), but
each account picks its keys in a period independently of the others, in proportion to
their popularity. Two organic accounts in one viral cascade meet on its key under this
null as often as they do in fact; a farm meets the *same* partners on key after key that
few others touch, which the null cannot explain. That is the difference the measurements
showed: farms repeat, cascades do not.

Statistic, for a candidate pair (a, b) of one trace (an edge: they co-acted within the
window W at least once):

    S_ab = distinct keys that a and b both touched in one period,
    E_ab = sum over periods h of d_a(h) d_b(h) Q(h),  Q(h) = sum_k n_k(h)^2 / T(h)^2,

d_a(h) the keys a touched in h, n_k(h) the accounts on key k in h, T(h) = sum_k n_k(h).
E_ab is the expected number of (key, period) meetings when a's d_a(h) picks fall on key k
with probability n_k(h)/T(h); counting keys once (S) rather than once per period keeps an
account's own habit (the same phrase every day) from looking like repetition with a
partner, and makes E an upper bound of the expected distinct keys (errs towards fewer
flags). S is compared with a Poisson(E) upper tail (a sum of rare independent Bernoulli
meetings; less dispersed than Poisson, so conservative), conditioned on S >= 1 because a
pair is only tested when it has met: p = P(X >= S) / P(X >= 1).

Repetition is half of coordination; the other half is synchrony. Accounts that follow
each other's topics hours apart (the same objects, never within the window) repeat
without being synchronised, and a jitter of each account's timeline by its own offset
(the reference null of DESIGN.md; here one offset per account and period, uniform over
the period) keeps exactly that. So a pair must also show synchrony, counted in units
that the jitter cannot multiply:

    a unit is a (key, period) both accounts touched; it *met* when some action of a and
    some action of b on that key lie within W; units whose first meeting is the same
    pair of posts count once (a tweet with three hashtags is one coincidence, not three);
    K = the units that met. Under the jitter, unit u meets with probability at most
    rho_u = min(1, n_a n_b (2W + tick) / P): each of the n_a x n_b pairs of the two
    accounts' actions on that key in that period falls within W with probability
    (2W + tick) / P (tick: the data's clock tick; minute-stamped data meets on a lattice),
    and a union bound covers them all.

K is compared with a Poisson(sum of rho_u) tail (a sum of independent Bernoulli meetings
is less dispersed than a Poisson, so the tail errs towards fewer flags), conditioned on
K >= 1. Why rho_u and not one rate for every key: an account that posts dozens of times
on one tag in an hour (live-tweeting, a hashtag game) meets another such account on that
tag whenever their hours overlap; with n_a = n_b = 30, rho_u is 1, and an overlap of two
bursts is no evidence. (Counted per key with one rate, the first version flagged 6% of a
real troll archive whose timelines had been shifted apart by up to a week.)

A pair is significant only if both nulls are rejected: its p-value is the larger of the
two (an intersection-union test, valid at the level of each). Benjamini-Hochberg then
runs over all tested pairs of all traces (`run.py`). A pair that met within the window on
one key only has a synchrony p-value of 1 (K < 2), so only pairs with two keys or more
are computed; the others are counted (they are tested, with p = 1, and enter BH's m).

The analytic E is checked against the null it stands for, resampled (tests/detect/test_detect.py):
each account's keys in each period redrawn in proportion to popularity.

Everything runs in DuckDB on integer ids: the joins are candidate pairs x each account's
(key, period) rows, so a viral key costs no more than its members' own rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from trollscope.detect.clock import clock_tick_us
from trollscope.detect.tails import poisson_log_sf
from trollscope.engine.run import trace_rows_sql
from trollscope.traces import TRACES

US = 1_000_000

PAIR_TEST_SCHEMA = pa.schema(
    [
        ("trace", pa.string()),
        ("window_s", pa.float64()),
        ("platform", pa.string()),
        ("account_a", pa.string()),
        ("account_b", pa.string()),
        ("keys", pa.int64()),  # distinct keys met within the window (the edge)
        ("coactions", pa.int64()),
        ("shared", pa.int64()),  # S: distinct keys touched by both in one period
        ("expected", pa.float64()),  # E under the popularity null
        ("sync_periods", pa.int64()),  # K: periods in which the pair met within the window
        ("sync_expected", pa.float64()),  # the meetings the jitter null expects there
        ("repeat_log_p", pa.float64()),  # ln p of S under the popularity null
        ("sync_log_p", pa.float64()),  # ln p of K under the synchrony (jitter) null
        ("log_p", pa.float64()),  # the larger: ln of the pair's p-value (it underflows)
    ]
)

_ROWS = "ts_pt_rows"  # (aid, kid, h): distinct key-periods per account
_CNT = "ts_pt_cnt"  # (aid, kid, h, n): an account's actions on a key in a period
_US = "ts_pt_us"  # (aid, kid, us): every action, for the meetings within the window
_DEG = "ts_pt_deg"  # (aid, h, d)
_Q = "ts_pt_q"  # (h, q)
_CAND = "ts_pt_cand"  # candidate pairs with integer ids
_ACC = "ts_pt_acc"  # (platform, account_id) -> aid
_TRACE = "ts_pt_trace"  # the trace's rows, materialised once


def log_pvalues(shared: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """ln P(X >= S | X >= 1) for X ~ Poisson(E); 0 (p = 1) where S < 2 or E is 0."""
    s = shared.astype(np.float64)
    e = np.maximum(expected.astype(np.float64), 1e-300)
    tail = poisson_log_sf(s, e)  # ln P(X >= S), a number far in the tail too
    met = np.log(-np.expm1(-e))  # ln P(X >= 1)
    out = np.where(s >= 2, tail - met, 0.0)
    return np.minimum(out, 0.0)


@dataclass(frozen=True, slots=True)
class PairTests:
    """The pairs of one trace that could be significant (K >= 2), tested, and how many
    others were tested with p = 1."""

    table: pa.Table
    untested: int


def pair_tests(
    con: duckdb.DuckDBPyConnection, trace_name: str, period_s: float, rows: str | None = None
) -> PairTests:
    """Test every edge of `trace_name` in the case's `edges` table (at the window it was
    computed with) under both nulls, with periods of `period_s` seconds. `rows`: a table
    already holding the trace's rows (the engine's), else they are computed here."""
    trace = TRACES[trace_name]
    found = con.execute(
        "SELECT DISTINCT window_s FROM edges WHERE trace = ? AND window_s > 0", [trace_name]
    ).fetchall()
    if not found:
        return PairTests(PAIR_TEST_SCHEMA.empty_table(), 0)
    window = float(found[0][0])
    untested = int(
        con.execute(
            "SELECT count(*) FROM edges WHERE trace = ? AND keys < 2", [trace_name]
        ).fetchall()[0][0]
    )
    period_us = max(1, int(period_s * US))
    window_us = round(window * US)
    try:
        source = rows or _TRACE
        if rows is None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_TRACE} AS {trace_rows_sql(con, trace)}")
        tick_s = clock_tick_us(con, source) / US
        rho = min(1.0, (2 * window + tick_s) / period_s)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_ACC} AS
                SELECT platform, account_id, (row_number() OVER ())::UBIGINT AS aid
                FROM (SELECT DISTINCT platform, account_id FROM {source})"""
        )
        # Keys are numbered per platform (a key string on two platforms is two keys).
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_ROWS} AS
                SELECT DISTINCT acc.aid, hash(r.platform, r.key) AS kid,
                       r.us // {period_us} AS h
                FROM {source} r JOIN {_ACC} acc USING (platform, account_id)"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_US} AS
                SELECT acc.aid, hash(r.platform, r.key) AS kid, r.us,
                       hash(r.platform, r.post_id) AS post
                FROM {source} r JOIN {_ACC} acc USING (platform, account_id)"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_CNT} AS
                SELECT aid, kid, us // {period_us} AS h, count(*) AS n
                FROM {_US} GROUP BY ALL"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_Q} AS
                SELECT h, sum(n * n)::DOUBLE / (sum(n)::DOUBLE * sum(n)::DOUBLE) AS q
                FROM (SELECT kid, h, count(*) AS n FROM {_ROWS} GROUP BY kid, h)
                GROUP BY h"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_DEG} AS
                SELECT aid, h, count(*)::DOUBLE AS d FROM {_ROWS} GROUP BY aid, h"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_CAND} AS
                SELECT row_number() OVER () AS pid, e.platform, e.account_a, e.account_b,
                       e.keys, e.coactions, x.aid AS a, y.aid AS b
                FROM edges e
                JOIN {_ACC} x ON x.platform = e.platform AND x.account_id = e.account_a
                JOIN {_ACC} y ON y.platform = e.platform AND y.account_id = e.account_b
                WHERE e.trace = ? AND e.keys >= 2""",
            [trace_name],
        )
        table = con.sql(
            f"""WITH ex AS (
                    SELECT c.pid, sum(da.d * db.d * q.q ORDER BY da.h) AS e
                    FROM {_CAND} c
                    JOIN {_DEG} da ON da.aid = c.a
                    JOIN {_DEG} db ON db.aid = c.b AND db.h = da.h
                    JOIN {_Q} q ON q.h = da.h
                    GROUP BY c.pid),
                sh AS (
                    SELECT c.pid, count(DISTINCT ra.kid) AS s
                    FROM {_CAND} c
                    JOIN {_ROWS} ra ON ra.aid = c.a
                    JOIN {_ROWS} rb ON rb.aid = c.b AND rb.kid = ra.kid AND rb.h = ra.h
                    GROUP BY c.pid),
                met AS (
                    SELECT pid, count(DISTINCT (h, first)) AS k FROM (
                        SELECT c.pid, ua.kid, ua.us // {period_us} AS h,
                               arg_min((ua.post, ub.post), (ua.us, ub.us, ua.post, ub.post))
                                   AS first
                        FROM {_CAND} c
                        JOIN {_US} ua ON ua.aid = c.a
                        JOIN {_US} ub ON ub.aid = c.b AND ub.kid = ua.kid
                             AND ub.us BETWEEN ua.us - {window_us} AND ua.us + {window_us}
                        GROUP BY ALL)
                    GROUP BY pid),
                lam AS (
                    SELECT c.pid,
                           sum(least(1.0, ca.n * cb.n * {rho!r}) ORDER BY ca.h, ca.kid) AS mu
                    FROM {_CAND} c
                    JOIN {_CNT} ca ON ca.aid = c.a
                    JOIN {_CNT} cb ON cb.aid = c.b AND cb.kid = ca.kid AND cb.h = ca.h
                    GROUP BY c.pid)
                SELECT c.platform, c.account_a, c.account_b, c.keys, c.coactions,
                       coalesce(sh.s, 0)::BIGINT AS shared, coalesce(ex.e, 0.0) AS expected,
                       coalesce(met.k, 0)::BIGINT AS sync_periods,
                       coalesce(lam.mu, 0.0) AS sync_expected
                FROM {_CAND} c LEFT JOIN sh USING (pid) LEFT JOIN ex USING (pid)
                LEFT JOIN met USING (pid) LEFT JOIN lam USING (pid)
                ORDER BY c.platform, c.account_a, c.account_b"""
        ).to_arrow_table()
    finally:
        for name in (_TRACE, _ACC, _ROWS, _US, _CNT, _Q, _DEG, _CAND):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    shared = table.column("shared").to_numpy()
    repeat = log_pvalues(shared, table.column("expected").to_numpy())
    # Synchrony: the periods in which the pair met within the window, against the
    # meetings their own actions there allow under the jitter (a Poisson tail: the
    # periods are independent Bernoulli meetings, less dispersed than a Poisson).
    met = table.column("sync_periods").to_numpy()
    if rho >= 1.0:  # the window spans the period: meeting within it says nothing more
        sync = np.zeros(len(met), dtype=np.float64)
    else:
        sync = log_pvalues(met, table.column("sync_expected").to_numpy())
    n = table.num_rows
    return PairTests(
        pa.table(
            {
                "trace": pa.array([trace_name] * n, pa.string()),
                "window_s": pa.array(np.full(n, window), pa.float64()),
                "platform": table.column("platform"),
                "account_a": table.column("account_a"),
                "account_b": table.column("account_b"),
                "keys": table.column("keys"),
                "coactions": table.column("coactions"),
                "shared": table.column("shared"),
                "expected": table.column("expected"),
                "sync_periods": table.column("sync_periods"),
                "sync_expected": table.column("sync_expected"),
                "repeat_log_p": pa.array(repeat, pa.float64()),
                "sync_log_p": pa.array(sync, pa.float64()),
                "log_p": pa.array(np.maximum(repeat, sync), pa.float64()),
            },
            schema=PAIR_TEST_SCHEMA,
        ),
        untested,
    )
