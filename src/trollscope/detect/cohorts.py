"""Cohort tests: identity signals in discovery. Do accounts that share an identity trait
act together?

A subtle farm (members acting minutes after a directive, not seconds; a share of them on
each; organic-looking posts in between) leaves weak co-action evidence per pair and per
account. But its accounts were often created in one batch, wear one bio template or one
picture, and those traits are computed from profiles, creation dates and pictures, not
from posting times. So each such *cohort* is a group fixed before the co-actions are
looked at, and testing it as a whole is valid with no correction for having chosen it:

- `creation-burst`: the accounts flagged in one creation burst (one per burst window);
- `profile`: the accounts flagged with one profile template (bio cluster, location,
  handle shape);
- `avatar`: the accounts wearing one avatar that three or more wear;
- and, for a signal with two cohorts or more, all of them as one (`WIDE_COHORTS`).

The test, per cohort and trace: every key that three or more members acted on within one
period (a tag pushed on three days is three bursts) is scanned at three windows, w = W, 5W
and 15W (a subtle farm's members spread over minutes), for M_w, the most members whose
first action on it lies within w. Under the null of the account tests (each account's
actions shifted by its own offset within +-J, independently of every other account and
period), given where one member lands, each other lands within the w after it with
probability at most q_w = (w + tick) / 2J, so for a key with n members

    p_key = min(1, 3 n min over w of P(Binomial(n - 1, q_w) >= M_w - 1))

(a union bound over the leading member and the three windows). Keys of one period share
the members' offsets, so a period's evidence is its smallest p_key times its number of
keys (Bonferroni); periods have independent offsets, so they are combined by Fisher's
method. One p-value per cohort and trace enters the false discovery rate with every other
test.

What it does not prove: a cohort is a group of accounts that share a trait and act
together. A newsroom's staff, created the same week with one bio template, who post the
same story within minutes, is one too; the verdict weighs it with the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from trollscope.detect.clock import US
from trollscope.detect.tails import binom_log_sf, fisher_log_p
from trollscope.features.avatars import keys_sql
from trollscope.signals.base import SignalResult

if TYPE_CHECKING:
    from trollscope.inputs import Backend

# A signal's cohorts together, when it has two or more: a farm created in four bursts, or
# wearing three templates, is a cohort per burst or template, each a share of the farm
# that a share of the time acts on a directive, and a weak test; all its bursts together
# hold the whole farm (the small campaign at stealth 2, seeds 11-13: recall 0.80-0.91
# without them, 0.96-1.00 with them). Such a cohort is a test only: what ties accounts
# into networks is its parts, one per cohort of the signal (detect/groups.py,
# wide_parts), joined and split by who bursts together as any cohort is, so that two
# farms in one such cohort stay apart.
WIDE_COHORTS = {
    "creation-burst": "created in any of the case's creation bursts",
    "profile": "with any of the case's profile templates",
    "avatar": "wearing any avatar that three or more wear",
}
SCALES = (1, 5, 15)  # windows tried: W, 5W, 15W (each at most the jitter)
MIN_MEMBERS = 3
STRONG_KEY = math.log(1e-3)  # a key whose burst alone is evidence (ln p)
COHORTS = "ts_det_cohorts"  # (platform, account_id, cohort, signal)
# (cohort, signal, platform, key, account_id, us): each member's first time on a key
_FIRSTS = "ts_ct_firsts"
_FIRSTS_SCHEMA = ibis.schema(
    {
        "cohort": "string",
        "signal": "string",
        "platform": "string",
        "key": "string",
        "account_id": "string",
        "us": "int64",
    }
)

COHORT_TEST_SCHEMA = pa.schema(
    [
        ("trace", pa.string()),
        ("window_s", pa.float64()),
        ("platform", pa.string()),
        ("cohort", pa.string()),
        ("signal", pa.string()),
        ("members", pa.list_(pa.string())),  # members in the bursts of 2+ strong keys
        ("keys", pa.int64()),  # keys three or more members acted on within a period
        ("periods", pa.int64()),  # the periods those keys fall in
        ("best_burst", pa.int64()),  # the most members on one key within one window
        ("best_window_s", pa.float64()),  # that window
        ("log_p", pa.float64()),
    ]
)


# A cohort's strong keys, each with the densest window of its burst: two significant
# cohorts that burst on the same keys at the same times are tied in the networks
# (detect/groups.py, joint_cohorts).
STRONG_SCHEMA = pa.schema(
    [
        ("trace", pa.string()),
        ("platform", pa.string()),
        ("cohort", pa.string()),
        ("key", pa.string()),
        ("start_us", pa.int64()),
        ("end_us", pa.int64()),
        ("members", pa.list_(pa.string())),  # in the densest window
    ]
)


@dataclass(frozen=True, slots=True)
class CohortTests:
    table: pa.Table
    untested: int
    strong: pa.Table  # STRONG_SCHEMA rows


def identity_cohorts(
    con: duckdb.DuckDBPyConnection, collected: dict[str, SignalResult] | None
) -> pa.Table:
    """(platform, account_id, cohort, signal): the cohorts of the identity signals just
    computed (`collected`), else of those the case holds."""

    registered: list[str] = []

    def table(signal: str, name: str) -> str | None:
        kept = collected[signal].kept.get(name) if collected and signal in collected else None
        if kept is not None:
            return f"(SELECT {', '.join(kept.columns)} FROM {kept.table})"
        if collected is not None and signal in collected and name in collected[signal].tables:
            con.register(f"ts_coh_{name}", collected[signal].tables[name])
            registered.append(f"ts_coh_{name}")
            return f"ts_coh_{name}"
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return name if found[0][0] else None

    def flagged(signal: str) -> str:
        if collected is not None and signal in collected:
            name = f"ts_coh_flags_{signal.replace('-', '_')}"
            con.register(name, collected[signal].accounts)
            registered.append(name)
            return f"(SELECT platform, account_id FROM {name} WHERE flagged)"
        return (
            "(SELECT platform, account_id FROM account_signals "
            f"WHERE signal = '{signal}' AND flagged)"
        )

    parts = []
    bursts = table("creation-burst", "creation_bursts")
    if bursts is not None:
        parts.append(
            f"""SELECT a.platform, a.account_id,
                       'created ' || strftime(b.start, '%Y-%m-%d %H:%M') || ' to '
                           || strftime(b."end", '%Y-%m-%d %H:%M') AS cohort,
                       'creation-burst' AS signal
                FROM accounts a SEMI JOIN {flagged("creation-burst")} f
                     USING (platform, account_id)
                JOIN {bursts} b ON b.platform = a.platform
                     AND a.created_at >= b.start AND a.created_at < b."end" """
        )
    features = table("profile", "profile_features")
    if features is not None:
        parts.append(
            f"""SELECT platform, account_id,
                       'template ' || concat_ws(' | ', template_kind, bio_cluster, location,
                                                handle_shape) AS cohort,
                       'profile' AS signal
                FROM {features} SEMI JOIN {flagged("profile")} f USING (platform, account_id)
                WHERE template_kind IS NOT NULL"""
        )
    # Avatars: every picture three or more accounts wear (the reuse is the signal).
    cur = con.cursor()
    try:
        avatar_sql = keys_sql(cur)
    finally:
        cur.close()
    parts.append(
        f"""SELECT platform, account_id, 'avatar ' || key AS cohort, 'avatar' AS signal
            FROM ({avatar_sql}) k"""
    )
    sql = " UNION ALL ".join(parts)
    wide = " ".join(
        f"WHEN '{s}' THEN '{name.replace(chr(39), chr(39) * 2)}'"
        for s, name in WIDE_COHORTS.items()
    )
    try:
        rows = con.sql(
            f"""WITH found AS (
                    SELECT DISTINCT * FROM ({sql})
                    WHERE (platform, cohort) IN (SELECT (platform, cohort) FROM ({sql})
                                                 GROUP BY ALL HAVING count(*) >= {MIN_MEMBERS}))
                SELECT * FROM found
                UNION
                SELECT platform, account_id, CASE signal {wide} END, signal FROM found
                WHERE (platform, signal) IN (SELECT (platform, signal) FROM found
                                             GROUP BY ALL HAVING count(DISTINCT cohort) >= 2)
                ORDER BY ALL"""
        ).to_arrow_table()
    finally:
        for name in registered:
            con.unregister(name)
    return rows


def log_pvalues(members: np.ndarray, burst: np.ndarray, q: float) -> np.ndarray:
    """ln min(1, n P(Binomial(n - 1, q) >= M - 1)) per key, at one window."""
    n = members.astype(np.float64)
    tail = binom_log_sf(burst.astype(np.float64) - 1, n - 1, min(1.0, q))
    out: np.ndarray = np.minimum(np.log(np.maximum(n, 1.0)) + tail, 0.0)
    return out


def cohort_tests(
    engine: Backend,
    trace: str,
    rows: ir.Table,
    cohorts: ir.Table,
    window: float,
    jitter_s: float,
    period_s: float,
    tick_us: int,
) -> CohortTests:
    """Test every cohort of `cohorts` (`identity_cohorts`'s rows, on the engine) on the
    trace's `rows` (`coaction.ROW_SCHEMA`); `tick_us`: the data's clock tick
    (`clock.clock_tick`)."""
    tick_s = tick_us / US
    windows = [min(scale * window, jitter_s) for scale in SCALES]
    period_us = max(1, round(period_s * US))
    scales = range(len(windows))
    # The unit is a key within a period: the null shifts each period's actions by their
    # own offset, and a tag or an account a farm pushes day after day bursts once per
    # directive, not once in the whole case (keyed by the key alone, a member was seen
    # only at its first use of a tag: on a hashtag-collected campaign a farm's six tags
    # gave six bursts in five days). The period's start is exact integer arithmetic on
    # either engine.
    rows = rows.mutate(key=rows.key.concat("@", (rows.us - rows.us % period_us).cast("string")))
    joined = rows.join(cohorts, ["platform", "account_id"])
    firsts = joined.group_by("cohort", "signal", "platform", "key", "account_id").aggregate(
        us=joined.us.min()
    )
    # Read twice below (each window's counts, then its members): made once.
    engine.materialize(_FIRSTS, firsts)
    try:
        keyed = engine.fetch(_keyed(ibis.table(_FIRSTS_SCHEMA, name=_FIRSTS), windows))
        named = cohorts.select("platform", "cohort").distinct()
        found = engine.fetch(named.aggregate(n=named.count()))
    finally:
        engine.drop(_FIRSTS)
    everyone = int(found.column("n")[0].as_py()) if found.num_rows else 0
    if keyed.num_rows == 0:
        return CohortTests(COHORT_TEST_SCHEMA.empty_table(), everyone, STRONG_SCHEMA.empty_table())
    n = keyed.column("n").to_numpy()
    per_window = np.vstack(
        [
            log_pvalues(n, keyed.column(f"m{i}").to_numpy(), (w + tick_s) / (2 * jitter_s))
            for i, w in enumerate(windows)
        ]
    )
    best_window = per_window.argmin(axis=0)
    key_log_p = np.minimum(per_window.min(axis=0) + np.log(len(windows)), 0.0)
    bursts = np.vstack([keyed.column(f"m{i}").to_numpy() for i in range(len(windows))])
    in_window = [keyed.column(f"w{i}").to_pylist() for i in scales]
    frame = {
        "cohort": keyed.column("cohort").to_pylist(),
        "signal": keyed.column("signal").to_pylist(),
        "platform": keyed.column("platform").to_pylist(),
        # The key without its period (after the last "@"), counted once in `keys`: the
        # evidence says "6 hashtags in 5 periods", not 30.
        "key": [k.rsplit("@", 1)[0] for k in keyed.column("key").to_pylist()],
        # The key's period: exact integer division here (engines divide as doubles).
        "h": (keyed.column("first").to_numpy() // period_us).tolist(),
        # The members in the densest window at the key's best scale.
        "members": [in_window[best_window[i]][i] or [] for i in range(keyed.num_rows)],
    }
    starts = np.vstack([keyed.column(f"s{i}").to_numpy() for i in scales])
    strong = np.flatnonzero(key_log_p <= STRONG_KEY)
    strong_start = starts[best_window[strong], strong]
    strong_end = strong_start + np.round(np.asarray(windows)[best_window[strong]] * US)
    strong_rows = pa.table(
        {
            "trace": pa.array([trace] * len(strong), pa.string()),
            "platform": keyed.column("platform").take(pa.array(strong)),
            "cohort": keyed.column("cohort").take(pa.array(strong)),
            "key": keyed.column("key").take(pa.array(strong)),
            "start_us": pa.array(strong_start, pa.int64()),
            "end_us": pa.array(strong_end.astype(np.int64), pa.int64()),
            "members": pa.array([frame["members"][i] for i in strong], pa.list_(pa.string())),
        },
        schema=STRONG_SCHEMA,
    )
    out: dict[str, list[object]] = {name: [] for name in COHORT_TEST_SCHEMA.names}
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(frame["platform"], frame["cohort"], strict=True)):
        groups.setdefault(key, []).append(i)
    for (platform, cohort), idx in sorted(groups.items()):
        periods: dict[int, list[int]] = {}
        for i in idx:
            periods.setdefault(int(frame["h"][i]), []).append(i)
        # Each period: its best key, Bonferroni over its keys; periods combined by Fisher.
        period_log_p = [
            min(0.0, min(key_log_p[i] for i in keys) + float(np.log(len(keys))))
            for keys in periods.values()
        ]
        log_p = fisher_log_p(period_log_p)
        top = min(idx, key=lambda i: key_log_p[i])
        # The members that acted with the cohort: in the densest window of two of its
        # strong keys or more. A cohort's trait is shared by a few bystanders too (an
        # organic account created in the same days as a farm): they may touch the keys,
        # but not inside its bursts, key after key.
        seen: dict[str, int] = {}
        for i in idx:
            if key_log_p[i] <= STRONG_KEY:
                for m in frame["members"][i]:
                    seen[m] = seen.get(m, 0) + 1
        members = sorted(m for m, times in seen.items() if times >= 2)
        values = (
            trace,
            window,
            platform,
            cohort,
            frame["signal"][idx[0]],
            members,
            len({frame["key"][i] for i in idx}),
            len(periods),
            int(bursts[best_window[top], top]),
            float(windows[best_window[top]]),
            min(0.0, log_p),
        )
        for name, value in zip(COHORT_TEST_SCHEMA.names, values, strict=True):
            out[name].append(value)
    table = pa.table(out, schema=COHORT_TEST_SCHEMA)
    return CohortTests(table, everyone - table.num_rows, strong_rows)


def _keyed(firsts: ir.Table, windows: list[float]) -> ir.Table:
    """Per cohort and key that MIN_MEMBERS members or more acted on: its members (n), the
    signal, its first time, and per window w_i the most members within one window (m_i),
    where the first such window starts (s_i) and its members, sorted (w_i)."""
    group = [firsts.cohort, firsts.platform, firsts.key]
    frames = [
        ibis.range_window(preceding=0, following=round(w * US), group_by=group, order_by=firsts.us)
        for w in windows
    ]
    counted = firsts.mutate(
        n=firsts.count().over(group_by=group),
        **{f"m{i}": firsts.count().over(frame) for i, frame in enumerate(frames)},
    )
    counted = counted.filter(counted.n >= MIN_MEMBERS)
    scales = range(len(windows))
    best = counted.group_by("cohort", "platform", "key").aggregate(
        signal=counted.signal.arbitrary(),
        n=counted.n.max(),
        **{f"m{i}": counted[f"m{i}"].max() for i in scales},
        # The densest window at each scale, the earliest of equals.
        **{
            f"s{i}": counted.us.argmax(ibis.struct({"m": counted[f"m{i}"], "later": -counted.us}))
            for i in scales
        },
        first=counted.us.min(),
    )
    both = best.join(firsts, ["cohort", "platform", "key"])
    inside = {
        f"w{i}": both.account_id.collect(
            where=both.us.between(both[f"s{i}"], both[f"s{i}"] + round(w * US))
        ).sort()
        for i, w in enumerate(windows)
    }
    keyed = both.group_by(*best.columns).aggregate(**inside)
    return keyed.order_by("platform", "cohort", "key")
