"""`detect`: edges of every action trace, account signals, pair tests under the
popularity null, Benjamini-Hochberg across all pairs of all traces, Leiden networks,
their description, and per-account scores and evidence, all written into the case.

Each trace's edges replace its old ones in their own short transaction (as
`trollscope edges` does, except that detect keeps only the pairs it tests: those that
met on two keys or more; the others are counted); everything detect itself writes
(signals, pair_tests, networks, account_scores, account_evidence, detect_runs) lands in
one transaction at the end, so a failure leaves the previous detection intact.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from trollscope import __version__
from trollscope.case import Case, has_table, limit_resources, transaction
from trollscope.case.schema import DETECT_RUNS_DDL, PAIR_TESTS_DDL
from trollscope.detect.describe import MEMBERS, SIGNIFICANT, describe
from trollscope.detect.evidence import write_scores
from trollscope.detect.fdr import benjamini_hochberg
from trollscope.detect.networks import fused_pairs, leiden, simes_log_p
from trollscope.detect.pairtest import PAIR_TEST_SCHEMA, pair_tests
from trollscope.detect.params import DetectParams
from trollscope.engine import coaction
from trollscope.engine.run import compute_edges
from trollscope.errors import TrollscopeError
from trollscope.signals import SIGNALS, SignalParams
from trollscope.signals.run import compute_signals
from trollscope.traces import TRACES

Progress = Callable[[str, int, int], None]  # (stage, stages done, stages in all)


@dataclass(frozen=True, slots=True)
class DetectResult:
    tested: dict[str, int] = field(default_factory=dict)  # per trace
    significant: dict[str, int] = field(default_factory=dict)  # per trace
    flagged_accounts: int = 0
    networks: int = 0
    inauthentic_networks: int = 0


def _check(params: DetectParams) -> None:
    unknown = [t for t in params.traces if t not in TRACES]
    if unknown:
        raise TrollscopeError(f"unknown trace {unknown[0]!r}; choose among: {', '.join(TRACES)}.")
    if not 0 < params.q < 1:
        raise TrollscopeError(f"q (the false discovery rate) must be in (0, 1), not {params.q}.")
    if params.period_s <= 0:
        raise TrollscopeError(f"the null's period must be positive, not {params.period_s} s.")
    if params.window is not None and params.window <= 0:
        raise TrollscopeError(
            f"detect tests co-actions within a window: it must be positive, not {params.window}."
        )


def detect(
    case_path: Path | str, params: DetectParams | None = None, progress: Progress | None = None
) -> DetectResult:
    """Run the whole detection on a case and store its results there."""
    params = params or DetectParams()
    _check(params)
    stages = 2 * len(params.traces) + 2 + int(params.signals)
    done = 0

    def say(stage: str) -> None:
        nonlocal done
        if progress is not None:
            progress(stage, done, stages)
        done += 1

    with Case.open(case_path) as case:
        con = case.con
        limit_resources(con, case_path, params.memory_limit)
        tests: list[pa.Table] = []
        untested: dict[str, int] = {}
        for name in params.traces:
            trace = TRACES[name]
            window = params.window if params.window is not None else trace.window
            say(f"edges: {name}")
            try:
                kept, pairs = compute_edges(
                    con, trace, window, max_burst=params.max_burst, keep_rows=True, min_keys=2
                )
            except duckdb.OutOfMemoryException as exc:
                raise TrollscopeError(
                    f"the {name} edges need more memory and disk than this machine has "
                    f"({exc}); lower --max-burst or leave the trace out with --trace."
                ) from None
            say(f"pair tests: {name}")
            tested = pair_tests(con, name, params.period_s, rows=coaction.ROWS)
            con.execute(f"DROP TABLE IF EXISTS {coaction.ROWS}")
            tests.append(tested.table)
            # Pairs that met on one key only are not stored by detect: counted here.
            untested[name] = tested.untested + pairs - kept
        table = pa.concat_tables(tests) if tests else PAIR_TEST_SCHEMA.empty_table()
        # Pairs that met on one key only were tested too (p = 1): they count in m.
        q = benjamini_hochberg(
            np.exp(table.column("log_p").to_numpy()), table.num_rows + sum(untested.values())
        )
        table = table.append_column("q_value", pa.array(q, pa.float64()))
        table = table.append_column("significant", pa.array(q <= params.q, pa.bool_()))

        say("networks")
        significant = table.filter(table.column("significant"))
        partition = leiden(fused_pairs(significant), params.seed, params.leiden_runs)
        members = pa.table(
            {
                "platform": pa.array(partition.platforms, pa.string()),
                "account_id": pa.array(partition.accounts, pa.string()),
                "network": pa.array(partition.network, pa.int64()),
            }
        )
        network_log_p = _network_log_p(con, table, members, len(params.traces))

        try:
            with transaction(con):
                if params.signals:
                    say("account signals")
                    compute_signals(con, list(SIGNALS), SignalParams())
                say("describing networks")
                _store(con, table, members)
                describe(con, network_log_p, params.q)
                write_scores(con, params.period_s)
                con.execute(DETECT_RUNS_DDL)
                con.execute(
                    "INSERT INTO detect_runs VALUES (?, ?, ?)",
                    [datetime.now(UTC).replace(tzinfo=None), __version__,
                     json.dumps(asdict(params))],
                )  # fmt: skip
                found = con.execute("SELECT count(*) FROM networks WHERE inauthentic").fetchall()
                inauthentic = int(found[0][0])
        finally:
            for name in (MEMBERS, SIGNIFICANT):
                con.execute(f"DROP TABLE IF EXISTS {name}")
    traces = table.column("trace").to_numpy(zero_copy_only=False)
    flags = table.column("significant").to_numpy(zero_copy_only=False)
    return DetectResult(
        tested={t: int((traces == t).sum()) + untested.get(t, 0) for t in params.traces},
        significant={t: int(((traces == t) & flags).sum()) for t in params.traces},
        flagged_accounts=members.num_rows,
        networks=len(network_log_p),
        inauthentic_networks=int(inauthentic),
    )


def _network_log_p(
    con: duckdb.DuckDBPyConnection, table: pa.Table, members: pa.Table, traces: int
) -> dict[int, float]:
    """Simes' combination of the tested pairs inside each network, m being every pair of
    its members in each of the `traces` (the untested ones have p = 1)."""
    con.register("ts_det_tests", table.select(["platform", "account_a", "account_b", "log_p"]))
    con.register("ts_det_m", members)
    rows = con.sql(
        """SELECT ma.network, list(t.log_p) FROM ts_det_tests t
           JOIN ts_det_m ma ON ma.platform = t.platform AND ma.account_id = t.account_a
           JOIN ts_det_m mb ON mb.platform = t.platform AND mb.account_id = t.account_b
           WHERE ma.network = mb.network GROUP BY ma.network"""
    ).fetchall()
    con.unregister("ts_det_tests")
    con.unregister("ts_det_m")
    inside = {int(n): np.asarray(v, dtype=np.float64) for n, v in rows}
    sizes = Counter(members.column("network").to_pylist())
    return {
        int(n): simes_log_p(inside.get(n, np.array([])), traces * size * (size - 1) // 2)
        for n, size in sorted(sizes.items())
    }


def _store(con: duckdb.DuckDBPyConnection, table: pa.Table, members: pa.Table) -> None:
    """pair_tests into the case; members and significant pairs as temp tables."""
    con.register("ts_det_table", table)
    con.execute("DROP TABLE IF EXISTS pair_tests")
    con.execute(PAIR_TESTS_DDL)
    con.execute("INSERT INTO pair_tests SELECT * FROM ts_det_table")
    con.unregister("ts_det_table")
    con.register("ts_det_m", members)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {MEMBERS} AS SELECT * FROM ts_det_m")
    con.unregister("ts_det_m")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {SIGNIFICANT} AS SELECT * FROM pair_tests WHERE significant"
    )


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
    hashtags: list[str]  # the top three
    amplified: list[str]  # handles (else ids) of the top three
    attacked: list[str]


def summary(case_path: Path | str, limit: int = 10) -> list[NetworkSummary]:
    """The top `limit` networks of the case's last detection: rank, size, pairs, density,
    log10 p, traces, verdict, top hashtags and the accounts most amplified and attacked."""
    with Case.open(case_path, read_only=True) as case:
        if not has_table(case.con, "networks"):
            raise TrollscopeError(
                f"{case_path} has no detection yet: run `trollscope detect {case_path}` first."
            )
        rows = case.con.execute(
            """SELECT rank, network, size, pairs, density, log_p / ln(10), inauthentic, verdict,
                      [t.trace FOR t IN traces], [h.tag FOR h IN hashtags[1:3]],
                      [coalesce(a.handle, a.account_id) FOR a IN amplified[1:3]],
                      [coalesce(a.handle, a.account_id) FOR a IN attacked[1:3]]
               FROM networks ORDER BY rank LIMIT ?""",
            [limit],
        ).fetchall()
    return [NetworkSummary(*row) for row in rows]
