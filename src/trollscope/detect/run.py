"""`detect`: edges of every action trace, account signals, then three kinds of test
against chance, one false discovery rate over all of them, Leiden networks, their
description, and per-account scores and evidence, all written into the case.

The tests (docs/significance.md):
- pair tests (`pairtest.py`): two accounts that repeat and are synchronised;
- account tests (`accounttest.py`): one account meeting others within the window more
  often than its jittered timeline allows, over all its partners together (campaign data,
  where no pair repeats);
- burst tests (`bursttest.py`): one text posted by many accounts within the window;
- cohort tests (`cohorts.py`): accounts that share an identity trait (a creation burst, a
  profile template, an avatar) acting together.
Benjamini-Hochberg runs over all of them at `q`, weighted by the identity signals
(`weights.py`). Networks are Leiden communities of the graph whose links are the
significant pairs, the co-actions between accounts significant in their account tests,
and the members of significant bursts and cohorts. Then two networks that act on the same
keys in the same minutes, period after period, are made one (join tests, `joins.py`,
with a false discovery rate of their own at `q`): Leiden cuts a farm along its desks.

Each trace's edges replace its old ones in their own short transaction (as
`trollscope edges` does, except that detect keeps only the pairs it tests: those that
met on two keys or more; the others are counted); everything detect itself writes
(signals, tests, networks, scores, evidence, detect_runs) lands in one transaction at
the end, so a failure leaves the previous detection intact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trollscope import __version__
from trollscope.case import Case, has_table, limit_resources, transaction
from trollscope.case.schema import DETECT_RUNS_DDL
from trollscope.detect import bursttest, prefilter
from trollscope.detect.accounttest import (
    ACCOUNT_TEST_SCHEMA,
    account_table,
    pending_account_tests,
)
from trollscope.detect.bursttest import BURST_TEST_SCHEMA, TEXT_TRACES, BurstPending
from trollscope.detect.clock import clock_tick
from trollscope.detect.cohorts import (
    COHORT_TEST_SCHEMA,
    COHORTS,
    cohort_tests,
    identity_cohorts,
)
from trollscope.detect.describe import describe
from trollscope.detect.evidence import write_scores
from trollscope.detect.fdr import benjamini_hochberg
from trollscope.detect.groups import joint_cohorts, wide_parts
from trollscope.detect.joins import (
    JOIN_TEST_SCHEMA,
    decide_joins,
    join_edges,
    join_table,
    join_tests,
    joined_networks,
    member_actions,
    network_times,
    with_networks,
)
from trollscope.detect.joins import MEMBERS as JOIN_MEMBERS
from trollscope.detect.joins import MEMBERS_SCHEMA as JOIN_MEMBERS_SCHEMA
from trollscope.detect.networks import Links, Partition, leiden, network_log_p
from trollscope.detect.pairtest import (
    CANDIDATE_SCHEMA,
    PAIR_TEST_SCHEMA,
    candidates_sql,
    statistics_on,
    sync_rate,
    tails,
)
from trollscope.detect.params import DetectParams
from trollscope.detect.prefilter import AccountPending, Pending
from trollscope.detect.store import MEMBERS, drop_temporary, store_table, store_tests
from trollscope.detect.thresholds import Part, threshold_networks, threshold_parts
from trollscope.detect.thresholdstore import THRESHOLD_MEMBERS_DDL, THRESHOLD_NETWORKS_DDL
from trollscope.detect.weights import account_weights, normalised
from trollscope.engine import coaction
from trollscope.engine.run import (
    check_engine,
    compute_edges,
    engine_for,
    estimate_window_on,
)
from trollscope.errors import TrollscopeError
from trollscope.inputs import Backend
from trollscope.signals import SIGNALS, SignalParams, SignalResult
from trollscope.signals.run import collect_signals, store_signals
from trollscope.traces import TRACES

Progress = Callable[[str, int, int], None]  # (stage, stages done, stages in all)

Key = tuple[str, str]  # (platform, account_id)


@dataclass(frozen=True, slots=True)
class DetectResult:
    tested: dict[str, int] = field(default_factory=dict)  # pairs, per trace
    significant: dict[str, int] = field(default_factory=dict)  # pairs, per trace
    flagged_accounts: int = 0
    networks: int = 0
    inauthentic_networks: int = 0
    accounts_tested: dict[str, int] = field(default_factory=dict)  # account tests, per trace
    accounts_significant: dict[str, int] = field(default_factory=dict)
    bursts_tested: dict[str, int] = field(default_factory=dict)  # burst tests, per trace
    bursts_significant: dict[str, int] = field(default_factory=dict)
    cohorts_tested: dict[str, int] = field(default_factory=dict)  # cohort tests, per trace
    cohorts_significant: dict[str, int] = field(default_factory=dict)
    joins_tested: dict[str, int] = field(default_factory=dict)  # join tests, per trace
    joins_significant: dict[str, int] = field(default_factory=dict)
    # A peer's threshold (`--min-participation`, `--min-weight`): its networks, which are
    # not tests, and their accounts.
    threshold_networks: int = 0
    threshold_accounts: int = 0


def _check(params: DetectParams) -> None:
    unknown = [t for t in params.traces if t not in TRACES]
    if unknown:
        raise TrollscopeError(f"unknown trace {unknown[0]!r}; choose among: {', '.join(TRACES)}.")
    if not 0 < params.q < 1:
        raise TrollscopeError(f"q (the false discovery rate) must be in (0, 1), not {params.q}.")
    if params.period_s <= 0:
        raise TrollscopeError(f"the null's period must be positive, not {params.period_s} s.")
    if params.jitter_s <= 0:
        raise TrollscopeError(f"the jitter must be positive, not {params.jitter_s} s.")
    check_engine(params.engine)
    _ = params.peer_rule  # refuses a rule below 1
    if params.window == "auto":
        return
    if params.window is not None and (isinstance(params.window, str) or params.window <= 0):
        raise TrollscopeError(
            "detect tests co-actions within a window: it must be a positive number of "
            f"seconds or 'auto', not {params.window!r}."
        )


@dataclass(slots=True)
class _Tests:
    """Every test of a run, by family, and how many more ran with p = 1."""

    # Each trace's pair tests wait on the engine (prefilter.py); those fetched, with
    # their tails, are in `pairs`.
    pending: list[Pending] = field(default_factory=list)
    # So do its account tests (the same tail, the same floor); those fetched are in
    # `accounts`.
    pending_accounts: list[AccountPending] = field(default_factory=list)
    # And its burst tests; those fetched are in `bursts`.
    pending_bursts: list[BurstPending] = field(default_factory=list)
    cut: float | None = None  # ln T of the fetch (None: every test came back)
    pairs: list[pa.Table] = field(default_factory=list)
    accounts: list[pa.Table] = field(default_factory=list)
    bursts: list[pa.Table] = field(default_factory=list)
    cohorts: list[pa.Table] = field(default_factory=list)
    # Co-action links between accounts whose account tests could pass (see _candidates).
    links: list[pa.Table] = field(default_factory=list)
    strong: list[pa.Table] = field(default_factory=list)  # cohorts' strong keys (cohorts.py)
    untested: dict[str, int] = field(default_factory=dict)  # pairs, per trace
    untested_other: int = 0  # accounts and keys
    untested_joins: dict[str, int] = field(default_factory=dict)  # network pairs, per trace
    windows: dict[str, float] = field(default_factory=dict)  # the window each trace ran at
    ticks: dict[str, int] = field(default_factory=dict)  # the clock tick of each trace, us
    # The connected parts of the pairs a peer's threshold keeps, every trace's.
    thresholds: list[Part] = field(default_factory=list)

    def table(self, family: str) -> pa.Table:
        schema = {
            "pairs": PAIR_TEST_SCHEMA,
            "accounts": ACCOUNT_TEST_SCHEMA,
            "bursts": BURST_TEST_SCHEMA,
            "cohorts": COHORT_TEST_SCHEMA,
        }[family]
        parts: list[pa.Table] = getattr(self, family)
        return pa.concat_tables(parts) if parts else schema.empty_table()

    def pair_tests(self) -> dict[str, int]:
        """Pair tests run, per trace: on the engine, fetched or not."""
        return {p.trace: p.tested for p in self.pending}

    def account_tests(self) -> dict[str, int]:
        """Account tests run (met twice or more), per trace: fetched or not."""
        return {p.trace: p.tested for p in self.pending_accounts}

    def burst_tests(self) -> dict[str, int]:
        """Burst tests run (M >= MIN_BURST), per trace: fetched or not."""
        return {p.trace: p.tested for p in self.pending_bursts}

    def unfetched(self) -> int:
        """Pair, account and burst tests left on the engine: in BH's m, with p-values
        above its line."""
        pairs = sum(self.pair_tests().values()) - sum(int(t.num_rows) for t in self.pairs)
        accounts = sum(self.account_tests().values()) - sum(int(t.num_rows) for t in self.accounts)
        bursts = sum(self.burst_tests().values()) - sum(int(t.num_rows) for t in self.bursts)
        return pairs + accounts + bursts

    def pair_weight_mean(self) -> float:
        """The mean raw weight over every pair test (weights.normalised's divisor)."""
        return _weight_mean(self.pending)

    def account_weight_mean(self) -> float:
        """The mean raw weight over every account test, fetched or not."""
        return _weight_mean(self.pending_accounts)

    def burst_weight_mean(self) -> float:
        """The mean raw weight over every burst test, fetched or not."""
        return _weight_mean(self.pending_bursts)


def _weight_mean(pending: Sequence[Pending | AccountPending | BurstPending]) -> float:
    """The mean raw weight over the tests of one family's tables on the engine (1 if
    there are none)."""
    tested = sum(p.tested for p in pending)
    return sum(p.weight_sum for p in pending) / tested if tested else 1.0


def detect(
    case_path: Path | str, params: DetectParams | None = None, progress: Progress | None = None
) -> DetectResult:
    """Run the whole detection on a case and store its results there."""
    params = params or DetectParams()
    _check(params)
    stages = params.stages
    done = 0

    def say(stage: str) -> None:
        nonlocal done
        if progress is not None:
            progress(stage, done, stages)
        done += 1

    with Case.open(case_path) as case:
        con = case.con
        limit_resources(con, case_path, params.memory_limit)
        tests = _Tests()
        # The signals' passes over the posts, the traces' edges and the tests run on the
        # chosen engine; what comes back to Python is the pair and account tests that
        # could pass or lie inside a network (prefilter.py), the burst tests likewise,
        # the links between accounts whose account tests could pass, and one row per
        # cohort test.
        with engine_for(params.engine, con) as engine:
            signals = None
            if params.signals:
                say("account signals")
                signals = collect_signals(con, list(SIGNALS), SignalParams(), engine=engine)
            weights = account_weights(_identity_flags(con, signals))
            cohorts = identity_cohorts(con, signals)
            engine.register(COHORTS, cohorts)
            engine.register(prefilter.WEIGHTS, prefilter.weights_table(weights))
            try:
                for name in params.traces:
                    _trace_tests(con, engine, name, params, weights, tests, say, cohorts)

                say("networks")
                _fetch_tests(engine, tests, params)
                decided = _decide(tests, weights, params.q)
                links = _links(*decided, tests, cohorts)
                found = leiden(links, params.seed, params.leiden_runs)
                # The traces' prepared tables are still on the engine: the join tests read
                # them there (a stage of its own: on Spark it is distributed work, Leiden
                # is not).
                say("join tests")
                joins = _join_tests(engine, found, params, tests)
                partition = Partition(
                    found.platforms, found.accounts, joined_networks(found.network, joins)
                )
                members = partition.members()
                if _fetch_inside(engine, tests, members):
                    # The same tests pass (those fetched now are above BH's line); the
                    # q-values above q come closer to the exact ones.
                    decided = _decide(tests, weights, params.q)
            finally:
                engine.drop(
                    COHORTS,
                    prefilter.WEIGHTS,
                    *(p.table for p in tests.pending),
                    *(p.table for p in tests.pending_accounts),
                    *(p.table for p in tests.pending_bursts),
                )
        pairs, accounts, bursts, groups = decided
        joins = with_networks(joins, found.network, partition.network)
        log_p = network_log_p(con, members, *decided, len(params.traces))

        try:
            with transaction(con, case.path):
                if signals is not None:
                    store_signals(con, signals)
                say("describing networks")
                store_tests(
                    con,
                    *decided,
                    members,
                    pa.concat_tables([partition.edges(links), join_edges(joins)]),
                    joins,
                )
                describe(con, log_p, params.q)
                peer = _store_thresholds(con, tests.thresholds, params)
                write_scores(con, params.period_s)
                con.execute(DETECT_RUNS_DDL)
                con.execute(
                    "INSERT INTO detect_runs VALUES (?, ?, ?)",
                    [datetime.now(UTC).replace(tzinfo=None), __version__,
                     json.dumps(asdict(params))],
                )  # fmt: skip
                marked = con.execute("SELECT count(*) FROM networks WHERE inauthentic").fetchall()
                inauthentic = int(marked[0][0])
        finally:
            drop_temporary(con)
    return DetectResult(
        tested={t: tests.pair_tests().get(t, 0) + tests.untested.get(t, 0) for t in params.traces},
        significant=_count(pairs, params.traces, only_significant=True),
        flagged_accounts=members.num_rows,
        networks=len(log_p),
        inauthentic_networks=inauthentic,
        accounts_tested={t: tests.account_tests().get(t, 0) for t in params.traces},
        accounts_significant=_count(accounts, params.traces, only_significant=True),
        bursts_tested={t: tests.burst_tests().get(t, 0) for t in params.traces},
        bursts_significant=_count(bursts, params.traces, only_significant=True),
        cohorts_tested=_count(groups, params.traces),
        cohorts_significant=_count(groups, params.traces, only_significant=True),
        joins_tested=_count(joins, params.traces, extra=tests.untested_joins),
        joins_significant=_count(joins, params.traces, only_significant=True),
        threshold_networks=peer[0],
        threshold_accounts=peer[1],
    )


def _store_thresholds(
    con: duckdb.DuckDBPyConnection, parts: list[Part], params: DetectParams
) -> tuple[int, int]:
    """The threshold's networks and members into the case (or no such tables, when the
    run has no threshold); their number and their accounts (inside the transaction,
    after `describe`: members are named by their tested networks' ranks)."""
    con.execute("DROP TABLE IF EXISTS threshold_networks")
    con.execute("DROP TABLE IF EXISTS threshold_members")
    if not params.peer_rule.active:
        return 0, 0
    tested = con.sql(
        f"SELECT m.platform, m.account_id, n.rank AS network FROM {MEMBERS} m "
        "JOIN networks n USING (network)"
    ).to_arrow_table()
    networks, members = threshold_networks(parts, tested, params.jitter_s)
    store_table(con, "threshold_networks", THRESHOLD_NETWORKS_DDL, networks)
    store_table(con, "threshold_members", THRESHOLD_MEMBERS_DDL, members)
    accounts = members.select(["platform", "account_id"]).group_by(["platform", "account_id"])
    return networks.num_rows, accounts.aggregate([]).num_rows


def _identity_flags(
    con: duckdb.DuckDBPyConnection, collected: dict[str, SignalResult] | None
) -> pa.Table:
    """(signal, platform, account_id, flagged) of the signals just computed, else of those
    in the case (none: no account has a weight above 1)."""
    columns = ["signal", "platform", "account_id", "flagged"]
    if collected is not None:
        parts = [r.accounts.select(columns) for r in collected.values()]
        if parts:
            return pa.concat_tables(parts)
    elif has_table(con, "account_signals"):
        return con.sql(f"SELECT {', '.join(columns)} FROM account_signals").to_arrow_table()
    return pa.table(
        {c: pa.array([], pa.string()) for c in columns[:3]} | {"flagged": pa.array([], pa.bool_())}
    )


def _trace_tests(
    con: duckdb.DuckDBPyConnection,
    engine: Backend,
    name: str,
    params: DetectParams,
    weights: dict[Key, float],
    tests: _Tests,
    say: Callable[[str], None],
    cohorts: pa.Table,
) -> None:
    """One trace: its edges, then its pair, account, burst and cohort tests into `tests`,
    on `engine`."""
    trace = TRACES[name]
    if params.window == "auto":
        # The null shifts actions by up to the jitter: a window near it leaves no room.
        window = min(estimate_window_on(con, name).seconds, params.jitter_s / 2)
        say(f"edges: {name} (window {window:g} s, estimated)")
    else:
        window = params.window if params.window is not None else trace.window
        say(f"edges: {name}")
    try:
        try:
            kept, pairs = compute_edges(
                con, trace, window, max_burst=params.max_burst, backend=engine, min_keys=2
            )
        except duckdb.OutOfMemoryException as exc:
            raise TrollscopeError(
                f"the {name} edges need more memory and disk than this machine has "
                f"({exc}); lower --max-burst or leave the trace out with --trace."
            ) from None
        if params.peer_rule.active:
            tests.thresholds.extend(
                threshold_parts(
                    engine, name, window, params.peer_rule, params.jitter_s, params.seed
                )
            )
        say(f"tests: {name}")
        rows = coaction.rows_table()
        tick = clock_tick(engine, rows)
        tests.windows[name] = window
        tests.ticks[name] = tick
        if window > 0:
            _pair_statistics(con, engine, name, rows, window, tick, params.period_s, tests)
        # Pairs that met on one key only are not stored by detect: counted here.
        tests.untested[name] = pairs - kept
        by_account = pending_account_tests(
            engine,
            name,
            window,
            params.jitter_s,
            params.period_s,
            f"ts_det_accounts_{len(tests.pending_accounts)}",
        )
        tests.pending_accounts.append(by_account)
        tests.untested_other += by_account.untested
        tests.links.append(_candidates(engine, name, by_account, params.q))
        if name in TEXT_TRACES:
            bursts = bursttest.pending_burst_tests(
                engine,
                name,
                rows,
                window,
                params.jitter_s,
                tick,
                f"ts_det_bursts_{len(tests.pending_bursts)}",
            )
            tests.pending_bursts.append(bursts)
            tests.untested_other += bursts.untested
        if cohorts.num_rows > 0:
            found = cohort_tests(
                engine,
                name,
                rows,
                ibis.table(ibis.Schema.from_pyarrow(cohorts.schema), name=COHORTS),
                window,
                params.jitter_s,
                params.period_s,
                tick,
            )
            tests.cohorts.append(found.table)
            tests.strong.append(found.strong)
            tests.untested_other += found.untested
    finally:
        engine.drop(*coaction.SCRATCH, coaction.ROWS, coaction.SKIPPED)


def _pair_statistics(
    con: duckdb.DuckDBPyConnection,
    engine: Backend,
    name: str,
    rows: ir.Table,
    window: float,
    tick: int,
    period_s: float,
    tests: _Tests,
) -> None:
    """The trace's pair tests' statistics, with the floors of their p-values, kept on the
    engine until BH's line is known (prefilter.py)."""
    # The candidates are the edges just stored (two keys or more), read back from the
    # case: on Spark, sent back to it.
    candidates = "ts_det_candidates"
    engine.register(candidates, con.sql(candidates_sql(name)).to_arrow_table())
    rho = sync_rate(window, tick, period_s)
    table = f"ts_det_pairs_{len(tests.pending)}"
    try:
        source = ibis.table(CANDIDATE_SCHEMA, name=candidates)
        with statistics_on(engine, rows, source, window, period_s, rho) as stats:
            # Stored, not cached: the pending tables of every trace wait for BH's line
            # together, and as cached frames they filled Spark's driver heap at 10M posts.
            engine.store(table, prefilter.with_floor(stats, rho))
            tested, weight_sum = prefilter.counted(engine, table)
    except BaseException:
        engine.drop(table)
        raise
    finally:
        engine.drop(candidates)
    tests.pending.append(Pending(name, table, window, rho, tested, weight_sum))


def _fetch_tests(engine: Backend, tests: _Tests, params: DetectParams) -> None:
    """Into `tests.pairs`, `tests.accounts` and `tests.bursts`: the pair, account and
    burst tests that could pass BH at q (all of them with `all_tests`), with their
    tails."""
    pair_mean = float(np.log(tests.pair_weight_mean()))
    account_mean = float(np.log(tests.account_weight_mean()))
    burst_mean = float(np.log(tests.burst_weight_mean()))
    m = _tests_in_all(tests)
    if not params.all_tests and m > 0:  # (m 0: nothing to fetch either)
        counts = prefilter.ladder(engine, [p.table for p in tests.pending], pair_mean, m, params.q)
        counts += prefilter.ladder(
            engine, [p.table for p in tests.pending_accounts], account_mean, m, params.q
        )
        counts += prefilter.ladder(
            engine, [p.table for p in tests.pending_bursts], burst_mean, m, params.q
        )
        tests.cut = prefilter.cutoff(counts, _cohorts_log_pw(tests), m, params.q)
    tests.pairs = [
        tails(prefilter.fetch(engine, p, pair_mean, tests.cut), p.trace, p.window, p.rho)
        for p in tests.pending
    ]
    tests.accounts = [
        account_table(
            p.trace, p.window, prefilter.fetch_accounts(engine, p, account_mean, tests.cut)
        )
        for p in tests.pending_accounts
    ]
    tests.bursts = [bursttest.fetch(engine, p, burst_mean, tests.cut) for p in tests.pending_bursts]


def _fetch_inside(engine: Backend, tests: _Tests, members: pa.Table) -> bool:
    """Add to `tests.pairs`, `tests.accounts` and `tests.bursts` the tests inside a
    network that `_fetch_tests` left on the engine (a network's p-value combines every
    test inside it, and a member's evidence names its own); whether any came."""
    if tests.cut is None or members.num_rows == 0:
        return False
    pair_mean = float(np.log(tests.pair_weight_mean()))
    account_mean = float(np.log(tests.account_weight_mean()))
    burst_mean = float(np.log(tests.burst_weight_mean()))
    engine.register(prefilter.MEMBERS, members.select(["platform", "account_id", "network"]))
    try:
        pairs = [
            tails(prefilter.fetch_inside(engine, p, pair_mean, tests.cut), p.trace, p.window, p.rho)
            for p in tests.pending
        ]
        accounts = [
            account_table(
                p.trace,
                p.window,
                prefilter.fetch_accounts_inside(engine, p, account_mean, tests.cut),
            )
            for p in tests.pending_accounts
        ]
        bursts = [
            bursttest.fetch_inside(engine, p, burst_mean, tests.cut) for p in tests.pending_bursts
        ]
    finally:
        engine.drop(prefilter.MEMBERS)
    pairs = [t for t in pairs if t.num_rows]
    accounts = [t for t in accounts if t.num_rows]
    bursts = [t for t in bursts if t.num_rows]
    tests.pairs.extend(pairs)
    tests.accounts.extend(accounts)
    tests.bursts.extend(bursts)
    return bool(pairs or accounts or bursts)


def _tests_in_all(tests: _Tests) -> int:
    """BH's m: every test run, fetched or not, and those counted with p = 1."""
    on_driver = int(tests.table("cohorts").num_rows)
    on_engine = sum(
        sum(counts.values())
        for counts in (tests.pair_tests(), tests.account_tests(), tests.burst_tests())
    )
    return on_engine + on_driver + sum(tests.untested.values()) + tests.untested_other


def _cohorts_log_pw(tests: _Tests) -> np.ndarray:
    """ln(p / w) of the cohort tests, the tests already on the driver: their weights are
    1 (`_normalised_weights`)."""
    log_p: np.ndarray = tests.table("cohorts").column("log_p").to_numpy()
    return log_p


def _candidates(engine: Backend, trace: str, pending: AccountPending, q: float) -> pa.Table:
    """The trace's co-action links between accounts whose account tests could pass:
    p <= q x raw weight bounds every threshold weighted BH can set (normalised weights
    are at most the raw ones, since raw weights average at least 1), and the floor of ln p
    is at most ln p. Read from the band join's pairs while they exist; the significant
    ones become network links."""
    t = ibis.table(prefilter.ACCOUNT_PENDING_SCHEMA, name=pending.table)
    passing = t.filter(t.log_floor <= ibis.least(0.0, (q * t.raw_weight).ln()))
    ids = coaction.account_ids_table("int64").semi_join(
        passing.select("platform", "account_id"), ["platform", "account_id"]
    )
    x = ids.select(platform="platform", account_a="account_id", a="aid")
    y = ids.select(account_b="account_id", b="aid")
    found = coaction.pairs_table("int64").select("a", "b").distinct()
    found = found.join(x, "a").join(y, "b")
    return engine.fetch(
        found.select("platform", "account_a", "account_b", trace=ibis.literal(trace)).order_by(
            ["platform", "account_a", "account_b"]
        )
    )


def _normalised_weights(
    pairs: pa.Table,
    accounts: pa.Table,
    bursts: pa.Table,
    cohorts: pa.Table,
    weights: dict[Key, float],
    pair_mean: float,
    account_mean: float,
    burst_mean: float,
) -> list[np.ndarray]:
    """Each family's weights (weights.py), scaled to average 1 over the tests it ran: the
    pairs' by `pair_mean`, the accounts' by `account_mean` and the bursts' by
    `burst_mean`, their raw means over every test of the family, fetched or not. (A
    cohort's weight is 1: the identity signals already chose it.)"""

    def weight(platform: str, account: str) -> float:
        return weights.get((platform, account), 1.0)

    raw_pairs = np.array(
        [
            (weight(p, a) + weight(p, b)) / 2
            for p, a, b in zip(
                *(pairs.column(c).to_pylist() for c in ("platform", "account_a", "account_b")),
                strict=True,
            )
        ],
        dtype=np.float64,
    )
    raw_accounts = np.array(
        [
            weight(p, a)
            for p, a in zip(
                *(accounts.column(c).to_pylist() for c in ("platform", "account_id")),
                strict=True,
            )
        ],
        dtype=np.float64,
    )
    raw_bursts = np.array(
        [
            float(np.mean([weight(p, m) for m in members])) if members else 1.0
            for p, members in zip(
                *(bursts.column(c).to_pylist() for c in ("platform", "members")), strict=True
            )
        ],
        dtype=np.float64,
    )
    return [
        raw_pairs / pair_mean,
        raw_accounts / account_mean,
        raw_bursts / burst_mean,
        normalised(np.ones(cohorts.num_rows)),
    ]


def _decide(
    tests: _Tests, weights: dict[Key, float], q: float
) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """Weighted Benjamini-Hochberg over every test of every family at `q`: each table
    gains `weight`, `q_value` and `significant`. The pair, account and burst tests left
    on the engine count in m (prefilter.py: none of them can pass)."""
    pairs, accounts, bursts, cohorts = (
        tests.table(f) for f in ("pairs", "accounts", "bursts", "cohorts")
    )
    tables = (pairs, accounts, bursts, cohorts)
    w = np.concatenate(
        _normalised_weights(
            pairs,
            accounts,
            bursts,
            cohorts,
            weights,
            tests.pair_weight_mean(),
            tests.account_weight_mean(),
            tests.burst_weight_mean(),
        )
    )
    log_p = np.concatenate([t.column("log_p").to_numpy() for t in tables])
    untested = sum(tests.untested.values()) + tests.untested_other + tests.unfetched()
    qv = benjamini_hochberg(np.exp(log_p) / np.maximum(w, 1e-12), len(log_p) + untested)
    out = []
    start = 0
    for t in tables:
        end = start + t.num_rows
        t = t.append_column("weight", pa.array(w[start:end], pa.float64()))
        t = t.append_column("q_value", pa.array(qv[start:end], pa.float64()))
        t = t.append_column("significant", pa.array(qv[start:end] <= q, pa.bool_()))
        out.append(t)
        start = end
    return out[0], out[1], out[2], out[3]


def _links(
    pairs: pa.Table,
    accounts: pa.Table,
    bursts: pa.Table,
    cohorts: pa.Table,
    tests: _Tests,
    identity: pa.Table,
) -> Links:
    """What ties accounts into networks: significant pairs; co-actions between two
    accounts significant in the same trace's account tests; significant bursts and
    cohorts; two significant cohorts of one trace that burst together (groups.py)."""
    significant_pairs = pairs.filter(pairs.column("significant")).select(
        ["platform", "account_a", "account_b", "trace"]
    )
    flagged = accounts.filter(accounts.column("significant"))
    keys = set(
        zip(
            *(flagged.column(c).to_pylist() for c in ("trace", "platform", "account_id")),
            strict=True,
        )
    )
    links = pa.concat_tables(tests.links) if tests.links else significant_pairs.slice(0, 0)
    keep = [
        (t, p, a) in keys and (t, p, b) in keys
        for t, p, a, b in zip(
            *(links.column(c).to_pylist() for c in ("trace", "platform", "account_a", "account_b")),
            strict=True,
        )
    ]
    co_acting = links.filter(pa.array(keep, pa.bool_())) if links.num_rows else links
    burst_rows = bursts.filter(bursts.column("significant"))
    cohort_rows = cohorts.filter(cohorts.column("significant"))
    return Links(
        pairs=significant_pairs,
        accounts=co_acting,
        bursts=burst_rows.select(["platform", "trace", "key", "members"]),
        cohorts=joint_cohorts(
            *wide_parts(
                cohort_rows.select(["platform", "trace", "cohort", "members"]),
                tests.strong,
                identity,
            )
        ),
    )


def _join_tests(engine: Backend, found: Partition, params: DetectParams, tests: _Tests) -> pa.Table:
    """The join tests (joins.py) between Leiden's networks, on every trace that ran with a
    window, decided by Benjamini-Hochberg at q. Pairs of networks that acted on a common
    key but met in fewer than two periods count as tests with p = 1."""
    members = found.members()
    by_network: dict[int, list[str]] = {}
    for a, n in zip(
        members.column("account_id").to_pylist(), members.column("network").to_pylist(), strict=True
    ):
        by_network.setdefault(int(n), []).append(a)
    sizes = {n: len(m) for n, m in by_network.items()}
    tables = []
    if len(by_network) > 1:
        engine.register(JOIN_MEMBERS, members)
        try:
            for name, window in tests.windows.items():
                actions = engine.fetch(
                    member_actions(name, ibis.table(JOIN_MEMBERS_SCHEMA, name=JOIN_MEMBERS))
                )
                tried = join_tests(
                    network_times(actions, sizes),
                    window,
                    params.jitter_s,
                    params.period_s,
                    tests.ticks[name] / 1e6,
                )
                table = join_table(name, window, tried, by_network)
                tests.untested_joins[name] = len(tried) - table.num_rows
                tables.append(table)
        finally:
            engine.drop(JOIN_MEMBERS)
    kept = pa.concat_tables(tables) if tables else JOIN_TEST_SCHEMA.empty_table()
    return decide_joins(kept, sum(tests.untested_joins.values()), params.q)


def _count(
    table: pa.Table,
    traces: tuple[str, ...],
    only_significant: bool = False,
    extra: dict[str, int] | None = None,
) -> dict[str, int]:
    """Rows per trace (significant ones only, if asked), plus `extra` per trace."""
    names = table.column("trace")
    if only_significant:
        names = pc.filter(names, table.column("significant"))
    found = pc.value_counts(names).to_pylist() if len(names) else []
    counts = {str(v["values"]): int(v["counts"]) for v in found}
    return {t: counts.get(t, 0) + (extra or {}).get(t, 0) for t in traces}


@dataclass(frozen=True, slots=True)
class NetworkSummary:
    """One network of a case's last detection, as plain values (for the CLI and scripts)."""

    rank: int
    network: int
    size: int
    pairs: int
    density: float
    log10_p: float
    inauthentic: bool
    verdict: str
    traces: list[str]
    found_by: list[str]  # "pair tests (co-repost)", "burst tests (co-text)", ...
    hashtags: list[str]  # the top three
    amplified: list[str]  # handles (else ids) of the top three
    attacked: list[str]


def summary(case_path: Path | str, limit: int = 10) -> list[NetworkSummary]:
    """The top `limit` networks of the case's last detection: rank, size, pairs, density,
    log10 p, traces, the tests that found it, verdict, top hashtags and the accounts most
    amplified and attacked."""
    with Case.open(case_path, read_only=True) as case:
        if not has_table(case.con, "networks"):
            raise TrollscopeError(
                f"{case_path} has no detection yet: run `trollscope detect {case_path}` first."
            )
        rows = case.con.execute(
            """SELECT rank, network, size, pairs, density, log_p / ln(10), inauthentic, verdict,
                      [t.trace FOR t IN traces],
                      [f.test || ' tests (' || f.trace || ')' FOR f IN found_by],
                      [h.tag FOR h IN hashtags[1:3]],
                      [coalesce(a.handle, a.account_id) FOR a IN amplified[1:3]],
                      [coalesce(a.handle, a.account_id) FOR a IN attacked[1:3]]
               FROM networks ORDER BY rank LIMIT ?""",
            [limit],
        ).fetchall()
    return [NetworkSummary(*row) for row in rows]
