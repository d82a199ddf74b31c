"""Only the pair and account tests that could pass come back from the engine
(prefilter.py): the floor is a lower bound of the p-value and a close one, the cut-off
loses no test that Benjamini-Hochberg rejects, and detect with the prefilter gives what
it gives with every test fetched."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import query
from trollscope.detect import prefilter
from trollscope.detect.fdr import benjamini_hochberg
from trollscope.detect.pairtest import log_pvalues
from trollscope.detect.params import DetectParams
from trollscope.detect.run import detect
from trollscope.ingest.run import ingest
from trollscope.simulate.config import SimulationConfig
from trollscope.simulate.run import simulate

SHARED = [0, 1, 2, 3, 5, 10, 30, 100, 1_000, 10_000]
EXPECTED = [0.0, 1e-300, 1e-50, 1e-6, 0.01, 0.5, 1.0, 2.0, 10.0, 100.0, 1_000.0, 1e5]


def _floors_in_duckdb(s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """prefilter.log_floor, compiled to SQL and run by DuckDB (as detect runs it)."""
    t = ibis.table({"s": "int64", "e": "float64"}, name="grid")
    sql = ibis.to_sql(t.select(floor=prefilter.log_floor(t.s, t.e)), dialect="duckdb")
    con = duckdb.connect()
    con.register("grid", pa.table({"s": s, "e": e}))
    return np.asarray(con.sql(str(sql)).to_arrow_table().column("floor").to_numpy())


def test_the_floor_is_under_the_p_value_and_close_to_it_where_tests_pass() -> None:
    s, e = (np.array(v) for v in zip(*[(s, e) for s in SHARED for e in EXPECTED], strict=True))
    floor = _floors_in_duckdb(s.astype(np.int64), e.astype(np.float64))
    exact = log_pvalues(s, e)
    assert np.all(floor <= exact), list(zip(s[floor > exact], e[floor > exact], strict=True))
    # Where S is at least about twice E (where tests pass), the point probability is at
    # least half the tail, P(X >= 1) and E differ by at most a factor 1 - 1/e, and
    # Robbins' bound is within 1/(12 S)^2 of ln S!: the floor is within ln 2 + 0.46.
    far = (s >= 2) & (s + 1 >= 2 * e)
    slack = math.log(2) + 0.46 + 0.01 + 2e-6 * (1 + np.abs(exact))
    assert np.all(exact[far] - floor[far] <= slack[far])
    assert far.sum() > 50  # not vacuous


def _ladder(bound: np.ndarray, m: int, q: float) -> np.ndarray:
    """prefilter.ladder's counts, from floors of ln(p / w) held in numpy."""
    j = np.arange(prefilter.steps(m))
    thresholds = math.log(q / m) + prefilter.LN2 * j
    return np.array([(bound <= t).sum() for t in thresholds], dtype=np.int64)


def test_the_cut_off_loses_no_test_that_bh_rejects() -> None:
    """Against Benjamini-Hochberg over every test, on random tests: p-values from the
    null and from signal, weights as detect's, floors below the p-values by random
    slack. BH over what the cut-off fetches (and the tests already on the driver),
    with m counting every test, rejects the same tests with the same q-values."""
    rng = np.random.default_rng(7)
    rejected_in_all = fetched_in_all = pairs_in_all = 0
    for _ in range(300):
        n_pairs, n_other, untested = (int(x) for x in rng.integers(0, [400, 60, 200]))
        q = float(rng.choice([0.01, 0.05, 0.2]))
        signal = rng.uniform(size=n_pairs) < rng.uniform(0, 0.3)
        log_p = np.where(signal, -rng.exponential(15, n_pairs), np.log(rng.uniform(size=n_pairs)))
        raw = 1 + 2 * rng.integers(0, 7, n_pairs).astype(np.float64)
        w = raw / raw.mean() if n_pairs else raw
        floor = log_p - rng.exponential(0.7, n_pairs) * (rng.uniform(size=n_pairs) < 0.8)
        other = np.log(rng.uniform(size=n_other)) * rng.choice([1.0, 10.0], n_other)
        m = n_pairs + n_other + untested
        if m == 0:
            continue
        pw = log_p - np.log(w)
        cut = prefilter.cutoff(_ladder(floor - np.log(w), m, q), other, m, q)
        full = benjamini_hochberg(np.exp(np.concatenate([pw, other])), m)
        rejected = full <= q
        assert np.all(np.concatenate([pw, other])[rejected] < cut)
        fetched = floor - np.log(w) <= cut
        steps = round((cut - math.log(q / m)) / prefilter.LN2)
        assert fetched.sum() < 2**steps  # fewer than 2^J come back
        part = benjamini_hochberg(np.exp(np.concatenate([pw[fetched], other])), m)
        kept = np.concatenate([fetched, np.ones(n_other, dtype=bool)])
        assert np.array_equal(part <= q, rejected[kept])
        assert not rejected[~kept].any()
        assert np.array_equal(part[part <= q], full[kept][rejected[kept]])
        rejected_in_all += int(rejected.sum())
        fetched_in_all += int(fetched.sum())
        pairs_in_all += n_pairs
    assert rejected_in_all > 1_000  # not vacuous: tests passed,
    assert fetched_in_all < pairs_in_all / 3  # and most pair tests stayed behind


@pytest.fixture(scope="module")
def simulated_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prefilter")
    simulate(
        replace(SimulationConfig(), posts=20_000, days=3, seed=5), folder, formats=("io-tweets",)
    )
    case = folder / "case.duckdb"
    ingest(case, [folder / "io_tweets.csv"])
    return case


def test_detect_with_the_prefilter_finds_what_it_finds_with_every_test(
    simulated_case: Path, tmp_path: Path
) -> None:
    cases = {}
    results = {}
    for all_tests in (True, False):
        case = tmp_path / f"all-{all_tests}.duckdb"
        shutil.copy(simulated_case, case)
        results[all_tests] = detect(case, DetectParams(all_tests=all_tests))
        cases[all_tests] = case
    assert results[True] == results[False]  # every count, tested pairs included
    assert results[True].networks >= 1
    for sql in (
        "SELECT * FROM pair_tests WHERE significant",
        "SELECT * FROM networks",
        "SELECT * FROM network_edges",
        "SELECT * FROM account_scores",
        "SELECT * FROM account_evidence",
        "SELECT * FROM account_tests WHERE significant",
        "SELECT * EXCLUDE (q_value) FROM burst_tests",
        "SELECT * EXCLUDE (q_value) FROM cohort_tests",
    ):
        ordered = f"{sql} ORDER BY ALL"
        assert query(cases[True], ordered) == query(cases[False], ordered), sql
    # What was kept is a part of every test, row for row but for the q-values above q,
    # which are upper bounds; and much less than all.
    for table in ("pair_tests", "account_tests"):
        kept = f"SELECT * EXCLUDE (q_value) FROM {table}"
        every = query(cases[True], f"{kept} ORDER BY ALL")
        some = query(cases[False], f"{kept} ORDER BY ALL")
        assert set(some) <= set(every), table
        assert len(some) < len(every) / 2, table
    q_values = """SELECT count(*) FROM pair_tests a JOIN other.pair_tests b
                  USING (trace, platform, account_a, account_b)
                  WHERE a.q_value < b.q_value OR (a.q_value <= 0.01) <> (b.q_value <= 0.01)"""
    con = duckdb.connect(str(cases[False]), read_only=True)
    try:
        con.execute(f"ATTACH '{cases[True]}' AS other (READ_ONLY)")
        assert con.execute(q_values).fetchall() == [(0,)]
    finally:
        con.close()
    # Every pair test inside a network came back (a network's p-value combines them).
    inside = """SELECT count(*) FROM pair_tests p
                JOIN account_scores a ON a.platform = p.platform AND a.account_id = p.account_a
                JOIN account_scores b ON b.platform = p.platform AND b.account_id = p.account_b
                WHERE a.network = b.network"""
    assert query(cases[False], inside) == query(cases[True], inside)
    assert query(cases[False], inside)[0][0] > 0
    # And every account test of a network's member.
    members = (
        """SELECT count(*) FROM account_tests t JOIN account_scores USING (platform, account_id)"""
    )
    assert query(cases[False], members) == query(cases[True], members)
    assert query(cases[False], members)[0][0] > 0


def test_all_tests_on_the_command_line_keeps_a_test_for_every_candidate_pair(
    simulated_case: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from trollscope.cli import cli

    kept = {}
    for flags in ((), ("--all-tests",)):
        case = tmp_path / f"cli{len(flags)}.duckdb"
        shutil.copy(simulated_case, case)
        result = CliRunner().invoke(cli, ["detect", str(case), "--hide-progress", *flags])
        assert result.exit_code == 0, result.output
        kept[flags] = query(case, "SELECT count(*) FROM pair_tests")[0][0]
        # detect tests every edge that met on two keys or more.
        expected = query(case, "SELECT count(*) FROM edges WHERE keys >= 2")[0][0]
    assert kept[("--all-tests",)] == expected
    assert 0 < kept[()] < expected / 2
