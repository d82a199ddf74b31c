"""The account-level test under the jitter null (significance.py), on hand-made cases."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest
from tests.conftest import T0

from benchmarks.nulls.significance import account_tests
from trollscope.engine.run import edges
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest


def _case(tmp_path: Path, rows: list[tuple[str, str, str, int]]) -> Path:
    """A mapped table of reposts: (post, account, reposted post, seconds)."""
    path = tmp_path / "r.csv"
    path.write_text(
        "id,user,ref,t\n" + "".join(f"{p},{a},{r},{T0 + t}\n" for p, a, r, t in rows),
        encoding="utf-8",
    )
    case = tmp_path / "case.duckdb"
    mapping = parse_mapping("post=id,account=user,repost_of=ref,time=t")
    ingest(case, [path], options=ReadOptions(mapping=mapping))
    edges(case, "co-repost", 60)
    return case


def _tests(case: Path, jitter: float) -> dict[str, tuple[int, float, float]]:
    con = duckdb.connect(str(case))
    try:
        t = account_tests(con, "co-repost", jitter)
    finally:
        con.close()
    return {
        a: (o, e, p)
        for a, o, e, p in zip(
            t.column("account_id").to_pylist(),
            t.column("observed").to_pylist(),
            t.column("expected").to_pylist(),
            t.column("p_value").to_pylist(),
            strict=True,
        )
    }


def test_expected_meetings_of_one_pair_by_hand(tmp_path: Path) -> None:
    # a and b repost one post 10 s apart; c reposts it 2 hours later (outside +-2J of a
    # and b for J = 1800 s); a also reposts another post alone. Times in whole seconds:
    # the clock tick is 1 s. Under the null, a and b meet with probability about
    # (2W + tick) * f(10), f the triangular density on [-H, H], H = 2J = 3600 s:
    # f(10) = (3600 - 10) / 3600^2.
    case = _case(
        tmp_path,
        [("1", "a", "x", 1000), ("2", "b", "x", 1010), ("3", "c", "x", 8210), ("4", "a", "y", 50)],
    )
    got = _tests(case, 1800)
    expected = (2 * 60 + 1) * (3600 - 10) / 3600**2
    assert set(got) == {"a", "b"}
    for account in ("a", "b"):
        observed, exp, p = got[account]
        assert observed == 1
        assert exp == pytest.approx(expected, rel=1e-9)
        assert p == pytest.approx(1 - math.exp(-expected), rel=1e-9)


def test_a_tight_repeated_pair_is_far_beyond_chance(tmp_path: Path) -> None:
    # a and b repost 20 posts within 5 s of each other; d reposts each of them half an
    # hour later, e an hour later: their meetings with a or b never happen within 60 s.
    rows: list[tuple[str, str, str, int]] = []
    for k in range(20):
        t = 100_000 * k
        rows += [
            (f"a{k}", "a", f"k{k}", t),
            (f"b{k}", "b", f"k{k}", t + 5),
            (f"d{k}", "d", f"k{k}", t + 1800),
            (f"e{k}", "e", f"k{k}", t + 3600),
        ]
    got = _tests(_case(tmp_path, rows), 3600)
    observed, exp, p = got["a"]
    assert observed == 20
    assert exp < 20 * 0.05  # meetings within 60 s are rare under +-1 h shifts
    assert p < 1e-20
    assert "d" not in got and "e" not in got  # no edges, nothing to test


def test_jitter_must_be_well_above_the_window(tmp_path: Path) -> None:
    case = _case(tmp_path, [("1", "a", "x", 0), ("2", "b", "x", 10)])
    con = duckdb.connect(str(case))
    try:
        with pytest.raises(Exception, match="well above the window"):
            account_tests(con, "co-repost", 300)
    finally:
        con.close()
