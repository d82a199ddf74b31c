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
within +-J (the reference null of DESIGN.md) keeps exactly that. So a pair must also
show synchrony: of the keys it shares in one period, K met within the window. Under the
jitter null, a meeting on a key in the same period falls within W with probability about
rho = (2W + tick) / P (the offset difference spreads the two times over the period;
tick: the data's clock tick, since minute-stamped data meets on a lattice), so
K ~ Binomial(max(S, K), rho), again conditioned on K >= 1.

A pair is significant only if both nulls are rejected: its p-value is the larger of the
two (an intersection-union test, valid at the level of each). Benjamini-Hochberg then
runs over all tested pairs of all traces (`run.py`). A pair that met within the window on
one key only has a synchrony p-value of 1 whatever S is, so only pairs with K >= 2 are
computed; the others are counted (they are tested, with p = 1, and enter BH's m).

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
from scipy import stats

from trollscope.detect.clock import clock_tick_us
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
        ("repeat_log_p", pa.float64()),  # ln p of S under the popularity null
        ("sync_log_p", pa.float64()),  # ln p of K under the synchrony (jitter) null
        ("log_p", pa.float64()),  # the larger: ln of the pair's p-value (it underflows)
    ]
)

_ROWS = "ts_pt_rows"  # (aid, kid, h): distinct key-periods per account
_DEG = "ts_pt_deg"  # (aid, h, d)
_Q = "ts_pt_q"  # (h, q)
_CAND = "ts_pt_cand"  # candidate pairs with integer ids
_ACC = "ts_pt_acc"  # (platform, account_id) -> aid
_TRACE = "ts_pt_trace"  # the trace's rows, materialised once


def log_pvalues(shared: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """ln P(X >= S | X >= 1) for X ~ Poisson(E); 0 (p = 1) where S < 2 or E is 0."""
    s = shared.astype(np.float64)
    e = np.maximum(expected.astype(np.float64), 1e-300)
    tail = stats.poisson.logsf(s - 1, e)  # ln P(X >= S)
    met = np.log(-np.expm1(-e))  # ln P(X >= 1)
    out = np.where(s >= 2, tail - met, 0.0)
    return np.minimum(out, 0.0)


def sync_log_pvalues(met: np.ndarray, shared: np.ndarray, rho: float) -> np.ndarray:
    """ln P(X >= K | X >= 1) for X ~ Binomial(max(S, K), rho); 0 where K < 2."""
    if rho >= 1.0:  # the window spans the period: meeting within it says nothing more
        return np.zeros(len(met), dtype=np.float64)
    k = met.astype(np.float64)
    n = np.maximum(shared.astype(np.float64), k)
    tail = stats.binom.logsf(k - 1, n, rho)
    at_least_one = np.log(-np.expm1(n * np.log1p(-rho)))
    out = np.where(k >= 2, tail - np.where(n > 0, at_least_one, 0.0), 0.0)
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
                    GROUP BY c.pid)
                SELECT c.platform, c.account_a, c.account_b, c.keys, c.coactions,
                       coalesce(sh.s, 0)::BIGINT AS shared, coalesce(ex.e, 0.0) AS expected
                FROM {_CAND} c LEFT JOIN sh USING (pid) LEFT JOIN ex USING (pid)
                ORDER BY c.platform, c.account_a, c.account_b"""
        ).to_arrow_table()
    finally:
        for name in (_TRACE, _ACC, _ROWS, _Q, _DEG, _CAND):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    shared = table.column("shared").to_numpy()
    repeat = log_pvalues(shared, table.column("expected").to_numpy())
    sync = sync_log_pvalues(table.column("keys").to_numpy(), shared, rho)
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
                "repeat_log_p": pa.array(repeat, pa.float64()),
                "sync_log_p": pa.array(sync, pa.float64()),
                "log_p": pa.array(np.maximum(repeat, sync), pa.float64()),
            },
            schema=PAIR_TEST_SCHEMA,
        ),
        untested,
    )
