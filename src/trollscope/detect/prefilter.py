"""Which pair, account and burst tests come back from the engine: those that could
pass, and those inside a network.

At a year of a platform's data the pair tests are hundreds of millions of rows, the
account tests one per active account; the networks need the few that pass
Benjamini-Hochberg. Their tails are taken in Python (neither engine has a Poisson tail),
so the engine cannot tell by itself which pass. It can bound them from below. Both
families' p-values are P(X >= S | X >= 1), X ~ Poisson(E) (S keys or units met, E what
the null expects), and for S >= 2,

    ln p = ln P(X >= S) - ln P(X >= 1) >= ln P(X = S) + max(0, -ln E)
         >= S ln E - E - (S ln S - S + ln(2 pi S) / 2 + 1 / (12 S)) + max(0, -ln E)

(1 - e^-E <= E; the bracket is Robbins' upper bound of ln S!): a floor written with ln
and arithmetic, which both engines have, and within a few percent of the tail where S is
well above E, as a passing test's is. A pair's floor is the larger of its two tests'
floors, as its p-value is the larger of the two; less its weight's log, a floor bounds
ln(p / w), which BH compares with its line. A burst test's p-value is a binomial tail
(bursttest.py); its floor is the point probability, with Robbins' bounds on the
binomial coefficient (`binomial_log_floor`).

BH rejects the tests with p / w <= R q / m, R unknown. Let F(t) count the tests with
p / w <= t and N(t) >= F(t) count those whose floor is <= t (the cohort tests, a few
per cohort, are on the driver already: they count with their exact p-values). If R lies
in [2^j, 2^(j+1)), then N(2^(j+1) q / m) >= F(R q / m) >= R >= 2^j. So one aggregate
per trace and family, counting floors at t_j = 2^j q / m for j = 0 .. log2(m) + 1,
gives the smallest J such that N(t_(j+1)) < 2^j for every j >= J; then R < 2^J, and
every test BH rejects has p / w < T = 2^J q / m. Fetching the tests whose floor is at
most T gets them all, and fewer than 2^J of them. BH over what came back, with m
counting every test, rejects exactly what it would over all of them: the counts it steps
through, at thresholds up to T, are exact, and so are the q-values of the tests it
rejects. The q-value of a test that does not pass is an upper bound (a test left on the
engine could only lower it); it is above q either way.

After Leiden, the pair tests inside each network, the account tests of its members and
the burst tests more than half of whose members it holds come back too: a network's
p-value (Simes', networks.py) combines every test inside it, and a member's evidence
names its own. What the case's `pair_tests`, `account_tests` and `burst_tests` then
hold is every test that could pass and every one inside a network; `detect
--all-tests` fetches and stores every test, as before this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from trollscope.detect.pairtest import STATISTICS_ORDER, STATISTICS_SCHEMA
from trollscope.inputs import Backend

# Accounts whose weight is not 1 (weights.py), registered on the engine by detect.
WEIGHTS = "ts_det_weights"
WEIGHTS_SCHEMA = ibis.schema({"platform": "string", "account_id": "string", "weight": "float64"})
# The networks' members, registered on the engine for the fetch of the tests inside them.
MEMBERS = "ts_det_pair_members"
MEMBERS_SCHEMA = ibis.schema({"platform": "string", "account_id": "string", "network": "int64"})

# Each floor is lowered by this share of itself (and as much again in absolute terms):
# the engines' ln and the Python tails round differently, and a floor must never rise
# above the tail it bounds. It costs a test or two more fetched, no more.
MARGIN = 1e-6
LN2 = math.log(2.0)

_FLOORED = {"raw_weight": "float64", "log_floor": "float64"}
PENDING_SCHEMA = ibis.schema(dict(STATISTICS_SCHEMA.items()) | _FLOORED)
# An account test's statistics (accounttest.py), its raw weight and its floor.
ACCOUNT_STATISTICS_SCHEMA = ibis.schema(
    {
        "platform": "string",
        "account_id": "string",
        "units": "int64",
        "met": "int64",
        "expected": "float64",
        "partners": "int64",
    }
)
ACCOUNT_PENDING_SCHEMA = ibis.schema(dict(ACCOUNT_STATISTICS_SCHEMA.items()) | _FLOORED)
ACCOUNT_ORDER = ("platform", "account_id")


@dataclass(frozen=True, slots=True)
class Pending:
    """One trace's pair tests, still on the engine in `table`, with what the driver needs
    to take their tails and count them in BH."""

    trace: str
    table: str
    window: float
    rho: float  # the synchrony null's rate (pairtest.sync_rate)
    tested: int  # pair tests in the table
    weight_sum: float  # their raw weights, summed (exactly: each is a multiple of 1/2)


@dataclass(frozen=True, slots=True)
class AccountPending:
    """One trace's account tests, still on the engine in `table`
    (ACCOUNT_PENDING_SCHEMA): the same Poisson tail as the pair tests', so the same floor
    bounds them."""

    trace: str
    table: str
    window: float
    tested: int  # account tests in the table (met twice or more)
    untested: int  # accounts that met someone once: p = 1
    weight_sum: float  # their raw weights, summed (exactly: each is a whole number)


def weights_table(weights: dict[tuple[str, str], float]) -> pa.Table:
    """The raw weights that are not 1, as a table to register under WEIGHTS."""
    keys = sorted(weights)
    return pa.table(
        {
            "platform": pa.array([p for p, _ in keys], pa.string()),
            "account_id": pa.array([a for _, a in keys], pa.string()),
            "weight": pa.array([weights[k] for k in keys], pa.float64()),
        }
    )


def double(value: float) -> ir.FloatingValue:
    # A cast, not a bare literal: Spark reads a literal like 6.283185307179586 as a DECIMAL.
    return ibis.literal(value).cast("float64")


def log_floor(at_least: ir.IntegerValue, mean: ir.FloatingValue) -> ir.FloatingValue:
    """A lower bound of pairtest.log_pvalues(S, E), S = `at_least`, E = `mean` (see the
    module's docstring): 0 where S < 2, as the p-value is 1 there."""
    s = ibis.greatest(at_least.cast("float64"), double(2.0))  # no ln(0) where S < 2
    e = ibis.greatest(mean, double(1e-300))  # as log_pvalues floors E
    factorial = s * s.ln() - s + (double(2 * math.pi) * s).ln() / 2 + double(1.0) / (12 * s)
    point = s * e.ln() - e - factorial + ibis.greatest(-e.ln(), double(0.0))
    lowered = point - double(MARGIN) * (double(1.0) + point.abs())
    return ibis.ifelse(at_least >= 2, ibis.least(lowered, double(0.0)), double(0.0))


def _log_factorial(x: ir.FloatingValue, upper: bool) -> ir.FloatingValue:
    """Robbins' bounds of ln x! for whole x >= 0: from above (1 / 12x) or below
    (1 / (12x + 1)); ln 0! = 0."""
    y = ibis.greatest(x, double(1.0))  # no ln(0) where x = 0
    tail = double(1.0) / (12 * y) if upper else double(1.0) / (12 * y + 1)
    bound = y * y.ln() - y + (double(2 * math.pi) * y).ln() / 2 + tail
    return ibis.ifelse(x >= 1, bound, double(0.0))


def binomial_log_floor(
    accounts: ir.IntegerValue, burst: ir.IntegerValue, q: float, min_burst: int
) -> ir.FloatingValue:
    """A lower bound of bursttest.log_pvalues(n, M, q), n = `accounts`, M = `burst`:
    ln n + ln P(Binomial(n - 1, q) = M - 1), the point probability under the tail, with
    Robbins' bounds on the binomial coefficient's factorials; 0 where M < `min_burst`
    (the p-value is 1 there) or q >= 1 (every burst is expected). Where M - 1 is well
    above (n - 1) q, as a passing burst's is, the point is most of the tail."""
    if q >= 1.0:
        return double(0.0)
    big_n = accounts.cast("float64") - 1
    k = burst.cast("float64") - 1
    coefficient = (
        _log_factorial(big_n, upper=False)
        - _log_factorial(k, upper=True)
        - _log_factorial(big_n - k, upper=True)
    )
    # q is the driver's number: its logs are constants here, not the engines' ln.
    point = coefficient + k * double(math.log(q)) + (big_n - k) * double(math.log1p(-q))
    floor = accounts.cast("float64").ln() + point
    lowered = floor - double(MARGIN) * (double(1.0) + floor.abs())
    return ibis.ifelse(burst >= min_burst, ibis.least(lowered, double(0.0)), double(0.0))


def with_floor(stats: ir.Table, rho: float) -> ir.Table:
    """The statistics (pairtest.STATISTICS_SCHEMA) with each pair's raw weight (the mean
    of its accounts', from WEIGHTS) and the floor of its ln p-value (PENDING_SCHEMA)."""
    w = ibis.table(WEIGHTS_SCHEMA, name=WEIGHTS)
    wa = w.select(wa_platform="platform", wa_account="account_id", wa="weight")
    wb = w.select(wb_platform="platform", wb_account="account_id", wb="weight")
    t = stats.left_join(wa, (stats.platform == wa.wa_platform) & (stats.account_a == wa.wa_account))
    t = t.left_join(wb, (t.platform == wb.wb_platform) & (t.account_b == wb.wb_account))
    repeat = log_floor(t.shared, t.expected)
    # The window spans the period (rho 1): the synchrony test's p-value is 1.
    sync = log_floor(t.sync_periods, t.sync_expected) if rho < 1.0 else double(0.0)
    return t.select(
        *STATISTICS_SCHEMA.names,
        raw_weight=(t.wa.fill_null(1.0) + t.wb.fill_null(1.0)) / 2,
        log_floor=ibis.greatest(repeat, sync),
    )


def with_account_floor(stats: ir.Table) -> ir.Table:
    """Account tests' statistics (ACCOUNT_STATISTICS_SCHEMA) with each account's raw
    weight (from WEIGHTS) and the floor of its ln p-value (ACCOUNT_PENDING_SCHEMA)."""
    w = ibis.table(WEIGHTS_SCHEMA, name=WEIGHTS)
    w = w.select(w_platform="platform", w_account="account_id", w="weight")
    t = stats.left_join(w, (stats.platform == w.w_platform) & (stats.account_id == w.w_account))
    return t.select(
        *ACCOUNT_STATISTICS_SCHEMA.names,
        raw_weight=t.w.fill_null(1.0),
        log_floor=log_floor(t.met, t.expected),
    )


def counted(engine: Backend, pending: str) -> tuple[int, float]:
    """The tests in the engine's table `pending` and the sum of their raw weights."""
    t = ibis.table(_FLOORED, name=pending)
    row = engine.fetch(t.aggregate(tested=t.count(), weight_sum=t.raw_weight.sum()))
    tested = row.column("tested")[0].as_py() or 0
    return int(tested), float(row.column("weight_sum")[0].as_py() or 0.0)


def bound(t: ir.Table, log_mean_weight: float) -> ir.FloatingValue:
    """The floor of ln(p / w), w = raw weight / the family's mean (weights.normalised)."""
    return t.log_floor - t.raw_weight.ln() + double(log_mean_weight)


def steps(m: int) -> int:
    """The thresholds t_j = 2^j q / m counted: j = 0 .. top + 1, with 2^top > m."""
    return m.bit_length() + 2


def ladder(
    engine: Backend, pending: list[str], log_mean_weight: float, m: int, q: float
) -> np.ndarray:
    """N(t_j): per threshold t_j = 2^j q / m, the tests of one family whose floor of
    ln(p / w) is at most ln t_j, summed over its tables on the engine, one per trace
    (one aggregate each)."""
    counts = np.zeros(steps(m), dtype=np.int64)
    base = math.log(q / m)
    for name in pending:
        t = ibis.table(_FLOORED, name=name)
        floor = bound(t, log_mean_weight)
        metrics = {
            f"n{j}": ibis.ifelse(floor <= double(base + j * LN2), 1, 0).sum().cast("int64")
            for j in range(len(counts))
        }
        row = engine.fetch(t.aggregate(**metrics))
        counts += np.array(
            [int(row.column(f"n{j}")[0].as_py() or 0) for j in range(len(counts))], dtype=np.int64
        )
    return counts


def cutoff(pair_counts: np.ndarray, others: np.ndarray, m: int, q: float) -> float:
    """ln T: every test Benjamini-Hochberg at `q` over `m` tests rejects has p / w < T.
    `pair_counts`: `ladder`'s counts; `others`: ln(p / w) of the tests on the driver."""
    thresholds = math.log(q / m) + LN2 * np.arange(len(pair_counts))
    ranked = np.sort(others - MARGIN * (1.0 + np.abs(others)))  # count a hair more
    n = pair_counts + np.searchsorted(ranked, thresholds, side="right")
    top = len(pair_counts) - 2  # 2^top > m: R < 2^top whatever the counts
    cut = 0
    for j in range(top - 1, -1, -1):
        if n[j + 1] >= 2**j:  # R might lie in [2^j, 2^(j+1))
            cut = j + 1
            break
    return float(thresholds[cut])


def fetch(engine: Backend, p: Pending, log_mean_weight: float, log_cut: float | None) -> pa.Table:
    """The statistics of `p`'s pairs whose floor of ln(p / w) is at most `log_cut` (None:
    every pair), sorted."""
    t = ibis.table(PENDING_SCHEMA, name=p.table)
    if log_cut is not None:
        t = t.filter(bound(t, log_mean_weight) <= double(log_cut))
    return engine.fetch(t.select(*STATISTICS_SCHEMA.names).order_by(list(STATISTICS_ORDER)))


def fetch_accounts(
    engine: Backend, p: AccountPending, log_mean_weight: float, log_cut: float | None
) -> pa.Table:
    """`fetch` for account tests: the statistics of those whose floor of ln(p / w) is at
    most `log_cut` (None: every one), sorted."""
    t = ibis.table(ACCOUNT_PENDING_SCHEMA, name=p.table)
    if log_cut is not None:
        t = t.filter(bound(t, log_mean_weight) <= double(log_cut))
    return engine.fetch(t.select(*ACCOUNT_STATISTICS_SCHEMA.names).order_by(list(ACCOUNT_ORDER)))


def fetch_accounts_inside(
    engine: Backend, p: AccountPending, log_mean_weight: float, log_cut: float
) -> pa.Table:
    """The statistics of `p`'s account tests of network members (MEMBERS) that
    `fetch_accounts` at `log_cut` left on the engine, sorted."""
    t = ibis.table(ACCOUNT_PENDING_SCHEMA, name=p.table)
    t = t.filter(bound(t, log_mean_weight) > double(log_cut))
    m = ibis.table(MEMBERS_SCHEMA, name=MEMBERS)
    t = t.semi_join(m, ["platform", "account_id"])
    return engine.fetch(t.select(*ACCOUNT_STATISTICS_SCHEMA.names).order_by(list(ACCOUNT_ORDER)))


def fetch_inside(engine: Backend, p: Pending, log_mean_weight: float, log_cut: float) -> pa.Table:
    """The statistics of `p`'s pairs inside one network of MEMBERS that `fetch` at
    `log_cut` left on the engine, sorted."""
    t = ibis.table(PENDING_SCHEMA, name=p.table)
    t = t.filter(bound(t, log_mean_weight) > double(log_cut))
    m = ibis.table(MEMBERS_SCHEMA, name=MEMBERS)
    ma = m.select(ma_platform="platform", ma_account="account_id", ma_network="network")
    mb = m.select(mb_platform="platform", mb_account="account_id", mb_network="network")
    t = t.join(ma, (t.platform == ma.ma_platform) & (t.account_a == ma.ma_account))
    t = t.join(
        mb,
        (t.platform == mb.mb_platform)
        & (t.account_b == mb.mb_account)
        & (t.ma_network == mb.mb_network),
    )
    return engine.fetch(t.select(*STATISTICS_SCHEMA.names).order_by(list(STATISTICS_ORDER)))
