"""Export: the networks graph (GEXF, GraphML read back by networkx and igraph), the
significant pairs with their evidence and the account scores as csv/parquet/json, checked
against queries on the case; hostile handles; atomic writes; clear errors."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path
from typing import Any

import duckdb
import igraph as ig
import networkx as nx
import pyarrow.parquet as pq
import pytest

from tests.conftest import query
from tests.detect.test_detect import _farm, _shares, detected_farm
from trollscope.errors import TrollscopeError
from trollscope.ingest.run import ingest
from trollscope.report.export import export, xml_safe

FARM = {f"f{m}" for m in range(5)}
# A handle with everything that breaks naive CSV and XML: a comma, quotes, a newline, a
# control character XML 1.0 forbids, and markup.
HOSTILE = 'evil, "quoted"\nnext\x01line <b>&amp;</b>'
HOSTILE_XML = HOSTILE.replace("\x01", "")


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five-member farm among organic reposters, detected (built once: ~5 s)."""
    case = detected_farm(tmp_path_factory.mktemp("detected"))
    assert query(case, "SELECT count(*) FROM pair_tests WHERE significant") == [(10,)]
    return case


@pytest.fixture(scope="module")
def case(detected: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the detected case whose farm members have handles, f0's hostile."""
    path = tmp_path_factory.mktemp("handles") / "case.duckdb"
    shutil.copy(detected, path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE account_scores SET handle = 'handle_' || account_id")
    con.execute("UPDATE account_scores SET handle = ? WHERE account_id = 'f0'", [HOSTILE])
    con.close()
    return path


def _scalar(case: Path, sql: str) -> int:
    value = query(case, sql)[0][0]
    assert isinstance(value, int)
    return value


def _node(case: Path, account: str) -> str:
    """The exported node id of an account: its platform (as the case holds it) and id."""
    rows = query(case, "SELECT platform FROM account_scores WHERE account_id = ?", [account])
    assert len(rows) == 1
    return f"{rows[0][0]}:{account}"


def _nodes_in_case(case: Path) -> dict[str, dict[str, Any]]:
    rows = query(
        case,
        """SELECT s.platform || ':' || s.account_id, s.handle, s.network, s.score, s.partners,
                  array_to_string(list_sort(s.traces), ';'), n.inauthentic, n.verdict
           FROM account_scores s JOIN networks n USING (network)""",
    )
    keys = ("handle", "network", "score", "partners", "traces", "inauthentic", "verdict")
    return {str(r[0]): dict(zip(keys, r[1:], strict=True)) for r in rows}


def _pairs_in_case(case: Path) -> set[frozenset[str]]:
    rows = query(
        case,
        """SELECT DISTINCT platform || ':' || account_a, platform || ':' || account_b
           FROM pair_tests WHERE significant""",
    )
    return {frozenset((str(a), str(b))) for a, b in rows}


# -- the graph formats ---------------------------------------------------------------


def _check_nx_graph(graph: nx.Graph, case: Path) -> None:
    want = _nodes_in_case(case)
    assert set(graph.nodes) == set(want) == {_node(case, a) for a in FARM}
    assert {frozenset(e) for e in graph.edges} == _pairs_in_case(case)
    assert graph.number_of_edges() == 10
    for node, data in graph.nodes(data=True):
        case_row = want[node]
        handle = str(case_row["handle"])
        assert data["handle"] == (HOSTILE_XML if node == _node(case, "f0") else handle)
        assert data["network_id"] == case_row["network"]
        assert data["score"] == pytest.approx(case_row["score"])
        assert data["partners"] == case_row["partners"]
        assert data["traces"] == case_row["traces"] == "co-repost"
        assert data["inauthentic"] is case_row["inauthentic"]
        assert data["verdict"] == case_row["verdict"]
    strongest = dict(
        ((str(a), str(b)), float(p))  # type: ignore[arg-type]
        for a, b, p in query(
            case,
            """SELECT platform || ':' || account_a, platform || ':' || account_b,
                      min(log_p) / ln(10)
               FROM pair_tests WHERE significant GROUP BY ALL""",
        )
    )
    for a, b, data in graph.edges(data=True):
        assert data["traces"] == "co-repost"
        assert data["trace_count"] == 1  # the weight is the co-actions (test_outputs_agree)
        key = (a, b) if (a, b) in strongest else (b, a)
        assert data["log10_p"] == pytest.approx(strongest[key])


def test_gexf_reads_back_with_networkx(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "farm.gexf"
    summary = export(case, out, "gexf")
    assert summary.files == (out,)
    assert dict(summary.counts) == {"nodes": 5, "edges": 10}
    graph = nx.read_gexf(out)
    _check_nx_graph(graph, case)
    assert graph.nodes[_node(case, "f1")]["label"] == "handle_f1"


def test_graphml_reads_back_with_networkx_and_igraph(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "farm.graphml"
    export(case, out, "graphml")
    _check_nx_graph(nx.read_graphml(out), case)

    graph = ig.Graph.Read_GraphML(str(out))
    want = _nodes_in_case(case)
    assert graph.vcount() == 5 and graph.ecount() == 10
    names = graph.vs["id"]
    assert set(names) == set(want)
    edges = {frozenset((names[e.source], names[e.target])) for e in graph.es}
    assert edges == _pairs_in_case(case)
    for vertex in graph.vs:
        case_row = want[vertex["id"]]
        assert vertex["handle"] == (
            HOSTILE_XML if vertex["id"] == _node(case, "f0") else case_row["handle"]
        )
        assert vertex["network_id"] == case_row["network"]
        assert vertex["score"] == pytest.approx(case_row["score"])
        assert vertex["traces"] == case_row["traces"]
    assert set(graph.es["traces"]) == {"co-repost"}


def test_xml_safe_removes_only_what_xml_forbids() -> None:
    assert xml_safe("a\x00b\x01c\x08d\x0be\x0cf\x1fg\ufffeh") == "abcdefgh"
    assert xml_safe("tab\tnl\ncr\r <&> \u00e9\u0416\U0001f600") == (
        "tab\tnl\ncr\r <&> \u00e9\u0416\U0001f600"
    )


# -- the tabular formats -------------------------------------------------------------


def _read(path: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    if fmt == "parquet":
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows
    loaded: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_networks_as_tables(case: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"farm.{fmt}"
    summary = export(case, out, fmt, "networks")
    if fmt == "json":
        assert summary.files == (out,)
        data = json.loads(out.read_text(encoding="utf-8"))
        nodes, edges = data["nodes"], data["edges"]
        graph = nx.node_link_graph(data, edges="edges")
        assert {frozenset(e) for e in graph.edges} == _pairs_in_case(case)
    else:
        assert summary.files == (tmp_path / f"farm.nodes.{fmt}", tmp_path / f"farm.edges.{fmt}")
        assert not out.exists()
        nodes, edges = (_read(p, fmt) for p in summary.files)
    assert len(nodes) == _scalar(case, "SELECT count(*) FROM account_scores")
    assert len(edges) == len(_pairs_in_case(case)) == 10
    assert {frozenset((e["source"], e["target"])) for e in edges} == _pairs_in_case(case)
    want = _nodes_in_case(case)
    by_id = {n["id"]: n for n in nodes}
    assert set(by_id) == set(want)
    assert by_id[_node(case, "f0")]["handle"] == HOSTILE  # exact outside XML
    assert str(by_id[_node(case, "f2")]["network_id"]) == str(want[_node(case, "f2")]["network"])
    traces = by_id[_node(case, "f2")]["traces"]
    assert traces == ("co-repost" if fmt == "csv" else ["co-repost"])


def _pair_evidence(case: Path) -> tuple[list[dict[str, str]], int]:
    rows = query(
        case,
        """SELECT evidence, evidence_total FROM edges
           WHERE trace = 'co-repost' AND account_a = 'f0' AND account_b = 'f1'""",
    )
    assert len(rows) == 1
    evidence, total = rows[0]
    assert isinstance(evidence, list) and evidence
    return evidence, int(total)  # type: ignore[call-overload]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_edges_with_their_evidence(case: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"edges.{fmt}"
    summary = export(case, out, fmt, "edges")
    rows = _read(out, fmt)
    assert len(rows) == summary.counts["edges"]
    assert len(rows) == _scalar(case, "SELECT count(*) FROM pair_tests WHERE significant")
    (row,) = [r for r in rows if (r["account_a"], r["account_b"]) == ("f0", "f1")]
    assert row["handle_a"] == HOSTILE and row["handle_b"] == "handle_f1"
    evidence, total = _pair_evidence(case)
    assert str(row["evidence_total"]) == str(total)
    if fmt == "csv":
        assert json.loads(row["evidence"]) == evidence
    else:
        assert row["evidence"] == evidence


def test_evidence_with_hostile_keys_reads_back_from_csv_json(case: Path, tmp_path: Path) -> None:
    copy = tmp_path / "case.duckdb"
    shutil.copy(case, copy)
    con = duckdb.connect(str(copy))
    con.execute(
        """UPDATE edges_whole SET evidence = [
               {'key': 'https://x.test/a;b|c%20', 'post_a': 'p|1', 'post_b': 'p;2'},
               {'key': 'k', 'post_a': 'a', 'post_b': 'b'}]
           WHERE trace = 'co-repost' AND account_a = 'f0' AND account_b = 'f1'"""
    )
    con.close()
    out = tmp_path / "edges.csv"
    export(copy, out, "csv", "edges")
    (row,) = [r for r in _read(out, "csv") if (r["account_a"], r["account_b"]) == ("f0", "f1")]
    assert json.loads(row["evidence"]) == [
        {"key": "https://x.test/a;b|c%20", "post_a": "p|1", "post_b": "p;2"},
        {"key": "k", "post_a": "a", "post_b": "b"},
    ]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_scores_with_first_evidence_line(case: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"scores.{fmt}"
    export(case, out, fmt, "scores")
    rows = _read(out, fmt)
    assert len(rows) == _scalar(case, "SELECT count(*) FROM account_scores") == 5
    lines = {
        str(a): str(line)
        for a, line in query(case, "SELECT account_id, line FROM account_evidence WHERE rank = 1")
    }
    verdicts = {
        str(a): str(v)
        for a, v in query(
            case,
            "SELECT s.account_id, n.verdict FROM account_scores s JOIN networks n USING (network)",
        )
    }
    for row in rows:
        assert row["evidence"] == lines[row["account_id"]]
        assert row["verdict"] == verdicts[row["account_id"]]
    (f0,) = [r for r in rows if r["account_id"] == "f0"]
    assert f0["handle"] == HOSTILE
    assert f0["traces"] == ("co-repost" if fmt == "csv" else ["co-repost"])


def test_csv_bytes_quote_the_hostile_handle(case: Path, tmp_path: Path) -> None:
    """The raw file, not only the csv module's reading of it: the handle is one quoted
    field, its quotes doubled, its newline inside the quotes."""
    out = tmp_path / "scores.csv"
    export(case, out, "csv", "scores")
    raw = out.read_text(encoding="utf-8")
    assert '"evil, ""quoted""\nnext\x01line <b>&amp;</b>"' in raw


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2", "@SUM(A1)", "\tq", "\rr"]


@pytest.mark.parametrize("what", ["networks", "edges", "scores"])
def test_csv_cells_a_spreadsheet_would_run_get_a_quote(
    detected: Path, tmp_path: Path, what: str
) -> None:
    """CSV injection: a handle beginning with =, +, -, @, tab or CR is written with a ' in
    front, other values (and parquet, and --exact-csv) are left as they are."""
    case = tmp_path / "formulas.duckdb"
    shutil.copy(detected, case)
    con = duckdb.connect(str(case))
    for member, handle in zip(sorted(FARM), [*FORMULAS[:4], "plain - handle"], strict=True):
        con.execute("UPDATE account_scores SET handle = ? WHERE account_id = ?", [handle, member])
    con.close()
    safe = tmp_path / "safe.csv"
    export(case, safe, "csv", what)
    exact = tmp_path / "exact.csv"
    export(case, exact, "csv", what, exact=True)
    if what == "networks":
        safe, exact = safe.with_name("safe.nodes.csv"), exact.with_name("exact.nodes.csv")
    columns = ("handle_a", "handle_b") if what == "edges" else ("handle",)
    got = {r[c] for r in _read(safe, "csv") for c in columns}
    raw = {r[c] for r in _read(exact, "csv") for c in columns}
    assert {"'" + f for f in FORMULAS[:4]} | {"plain - handle"} <= got
    assert set(FORMULAS[:4]) | {"plain - handle"} <= raw
    assert not any(v[:1] in "=+-@" for v in got)
    if what == "scores":  # the same rows otherwise
        assert len(_read(safe, "csv")) == len(_read(exact, "csv"))


def test_safe_sql_touches_only_text_that_starts_like_a_formula() -> None:
    from trollscope.report.csvsafe import safe_sql

    con = duckdb.connect()
    con.execute('CREATE TABLE t (s VARCHAR, n BIGINT, l VARCHAR[], "odd ""name" VARCHAR)')
    values = [*FORMULAS, "ok", "a=b", None, "'already"]
    con.executemany("INSERT INTO t VALUES (?, -5, ['=x'], ?)", [[v, v] for v in values])
    rows = con.execute(safe_sql(con, "SELECT * FROM t")).fetchall()
    want = ["'" + f for f in FORMULAS] + ["ok", "a=b", None, "'already"]
    assert [r[0] for r in rows] == want
    assert [r[3] for r in rows] == want
    assert {r[1] for r in rows} == {-5} and {tuple(r[2]) for r in rows} == {("=x",)}
    assert safe_sql(con, "SELECT n FROM t") == "SELECT n FROM t"


# -- errors and atomic writes ----------------------------------------------------------


def test_a_case_without_detection_says_to_run_detect(tmp_path: Path) -> None:
    case = tmp_path / "case.duckdb"
    ingest(case, [_shares(tmp_path, _farm(random.Random(1)))])
    with pytest.raises(TrollscopeError, match="trollscope detect"):
        export(case, tmp_path / "out.gexf", "gexf")
    assert not (tmp_path / "out.gexf").exists()


def test_graph_formats_only_export_networks(case: Path, tmp_path: Path) -> None:
    for fmt in ("gexf", "graphml"):
        with pytest.raises(TrollscopeError, match="what=networks"):
            export(case, tmp_path / "edges.gexf", fmt, "edges")
    with pytest.raises(TrollscopeError, match="what=networks"):
        export(case, tmp_path / "scores.graphml", "graphml", "scores")
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_or_what_lists_the_choices(case: Path, tmp_path: Path) -> None:
    with pytest.raises(TrollscopeError, match="gexf, graphml, csv, parquet, json"):
        export(case, tmp_path / "x", "xlsx")
    with pytest.raises(TrollscopeError, match="networks, edges, scores"):
        export(case, tmp_path / "x", "csv", "posts")


def test_a_failed_export_leaves_no_file_and_keeps_the_old_one(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "farm.gexf"
    out.write_text("previous export", encoding="utf-8")

    def broken(graph: nx.Graph, path: Path) -> None:
        Path(path).write_text("<gexf half", encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(nx, "write_gexf", broken)
    with pytest.raises(OSError, match="disk full"):
        export(case, out, "gexf")
    assert out.read_text(encoding="utf-8") == "previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["farm.gexf"]


def test_a_failed_second_table_leaves_neither(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trollscope.report.export as module

    original = module._graph_edges_sql
    monkeypatch.setattr(
        module, "_graph_edges_sql", lambda flat, links=True: original(flat, links) + " LIMIT 'x'"
    )
    with pytest.raises(duckdb.Error):
        export(case, tmp_path / "farm.csv", "csv")
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_offers_every_format_and_writes_the_file(
    case: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from trollscope.cli import cli
    from trollscope.report.export import FORMATS, WHATS

    params = {p.name: p for p in cli.commands["export"].params}
    assert tuple(params["fmt"].type.choices) == FORMATS  # type: ignore[attr-defined]
    assert tuple(params["what"].type.choices) == WHATS  # type: ignore[attr-defined]
    target = tmp_path / "net.gexf"
    result = CliRunner().invoke(cli, ["export", str(case), "--format", "gexf", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert nx.read_gexf(target).number_of_nodes() == 5
    bad = CliRunner().invoke(
        cli, ["export", str(case), "--format", "gexf", "--what", "edges", "-o", str(target)]
    )
    assert bad.exit_code == 1 and "networks" in bad.output
