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

Written once as Ibis expressions (as the co-action engine is), run by the engine that
computed the edges: DuckDB inside the case, or Spark (`detect --engine spark`); only the
per-pair statistics come back to Python, for the tails. Everything runs on integer ids:
the joins are candidate pairs x each account's (key, period) rows, so a viral key costs
no more than its members' own rows. The floating sums (E, the synchrony's expectation)
add terms rounded to a grid fine enough to change no p-value that matters, so that they
are exact, and the same on every run and engine whatever order its threads add them in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from trollscope.detect.clock import US, clock_tick
from trollscope.detect.tails import poisson_log_sf
from trollscope.engine import coaction

if TYPE_CHECKING:
    from trollscope.inputs import Backend

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

# The candidate pairs: a trace's edges that met on two keys or more.
CANDIDATE_SCHEMA = ibis.schema(
    {
        "platform": "string",
        "account_a": "string",
        "account_b": "string",
        "keys": "int64",
        "coactions": "int64",
    }
)

# The grid the summed terms are rounded to (see the module's docstring): a sum of
# multiples of 2^-32 is exact in a double while it stays below 2^21 (two million: the
# synchrony's terms are at most 1 each, E's are products of two accounts' keys in a
# period times a popularity share, far below that in every case measured; beyond it the
# sum is merely as exact as doubles are). Each term moves by at most 2^-33.
SUM_GRID = 2**32

_ACC = "ts_pt_acc"  # (platform, account_id, aid)
_KEYS = "ts_pt_keys"  # (platform, key, kid)
_US = "ts_pt_us"  # (aid, kid, us, post): every action, for the meetings within the window
_ROWS = "ts_pt_rows"  # (aid, kid, h): distinct key-periods per account
_CNT = "ts_pt_cnt"  # (aid, kid, h, n): an account's actions on a key in a period
_DEG = "ts_pt_deg"  # (aid, h, d)
_Q = "ts_pt_q"  # (h, q)
_CAND = "ts_pt_cand"  # candidate pairs with integer ids
_POSTS = "ts_pt_posts"  # (platform, post_id, post)
_SCRATCH = (_ACC, _KEYS, _POSTS, _US, _ROWS, _CNT, _DEG, _Q, _CAND)
_KEY = ("platform", "key")

# The per-pair statistics the engine computes; the tails are taken of them in Python.
STATISTICS_SCHEMA = ibis.schema(
    {
        "platform": "string",
        "account_a": "string",
        "account_b": "string",
        "keys": "int64",
        "coactions": "int64",
        "shared": "int64",
        "expected": "float64",
        "sync_periods": "int64",
        "sync_expected": "float64",
    }
)
STATISTICS_ORDER = ("platform", "account_a", "account_b")


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
    computed with) under both nulls, with periods of `period_s` seconds, in DuckDB on the
    case's connection. `rows`: a table already holding the trace's rows (the engine's),
    else they are computed here. (detect calls `pair_tests_on` with its own engine.)"""
    from trollscope import inputs
    from trollscope.engine.run import DuckDBBackend
    from trollscope.traces import TRACES

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
    engine = DuckDBBackend(con)
    own_rows = "ts_pt_trace"
    if rows is None:
        trace = TRACES[trace_name]
        if trace.prepare is not None:
            trace.prepare(con, engine)
        raw = trace.rows(inputs.Inputs())
        engine.materialize(own_rows, coaction.trace_rows(raw, trace.keys_checked))
    source = ibis.table(coaction.ROW_SCHEMA, name=rows or own_rows)
    candidates = candidates_sql(trace_name)
    con.execute(f"CREATE OR REPLACE TEMP VIEW ts_pt_edges AS {candidates}")
    try:
        return pair_tests_on(
            engine,
            trace_name,
            source,
            ibis.table(CANDIDATE_SCHEMA, name="ts_pt_edges"),
            window,
            period_s,
            clock_tick(engine, source),
            untested,
        )
    finally:
        con.execute("DROP VIEW IF EXISTS ts_pt_edges")
        if rows is None:
            engine.drop(own_rows)


def candidates_sql(trace_name: str) -> str:
    """DuckDB SQL for the candidate pairs of a trace in the case (CANDIDATE_SCHEMA)."""
    quoted = trace_name.replace("'", "''")
    return (
        "SELECT platform, account_a, account_b, keys::BIGINT AS keys, "
        "coactions::BIGINT AS coactions "
        f"FROM edges WHERE trace = '{quoted}' AND keys >= 2"
    )


def pair_tests_on(
    engine: Backend,
    trace_name: str,
    rows: ir.Table,
    candidates: ir.Table,
    window: float,
    period_s: float,
    tick_us: int,
    untested: int,
) -> PairTests:
    """Test the `candidates` (CANDIDATE_SCHEMA: a trace's edges with two keys or more,
    met within `window` seconds) under both nulls, with periods of `period_s` seconds,
    on `engine`, whose `rows` are the trace's rows (coaction.ROW_SCHEMA) and `tick_us`
    their clock tick; `untested` pairs more were tested with p = 1. Every test comes
    back (detect fetches only those that could pass: `prefilter.py`)."""
    rho = sync_rate(window, tick_us, period_s)
    with statistics_on(engine, rows, candidates, window, period_s, rho) as stats:
        table = engine.fetch(stats.order_by(list(STATISTICS_ORDER)))
    return PairTests(tails(table, trace_name, window, rho), untested)


def sync_rate(window: float, tick_us: int, period_s: float) -> float:
    """rho: the chance that two actions of a unit fall within the window under the
    jitter (see the module's docstring)."""
    return min(1.0, (2 * window + tick_us / US) / period_s)


@contextmanager
def statistics_on(
    engine: Backend,
    rows: ir.Table,
    candidates: ir.Table,
    window: float,
    period_s: float,
    rho: float,
) -> Iterator[ir.Table]:
    """The expression of the statistics of the `candidates` (STATISTICS_SCHEMA, one row
    per pair), valid inside the block: the scratch tables it reads are dropped after it
    (so what reads it, a fetch or a materialisation the block uses, runs inside)."""
    try:
        yield _statistics(engine, rows, candidates, window, period_s, rho)
    finally:
        engine.drop(*_SCRATCH)


def tails(table: pa.Table, trace_name: str, window: float, rho: float) -> pa.Table:
    """The tests (PAIR_TEST_SCHEMA) of statistics rows (STATISTICS_SCHEMA), in the
    order given: both tails in Python, which the engines have no function for."""
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
    return pa.table(
        {
            "trace": pa.array([trace_name] * n, pa.string()),
            "window_s": pa.array(np.full(n, window), pa.float64()),
            "platform": table.column("platform"),
            "account_a": table.column("account_a"),
            "account_b": table.column("account_b"),
            "keys": table.column("keys").cast(pa.int64()),
            "coactions": table.column("coactions").cast(pa.int64()),
            "shared": table.column("shared").cast(pa.int64()),
            "expected": table.column("expected").cast(pa.float64()),
            "sync_periods": table.column("sync_periods").cast(pa.int64()),
            "sync_expected": table.column("sync_expected").cast(pa.float64()),
            "repeat_log_p": pa.array(repeat, pa.float64()),
            "sync_log_p": pa.array(sync, pa.float64()),
            "log_p": pa.array(np.maximum(repeat, sync), pa.float64()),
        },
        schema=PAIR_TEST_SCHEMA,
    )


def _on_grid(value: ir.FloatingValue, grid: int) -> ir.FloatingValue:
    """`value` rounded to a multiple of 1 / `grid` (an integer literal: Spark reads a
    float literal like 4294967296.0 as a DECIMAL and rounds the product to its scale)."""
    return (value * grid).round() / grid


def _statistics(
    engine: Backend,
    rows: ir.Table,
    candidates: ir.Table,
    window: float,
    period_s: float,
    rho: float,
) -> ir.Table:
    """Materialise the tables the statistics read; the expression of the statistics per
    candidate pair (STATISTICS_SCHEMA)."""
    period_us = max(1, int(period_s * US))
    window_us = round(window * US)
    # Integer ids. Keys are numbered per platform (a key string on two platforms is two
    # keys); the trace's keys all count here, viral ones and those one account touched
    # included: they are part of each account's activity and of each period's popularity.
    coaction.account_ids(engine, _ACC, rows, "int64")
    acc = ibis.table({"platform": "string", "account_id": "string", "aid": "int64"}, name=_ACC)
    engine.number(_KEYS, rows.select("platform", "key").distinct(), "kid", _KEY, "int64")
    kid = ibis.table({"platform": "string", "key": "string", "kid": "int64"}, name=_KEYS)
    # Posts by number, in the order of their ids: the first meeting's tie-break below
    # compares them as it would the ids (so both engines agree), and the meetings' join
    # carries two integers, not two texts.
    posts = rows.select("platform", "post_id").distinct()
    engine.number(_POSTS, posts, "post", ("platform", "post_id"), "int64")
    post = ibis.table({"platform": "string", "post_id": "string", "post": "int64"}, name=_POSTS)
    joined = rows.join(acc, ["platform", "account_id"]).join(kid, ["platform", "key"])
    joined = joined.join(post, ["platform", "post_id"])
    engine.materialize(_US, joined.select("aid", "kid", "us", "post"))
    us = ibis.table({"aid": "int64", "kid": "int64", "us": "int64", "post": "int64"}, name=_US)
    engine.materialize(_ROWS, us.select("aid", "kid", h=us.us // period_us).distinct())
    per = ibis.table({"aid": "int64", "kid": "int64", "h": "int64"}, name=_ROWS)
    counted = us.mutate(h=us.us // period_us)
    engine.materialize(_CNT, counted.group_by("aid", "kid", "h").aggregate(n=counted.count()))
    cnt = ibis.table({"aid": "int64", "kid": "int64", "h": "int64", "n": "int64"}, name=_CNT)
    on_key = per.group_by("kid", "h").aggregate(n=per.count())
    # Q(h) = sum_k n_k(h)^2 / T(h)^2, in doubles (the counts' squares overflow no int64,
    # but their ratio must not be an integer division on any engine).
    n = on_key.n.cast("float64")
    engine.materialize(
        _Q,
        on_key.group_by("h").aggregate(q=(n * n).sum() / (n.sum() * n.sum())),
    )
    q = ibis.table({"h": "int64", "q": "float64"}, name=_Q)
    engine.materialize(_DEG, per.group_by("aid", "h").aggregate(d=per.count().cast("float64")))
    deg = ibis.table({"aid": "int64", "h": "int64", "d": "float64"}, name=_DEG)
    x = acc.select(platform="platform", account_a="account_id", a="aid")
    y = acc.select(platform_b="platform", account_b="account_id", b="aid")
    cand = candidates.join(x, ["platform", "account_a"])
    cand = cand.join(y, (cand.platform == y.platform_b) & (cand.account_b == y.account_b))
    cand = cand.select("platform", "account_a", "account_b", "keys", "coactions", "a", "b")
    engine.number(_CAND, cand, "pid", STATISTICS_ORDER, "int64")
    c = ibis.table(
        {
            "platform": "string",
            "account_a": "string",
            "account_b": "string",
            "keys": "int64",
            "coactions": "int64",
            "a": "int64",
            "b": "int64",
            "pid": "int64",
        },
        name=_CAND,
    )
    pid = c.select("pid", "a", "b")

    # E: sum over periods of d_a(h) d_b(h) Q(h).
    da = deg.select(a="aid", h="h", da="d")
    db = deg.select(b="aid", hb="h", db="d")
    ex = pid.join(da, "a")
    ex = ex.join(db, (ex.b == db.b) & (ex.h == db.hb)).join(q, "h")
    ex = ex.group_by("pid").aggregate(expected=_on_grid(ex.da * ex.db * ex.q, SUM_GRID).sum())

    # S: distinct keys both touched in one period.
    ra = per.select(a="aid", kid="kid", h="h")
    rb = per.select(b="aid", kb="kid", hb="h")
    sh = pid.join(ra, "a")
    sh = sh.join(rb, (sh.b == rb.b) & (sh.kid == rb.kb) & (sh.h == rb.hb))
    sh = sh.group_by("pid").aggregate(shared=sh.kid.nunique())

    # K: (key, period) units met within the window, counted once per first meeting.
    ua = us.select(a="aid", kid="kid", us_a="us", post_a="post")
    ub = us.select(b="aid", kb="kid", us_b="us", post_b="post")
    met = pid.join(ua, "a")
    met = met.join(
        ub,
        (met.b == ub.b)
        & (met.kid == ub.kb)
        & (ub.us_b >= met.us_a - window_us)
        & (ub.us_b <= met.us_a + window_us),
    )
    first = ibis.struct({"a": met.post_a, "b": met.post_b}).argmin(
        ibis.struct({"ua": met.us_a, "ub": met.us_b, "pa": met.post_a, "pb": met.post_b})
    )
    units = met.group_by("pid", "kid", h=met.us_a // period_us).aggregate(first=first)
    units = units.select("pid", "h", "first").distinct()
    met = units.group_by("pid").aggregate(sync_periods=units.count())

    # The synchrony's expectation: sum over shared (key, period) units of
    # min(1, n_a n_b rho).
    ca = cnt.select(a="aid", kid="kid", h="h", na="n")
    cb = cnt.select(b="aid", kb="kid", hb="h", nb="n")
    lam = pid.join(ca, "a")
    lam = lam.join(cb, (lam.b == cb.b) & (lam.kid == cb.kb) & (lam.h == cb.hb))
    term = ibis.least(ibis.literal(1.0), lam.na.cast("float64") * lam.nb * ibis.literal(rho))
    lam = lam.group_by("pid").aggregate(sync_expected=_on_grid(term, SUM_GRID).sum())

    out = c.left_join(sh, "pid").left_join(ex, "pid").left_join(met, "pid").left_join(lam, "pid")
    return out.select(
        "platform",
        "account_a",
        "account_b",
        "keys",
        "coactions",
        shared=out.shared.fill_null(0).cast("int64"),
        expected=out.expected.fill_null(0.0),
        sync_periods=out.sync_periods.fill_null(0).cast("int64"),
        sync_expected=out.sync_expected.fill_null(0.0),
    )
