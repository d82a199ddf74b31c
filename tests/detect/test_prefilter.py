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

from tests.conftest import T0, query
from trollscope.detect import prefilter
from trollscope.detect.bursttest import MIN_BURST
from trollscope.detect.bursttest import log_pvalues as burst_log_pvalues
from trollscope.detect.fdr import benjamini_hochberg
from trollscope.detect.pairtest import log_pvalues
from trollscope.detect.params import DetectParams
from trollscope.detect.run import detect
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
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


def _burst_floors_in_duckdb(n: np.ndarray, m: np.ndarray, q: float) -> np.ndarray:
    """prefilter.binomial_log_floor, compiled to SQL and run by DuckDB."""
    t = ibis.table({"n": "int64", "m": "int64"}, name="grid")
    floor = prefilter.binomial_log_floor(t.n, t.m, q, MIN_BURST)
    sql = ibis.to_sql(t.select(floor=floor), dialect="duckdb")
    con = duckdb.connect()
    con.register("grid", pa.table({"n": n, "m": m}))
    return np.asarray(con.sql(str(sql)).to_arrow_table().column("floor").to_numpy())


def test_the_burst_floor_is_under_the_p_value_and_close_to_it_where_tests_pass() -> None:
    """Bursts of 2 to 2,000 accounts out of 3 to 20,000, at the window-to-jitter ratios
    of detect's traces (a minute in half an hour's jitter, an hour in six) and beyond."""
    sizes = [3, 4, 5, 10, 30, 100, 1_000, 20_000]
    grid = [(n, m) for n in sizes for m in (2, 3, 4, 5, 10, 50, 300, 2_000, n - 1, n) if m <= n]
    n, m = (np.array(v, dtype=np.int64) for v in zip(*grid, strict=True))
    near = 0
    for q in (1e-6, 61 / 3600, 0.01, 0.3, 0.99, 1.0, 1.5):
        floor = _burst_floors_in_duckdb(n, m, q)
        exact = burst_log_pvalues(n, m, q)
        above = floor > exact
        assert not above.any(), (q, list(zip(n[above], m[above], strict=True)))
        if q >= 0.5:  # no burst is far above what the null expects
            continue
        # Where M - 1 is at least twice (n - 1) q and the tail small (where tests pass),
        # the terms after the point fall by a ratio r <= 1 / 2(1 - q) each, so the tail
        # is at most the point / (1 - r); Robbins' bounds cost under 0.01 here.
        far = (m >= MIN_BURST) & (m - 1 >= 2 * (n - 1) * q) & (exact < -5)
        slack = -math.log(1 - 1 / (2 * (1 - q))) + 0.01 + 2e-6 * (1 + np.abs(exact))
        assert np.all(exact[far] - floor[far] <= slack[far]), q
        near += int(far.sum())
    assert near > 50  # not vacuous


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
        "SELECT * FROM burst_tests WHERE significant",
        "SELECT * EXCLUDE (q_value) FROM cohort_tests",
    ):
        ordered = f"{sql} ORDER BY ALL"
        assert query(cases[True], ordered) == query(cases[False], ordered), sql
    # What was kept is a part of every test, row for row but for the q-values above q,
    # which are upper bounds; and much less than all.
    for table in ("pair_tests", "account_tests", "burst_tests"):
        kept = f"SELECT * EXCLUDE (q_value) FROM {table}"
        every = _hashable(query(cases[True], f"{kept} ORDER BY ALL"))
        some = _hashable(query(cases[False], f"{kept} ORDER BY ALL"))
        assert set(some) <= set(every), table
        # (Here every burst is a farm's, and passes: the next test has bursts that don't.)
        assert table == "burst_tests" or len(some) < len(every) / 2, table
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
    # And every burst test more than half of whose members one network holds.
    bursts = """SELECT count(*) FROM (
                    SELECT b.key, s.network, count(*) AS inside, any_value(len(b.members)) AS size
                    FROM burst_tests b, unnest(b.members) AS u(account_id)
                    JOIN account_scores s ON s.platform = b.platform AND s.account_id = u.account_id
                    WHERE s.network IS NOT NULL
                    GROUP BY b.trace, b.key, s.network)
                WHERE 2 * inside > size"""
    assert query(cases[False], bursts) == query(cases[True], bursts)


def test_only_the_bursts_that_could_pass_come_back(tmp_path: Path) -> None:
    """Texts that three of twenty pages post within a minute, once in a day, are
    everywhere and far from significant: they stay on the engine. One text that thirty
    pages post within 40 s passes, with what every test fetched gives it."""
    rng = np.random.default_rng(3)
    rows = []
    for text in range(150):
        times = [int(t) for t in rng.uniform(0, 86_400, 17)] + [50_000 + 20 * i for i in range(3)]
        rows += [(f"p{text}-{i}", t, f"weak {text} said by some") for i, t in enumerate(times)]
    rows += [(f"farm{i}", 3_000 + i, "the strong text that thirty post") for i in range(30)]
    data = tmp_path / "posts.csv"
    lines = ["id,page,time,text"] + [
        f'{i},{page},{T0 + t},"{text}"' for i, (page, t, text) in enumerate(rows)
    ]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = parse_mapping("post_id=id,account_id=page,created_at=time,text=text")
    found = {}
    for all_tests in (True, False):
        case = tmp_path / f"hand-{all_tests}.duckdb"
        ingest(case, [data], options=ReadOptions(mapping=mapping, platform="facebook"))
        result = detect(case, DetectParams(all_tests=all_tests, traces=("co-text",)))
        found[all_tests] = (
            result,
            query(case, "SELECT * FROM burst_tests ORDER BY ALL"),
        )
    (every, all_rows), (some, kept) = found[True], found[False]
    assert every == some  # the counts: 151 burst tests run either way
    assert every.bursts_tested == {"co-text": 151}
    assert len(all_rows) == 151
    strong = [r for r in all_rows if r[8] and len(r[8]) == 30]
    assert len(strong) == 1 and strong[0][-1]  # significant
    assert kept == strong  # the weak ones stayed behind


def _hashable(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Rows with their lists (a burst's members) as tuples."""
    return [tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in rows]


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
