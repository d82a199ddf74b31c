"""How the case stores edges (`edgestore.py`): one-row edges as two row numbers, the others
whole, and the view `edges` that reads both as the same rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import query
from tests.engine.test_engine import _shares
from trollscope.engine.run import compute_edges, edges
from trollscope.errors import TrollscopeError
from trollscope.ingest.run import ingest

# a-b co-act on o1 and o2 (several rows: stored whole); c-d once on o3 (one row: stored as
# two row numbers); e acts alone.
ROWS = [
    ("o1", "a", "1", 100),
    ("o1", "b", "2", 110),
    ("o2", "a", "3", 200),
    ("o2", "b", "4", 230),
    ("o3", "c", "6", 100),
    ("o3", "d", "7", 105),
    ("o4", "e", "8", 100),
]


def _counts(case: Path) -> dict[str, int]:
    tables = ("edges_whole", "edges_single", "edge_rows", "edge_accounts", "edge_keys")
    return {t: int(query(case, f"SELECT count(*) FROM {t}")[0][0]) for t in tables}  # type: ignore[call-overload]


def test_one_row_edges_are_two_row_numbers_and_the_view_derives_the_rest(
    tmp_path: Path, case_path: Path
) -> None:
    ingest(case_path, [_shares(tmp_path, ROWS)])
    assert edges(case_path, "co-repost", 60) == 2
    whole = query(case_path, "SELECT account_a, account_b FROM edges_whole")
    assert whole == [("a", "b")]
    # c-d's one row: the numbers of c's and d's rows, which name their posts.
    single = query(
        case_path,
        """SELECT ra.post_id, rb.post_id FROM edges_single s
           JOIN edge_rows ra ON ra.tid = s.tid AND ra.rid = s.ra
           JOIN edge_rows rb ON rb.tid = s.tid AND rb.rid = s.rb""",
    )
    assert single == [("6", "7")]
    # Only the rows of keys two accounts touched are numbered (o4 is e's alone).
    assert _counts(case_path)["edge_rows"] == 6
    got = query(
        case_path,
        "SELECT trace, window_s, platform, coactions, keys, score, median_delay, evidence, "
        "evidence_total FROM edges WHERE account_a = 'c' AND account_b = 'd'",
    )
    # IDF of o3: ln(5 accounts / 2 that touched it), on the grid of 2^-32 (coaction.py).
    idf = query(case_path, "SELECT round(ln(5 / 2) * 2 ** 32) / 2 ** 32")[0][0]
    evidence = [{"key": "o3", "post_a": "6", "post_b": "7"}]
    assert got == [("co-repost", 60.0, "unknown", 1, 1, idf, 5.0, evidence, 1)]


def test_recomputing_a_trace_replaces_only_its_rows(tmp_path: Path, case_path: Path) -> None:
    ingest(case_path, [_shares(tmp_path, ROWS)])
    edges(case_path, "co-repost", 60)
    first = _counts(case_path)
    edges(case_path, "co-repost", 5)  # c-d (5 s apart) stays; a-b (10 and 30 s) goes
    assert query(case_path, "SELECT account_a, account_b, window_s FROM edges") == [("c", "d", 5.0)]
    edges(case_path, "co-repost", 60)
    assert _counts(case_path) == first
    assert query(case_path, "SELECT trace, window_s FROM edge_traces") == [("co-repost", 60.0)]


def test_traces_get_their_own_numbers(tmp_path: Path, case_path: Path) -> None:
    ingest(case_path, [_shares(tmp_path, ROWS)])
    edges(case_path, "co-repost", 60)
    edges(case_path, "co-repost", 0)
    edges(case_path, "batch-creation", 0)  # the accounts (all created at once here)
    traces = query(case_path, "SELECT tid, trace FROM edge_traces ORDER BY tid")
    assert traces == [(0, "co-repost"), (1, "batch-creation")]
    repost = query(case_path, "SELECT count(*) FROM edges WHERE trace = 'co-repost'")
    before = query(case_path, "SELECT * FROM edges WHERE trace = 'co-repost' ORDER BY ALL")
    edges(case_path, "batch-creation", 0)
    after = query(case_path, "SELECT * FROM edges WHERE trace = 'co-repost' ORDER BY ALL")
    assert after == before and repost == [(2,)]


def test_a_case_with_the_old_edges_table_keeps_its_edges(tmp_path: Path, case_path: Path) -> None:
    """Before this layout `edges` was a table of whole edges: it becomes `edges_whole`."""
    ingest(case_path, [_shares(tmp_path, ROWS)])
    con = duckdb.connect(str(case_path))
    con.execute(
        """CREATE TABLE edges (
            trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL, platform VARCHAR NOT NULL,
            account_a VARCHAR NOT NULL, account_b VARCHAR NOT NULL, coactions BIGINT NOT NULL,
            keys BIGINT NOT NULL, score DOUBLE NOT NULL, median_delay DOUBLE NOT NULL,
            evidence STRUCT(key VARCHAR, post_a VARCHAR, post_b VARCHAR)[],
            evidence_total BIGINT NOT NULL)"""
    )
    con.execute(
        "INSERT INTO edges VALUES ('co-hashtag', 60, 'twitter', 'x', 'y', 1, 1, 0.5, 3, "
        "[{'key': '#t', 'post_a': '10', 'post_b': '11'}], 1)"
    )
    con.close()
    edges(case_path, "co-repost", 60)
    got = query(case_path, "SELECT trace, account_a, account_b FROM edges ORDER BY ALL")
    assert got == [("co-hashtag", "x", "y"), ("co-repost", "a", "b"), ("co-repost", "c", "d")]
    kind = query(
        case_path, "SELECT table_type FROM information_schema.tables WHERE table_name = 'edges'"
    )
    assert kind == [("VIEW",)]


def test_pairs_tested_on_several_keys_store_no_numbers(tmp_path: Path, case_path: Path) -> None:
    """detect keeps only pairs that met on two keys or more: no one-row edge, so nothing is
    numbered, and the trace's earlier one-row edges are gone."""
    from trollscope.case import Case
    from trollscope.traces import TRACES

    ingest(case_path, [_shares(tmp_path, ROWS)])
    edges(case_path, "co-repost", 60)
    with Case.open(case_path) as case:
        assert compute_edges(case.con, TRACES["co-repost"], 60, min_keys=2) == (1, 2)
    assert _counts(case_path) == {
        "edges_whole": 1,
        "edges_single": 0,
        "edge_rows": 0,
        "edge_accounts": 0,
        "edge_keys": 0,
    }
    assert query(case_path, "SELECT account_a, account_b FROM edges") == [("a", "b")]


def test_a_trace_beyond_32_bit_row_numbers_is_refused(
    tmp_path: Path, case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trollscope.engine import edgestore

    ingest(case_path, [_shares(tmp_path, ROWS)])
    edges(case_path, "co-repost", 60)
    monkeypatch.setattr(edgestore, "MAX_ROWS", 6)  # the trace has 7 rows
    with pytest.raises(TrollscopeError, match=r"co-repost trace has 7 rows, more than .* \(6\)"):
        edges(case_path, "co-repost", 0)
    assert query(case_path, "SELECT count(*), min(window_s) FROM edges") == [(2, 60.0)]


def test_reading_the_view_twice_in_one_query_sees_both_accounts(
    tmp_path: Path, case_path: Path
) -> None:
    """DuckDB 2.0's common-subplan optimizer gave account_a's ids in both arms of this
    query over the view (duckdb/duckdb#25819); a case connection turns it off."""
    from trollscope.case import Case

    ingest(case_path, [_shares(tmp_path, ROWS)])
    edges(case_path, "co-repost", 60)
    with Case.open(case_path, read_only=True) as case:
        got = case.con.execute(
            "SELECT account_a FROM edges UNION ALL SELECT account_b FROM edges"
        ).fetchall()
    assert sorted(got) == [("a",), ("b",), ("c",), ("d",)]
