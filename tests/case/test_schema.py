"""The schema is written in one place: every table a case holds is listed there."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import query
from trollscope import api
from trollscope.case.schema import EDGE_TABLES, TABLES
from trollscope.simulate import SimulationConfig


def test_every_table_a_detected_case_holds_is_in_the_schema(tmp_path: Path) -> None:
    cfg = SimulationConfig(posts=20_000, days=5, seed=4)
    api.simulate(cfg, tmp_path / "sim", formats=("io-tweets",))
    case = tmp_path / "case.duckdb"
    api.ingest(case, [tmp_path / "sim" / "io_tweets.csv"])
    api.avatars(case)
    api.edges(case, "profile-template")
    api.detect(case)
    found = {
        str(r[0])
        for r in query(
            case, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        )
    }
    assert found - set(TABLES) == set(), (
        f"tables missing from case/schema.py: {found - set(TABLES)}"
    )
    # The detection's own tables and the edge layout are all there.
    assert {"pair_tests", "networks", "account_scores", "account_evidence"} <= found
    assert set(EDGE_TABLES) <= found
