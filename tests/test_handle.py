"""`trollscope.open`: the case as an object, its jobs and its readers (issue 21, ask 3).

One small simulated data set (two planted farms) is ingested and detected through the
handle; the readers' tables are checked against the case's own tables and the planted
labels, read here with plain DuckDB and csv."""

from __future__ import annotations

import csv
import math
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

import trollscope
from trollscope import api
from trollscope.case.schema import EDGE_COLUMNS
from trollscope.errors import CaseError, TrollscopeError
from trollscope.handle import CaseHandle, _params
from trollscope.simulate.config import SimulationConfig

from .conftest import REPO, query

NETWORK_COLUMNS = [
    "network", "size", "pairs", "density", "log10_p", "inauthentic", "verdict", "traces",
    "found_by", "signals", "hashtags", "amplified", "attacked", "languages",
]  # fmt: skip
ACCOUNT_COLUMNS = [
    "network", "platform", "account_id", "handle", "score", "partners", "traces",
    "identity_signals", "inauthentic", "verdict", "evidence",
]  # fmt: skip
EVIDENCE_COLUMNS = [
    "platform", "account_id", "rank", "test", "trace", "partner_id", "partner_handle",
    "keys", "shared", "expected", "log10_p", "line",
]  # fmt: skip


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> CaseHandle:
    """5,000 simulated posts over three days with two farms (150 and 60 accounts),
    ingested and detected through the handle."""
    folder = tmp_path_factory.mktemp("handle")
    api.simulate(SimulationConfig(posts=5000, days=3), folder / "sim", formats=["twarc2"])
    case = trollscope.open(folder / "case.duckdb", create=True)
    case.ingest(folder / "sim" / "twarc2.jsonl")  # one path, not a list
    case.detect()
    return case


def farm_of(case: CaseHandle) -> dict[str, str]:
    """account_id -> farm id, from the simulation's labels (farm members only)."""
    with (case.path.parent / "sim" / "labels.csv").open(encoding="utf-8") as f:
        return {row["account_id"]: row["farm_id"] for row in csv.DictReader(f) if row["farm_id"]}


def test_open_refuses_a_missing_case(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match=r"nothing\.duckdb: no such case file"):
        trollscope.open(tmp_path / "nothing.duckdb")
    assert not (tmp_path / "nothing.duckdb").exists()


def test_open_create_makes_an_empty_case(tmp_path: Path) -> None:
    case = trollscope.open(tmp_path / "new.duckdb", create=True)
    assert case.info()["posts"] == 0
    with pytest.raises(TrollscopeError, match=r"new\.duckdb has no detection yet"):
        case.networks()
    with pytest.raises(TrollscopeError, match=r"new\.duckdb holds no edges"):
        case.edges("co-repost")


def test_networks_are_the_planted_farms(detected: CaseHandle) -> None:
    networks = detected.networks()
    assert networks.column_names == NETWORK_COLUMNS
    assert networks["network"].to_pylist() == list(range(1, networks.num_rows + 1))
    # Each network is one farm, whole: its members are that farm's, by the labels.
    farms = farm_of(detected)
    accounts = detected.accounts().to_pylist()
    for n in networks.to_pylist():
        members = [a["account_id"] for a in accounts if a["network"] == n["network"]]
        assert len(members) == n["size"]
        found = Counter(farms.get(m) for m in members)
        assert len(found) == 1 and None not in found, found
        assert n["size"] == sum(1 for f in farms.values() if f in found)
        assert n["inauthentic"] and n["verdict"].startswith("coordinated")
    assert sorted(networks["size"].to_pylist()) == [60, 150]
    stored = query(detected.path, "SELECT rank, log_p FROM networks ORDER BY rank")
    assert networks["log10_p"].to_pylist() == [p / math.log(10) for _, p in stored]  # type: ignore[operator]


def test_accounts_are_the_scored_accounts_with_their_networks(detected: CaseHandle) -> None:
    accounts = detected.accounts()
    assert accounts.column_names == ACCOUNT_COLUMNS
    assert set(accounts["network"].to_pylist()) == set(detected.networks()["network"].to_pylist())
    stored = query(detected.path, "SELECT account_id, handle, network FROM account_scores")
    assert sorted(zip(*(accounts[c].to_pylist() for c in ("account_id", "handle", "network")),
                      strict=True)) == sorted(stored)  # fmt: skip
    second = detected.accounts(network=2)
    assert set(second["network"].to_pylist()) == {2}
    assert second.num_rows == detected.networks()["size"][1].as_py()
    with pytest.raises(TrollscopeError, match=r"no network 9: its networks are 1 to 2\."):
        detected.accounts(network=9)


def test_evidence_of_one_member(detected: CaseHandle) -> None:
    first = detected.accounts(network=1).to_pylist()[0]
    evidence = detected.evidence(first["account_id"])
    assert evidence.column_names == EVIDENCE_COLUMNS
    assert set(evidence["account_id"].to_pylist()) == {first["account_id"]}
    assert evidence["rank"].to_pylist() == list(range(1, evidence.num_rows + 1))
    assert evidence["line"][0].as_py() == first["evidence"]
    stored = query(
        detected.path,
        "SELECT count(*) FROM account_evidence WHERE account_id = ?",
        [first["account_id"]],
    )
    assert evidence.num_rows == stored[0][0] > 0


def test_evidence_of_an_account_in_no_network_is_an_error(detected: CaseHandle) -> None:
    with pytest.raises(TrollscopeError, match=r"account 'nobody' is in no network of .*accounts"):
        detected.evidence("nobody")
    member = detected.accounts(network=1).to_pylist()[0]
    with pytest.raises(
        TrollscopeError, match=rf"is the handle of account '{member['account_id']}'"
    ):
        detected.evidence(member["handle"])


def test_edges_of_one_trace(detected: CaseHandle) -> None:
    edges = detected.edges("co-repost")
    assert edges.column_names == list(EDGE_COLUMNS)
    assert set(edges["trace"].to_pylist()) == {"co-repost"}
    stored = query(detected.path, "SELECT count(*) FROM edges WHERE trace = 'co-repost'")
    assert edges.num_rows == stored[0][0] > 3
    assert detected.edges("co-repost", limit=3).num_rows == 3
    with pytest.raises(
        TrollscopeError, match=r"no edges of trace 'co-nothing' \(it holds: .*co-repost"
    ):
        detected.edges("co-nothing")


def test_compute_edges_replaces_a_traces_edges(detected: CaseHandle, tmp_path: Path) -> None:
    shutil.copy(detected.path, tmp_path / "copy.duckdb")
    case = trollscope.open(tmp_path / "copy.duckdb")
    run = case.compute_edges("co-repost", window=5)
    edges = case.edges("co-repost")
    assert run.edges == edges.num_rows
    assert set(edges["window_s"].to_pylist()) == {5.0}


def test_readers_leave_the_case_closed(detected: CaseHandle) -> None:
    """A notebook must not hold the case: after each reader, a writer can open it (in
    this process DuckDB refuses a read-write connection beside a read-only one)."""
    for read in (detected.networks, detected.accounts, lambda: detected.edges("co-repost")):
        read()
        duckdb.connect(str(detected.path)).close()


def test_tables_become_dataframes(detected: CaseHandle) -> None:
    frame = detected.networks().to_pandas()
    assert list(frame.columns) == NETWORK_COLUMNS
    assert list(frame["network"]) == [1, 2]


def test_detect_options_by_name() -> None:
    params = _params(None, {"traces": ["co-repost"], "q": 0.05})
    assert params.traces == ("co-repost",) and params.q == 0.05
    assert params.seed == api.DetectParams().seed
    with pytest.raises(TrollscopeError, match=r"detect has no option 'qq': the options are"):
        _params(None, {"qq": 1})


def test_evaluate_scores_the_detection_against_the_labels(detected: CaseHandle) -> None:
    scored = detected.evaluate(detected.path.parent / "sim" / "labels.csv")
    assert scored.labelled_in_case == detected.info()["accounts"]
    assert scored.networks == 2 and scored.communities_called_inauthentic == 0


def test_ingest_passes_the_read_options(tmp_path: Path) -> None:
    """platform and mapping reach the reader, as --platform and --map do."""
    case = trollscope.open(tmp_path / "c.duckdb", create=True)
    source = REPO / "tests" / "data" / "table" / "comments.csv"
    mapping = "post_id=comment_id,account_id=user,created_at=posted,text=body"
    result = case.ingest([source], platform="forum", mapping=mapping)
    stored = query(case.path, "SELECT DISTINCT platform FROM posts")
    assert result.total("stored") > 0 and stored == [("forum",)]
