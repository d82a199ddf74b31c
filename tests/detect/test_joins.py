"""Join tests: two networks acting on the same keys in the same minutes are one network.

The arithmetic is checked against independent computations (a fine grid for the union
of intervals, hand sums for the expected meetings), the test's calibration by drawing its
own null (one network's times shifted per period), and the engine path on a real case:
desks of one farm that push the same tags in the same minute are joined; two farms that
push them hours apart are not.
"""

from __future__ import annotations

import random
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
from scipy import stats

from trollscope.case import Case
from trollscope.detect.joins import (
    JOIN_TEST_SCHEMA,
    MEMBERS,
    MEMBERS_SCHEMA,
    covered,
    decide_joins,
    join_table,
    join_tests,
    joined_networks,
    member_actions,
    network_times,
)
from trollscope.engine.run import DuckDBBackend
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest
from trollscope.traces import TRACES

J = 1800.0  # the default jitter
P = 6 * 3600.0  # the default period


def _grid_measure(centres: list[float], half: float, limit: float) -> float:
    """The union's length counted on a grid of 0.01 s (the independent answer)."""
    grid = np.arange(-limit, limit, 0.01) + 0.005
    inside = np.zeros(len(grid), dtype=bool)
    for c in centres:
        inside |= np.abs(grid - c) <= half
    return float(inside.sum() * 0.01)


def test_covered_is_the_length_of_the_union_within_the_limits() -> None:
    rng = random.Random(4)
    for _ in range(20):
        centres = [rng.uniform(-40, 40) for _ in range(rng.randrange(1, 6))]
        expected = _grid_measure(centres, 5.0, 30.0)
        assert abs(covered(np.array(centres), 5.0, 30.0) - expected) < 0.05
    assert covered(np.array([0.0, 0.0, 1.0]), 60.0, J) == 121.0
    assert covered(np.array([5000.0]), 60.0, J) == 0.0  # wholly outside +-J


def _times(rows: list[tuple[str, int, float]]) -> dict[tuple[str, str], dict[int, float]]:
    found: dict[tuple[str, str], dict[int, float]] = {}
    for key, network, t in rows:
        found.setdefault(("x", key), {})[network] = t
    return found


def test_aligned_networks_meet_every_period_against_a_small_expectation() -> None:
    # Two desks acting within seconds of each other on two keys a period, in 5 periods.
    rows = []
    for period in range(5):
        for k in range(2):
            t = period * P + 3600 + 600 * k
            rows += [(f"k{period}-{k}", 0, t + 3.0), (f"k{period}-{k}", 1, t)]
    (test,) = join_tests(_times(rows), 60.0, J, P, 1.0)
    assert (test.a, test.b, test.keys, test.periods, test.met) == (0, 1, 10, 5, 5)
    # Per period the two offsets' intervals overlap: [3 - 61, 3 + 61], twice.
    assert abs(test.expected - 5 * 122 / 3600) < 1e-12
    table = join_table("co-hashtag", 60.0, [test], {0: ["a"], 1: ["b"]})
    expected = stats.poisson.sf(4, 5 * 122 / 3600)  # P(X >= 5)
    assert abs(table.column("log_p")[0].as_py() - np.log(expected)) < 1e-9


def test_networks_acting_hours_apart_do_not_meet() -> None:
    rows = []
    for period in range(5):
        t = period * P + 3600
        rows += [(f"k{period}", 0, t), (f"k{period}", 1, t + 2 * 3600)]
    (test,) = join_tests(_times(rows), 60.0, J, P, 1.0)
    assert test.met == 0
    assert test.expected == 0.0  # 2 hours is beyond any shift of +-30 minutes
    assert join_table("co-hashtag", 60.0, [test], {0: ["a"], 1: ["b"]}).num_rows == 0


def test_the_join_test_holds_its_level_under_its_null() -> None:
    """Draw the null itself: network 1's times, in each period, shifted by one uniform
    offset within +-J from where network 0 acted (spread over the period's keys as two
    farms' directives are). P(p <= alpha) must stay at most alpha."""
    rng = np.random.default_rng(7)
    log_p = []
    for _ in range(3000):
        rows = []
        for period in range(8):
            offset = rng.uniform(-J, J)
            for k in range(int(rng.integers(1, 6))):
                t = period * P + rng.uniform(3600, 5 * 3600)
                lag = rng.normal(0, 30) if rng.random() < 0.5 else rng.uniform(-3 * J, 3 * J)
                rows += [(f"k{period}-{k}", 0, t), (f"k{period}-{k}", 1, t + lag + offset)]
        (test,) = join_tests(_times(rows), 60.0, J, P, 1.0)
        table = join_table("t", 60.0, [test], {0: ["a"], 1: ["b"]})
        log_p.append(table.column("log_p")[0].as_py() if table.num_rows else 0.0)
    p = np.exp(np.array(log_p))
    for alpha in (0.01, 0.05, 0.1):
        assert (p <= alpha).mean() <= alpha


def test_significant_joins_merge_networks_transitively_and_renumber_by_size() -> None:
    tests = pa.table(
        {
            "network_a": [0, 2, 1],
            "network_b": [3, 3, 4],
            "significant": [True, True, False],
        }
    )
    network = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4])
    joined = joined_networks(network, tests)
    # 0 (4 accounts), 2 (2) and 3 (1) are one network of 7; 1 (3) and 4 (1) stay apart.
    assert joined.tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2]


def test_benjamini_hochberg_counts_the_pairs_left_untested() -> None:
    table = join_table(
        "t",
        60.0,
        join_tests(
            _times([(f"k{i}", n, i * P + 3600.0 + n) for i in range(3) for n in (0, 1)]),
            60.0,
            J,
            P,
            1.0,
        ),
        {0: ["a"], 1: ["b"]},
    )
    p = float(np.exp(table.column("log_p")[0].as_py()))
    alone = decide_joins(table, 0, 0.05).column("q_value")[0].as_py()
    among = decide_joins(table, 9, 0.05).column("q_value")[0].as_py()
    assert abs(alone - p) < 1e-12
    assert abs(among - 10 * p) < 1e-12
    assert decide_joins(JOIN_TEST_SCHEMA.empty_table(), 0, 0.05).num_rows == 0


def _tag_posts(path: Path, desks_apart_s: float) -> ReadOptions:
    """Two groups of 10 accounts, each pushing one hashtag per round (two rounds a day
    for 6 days), members within 20 s of their group's time; group b acts
    `desks_apart_s` after group a."""
    rng = random.Random(5)
    lines = ["id,user,time,text"]
    start = 1_700_000_000
    for day in range(6):
        for r in range(2):
            t0 = start + day * 86_400 + 3_600 * (2 + 5 * r) + rng.randrange(600)
            for group, lag in (("a", 0.0), ("b", desks_apart_s)):
                for m in range(10):
                    when = int(t0 + lag + rng.uniform(0, 20))
                    lines.append(f"{len(lines)},{group}{m},{when},push #tag{day}x{r} now")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ReadOptions(
        mapping=parse_mapping("post_id=id,account_id=user,created_at=time,text=text"),
        platform="x",
    )


def _join_on_case(tmp_path: Path, desks_apart_s: float) -> pa.Table:
    data = tmp_path / "tags.csv"
    case_path = tmp_path / f"case-{desks_apart_s:g}.duckdb"
    ingest(case_path, [data], options=_tag_posts(data, desks_apart_s))
    members = pa.table(
        {
            "platform": ["x"] * 20,
            "account_id": [f"{g}{m}" for g in "ab" for m in range(10)],
            "network": [0] * 10 + [1] * 10,
        }
    )
    with Case.open(case_path) as case:
        engine = DuckDBBackend(case.con)
        # co-hashtag's prepared table (the folded tags), as detect leaves it on the engine.
        prepare = TRACES["co-hashtag"].prepare
        assert prepare is not None
        prepare(case.con, engine)
        engine.register(MEMBERS, members)
        narrowed = ibis.table(MEMBERS_SCHEMA, name=MEMBERS)
        actions = engine.fetch(member_actions("co-hashtag", narrowed))
        engine.close()
    assert actions.num_rows == 20 * 12  # each member's first use of each round's tag
    tests = join_tests(network_times(actions, {0: 10, 1: 10}), 60.0, J, P, 1.0)
    return join_table("co-hashtag", 60.0, tests, {0: ["a0"], 1: ["b0"]})


def test_groups_pushing_the_same_tags_in_the_same_minute_are_joined(tmp_path: Path) -> None:
    table = _join_on_case(tmp_path, 5.0)
    # Two rounds a day, each in the period its time falls in: six periods or more.
    assert table.column("met")[0].as_py() == table.column("periods")[0].as_py() >= 6
    decided = decide_joins(table, 0, 0.01)
    assert decided.column("significant")[0].as_py()


def test_groups_pushing_the_same_tags_an_hour_apart_are_not(tmp_path: Path) -> None:
    table = _join_on_case(tmp_path, 3_600.0)
    assert table.num_rows == 0  # never within the window: nothing to test


def test_a_network_has_a_time_on_a_key_only_where_a_quarter_of_it_acted() -> None:
    """Two members of a 40-member network acting on another farm's key (Leiden's strays)
    do not give the network a time there; ten do, at their median."""
    rows = [("x", "k", 0, f"a{i}", (100 + i) * 1_000_000) for i in range(2)]
    rows += [("x", "k", 1, f"b{i}", (200 + 2 * i) * 1_000_000) for i in range(10)]
    actions = pa.table(
        {
            name: [r[i] for r in rows]
            for i, name in enumerate(("platform", "key", "network", "account_id", "us"))
        }
    )
    assert network_times(actions, {0: 40, 1: 40}) == {("x", "k"): {1: 209.0}}
    assert network_times(actions, {0: 8, 1: 40}) == {("x", "k"): {0: 100.5, 1: 209.0}}
