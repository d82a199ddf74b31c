"""The peers' thresholds from the command line: CooRTweet's and CNT's networks, labelled
as thresholds, beside ours."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.conftest import query
from tests.engine.test_engine import _shares
from trollscope import api
from trollscope.cli import cli
from trollscope.errors import TrollscopeError


def test_coortweets_pairs_on_its_own_data_from_the_cli(
    shared_data: Path, case_path: Path, tmp_path: Path
) -> None:
    """CooRTweet 2.1.3 detect_groups(time_window = 60, min_participation = 2) gives 3,721
    pairs on russian_coord_tweets (tests/engine/test_engine.py computes its rule in SQL)."""
    api.ingest(case_path, [shared_data / "coortweet" / "russian_coord_tweets.csv"])
    out = tmp_path / "coortweet.csv"
    result = CliRunner().invoke(
        cli,
        ["edges", str(case_path), "--trace", "co-repost", "--window", "60",
         "--min-participation", "2", "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3,721 of them pass CooRTweet's rule" in " ".join(result.stdout.split())
    assert "a threshold, not a test" in " ".join(result.stdout.split())
    assert duckdb.sql(f"SELECT count(*) FROM '{out}'").fetchall() == [(3721,)]
    # The case keeps every edge: detect tests them all.
    assert query(case_path, "SELECT count(*) FROM edges") == [(6206,)]


def test_min_weight_keeps_pairs_with_that_many_coactions(tmp_path: Path, case_path: Path) -> None:
    rows = [
        ("o1", "a", "1", 100), ("o1", "b", "2", 110),  # a-b: two co-actions
        ("o2", "a", "3", 200), ("o2", "b", "4", 205),
        ("o3", "c", "5", 300), ("o3", "d", "6", 301),  # c-d: one
    ]  # fmt: skip
    api.ingest(case_path, [_shares(tmp_path, rows)])
    out = tmp_path / "cnt.parquet"
    run = api.edges(case_path, "co-repost", 60, out, rule=api.PeerRule(min_weight=2))
    assert (run.edges, run.kept) == (2, 1)
    got = duckdb.sql(f"SELECT account_a, account_b, coactions FROM '{out}'").fetchall()
    assert got == [("a", "b", 2)]


def test_a_rule_below_one_is_refused() -> None:
    with pytest.raises(TrollscopeError, match="min participation must be 1 or more"):
        api.PeerRule(min_participation=0)
