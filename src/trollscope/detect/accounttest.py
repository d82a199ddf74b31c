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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trollscope.detect import prefilter
from trollscope.detect.clock import US
from trollscope.detect.pairtest import SUM_GRID, log_pvalues
from trollscope.detect.prefilter import AccountPending
from trollscope.engine import coaction

if TYPE_CHECKING:
    from trollscope.inputs import Backend

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
    """`account_tests_on` in DuckDB, on the case's connection (detect calls
    `account_tests_on` with its own engine)."""
    from trollscope.engine.run import DuckDBBackend

    return account_tests_on(DuckDBBackend(con), trace, window, jitter_s, period_s)


def account_tests_on(
    engine: Backend, trace: str, window: float, jitter_s: float, period_s: float
) -> AccountTests:
    """Test every account of the trace whose rows the engine left in its scratch tables
    (`coaction.ID_ROWS`, `PAIRS`, `ACCOUNT_IDS`: `compute_edges(..., keep_scratch=True)`),
    on that engine, and bring every test back. Written once as Ibis expressions (see
    `pairtest.py`). detect keeps them on the engine instead (`pending_account_tests`)."""
    with _statistics_on(engine, window, jitter_s, period_s) as stats:
        table = engine.fetch(stats.order_by(["platform", "account_id"]))
    tested = table.filter(pc.greater_equal(table.column("met"), 2))
    return AccountTests(account_table(trace, window, tested), int(table.num_rows - tested.num_rows))


def pending_account_tests(
    engine: Backend, trace: str, window: float, jitter_s: float, period_s: float, table: str
) -> AccountPending:
    """The trace's account tests (met twice or more), with their raw weights and the
    floors of their p-values, materialised on the engine as `table`
    (prefilter.ACCOUNT_PENDING_SCHEMA) until Benjamini-Hochberg's line is known; the
    accounts that met someone once are counted as tested with p = 1."""
    try:
        with _statistics_on(engine, window, jitter_s, period_s) as stats:
            # Stored, not cached, as the pair tests' pending tables are (run.py).
            engine.store(table, prefilter.with_account_floor(stats.filter(stats.met >= 2)))
            tested, weight_sum = prefilter.counted(engine, table)
            single = stats.filter(stats.met < 2)
            once = engine.fetch(single.aggregate(n=single.count()))
    except BaseException:
        engine.drop(table)
        raise
    untested = int(once.column("n")[0].as_py() or 0)
    return AccountPending(trace, table, window, tested, untested, weight_sum)


def account_table(trace: str, window: float, stats: pa.Table) -> pa.Table:
    """ACCOUNT_TEST_SCHEMA rows, with their p-values, from statistics (platform,
    account_id, units, met, expected, partners) of accounts that met twice or more."""
    n = stats.num_rows
    log_p = log_pvalues(stats.column("met").to_numpy(), stats.column("expected").to_numpy())
    return pa.table(
        {
            "trace": pa.array([trace] * n, pa.string()),
            "window_s": pa.array(np.full(n, window), pa.float64()),
            "platform": stats.column("platform").cast(pa.string()),
            "account_id": stats.column("account_id").cast(pa.string()),
            "units": stats.column("units").cast(pa.int64()),
            "met": stats.column("met").cast(pa.int64()),
            "expected": stats.column("expected").cast(pa.float64()),
            "partners": stats.column("partners").cast(pa.int64()),
            "log_p": pa.array(log_p, pa.float64()),
        },
        schema=ACCOUNT_TEST_SCHEMA,
    )


@contextmanager
def _statistics_on(
    engine: Backend, window: float, jitter_s: float, period_s: float
) -> Iterator[ir.Table]:
    """(platform, account_id, units, met, expected, partners) of every account that met
    someone within the window, as an expression over scratch tables that exist while the
    context is open."""
    window_us = max(1, round(window * US))
    period_us = max(1, round(period_s * US))
    reach = max(1, round(jitter_s / window))  # R: bins a shift can move an action
    # The ids' declared type does not reach the SQL: one declaration serves both widths.
    rows = coaction.id_rows_table("int64")
    pairs = coaction.pairs_table("int64")
    try:
        engine.materialize(_UNITS, _units(rows, window_us, period_us, reach))
        engine.materialize(_MET, _met(rows, pairs, period_us))
        units = ibis.table(
            {"aid": "int64", "kid": "int64", "h": "int64", "lam": "float64"}, name=_UNITS
        )
        met = ibis.table({"aid": "int64", "k": "int64", "partners": "int64"}, name=_MET)
        per = units.group_by("aid").aggregate(
            units=units.count(), mu=(units.lam * SUM_GRID).round().sum() / SUM_GRID
        )
        out = met.join(per, "aid").join(coaction.account_ids_table("int64"), "aid")
        yield out.select(
            "platform",
            "account_id",
            units=out.units.cast("int64"),
            met=out.k.cast("int64"),
            expected=out.mu.cast("float64"),
            partners=out.partners.cast("int64"),
        )
    finally:
        engine.drop(_UNITS, _MET)


def _units(rows: ir.Table, window_us: int, period_us: int, reach: int) -> ir.Table:
    """(aid, kid, h, lam) for every (account, key, period) unit: lambda_u.

    c_r for an action r counts the bins within R of its own that lie within one bin of
    some action on its key ("occupied"). The occupied bins (distinct per key) and the
    actions go into one table, the actions weighing nothing, and a RANGE window of R
    bins either side sums the weights around each action: one sort per key, on every
    engine (an as-of join, DuckDB's first way of doing it, Spark has not)."""
    # (The offsets are unnested on their own: Spark allows no generator inside an
    # expression.)
    shifted = rows.mutate(offset=ibis.literal([-1, 0, 1]).unnest())
    occupied = shifted.select(
        kid=shifted.kid, bin=shifted.us // window_us + shifted.offset
    ).distinct()
    null = ibis.null("int64")
    both = occupied.select("kid", "bin", weight=ibis.literal(1, "int64"), aid=null, h=null).union(
        rows.select(
            "kid",
            bin=rows.us // window_us,
            weight=ibis.literal(0, "int64"),
            aid=rows.aid.cast("int64"),
            h=rows.us // period_us,
        ),
        distinct=False,
    )
    around = ibis.range_window(
        preceding=reach, following=reach, group_by=both.kid, order_by=both.bin
    )
    counted = both.mutate(bins=both.weight.sum().over(around))
    actions = counted.filter(counted.weight == 0)
    per = actions.group_by("aid", "kid", "h").aggregate(bins=actions.bins.sum())
    return per.select(
        "aid",
        "kid",
        "h",
        lam=ibis.least(ibis.literal(1.0), per.bins.cast("float64") / (2 * reach + 1)),
    )


def _met(rows: ir.Table, pairs: ir.Table, period_us: int) -> ir.Table:
    """(aid, k, partners): the units each account met someone in, each side of every
    pair row, deduplicated by its first meeting post; and its distinct partners."""
    sides = pairs.select(aid=pairs.a, rid=pairs.ra, partner=pairs.b).union(
        pairs.select(aid=pairs.b, rid=pairs.rb, partner=pairs.a), distinct=False
    )
    joined = sides.join(rows.select("rid", "kid", "us", "post_id"), "rid")
    first = joined.post_id.argmin(ibis.struct({"us": joined.us, "post": joined.post_id}))
    units = joined.group_by("aid", "kid", h=joined.us // period_us).aggregate(first=first)
    units = units.select("aid", "h", "first").distinct()
    met = units.group_by("aid").aggregate(k=units.count())
    partners = sides.group_by("aid").aggregate(partners=sides.partner.nunique())
    out = met.join(partners, "aid")
    return out.select(aid=out.aid.cast("int64"), k=out.k, partners=out.partners)
