"""Outputs that agree with each other (issue 21): one network id (the rank, from 1) in the
case, the report, the exports and `detect --json`; log10 p-values named log10_p; edge
weight = co-actions; evidence as JSON in every CSV; an exported scores file that
`evaluate --answer` reads; one-sentence errors for a non-case CASE and a folder as -o;
--window the same in edges, detect and scan."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import Any

import duckdb
import networkx as nx
import pytest
from click.testing import CliRunner

from tests.conftest import query
from tests.detect.test_detect import detected_farm
from trollscope.cli import cli
from trollscope.detect.run import summary
from trollscope.engine.run import estimate_window
from trollscope.errors import CaseError
from trollscope.report.export import export, write_edges
from trollscope.simulate.evaluate import evaluate

FARM = {f"f{m}" for m in range(5)}


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five-member farm among organic reposters, detected: one network."""
    return detected_farm(tmp_path_factory.mktemp("agree"))


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


# -- one network id: the rank -------------------------------------------------------------


def test_the_case_numbers_networks_by_rank_from_one(detected: Path) -> None:
    assert query(detected, "SELECT network, rank FROM networks") == [(1, 1)]
    assert query(detected, "SELECT DISTINCT network FROM account_scores") == [(1,)]
    assert query(detected, "SELECT DISTINCT network FROM network_edges") == [(1,)]
    [top] = summary(detected)
    assert (top.rank, top.network) == (1, 1)


def test_exports_and_detect_json_say_network_1(detected: Path, tmp_path: Path) -> None:
    export(detected, tmp_path / "s.csv", "csv", "scores")
    assert {r["network_id"] for r in _csv(tmp_path / "s.csv")} == {"1"}
    export(detected, tmp_path / "g.json", "json", "networks")
    nodes = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))["nodes"]
    assert {n["network_id"] for n in nodes} == {1}
    export(detected, tmp_path / "g.gexf", "gexf", "networks")
    graph = nx.read_gexf(tmp_path / "g.gexf")
    assert {d["network_id"] for _, d in graph.nodes(data=True)} == {1}


def test_the_detect_table_heads_the_network_column_by_its_id(
    detected: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "case.duckdb"
    copy.write_bytes(detected.read_bytes())
    code, output = _invoke("detect", str(copy), "--trace", "co-repost", "--hide-progress")
    assert code == 0, output
    assert "network" in output and "log10_p" in output and "log10 p" not in output


# -- scores export read by evaluate --------------------------------------------------------


@pytest.mark.parametrize("inauthentic", [False, True])
def test_exported_scores_evaluate_like_the_case(
    detected: Path, tmp_path: Path, inauthentic: bool
) -> None:
    """Farms are scored against the networks labelled inauthentic, communities against
    all: the exported file carries the verdicts, so both come out as from the case."""
    case = tmp_path / "case.duckdb"
    case.write_bytes(detected.read_bytes())
    con = duckdb.connect(str(case))
    con.execute("UPDATE networks SET inauthentic = ?", [inauthentic])
    con.close()
    labels = tmp_path / "labels.csv"
    accounts = [str(a) for (a,) in query(case, "SELECT account_id FROM accounts")]
    labels.write_text(
        "account_id,farm_id,community_id\n"
        + "".join(
            f"{a},{'farm1' if a in FARM else ''},{'c1' if a in FARM else ''}\n"
            for a in sorted(accounts)
        ),
        encoding="utf-8",
    )
    scores = tmp_path / "scores.csv"
    export(case, scores, "csv", "scores")
    from_case = evaluate(labels, None, case)
    from_file = evaluate(labels, scores, case)
    assert from_file == from_case
    # The comparison is not of two empty answers:
    assert from_case.communities.recall == 1.0
    assert from_case.farms.recall == (1.0 if inauthentic else 0.0)
    assert from_case.communities_called_inauthentic == int(inauthentic)
    code, output = _invoke("evaluate", "--labels", str(labels), "--answer", str(scores))
    assert code == 0, output


# -- log10 and weights ---------------------------------------------------------------------


def test_edges_export_gives_log10_p_values(detected: Path, tmp_path: Path) -> None:
    out = tmp_path / "edges.json"
    export(detected, out, "json", "edges")
    rows: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))
    assert rows and not any("log_p" in k and "log10" not in k for k in rows[0])
    want = {
        (str(a), str(b)): float(p) / math.log(10)  # type: ignore[arg-type]
        for a, b, p in query(
            detected, "SELECT account_a, account_b, log_p FROM pair_tests WHERE significant"
        )
    }
    for row in rows:
        assert row["log10_p"] == pytest.approx(want[(row["account_a"], row["account_b"])])
        assert "repeat_log10_p" in row and "sync_log10_p" in row


def test_graph_edge_weight_is_the_pairs_coactions(detected: Path, tmp_path: Path) -> None:
    coactions = {
        frozenset((f"{p}:{a}", f"{p}:{b}")): int(n)  # type: ignore[call-overload]
        for p, a, b, n in query(
            detected,
            "SELECT platform, account_a, account_b, coactions FROM pair_tests WHERE significant",
        )
    }
    assert set(coactions.values()) != {1}  # co-actions differ from a count of traces
    export(detected, tmp_path / "g.gexf", "gexf", "networks")
    graph = nx.read_gexf(tmp_path / "g.gexf")
    for a, b, data in graph.edges(data=True):
        assert data["weight"] == coactions[frozenset((a, b))]
        assert data["trace_count"] == 1


# -- evidence as JSON in CSVs --------------------------------------------------------------


def _evidence(case: Path) -> list[dict[str, str]]:
    [(evidence,)] = query(
        case,
        """SELECT evidence FROM edges
           WHERE trace = 'co-repost' AND account_a = 'f0' AND account_b = 'f1'""",
    )
    assert isinstance(evidence, list) and evidence
    return evidence


def test_edges_export_csv_writes_evidence_as_json(detected: Path, tmp_path: Path) -> None:
    out = tmp_path / "edges.csv"
    export(detected, out, "csv", "edges")
    [row] = [r for r in _csv(out) if (r["account_a"], r["account_b"]) == ("f0", "f1")]
    assert json.loads(row["evidence"]) == _evidence(detected)


def test_edges_command_csv_writes_evidence_as_json(detected: Path, tmp_path: Path) -> None:
    out = tmp_path / "edges.csv"
    write_edges(detected, "co-repost", out)
    [row] = [r for r in _csv(out) if (r["account_a"], r["account_b"]) == ("f0", "f1")]
    assert json.loads(row["evidence"]) == _evidence(detected)


# -- errors: a non-case CASE, a folder as -o -----------------------------------------------


@pytest.mark.parametrize("name", ["tweets.jsonl", "table.csv", "notes.txt"])
def test_a_file_that_is_not_a_case_is_said_so(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text('{"id": "1"}\n', encoding="utf-8")
    from trollscope.case import Case

    for read_only in (True, False):
        with pytest.raises(CaseError) as caught:
            Case.open(path, read_only=read_only)
        message = str(caught.value)
        assert message.startswith(f"{path} is not a trollscope case")
        assert "in-memory" not in message and "DuckDB file but" not in message
    code, output = _invoke("report", str(path), "-o", str(tmp_path / "r.html"))
    assert code == 1 and f"Error: {path} is not a trollscope case" in output


@pytest.mark.parametrize("command", ["report", "export", "edges"])
def test_out_naming_a_folder_is_refused(detected: Path, tmp_path: Path, command: str) -> None:
    extra = {
        "report": [],
        "export": ["--format", "csv", "--what", "scores"],
        "edges": ["--trace", "co-repost"],
    }[command]
    for folder in (str(tmp_path / "new") + "/", str(tmp_path)):
        code, output = _invoke(command, str(detected), *extra, "-o", folder)
        assert code == 2, output
        assert "is a folder: give the path of the file to write" in output
    assert not (tmp_path / "new").exists()


# -- --window: the same everywhere ---------------------------------------------------------


@pytest.mark.parametrize("command", ["detect", "scan"])
def test_detect_and_scan_explain_the_window_they_do_not_take(
    detected: Path, tmp_path: Path, command: str
) -> None:
    where = [str(detected)] if command == "detect" else [str(detected), "-o", str(tmp_path)]
    code, output = _invoke(command, *where, "--window", "0")
    assert code == 2, output
    said = " ".join(output.split())
    assert "0 means any time" in said and "give a positive number of seconds" in said


def test_detect_window_auto_estimates_each_trace_s_window(detected: Path, tmp_path: Path) -> None:
    """`--window auto` means in detect what it means in edges: the trace's window
    estimated from the data, here capped at half the jitter."""
    case = tmp_path / "auto.duckdb"
    shutil.copy(detected, case)
    traces = ("co-repost", "co-hashtag")
    estimated = {t: estimate_window(case, t).seconds for t in traces}
    args = ["--trace", traces[0], "--trace", traces[1], "--jitter", "1800"]
    code, output = _invoke("detect", str(case), *args, "--window", "auto")
    assert code == 0, output
    got = dict(query(case, "SELECT DISTINCT trace, window_s FROM account_tests"))
    assert got["co-repost"] == min(estimated["co-repost"], 900.0)
    assert got["co-repost"] != 60.0  # not the trace's default: the data's
    code, output = _invoke("edges", str(case), "--trace", "co-repost", "--window", "auto")
    assert code == 0 and f"window {estimated['co-repost']:g} s" in output, output
