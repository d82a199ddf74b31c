"""Edge p-values under the jitter null: hand-computed cases, a brute-force enumeration of
the offsets, and the null drawn for real (resampled) on a simulated case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.conftest import T0, query

from benchmarks.nulls.null import (
    data_tick,
    edge_pvalues,
    jitter_pvalues,
    lattice_cdf,
    resampled_counts,
    store_edge_pvalues,
)
from trollscope.case import Case
from trollscope.engine.run import edges
from trollscope.errors import TrollscopeError
from trollscope.ingest.run import ingest
from trollscope.simulate import SimulationConfig, simulate

W, J = 60, 3600  # the window and the jitter of the hand-made cases, in seconds
US = 1_000_000


def _shares(tmp_path: Path, rows: list[tuple[str, str, str, int]]) -> Path:
    """A CooRTweet shares file: (object, account, content, seconds)."""
    path = tmp_path / "shares.csv"
    lines = ["object_id,account_id,content_id,timestamp_share"]
    lines += [f"{o},{a},{c},{T0 + t}" for o, a, c, t in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _pvalues(case: Path, jitter: float = J, tick: float | None = None) -> dict[str, float]:
    with Case.open(case, read_only=True) as c:
        table = edge_pvalues(c.con, "co-repost", jitter, tick)
    return {
        f"{a}-{b}": float(p) if p is not None else float("nan")
        for a, b, p in zip(
            table.column("account_a").to_pylist(),
            table.column("account_b").to_pylist(),
            table.column("p_value").to_pylist(),
            strict=True,
        )
    }


def _between(lo: int, hi: int, m: int) -> float:
    """P(lo <= K <= hi), K = U_b - U_a for U uniform on {-m..m}, by summing the
    probability function P(K = j) = (2m + 1 - |j|) / (2m + 1)^2 term by term."""
    n = 2 * m + 1
    return sum(n - abs(j) for j in range(max(lo, -2 * m), min(hi, 2 * m) + 1)) / n**2


def _pair(a: str, b: str, delays: list[int], start: int = 7, gap: int = 5 * J) -> list[tuple]:
    """Rows for accounts a and b sharing one key per delay d (b acts d s after a), the
    keys hours apart. The start is not a multiple of 60 s: the data's tick is 1 s."""
    rows = []
    for i, d in enumerate(delays):
        t = start + i * gap
        rows += [(f"{a}{b}{i}", a, f"{a}{b}{i}a", t), (f"{a}{b}{i}", b, f"{a}{b}{i}b", t + d)]
    return rows


def test_lattice_cdf_against_enumeration() -> None:
    m = 4
    u = np.arange(-m, m + 1)
    diffs = (u[None, :] - u[:, None]).ravel()  # every (U_a, U_b), equally likely
    k = np.arange(-2 * m - 3, 2 * m + 3)
    expected = [(diffs <= x).mean() for x in k]
    assert lattice_cdf(k, m) == pytest.approx(expected, abs=1e-15)


def test_one_coincidence_by_hand(tmp_path: Path, case_path: Path) -> None:
    ingest(case_path, [_shares(tmp_path, _pair("a", "b", [0]))])
    assert edges(case_path, "co-repost", W) == 1
    with Case.open(case_path, read_only=True) as c:
        assert data_tick(c.con, "co-repost") == 1.0
    # Offsets in whole seconds on [-3600, 3600] (m = 3600, n = 7201 values each); the pair
    # meets when |K| <= 60, K = U_b - U_a. P(K = j) = (n - |j|) / n^2, so
    # P(K <= -61) = sum_{j=-7200}^{-61} (n + j) / n^2 = sum_{i=1}^{7140} i / n^2
    #             = 7140 * 7141 / (2 n^2), and p = 1 - 2 P(K <= -61).
    by_hand = 1 - 7140 * 7141 / 7201**2
    assert _pvalues(case_path)["a-b"] == pytest.approx(by_hand, rel=1e-12)
    # The continuous limit: K triangular on [-7200, 7200], P(|K| > 60) = (1 - 60/7200)^2.
    assert by_hand == pytest.approx(1 - (1 - 60 / 7200) ** 2, rel=0.01)


def test_minute_stamped_data_uses_the_minute_lattice(tmp_path: Path, case_path: Path) -> None:
    # Times on whole minutes: offsets are whole minutes (m = 60, n = 121). One pair at
    # d = 0 (meets for K in {-1, 0, 1}), one with co-actions at d = -60 and d = +60: both
    # count only at K = 0, which on a continuous null has probability 0.
    rows = _pair("a", "b", [0], start=600) + _pair("c", "d", [-60, 60], start=600, gap=3 * J)
    ingest(case_path, [_shares(tmp_path, rows)])
    edges(case_path, "co-repost", W)
    with Case.open(case_path, read_only=True) as c:
        assert data_tick(c.con, "co-repost") == 60.0
    got = _pvalues(case_path)
    assert got["a-b"] == pytest.approx((121 + 2 * 120) / 121**2, rel=1e-12)
    assert got["c-d"] == pytest.approx(1 / 121, rel=1e-12)
    # Told the tick is 1 s, the same data gets the second lattice's values.
    assert _pvalues(case_path, tick=1.0)["a-b"] == pytest.approx(1 - 7140 * 7141 / 7201**2)


def test_spread_coactions_beat_one_coincidence(tmp_path: Path, case_path: Path) -> None:
    rows = (
        _pair("a", "b", [0])  # one coincidence
        + _pair("c", "d", [0, 10, 20, 30, 40])  # five co-actions spread inside the window
        + _pair("e", "f", [0, 0, 0, 0, 0])  # five, perfectly synchronised
    )
    ingest(case_path, [_shares(tmp_path, rows)])
    edges(case_path, "co-repost", W)
    got = _pvalues(case_path)
    single = _between(-60, 60, J)
    assert got["a-b"] == pytest.approx(single, rel=1e-12)
    # c-d keeps all five only while every |d + K| <= 60: K in [-60, 20].
    assert got["c-d"] == pytest.approx(_between(-60, 20, J), rel=1e-12)
    assert got["c-d"] < got["a-b"]
    # The floor: synchronised co-actions move together, five are no rarer than one.
    assert got["e-f"] == pytest.approx(single, rel=1e-12)


def test_organic_pair_hours_apart_is_not_significant(tmp_path: Path, case_path: Path) -> None:
    # 149 shared keys at delays from -2 h to +2 h, 97 s apart: one (-22 s) falls inside
    # the window by chance, and some other pair of posts meets under almost any offset.
    delays = [97 * k - 7200 for k in range(149)]
    ingest(case_path, [_shares(tmp_path, _pair("a", "b", delays, gap=600))])
    edges(case_path, "co-repost", W)
    assert query(case_path, "SELECT coactions FROM edges") == [(1,)]
    assert _pvalues(case_path)["a-b"] > 0.99


def test_exact_against_brute_force_enumeration() -> None:
    rng = np.random.default_rng(7)
    tick, m, window = US, 50, 7 * US + 300  # a window that is not a whole number of ticks
    n_edges = 40
    sizes = rng.integers(0, 12, n_edges)
    edge = np.repeat(np.arange(n_edges), sizes)
    delay = rng.integers(-110 * US, 110 * US, edge.size)
    delay[rng.random(edge.size) < 0.3] //= 30  # some near 0, so that edges exist
    observed, p = jitter_pvalues(edge, delay, n_edges, window, m * tick, tick)
    k = np.arange(-2 * m, 2 * m + 1)
    pmf = (2 * m + 1 - np.abs(k)) / (2 * m + 1) ** 2
    for i in range(n_edges):
        d = delay[edge == i]
        count = (np.abs(d[None, :] + k[:, None] * tick) <= window).sum(axis=1)
        c0 = count[k == 0][0]
        assert observed[i] == c0
        assert p[i] == pytest.approx(pmf[count >= c0].sum() if c0 else 1.0, abs=1e-12)
    assert (observed == 0).any() and (observed >= 2).any()


def test_viral_keys_are_left_out_as_the_edges_left_them(tmp_path: Path, case_path: Path) -> None:
    rows = _pair("a", "b", [5]) + [("viral", x, f"v{x}", 7 + 3 * J) for x in "abc"]
    ingest(case_path, [_shares(tmp_path, rows)])
    edges(case_path, "co-repost", W, max_burst=2)  # 'viral' has 3 accounts in a window
    with Case.open(case_path, read_only=True) as c:
        table = edge_pvalues(c.con, "co-repost")
    assert table.column("coactions").to_pylist() == [1]
    assert table.column("p_value").to_pylist() == [pytest.approx(_between(-65, 55, J))]


def test_store_replaces_and_window_zero_has_no_pvalue(tmp_path: Path, case_path: Path) -> None:
    # b and c act on one key an hour apart: an edge only at window 0.
    rows = _pair("a", "b", [0, 3]) + _pair("a", "c", [1]) + _pair("b", "c", [J])
    ingest(case_path, [_shares(tmp_path, rows)])
    edges(case_path, "co-repost", W)
    assert store_edge_pvalues(case_path, "co-repost", jitter=J) == 2
    assert store_edge_pvalues(case_path, "co-repost", jitter=2 * J) == 2
    stored = query(
        case_path,
        "SELECT account_a, account_b, jitter_s, tick_s, p_value > 0 FROM edge_pvalues ORDER BY ALL",
    )
    assert stored == [
        ("a", "b", 2 * J, 1.0, True),
        ("a", "c", 2 * J, 1.0, True),
    ]
    edges(case_path, "co-repost", 0)  # same key, any time: a time jitter changes nothing
    assert store_edge_pvalues(case_path, "co-repost") == 3
    nulls = "SELECT count(*) FROM edge_pvalues WHERE p_value IS NULL AND tick_s IS NULL"
    assert query(case_path, nulls) == [(3,)]
    # The scratch tables were temporary: nothing but edge_pvalues was added.
    tables = {str(r[0]) for r in query(case_path, "SELECT table_name FROM duckdb_tables()")}
    assert not {t for t in tables if t.startswith("ts_")}


def test_errors_name_the_fix(tmp_path: Path, case_path: Path) -> None:
    ingest(case_path, [_shares(tmp_path, _pair("a", "b", [0]))])
    with pytest.raises(TrollscopeError, match="trollscope edges CASE --trace co-repost"):
        store_edge_pvalues(case_path, "co-repost")
    edges(case_path, "co-repost", W)
    with pytest.raises(TrollscopeError, match="unknown trace 'co-nothing'"):
        store_edge_pvalues(case_path, "co-nothing")
    with pytest.raises(TrollscopeError, match="at least the data's clock tick"):
        store_edge_pvalues(case_path, "co-repost", jitter=0.5)
    assert query(case_path, "SELECT count(*) FROM duckdb_tables() WHERE table_name "
                 "= 'edge_pvalues'") == [(0,)]  # fmt: skip


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    simulate(SimulationConfig(posts=3000, days=1), folder, formats=("twarc2",))
    case = folder / "case.duckdb"
    ingest(case, [folder / "twarc2.jsonl"])
    edges(case, "co-repost", W)
    edges(case, "co-hashtag", W)  # a post carries several tags: post pairs repeat per key
    return case


def test_observed_counts_are_the_edges_coactions(simulated: Path) -> None:
    with Case.open(simulated, read_only=True) as c:
        for trace in ("co-repost", "co-hashtag"):
            table = edge_pvalues(c.con, trace)
            stored = c.con.execute(
                "SELECT platform, account_a, account_b, coactions FROM edges WHERE trace = ? "
                "ORDER BY ALL",
                [trace],
            ).fetchall()
            got = list(zip(*(table.column(i).to_pylist() for i in range(4)), strict=True))
            assert got == stored  # same edges, same counts, sorted
            p = np.array(table.column("p_value").to_pylist())
            assert ((p > 0) & (p <= 1)).all()


def test_exact_pvalues_agree_with_the_resampled_null(simulated: Path) -> None:
    reps = 2000
    with Case.open(simulated, read_only=True) as c:
        table = edge_pvalues(c.con, "co-repost", J)
        null = resampled_counts(c.con, "co-repost", W, J, reps, seed=3)
    keys = zip(*(table.column(i).to_pylist() for i in range(3)), strict=True)
    hits = np.array(
        [
            (null[k] >= n).sum()
            for k, n in zip(keys, table.column("coactions").to_pylist(), strict=True)
        ]
    )
    p = np.array(table.column("p_value").to_pylist())
    assert len(p) > 1000
    expected, spread = reps * p, np.sqrt(reps * p * (1 - p))
    # Every edge within 6 binomial standard deviations (plus 3 for the smallest p)...
    assert (np.abs(hits - expected) <= 6 * spread + 3).all()
    # ... and, over all edges, no drift: standardised differences centred, unit spread.
    z = (hits - expected) / np.maximum(spread, 1e-9)
    assert abs(z.mean()) < 0.1
    assert 0.85 < z.std() < 1.15
    # The null is not the trivial one: most edges would be significant at 5% alone.
    assert np.median(p) < 0.05 < p.max()
