"""Export a detection: the networks as a graph, the significant pairs with their evidence,
and the account scores, for Gephi and for analysis.

`export(case, out, fmt, what)` reads the tables `trollscope detect` wrote and writes:

what="networks" (the graph of the accounts in networks)
    Nodes are the accounts of `account_scores`, with the id "platform:account_id" (unique
    across platforms) and the attributes label (the handle, else the account id), platform,
    account_id, handle, network_id (the network's rank, 1 = strongest, as everywhere),
    score, partners, traces, identity_signals, inauthentic and verdict (of the account's
    network). Edges are the significant pairs of `pair_tests`, one per account pair over
    all traces and windows: weight (the pair's co-actions, summed over the traces that link
    it, the most of any window; 1 for a burst or cohort link whose pair has no edge kept),
    traces, trace_count (how many), strongest_trace, log10_p (log10 of the smallest p-value
    of the pair's tests, that trace's), q_value (the smallest), keys (the most keys in any
    trace).
    A pair with an account outside `account_scores` is left out (an edge needs both nodes).
    Besides significant pairs, the edges hold the other links the networks were found by
    (`network_edges`: two co-acting accounts significant in their account tests, members of
    a significant burst or cohort, the parts of a network joined by a join test); `tests`
    lists which (pair, account, burst, cohort, join), and
    the pair test's columns are empty where no pair test passed.

    - gexf, graphml: one file, `out`, an undirected graph (networkx writes it). Lists are
      joined by ";". XML 1.0 cannot hold most control characters, so they are removed from
      every string (a handle from real data may hold them); the other formats keep them.
    - csv, parquet: two files beside `out`: `<stem>.nodes.<ext>` and `<stem>.edges.<ext>`,
      where `<stem>` is `out` without its extension when that extension is the format's
      (out.csv -> out.nodes.csv, out.edges.csv). The columns are named for Gephi's
      spreadsheet import: nodes start with id and label, edges with source, target, type
      ("Undirected") and weight, then the attributes above and the edge's platform,
      account_a, account_b.
    - json: one file, `out`: {"directed": false, "multigraph": false, "graph": {}, "nodes":
      [...], "edges": [...]}, the same rows as the csv tables; networkx reads it with
      `nx.node_link_graph(data, edges="edges")`.

what="edges" (the significant pair tests with their evidence), one row per significant
    (trace, window_s, platform, account_a, account_b): the pair test's columns (its
    p-values as log10: repeat_log10_p, sync_log10_p, log10_p; the case keeps natural logs),
    the handles of both accounts, and from the co-action edge its median_delay, evidence (a
    sample of the co-actions: key, post_a, post_b) and evidence_total (how many there were).
what="scores" (one row per account in a network): `account_scores` (its network as
    network_id), its network's inauthentic and verdict, and evidence, the account's first
    evidence line in words. As CSV it is an answer `trollscope evaluate --answer` reads.

what="threshold" (one row per account in a network of a peer's threshold, from `detect
    --min-participation` or `--min-weight`): its threshold network (threshold_network, T1
    = 1, largest first), trace, window_s, platform, account_id, handle, that network's
    accounts, pairs, pairs_by_chance and chance_share (docs/significance.md, "A peer's
    threshold in detect"), and network_id, the tested network the account is in, if any.

For edges, scores and threshold, csv/parquet/json write one file, `out`. Parquet keeps lists and the
nested evidence as they are; json writes one JSON array of objects, one object per line,
with lists and evidence nested; csv joins lists with ";" and writes evidence as JSON,
[{"key": ..., "post_a": ..., "post_b": ...}, ...] (keys are hostile: hashtags, URLs, texts;
JSON reads back whatever they hold), as `write_edges` does. A text cell that a
spreadsheet would run as a formula (it begins with =, +, -, @, a tab or a carriage return)
gets a single quote in front (`csvsafe.py`); with `exact=True` CSV values are the data's
own.

Every file is written to a temporary file in the same folder and moved into place when
complete, so a failed export leaves no half-written file; a write the system refuses (no
such folder, no permission, a full disk) is a WriteError naming the file.
"""

from __future__ import annotations

import math
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import networkx as nx
import orjson
import pyarrow as pa

from trollscope.case import Case, has_table
from trollscope.errors import TrollscopeError, write_error, writing
from trollscope.progress import StageProgress, Stages
from trollscope.report.csvsafe import safe_sql
from trollscope.sql import literal

FORMATS = ("gexf", "graphml", "csv", "parquet", "json")
WHATS = ("networks", "edges", "scores", "threshold")
_GRAPH_FORMATS = ("gexf", "graphml")
_DETECTION_TABLES = ("edges", "pair_tests", "networks", "account_scores", "account_evidence")

# Characters XML 1.0 does not allow anywhere in a document, even escaped.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote: the files, in order, and the rows of each kind."""

    fmt: str
    what: str
    files: tuple[Path, ...]
    counts: Mapping[str, int] = field(default_factory=dict)  # "nodes", "edges", "accounts"

    def describe(self) -> str:
        """One sentence for the user, e.g. "wrote 5 nodes and 10 edges to a.gexf"."""
        counted = " and ".join(f"{n} {kind}" for kind, n in self.counts.items())
        return f"wrote {counted} to {', '.join(str(f) for f in self.files)}"


def export(
    case_path: Path | str,
    out_path: Path | str,
    fmt: str,
    what: str = "networks",
    exact: bool = False,
    progress: StageProgress | None = None,
) -> ExportSummary:
    """Export the last detection in a case (see the module docstring for the files).
    `exact`: CSV cells as the data has them, formula-like ones included. `progress` is
    called as each stage starts: nodes, edges (and writing, for a graph or JSON) for the
    networks; the one table otherwise."""
    if fmt not in FORMATS:
        raise TrollscopeError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    if what not in WHATS:
        raise TrollscopeError(f"unknown export {what!r}: choose one of {', '.join(WHATS)}.")
    if fmt in _GRAPH_FORMATS and what != "networks":
        raise TrollscopeError(
            f"{fmt} is a graph format: export the graph with what=networks (--what networks), "
            f"or export {what} as csv, parquet or json."
        )
    out = Path(out_path)
    if out.is_dir():
        raise TrollscopeError(f"{out} is a folder: give the path of the file to write.")
    with Case.open(case_path, read_only=True) as case:
        con = case.con
        _require_detection(con, Path(case_path))
        with writing(out):
            out.parent.mkdir(parents=True, exist_ok=True)
        if what == "networks":
            tables = fmt in ("csv", "parquet")  # written as they are read: no stage of writing
            stages = Stages(progress, 2 if tables else 3)
            return _export_networks(con, out, fmt, exact, stages)
        if what == "threshold" and not has_table(con, "threshold_networks"):
            raise TrollscopeError(
                f"{case_path}'s last detection ran no peer threshold: run `trollscope detect "
                f"{case_path} --min-participation N` (or --min-weight N) first, then export."
            )
        flat = fmt == "csv"
        sql = {"edges": _pairs_sql, "scores": _scores_sql, "threshold": _threshold_sql}[what](flat)
        kind = "edges" if what == "edges" else "accounts"
        Stages(progress, 1).start(kind)
        with _staged([out]) as (tmp,):
            rows = _write_table(con, sql, tmp, fmt, exact)
        return ExportSummary(fmt, what, (out,), {kind: rows})


def write_edges(
    case_path: Path | str,
    trace_name: str,
    out_path: Path | str,
    exact: bool = False,
    kept: pa.Table | None = None,
) -> Path:
    """Write one trace's edges (the view `edges`, as `trollscope edges -o` writes them) to
    a .csv file, or Parquet for any other suffix, whole or not at all. `exact`: CSV cells
    as the data has them, formula-like ones included. `kept`: only these edges (rows of
    the view, e.g. those a peer's threshold keeps), as (platform, account_a, account_b)."""
    out = Path(out_path)
    fmt = "csv" if out.suffix.lower() == ".csv" else "parquet"
    with Case.open(case_path, read_only=True) as case:
        # CSV has no nested values: the evidence is written as JSON, as every CSV does.
        columns = "* REPLACE (to_json(evidence) AS evidence)" if fmt == "csv" else "*"
        rows = (
            f"SELECT {columns} FROM edges WHERE trace = {literal(trace_name)} "
            "ORDER BY platform, account_a, account_b"
        )
        if kept is not None:
            case.con.register("ts_kept_pairs", kept)
            rows = (
                f"SELECT {columns} FROM edges SEMI JOIN ts_kept_pairs "
                f"USING (platform, account_a, account_b) WHERE trace = {literal(trace_name)} "
                "ORDER BY platform, account_a, account_b"
            )
        with writing(out):
            out.parent.mkdir(parents=True, exist_ok=True)
        with _staged([out]) as (tmp,):
            _write_table(case.con, rows, tmp, fmt, exact)
    return out


def _require_detection(con: duckdb.DuckDBPyConnection, case_path: Path) -> None:
    found = {
        str(name)
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    missing = [t for t in _DETECTION_TABLES if t not in found]
    if missing:
        raise TrollscopeError(
            f"{case_path} has no detection results (no {', '.join(missing)} table): "
            f"run `trollscope detect {case_path}` first, then export."
        )


# -- the queries ----------------------------------------------------------------------


def _list(expr: str, flat: bool) -> str:
    """A sorted list column, joined by ";" for flat (csv and graph) output."""
    return f"array_to_string(list_sort({expr}), ';')" if flat else f"list_sort({expr})"


def _nodes_sql(flat: bool, xml: bool = False) -> str:
    # XML attributes cannot be missing-typed: an absent handle or verdict becomes "".
    handle = "coalesce(s.handle, '')" if xml else "s.handle"
    verdict = "coalesce(n.verdict, '')" if xml else "n.verdict"
    return f"""
        SELECT s.platform || ':' || s.account_id AS id,
               coalesce(s.handle, s.account_id) AS label,
               s.platform, s.account_id, {handle} AS handle, s.network AS network_id,
               s.score, s.partners,
               {_list("s.traces", flat)} AS traces,
               {_list("s.identity_signals", flat)} AS identity_signals,
               coalesce(n.inauthentic, false) AS inauthentic, {verdict} AS verdict
        FROM account_scores s LEFT JOIN networks n USING (network)
        ORDER BY s.network, s.score DESC, s.platform, s.account_id"""


def _graph_edges_sql(flat: bool, links: bool = True) -> str:
    """One row per linked pair of accounts: its significant pair tests, and (`links`,
    when the case has `network_edges`) the other links the networks were found by."""
    others = (
        """UNION ALL
            SELECT platform, account_a, account_b, trace, test, NULL, NULL, NULL
            FROM network_edges WHERE test <> 'pair'"""
        if links
        else ""
    )
    return f"""
        WITH found AS (
            SELECT platform, account_a, account_b, trace, 'pair' AS test, log_p, q_value, keys
            FROM pair_tests WHERE significant
            {others}),
        -- The pair's co-actions in each trace that links it (any window: the most).
        coacted AS (
            SELECT e.platform, e.account_a, e.account_b, e.trace, max(e.coactions) AS coactions
            FROM edges e
            SEMI JOIN found f USING (platform, account_a, account_b, trace)
            GROUP BY ALL),
        together AS (
            SELECT platform, account_a, account_b, sum(coactions)::BIGINT AS coactions
            FROM coacted GROUP BY ALL),
        pairs AS (
            SELECT platform, account_a, account_b,
                   list_sort(list_distinct(list(trace))) AS traces,
                   list_sort(list_distinct(list(test))) AS tests,
                   count(DISTINCT trace) AS trace_count,
                   arg_min(trace, coalesce(log_p, 0.0)) AS strongest_trace,
                   min(log_p) / ln(10) AS log10_p,
                   min(q_value) AS q_value,
                   max(keys) AS keys
            FROM found GROUP BY platform, account_a, account_b)
        SELECT p.platform || ':' || p.account_a AS source,
               p.platform || ':' || p.account_b AS target,
               'Undirected' AS type, coalesce(c.coactions, 1) AS weight,
               p.trace_count, {_list("p.traces", flat)} AS traces,
               {_list("p.tests", flat)} AS tests,
               p.strongest_trace, p.log10_p, p.q_value, p.keys,
               p.platform, p.account_a, p.account_b
        FROM pairs p LEFT JOIN together c USING (platform, account_a, account_b)
        SEMI JOIN account_scores a ON a.platform = p.platform AND a.account_id = p.account_a
        SEMI JOIN account_scores b ON b.platform = p.platform AND b.account_id = p.account_b
        ORDER BY source, target"""


def _pairs_sql(flat: bool) -> str:
    evidence = "to_json(e.evidence)" if flat else "e.evidence"
    return f"""
        SELECT p.trace, p.window_s, p.platform, p.account_a, sa.handle AS handle_a,
               p.account_b, sb.handle AS handle_b, p.keys, p.coactions, p.shared, p.expected,
               p.repeat_log_p / ln(10) AS repeat_log10_p, p.sync_log_p / ln(10) AS sync_log10_p,
               p.log_p / ln(10) AS log10_p, p.q_value, e.median_delay,
               e.evidence_total, {evidence} AS evidence
        FROM pair_tests p
        LEFT JOIN edges e USING (trace, window_s, platform, account_a, account_b)
        LEFT JOIN account_scores sa ON sa.platform = p.platform AND sa.account_id = p.account_a
        LEFT JOIN account_scores sb ON sb.platform = p.platform AND sb.account_id = p.account_b
        WHERE p.significant
        ORDER BY p.platform, p.account_a, p.account_b, p.trace, p.window_s"""


def _scores_sql(flat: bool) -> str:
    return f"""
        SELECT s.platform, s.account_id, s.handle, s.network AS network_id, s.score,
               s.partners,
               {_list("s.traces", flat)} AS traces,
               {_list("s.identity_signals", flat)} AS identity_signals,
               n.inauthentic, n.verdict, e.line AS evidence
        FROM account_scores s
        LEFT JOIN networks n USING (network)
        LEFT JOIN account_evidence e
            ON e.platform = s.platform AND e.account_id = s.account_id AND e.rank = 1
        ORDER BY s.network, s.score DESC, s.platform, s.account_id"""


def _threshold_sql(flat: bool) -> str:
    """One row per member of a threshold network (`flat` unused: no lists)."""
    del flat
    return """
        SELECT t.network AS threshold_network, t.trace, t.window_s, m.platform, m.account_id,
               a.handle, t.accounts, t.pairs, t.pairs_by_chance, t.chance_share,
               s.network AS network_id
        FROM threshold_members m
        JOIN threshold_networks t USING (network)
        LEFT JOIN accounts a USING (platform, account_id)
        LEFT JOIN account_scores s USING (platform, account_id)
        ORDER BY t.network, m.platform, m.account_id"""


# -- writing --------------------------------------------------------------------------


@contextmanager
def _staged(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """Temporary paths beside `targets`, moved onto them only if the block succeeds. An
    OS error writing one (a full disk, no permission) is a WriteError naming its target."""
    tag = uuid.uuid4().hex[:12]
    temps = [t.with_name(f".{t.name}.{tag}.tmp") for t in targets]
    try:
        yield temps
        for tmp, target in zip(temps, targets, strict=True):
            os.replace(tmp, target)
    except (OSError, duckdb.Error) as exc:
        refused = write_error(_target_of(exc, temps, targets), exc)
        if refused is None:
            raise
        raise refused from exc
    finally:
        for tmp in temps:
            # A temporary file that could not be made cannot be removed either: cleaning
            # up must not raise a second error over the one that says why.
            with suppress(OSError):
                tmp.unlink(missing_ok=True)


def _target_of(error: BaseException, temps: Sequence[Path], targets: Sequence[Path]) -> Path:
    """The target whose temporary file `error` names (the first target if none)."""
    said = f"{getattr(error, 'filename', '')} {error}"
    for tmp, target in zip(temps, targets, strict=True):
        if tmp.name in said:
            return target
    return targets[0]


def _write_table(
    con: duckdb.DuckDBPyConnection, sql: str, path: Path, fmt: str, exact: bool = False
) -> int:
    """Write a query's rows to one csv, parquet or json file; the number of rows."""
    if fmt == "csv" and not exact:
        sql = safe_sql(con, sql)
    if fmt == "json":
        rows = _rows(con, sql)
        _write_bytes(path, _json_array(rows))
        return len(rows)
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    copied = con.execute(f"COPY ({sql}) TO {literal(path)} ({options})").fetchall()
    return int(copied[0][0])


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = con.sql(sql).to_arrow_table().to_pylist()
    return rows


def _json_array(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """A JSON array with one object per line (valid JSON, and readable line by line).
    orjson writes NaN and infinities as null, which JSON has no other way to say."""
    if not rows:
        return b"[]"
    return b"[\n" + b",\n".join(orjson.dumps(r) for r in rows) + b"\n]\n"


def _write_bytes(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)


def _table_paths(out: Path, fmt: str) -> tuple[Path, Path]:
    stem = out.with_suffix("") if out.suffix.lower() == f".{fmt}" else out
    return (
        stem.with_name(f"{stem.name}.nodes.{fmt}"),
        stem.with_name(f"{stem.name}.edges.{fmt}"),
    )


def _export_networks(
    con: duckdb.DuckDBPyConnection, out: Path, fmt: str, exact: bool, stages: Stages
) -> ExportSummary:
    links = has_table(con, "network_edges")  # a case detected by an older version: pairs only
    if fmt in ("csv", "parquet"):
        targets = _table_paths(out, fmt)
        flat = fmt == "csv"
        with _staged(targets) as (nodes_tmp, edges_tmp):
            stages.start("nodes")
            nodes = _write_table(con, _nodes_sql(flat), nodes_tmp, fmt, exact)
            stages.start("edges")
            edges = _write_table(con, _graph_edges_sql(flat, links), edges_tmp, fmt, exact)
        return ExportSummary(fmt, "networks", targets, {"nodes": nodes, "edges": edges})
    if fmt == "json":
        stages.start("nodes")
        node_rows = _rows(con, _nodes_sql(False))
        stages.start("edges")
        edge_rows = _rows(con, _graph_edges_sql(False, links))
        stages.start("writing")
        head = b'{"directed": false, "multigraph": false, "graph": {},\n"nodes": '
        data = head + _json_array(node_rows) + b',\n"edges": ' + _json_array(edge_rows) + b"}\n"
        with _staged([out]) as (tmp,):
            _write_bytes(tmp, data)
        return ExportSummary(
            fmt, "networks", (out,), {"nodes": len(node_rows), "edges": len(edge_rows)}
        )
    stages.start("nodes")
    nodes_xml = _rows(con, _nodes_sql(True, xml=True))
    stages.start("edges")
    graph = _graph(nodes_xml, _rows(con, _graph_edges_sql(True, links)))
    stages.start("writing")
    with _staged([out]) as (tmp,):
        if fmt == "gexf":
            nx.write_gexf(graph, tmp)
        else:
            nx.write_graphml(graph, tmp)
    return ExportSummary(
        fmt,
        "networks",
        (out,),
        {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()},
    )


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (control characters other than tab,
    newline and carriage return, lone surrogates, U+FFFE and U+FFFF)."""
    return _XML_FORBIDDEN.sub("", text)


def _attributes(row: Mapping[str, Any], skip: Sequence[str]) -> dict[str, str | int | float | bool]:
    """A row as graph attributes of plain types; a missing or non-finite number is left
    out (GEXF and GraphML have no null, and Gephi reads no infinity)."""
    attrs: dict[str, str | int | float | bool] = {}
    for key, value in row.items():
        if key in skip or value is None:
            continue
        if isinstance(value, str):
            attrs[key] = xml_safe(value)
        elif isinstance(value, bool | int):
            attrs[key] = value
        elif isinstance(value, float):
            if math.isfinite(value):
                attrs[key] = value
        else:
            attrs[key] = xml_safe(str(value))
    return attrs


def _graph(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> nx.Graph:
    graph = nx.Graph()
    for row in nodes:
        graph.add_node(xml_safe(str(row["id"])), **_attributes(row, ("id",)))
    if graph.number_of_nodes() != len(nodes):
        # Two ids that differ only by forbidden characters would merge into one node.
        raise TrollscopeError(
            "two accounts' ids differ only by control characters, which XML cannot hold: "
            "export the networks as csv, parquet or json instead."
        )
    for row in edges:
        graph.add_edge(
            xml_safe(str(row["source"])),
            xml_safe(str(row["target"])),
            **_attributes(row, ("source", "target", "type")),
        )
    return graph
