"""Detect's tests, written once as Ibis expressions, give the same results on DuckDB and on
Spark (local mode), and the right ones on data whose answer is known by hand.

The fixtures are shared by every test of a detect test on an engine: `simulated` (a small
simulated case with farms, identity cohorts and copy-paste bursts), `engines` (DuckDB and,
where PySpark and Java are installed, Spark on that case), `trace_rows` (a trace's rows
materialised on an engine, as `compute_edges` leaves them) and `cohorts_on` (the case's
identity cohorts registered on an engine). The Spark tests skip, with the reason, where
PySpark or Java is missing.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import T0
from trollscope import inputs
from trollscope.case import Case
from trollscope.detect import bursttest, prefilter
from trollscope.detect.bursttest import burst_tests, pending_burst_tests
from trollscope.detect.clock import US, clock_tick
from trollscope.detect.cohorts import COHORTS, cohort_tests, identity_cohorts
from trollscope.detect.tails import fisher_log_p
from trollscope.engine import coaction
from trollscope.engine.run import DuckDBBackend
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest
from trollscope.inputs import Backend
from trollscope.signals import SIGNALS, SignalParams
from trollscope.signals.run import collect_signals
from trollscope.simulate.config import SimulationConfig
from trollscope.simulate.run import simulate
from trollscope.traces import TRACES

JITTER = 1800.0
PERIOD = 21600.0
COHORT_SCHEMA = ibis.schema(
    {"platform": "string", "account_id": "string", "cohort": "string", "signal": "string"}
)


# -- shared fixtures and helpers ------------------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10,000 simulated posts over two days: blatant farms (batch-created, templated,
    posting copies within seconds) among organic accounts."""
    folder = tmp_path_factory.mktemp("engine-tests")
    config = replace(SimulationConfig(), posts=10_000, days=2, seed=2)
    simulate(config, folder / "sim", formats=("io-tweets",))
    case = folder / "case.duckdb"
    ingest(case, [folder / "sim" / "io_tweets.csv"])
    return case


@pytest.fixture(scope="module")
def opened(simulated: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with Case.open(simulated) as case:
        yield case.con


@pytest.fixture(scope="module")
def engines(
    opened: duckdb.DuckDBPyConnection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Backend]]:
    """DuckDB on the case, and Spark on it where PySpark and Java are installed (one
    session for the module: it takes seconds to start)."""
    found: dict[str, Backend] = {"duckdb": DuckDBBackend(opened)}
    spark = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pass
    else:
        if shutil.which("java") is not None:
            from trollscope.engine.spark import SparkBackend

            spark = SparkBackend(opened, tmp_path_factory.mktemp("spark"))
            found["spark"] = spark
    yield found
    if spark is not None:
        spark.close()


def spark_of(engines: dict[str, Backend]) -> Backend:
    if "spark" not in engines:
        pytest.skip("the Spark engine needs the 'spark' extra and Java 17+ on PATH")
    return engines["spark"]


def trace_rows(engine: Backend, con: duckdb.DuckDBPyConnection, name: str) -> ir.Table:
    """The trace's rows materialised on `engine` as `coaction.ROWS`, as `compute_edges`
    leaves them for detect's tests."""
    trace = TRACES[name]
    if trace.prepare is not None:
        trace.prepare(con, engine)
    raw = trace.rows(inputs.Inputs())
    engine.materialize(coaction.ROWS, coaction.trace_rows(raw, trace.keys_checked))
    return coaction.rows_table()


def cohorts_on(engine: Backend, cohorts: pa.Table) -> ir.Table:
    """`cohorts` (identity_cohorts's rows) on `engine`, as detect registers them."""
    engine.register(COHORTS, cohorts)
    return ibis.table(COHORT_SCHEMA, name=COHORTS)


@pytest.fixture(scope="module")
def identity(opened: duckdb.DuckDBPyConnection) -> pa.Table:
    return identity_cohorts(opened, collect_signals(opened, list(SIGNALS), SignalParams()))


def assert_same(duck: pa.Table, spark: pa.Table) -> None:
    """Equal tables: the same rows in the same order, floats to 1e-9 relative."""
    assert duck.schema == spark.schema
    assert duck.num_rows == spark.num_rows
    for name in duck.column_names:
        a, b = duck.column(name).to_pylist(), spark.column(name).to_pylist()
        if pa.types.is_floating(duck.schema.field(name).type):
            assert all(
                x == y or math.isclose(x, y, rel_tol=1e-9) for x, y in zip(a, b, strict=True)
            ), name
        else:
            assert a == b, name


# -- the same results on both engines -------------------------------------------------


def test_burst_and_cohort_tests_are_the_same_on_duckdb_and_spark(
    engines: dict[str, Backend], opened: duckdb.DuckDBPyConnection, identity: pa.Table
) -> None:
    """Both on co-repost's rows: detect runs the burst tests on text traces only, but the
    expressions never look at what a key is, and one trace keeps the test short (each
    trace's rows on Spark took 5-8 s here; the traces themselves are test_spark.py's)."""
    spark = spark_of(engines)
    name, window = "co-repost", TRACES["co-repost"].window
    bursts, cohorts = [], []
    for engine in (engines["duckdb"], spark):
        rows = trace_rows(engine, opened, name)
        tick = clock_tick(engine, rows)
        bursts.append(burst_tests(engine, name, rows, window, JITTER, tick))
        groups = cohorts_on(engine, identity)
        cohorts.append(cohort_tests(engine, name, rows, groups, window, JITTER, PERIOD, tick))
        engine.drop(coaction.ROWS, COHORTS)
    duck, on_spark = bursts
    # The farms repost together: never a comparison of two empty tables.
    assert duck.table.num_rows > 0 and duck.untested > 0
    assert_same(duck.table, on_spark.table)
    assert duck.untested == on_spark.untested
    found, on_spark_c = cohorts
    assert found.table.num_rows > 0 and found.strong.num_rows > 0
    assert_same(found.table, on_spark_c.table)
    assert_same(found.strong, on_spark_c.strong)
    assert found.untested == on_spark_c.untested


def test_pending_burst_tests_come_back_alike_on_duckdb_and_spark(
    engines: dict[str, Backend], opened: duckdb.DuckDBPyConnection
) -> None:
    """detect's burst tests wait on the engine (bursttest.pending_burst_tests): on both
    engines, those whose floor is under a cut-off come back, every one whose p / w is
    under it among them, and after Leiden those that a network holds more than half of."""
    spark = spark_of(engines)
    name = "co-text"
    (platform,) = opened.sql("SELECT DISTINCT platform FROM accounts").fetchall()[0]
    heavy = opened.sql("SELECT account_id FROM accounts ORDER BY account_id")
    weighted = {r[0] for r in heavy.fetchall()[::3]}  # a third of the accounts
    weights = prefilter.weights_table({(platform, a): 5.0 for a in weighted})
    found = []
    for engine in (engines["duckdb"], spark):
        rows = trace_rows(engine, opened, name)
        tick = clock_tick(engine, rows)
        engine.register(prefilter.WEIGHTS, weights)
        try:
            pending = pending_burst_tests(
                engine, name, rows, TRACES[name].window, JITTER, tick, "ts_test_bursts"
            )
            every = bursttest.fetch(engine, pending, 0.0, None)
            raw = np.array(
                [
                    np.mean([5.0 if m in weighted else 1.0 for m in ms])
                    for ms in every["members"].to_pylist()
                ]
            )
            log_mean = float(np.log(raw.mean()))
            log_pw = every["log_p"].to_numpy() - np.log(raw) + log_mean
            cut = float(np.median(log_pw))
            some = bursttest.fetch(engine, pending, log_mean, cut)
            # A network of the members of the first burst left behind, and of one more.
            behind = [r for r in every.to_pylist() if r["key"] not in some["key"].to_pylist()]
            network = sorted(set(behind[0]["members"]) | {behind[1]["members"][0]})
            engine.register(
                prefilter.MEMBERS,
                pa.table(
                    {
                        "platform": [platform] * len(network),
                        "account_id": network,
                        "network": pa.array([1] * len(network), pa.int64()),
                    }
                ),
            )
            inside = bursttest.fetch_inside(engine, pending, log_mean, cut)
        finally:
            engine.drop(coaction.ROWS, prefilter.WEIGHTS, prefilter.MEMBERS, "ts_test_bursts")
        found.append((pending, every, some, inside))
        assert pending.tested == every.num_rows > 20  # not vacuous
        assert pending.weight_sum == pytest.approx(float(raw.sum()), rel=1e-12)
        assert 0 < some.num_rows < every.num_rows
        assert set(every["key"].to_pylist()[i] for i in np.flatnonzero(log_pw <= cut)) <= set(
            some["key"].to_pylist()
        )
        held = {
            r["key"]
            for r in behind
            if 2 * len(set(r["members"]) & set(network)) > len(r["members"])
        }
        assert set(inside["key"].to_pylist()) == held and behind[0]["key"] in held
    (duck, *duck_tables), (on_spark, *spark_tables) = found
    assert (duck.tested, duck.untested) == (on_spark.tested, on_spark.untested)
    for a, b in zip(duck_tables, spark_tables, strict=True):
        assert_same(a, b)


def test_windows_past_32_bits_of_microseconds_are_the_same_on_duckdb_and_spark(
    engines: dict[str, Backend],
) -> None:
    """A window of an hour is 3.6e9 us, and the cohort tests' 15W of it 5.4e10: RANGE
    frames past 2^31 on a bigint column, on both engines. Six accounts on one key: three
    within the first hour, three an hour apart from the third hour on."""
    spark = spark_of(engines)
    start = T0 * US
    offsets = [0, 1800, 3500, 3 * 3600, 4 * 3600, 5 * 3600]
    accounts = [f"a{i}" for i in range(len(offsets))]
    rows = pa.table(
        {
            "platform": ["x"] * len(offsets),
            "account_id": accounts,
            "key": ["k"] * len(offsets),
            "us": pa.array([start + t * US for t in offsets], pa.int64()),
            "post_id": [f"p{i}" for i in range(len(offsets))],
        }
    )
    trait = pa.table(
        {
            "platform": ["x"] * len(offsets),
            "account_id": accounts,
            "cohort": ["c"] * len(offsets),
            "signal": ["avatar"] * len(offsets),
        }
    )
    found = []
    for engine in (engines["duckdb"], spark):
        engine.register("ts_hand_rows", rows)
        table = ibis.table(coaction.ROW_SCHEMA, name="ts_hand_rows")
        bursts = burst_tests(engine, "t", table, 3600.0, 20_000.0, US)
        groups = cohorts_on(engine, trait)
        tested = cohort_tests(engine, "t", table, groups, 3600.0, 60_000.0, PERIOD, US)
        engine.drop("ts_hand_rows", COHORTS)
        found.append((bursts.table.to_pylist(), tested.table.to_pylist()))
    assert found[0] == found[1]
    (burst,), (cohort,) = found[0]
    assert (burst["burst"], burst["start_us"], burst["members"]) == (3, start, accounts[:3])
    # All six within 5W (five hours): the best window.
    assert (cohort["best_burst"], cohort["best_window_s"]) == (6, 5 * 3600.0)


# -- the right results, worked out by hand --------------------------------------------

WINDOW = 60.0
TEXT = "Read this before the vote and share it with everyone you know"


def _tail(n: int, k: int, q: float) -> float:
    """P(Binomial(n, q) >= k), summed term by term."""
    return sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k, n + 1))


@pytest.fixture
def hand_made(case_path: Path, tmp_path: Path) -> Iterator[tuple[Backend, ir.Table]]:
    """One text (T) posted by a0..a4 within 40 s, by c0..c4 within 40 s two hours later,
    and by o0..o3 hours apart; a0 posts it again at once. A second text (W) by a0..a4
    within 40 s in the next six-hour period. A third (U) by two accounts, a fourth (V)
    by three accounts hours apart: tested as keys, but no burst."""
    posts: list[tuple[str, int, str]] = [(f"a{i}", 10 * i, TEXT) for i in range(5)]
    posts += [("a0", 20, TEXT)]
    posts += [(f"c{i}", 7200 + 10 * i, TEXT) for i in range(5)]
    posts += [(f"o{i}", 3600 * (i + 3), TEXT) for i in range(4)]
    posts += [(f"a{i}", 30000 + 10 * i, "W, the second directive") for i in range(5)]
    posts += [("a1", 100, "U, said twice"), ("o1", 130, "U, said twice")]
    posts += [(f"o{i}", 5000 * i, "V, said thrice hours apart") for i in range(3)]
    data = tmp_path / "posts.csv"
    lines = ["id,page,time,text"] + [
        f'{i},{page},{T0 + t},"{text}"' for i, (page, t, text) in enumerate(posts)
    ]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = parse_mapping("post_id=id,account_id=page,created_at=time,text=text")
    ingest(case_path, [data], options=ReadOptions(mapping=mapping, platform="facebook"))
    with Case.open(case_path) as case:
        engine = DuckDBBackend(case.con)
        rows = trace_rows(engine, case.con, "co-text")
        try:
            yield engine, rows
        finally:
            engine.drop(coaction.ROWS)


def test_five_accounts_posting_one_text_within_the_window_are_its_burst(
    hand_made: tuple[Backend, ir.Table],
) -> None:
    engine, rows = hand_made
    tick = clock_tick(engine, rows)
    assert tick == US
    found = burst_tests(engine, "co-text", rows, WINDOW, JITTER, tick)
    # U has two accounts; V's three never meet.
    assert sorted(found.table.column("accounts").to_pylist()) == [5, 14]
    assert found.untested == 2
    row, second = sorted(found.table.to_pylist(), key=lambda r: -r["accounts"])
    q = (WINDOW + 1) / (2 * JITTER)
    assert row["accounts"] == 14
    assert row["burst"] == 5
    # Two windows hold five: the earlier one.
    assert row["start_us"] == T0 * US
    assert row["members"] == ["a0", "a1", "a2", "a3", "a4"]
    assert row["expected"] == pytest.approx(1 + 13 * q, rel=1e-12)
    assert row["log_p"] == pytest.approx(math.log(14 * _tail(13, 4, q)), rel=1e-9)
    assert (second["burst"], second["start_us"]) == (5, (T0 + 30000) * US)
    assert second["members"] == row["members"]
    assert second["log_p"] == pytest.approx(math.log(5 * q**4), rel=1e-9)


def test_a_cohort_bursting_on_two_keys_names_the_members_in_both_bursts(
    hand_made: tuple[Backend, ir.Table],
) -> None:
    """Cohort X: a0..a4 (five in T's first burst, and W's), c0 (in T's second burst, no
    denser) and o1 (on T hours away, and on U with a1). T and W have three members or
    more (U two): two keys, in two periods, each strong."""
    engine, rows = hand_made
    members = [f"a{i}" for i in range(5)] + ["c0", "o1"]
    cohorts = cohorts_on(
        engine,
        pa.table(
            {
                "platform": ["facebook"] * len(members),
                "account_id": members,
                "cohort": ["X"] * len(members),
                "signal": ["avatar"] * len(members),
            }
        ),
    )
    try:
        found = cohort_tests(engine, "co-text", rows, cohorts, WINDOW, JITTER, PERIOD, US)
    finally:
        engine.drop(COHORTS)
    assert found.untested == 0
    row = found.table.to_pylist()[0]
    # T: 7 members, five within W, 5W and 15W alike, so the smallest window is best
    # (a union bound over three windows); W: 5 members, all five within W.
    q = (WINDOW + 1) / (2 * JITTER)
    on_t = min(0.0, math.log(7 * _tail(6, 4, q)) + math.log(3))
    on_w = min(0.0, math.log(5 * q**4) + math.log(3))
    assert (row["keys"], row["periods"], row["best_burst"]) == (2, 2, 5)
    assert row["best_window_s"] == WINDOW
    assert row["log_p"] == pytest.approx(fisher_log_p([on_t, on_w]), rel=1e-9)
    # In the bursts of both strong keys: a0..a4; c0 and o1 share the trait, not the bursts.
    assert row["members"] == ["a0", "a1", "a2", "a3", "a4"]
    strong = sorted(found.strong.to_pylist(), key=lambda r: r["start_us"])
    assert [(r["cohort"], r["start_us"], r["end_us"]) for r in strong] == [
        ("X", T0 * US, (T0 + 60) * US),
        ("X", (T0 + 30000) * US, (T0 + 30060) * US),
    ]


def test_a_key_pushed_in_three_periods_is_three_bursts(case_path: Path) -> None:
    """Five members post one tag within 40 s on three days. The null shifts each
    period's actions by their own offset, so each day's burst is evidence: one key in
    three periods, each burst strong. Keyed by the tag alone, only each member's first use
    counted, and a farm's few tags, pushed day after day, gave one burst each."""
    members = [f"m{i}" for i in range(5)]
    times = [T0 + day * 86400 + 10 * i for day in range(3) for i in range(5)]
    rows = pa.table(
        {
            "platform": ["x"] * len(times),
            "account_id": [members[i % 5] for i in range(len(times))],
            "key": ["#tag"] * len(times),
            "us": pa.array([t * US for t in times], pa.int64()),
            "post_id": [f"p{i}" for i in range(len(times))],
        }
    )
    trait = pa.table(
        {
            "platform": ["x"] * 5,
            "account_id": members,
            "cohort": ["c"] * 5,
            "signal": ["avatar"] * 5,
        }
    )
    with Case.open(case_path, create=True) as case:
        engine = DuckDBBackend(case.con)
        engine.register("ts_hand_rows", rows)
        table = ibis.table(coaction.ROW_SCHEMA, name="ts_hand_rows")
        groups = cohorts_on(engine, trait)
        found = cohort_tests(engine, "t", table, groups, WINDOW, JITTER, PERIOD, US)
    row = found.table.to_pylist()[0]
    # One tag (the evidence counts it once), its bursts in three periods.
    assert (row["keys"], row["periods"], row["best_burst"]) == (1, 3, 5)
    q = (WINDOW + 1) / (2 * JITTER)
    each = min(0.0, math.log(5 * q**4) + math.log(3))
    assert row["log_p"] == pytest.approx(fisher_log_p([each] * 3), rel=1e-9)
    assert sorted(r["start_us"] for r in found.strong.to_pylist()) == [
        (T0 + day * 86400) * US for day in range(3)
    ]
    assert row["members"] == members
