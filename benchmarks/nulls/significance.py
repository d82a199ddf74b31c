"""Which accounts co-act more than chance allows: an account-level test under the jitter null.

The null (DESIGN.md, "Significance, not thresholds"): every account keeps its own timeline
(rhythm, targets, attention to what is popular that hour) but the whole of it is shifted by
its own random offset, uniform in [-J, +J], with J (an hour to a day) well above the window
W. Two organic accounts reposting one viral post in the same hour still meet under it; a
farm acting within seconds on a directive does not.

Why per account and not per edge. Under this null one edge's p-value cannot go below about
W/J (`null.py`): one shift of the offsets realigns a synchronised pair, however many
co-actions it has, and a single coincidence gets the same p-value. What the null does
separate is volume: an organic account that reposted viral posts alongside hundreds of
others meets about as many of them by chance as it did in fact, while a farm member meets
its hundreds of fellow members far more often than their shared keys and times explain.

The statistic. For account a and one trace, O_a is the number of (key, post, post) triples
of a's edges (their `evidence_total`). Under the null, a's row i and another account's row
j on the same key meet with probability P(|d + delta| <= W), delta = offset_b - offset_a
(triangular on [-2J, 2J]); for W much smaller than J that is (2W + tick) * f(d), f the
triangular density and tick the data's clock tick (minute-stamped data meets on a lattice).
So the expected count is

    E_a = (2W + tick) / H^2 * sum_i sum_j max(0, H - |t_j - t_i|),   H = 2J,

over a's rows i and the other accounts' rows j on the same key: a kernel sum that window
functions compute from counts and sums of times over +-H (no pair is enumerated, so a
viral key costs no more than a quiet one). O_a is compared with a Poisson(E_a) upper tail:
given a's offset, the other accounts' offsets are independent, and each meeting is rare.

Known approximations (each errs towards fewer flags): a post pair that shares several keys
counts once per key on both sides; keys skipped as viral are left out of both sides;
near the ends of +-2J the density approximation overstates E.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from scipy import stats

from trollscope.case import has_table
from trollscope.detect.clock import clock_tick_us
from trollscope.engine.run import trace_rows_sql
from trollscope.errors import TrollscopeError
from trollscope.traces import TRACES

US = 1_000_000
_EPS = 1e-7  # seconds: "strictly after" for the right frame (times are whole microseconds)

ACCOUNT_TEST_SCHEMA = pa.schema(
    [
        ("trace", pa.string()),
        ("platform", pa.string()),
        ("account_id", pa.string()),
        ("observed", pa.int64()),
        ("expected", pa.float64()),
        ("partners", pa.int64()),
        ("p_value", pa.float64()),
    ]
)


def _window(con: duckdb.DuckDBPyConnection, trace: str) -> float:
    rows = con.execute("SELECT DISTINCT window_s FROM edges WHERE trace = ?", [trace]).fetchall()
    if not rows:
        raise TrollscopeError(
            f"the case has no {trace} edges: compute them first (trollscope edges --trace {trace})."
        )
    return float(rows[0][0])


def account_tests(con: duckdb.DuckDBPyConnection, trace: str, jitter: float = 3600.0) -> pa.Table:
    """Per account with at least one edge of `trace`: observed and expected triples under
    the jitter null of half-width `jitter` seconds, and the Poisson upper-tail p-value.
    Reads the case's `edges` (the trace at its computed window) and `skipped_keys`."""
    window = _window(con, trace)
    if window <= 0:
        raise TrollscopeError(
            f"{trace} edges were computed at window 0 (any time): a time jitter does not "
            "change them, so this test does not apply."
        )
    if jitter < 10 * window:
        raise TrollscopeError(
            f"the jitter ({jitter:g} s) must be well above the window ({window:g} s): at "
            "least ten times."
        )
    rows_sql = trace_rows_sql(con, TRACES[trace])
    half = 2.0 * jitter  # H = 2J, in seconds
    has_skipped = has_table(con, "skipped_keys")
    kept = f"SELECT platform, account_id, key, us FROM ({rows_sql}) r"
    if has_skipped:
        kept += f"""
        WHERE NOT EXISTS (SELECT 1 FROM skipped_keys s
                          WHERE s.trace = '{trace}' AND s.platform = r.platform
                            AND s.key = r.key)"""
    tick = clock_tick_us(con, f"({kept})") / US
    # Seconds since the trace's first row, as DOUBLE: sums of raw microseconds would
    # overflow 64 bits, and the kernel needs only differences.
    # Kernel sums: left frame [t - H, t] (ties and the row itself included), right frame
    # (t, t + H]; the same within the account's own rows, subtracted, so an account never
    # meets itself. (An empty right frame sums to NULL: coalesced, or the row is lost.)
    kernel = """
        {h} * count(*) OVER l - us * count(*) OVER l + sum(us) OVER l
      + coalesce({h} * count(*) OVER r + us * count(*) OVER r - sum(us) OVER r, 0)"""
    frames = """
        l AS (PARTITION BY {part} ORDER BY us RANGE BETWEEN {h} PRECEDING AND CURRENT ROW),
        r AS (PARTITION BY {part} ORDER BY us RANGE BETWEEN {eps} FOLLOWING AND {h} FOLLOWING)"""
    everyone = kernel.format(h=half)
    own = kernel.format(h=half)
    factor = (2 * window + tick) / half**2
    expected = con.execute(
        f"""WITH k AS (SELECT platform, account_id, key,
                       (us - min(us) OVER ())::DOUBLE / {US} AS us FROM ({kept})),
            all_rows AS (
                SELECT platform, account_id, key, us, {everyone} AS k_all FROM k
                WINDOW {frames.format(part="platform, key", h=half, eps=_EPS)}),
            own_rows AS (
                SELECT platform, account_id, key, us, {own} AS k_own FROM k
                WINDOW {frames.format(part="platform, key, account_id", h=half, eps=_EPS)})
            SELECT platform, account_id, sum(k_all) - sum(k_own) AS kernel
            FROM (SELECT platform, account_id, k_all, 0.0 AS k_own FROM all_rows
                  UNION ALL
                  SELECT platform, account_id, 0.0, k_own FROM own_rows)
            GROUP BY ALL"""
    ).fetchall()
    kernel_of = {(str(p), str(a)): float(k) for p, a, k in expected}
    observed = con.execute(
        # Both ends of each edge, from one read of the view (see case.SAFE_OPTIMIZERS).
        """SELECT platform, account_id, sum(evidence_total), count(*) FROM (
               SELECT platform, unnest([account_a, account_b]) AS account_id, evidence_total
               FROM edges WHERE trace = ?)
           GROUP BY ALL ORDER BY ALL""",
        [trace],
    ).fetchall()
    platforms = [str(r[0]) for r in observed]
    accounts = [str(r[1]) for r in observed]
    obs = np.array([int(r[2]) for r in observed], dtype=np.int64)
    partners = np.array([int(r[3]) for r in observed], dtype=np.int64)
    exp = np.array(
        [kernel_of.get(key, 0.0) * factor for key in zip(platforms, accounts, strict=True)],
        dtype=np.float64,
    )
    # P(X >= O) for X ~ Poisson(E); an account whose rows meet nobody under the null
    # (E = 0) yet has edges gets the smallest p the tail gives.
    pvals = stats.poisson.sf(obs - 1, np.maximum(exp, 1e-12))
    return pa.table(
        {
            "trace": pa.array([trace] * len(accounts), pa.string()),
            "platform": platforms,
            "account_id": accounts,
            "observed": obs,
            "expected": exp,
            "partners": partners,
            "p_value": pvals,
        },
        schema=ACCOUNT_TEST_SCHEMA,
    )
