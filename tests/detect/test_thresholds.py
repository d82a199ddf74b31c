"""A peer's threshold inside detect: CooRTweet's and CNT's networks, reported apart from
the tested ones, each with what the same rule gives on the account tests' shifted null."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner

import trollscope
from tests.conftest import query
from tests.engine.test_engine import _shares
from trollscope import api
from trollscope.case import Case
from trollscope.cli import cli
from trollscope.detect.thresholdstore import ThresholdNetwork, load_threshold
from trollscope.errors import TrollscopeError

FARM = [f"f{i}" for i in range(8)]
FARM_POSTS = 12


def _campaign(tmp_path: Path) -> Path:
    """A farm of 8 that reposts 12 posts of its own, each within 8 s, two hours apart; and
    200 organic accounts, each of 30 popular posts reposted by 50 of them at random times
    within its hour (so organic accounts meet within a minute by chance, often)."""
    rng = np.random.default_rng(7)
    rows: list[tuple[str, str, str, int]] = []
    n = 0
    for k in range(FARM_POSTS):
        for i, account in enumerate(FARM):
            n += 1
            rows.append((f"farm{k}", account, f"c{n}", k * 7200 + i))
    organic = [f"u{i}" for i in range(200)]
    for k in range(30):
        for account in rng.choice(organic, size=50, replace=False):
            n += 1
            rows.append(
                (f"pop{k}", str(account), f"c{n}", 200_000 + k * 3600 + int(rng.integers(3600)))
            )
    return _shares(tmp_path, rows)


def _networks(case: Path) -> list[dict[str, object]]:
    con = duckdb.connect(str(case), read_only=True)
    try:
        rel = con.sql(
            """SELECT n.*, list(m.account_id ORDER BY m.account_id) AS members
               FROM threshold_networks n JOIN threshold_members m USING (network)
               GROUP BY ALL ORDER BY network"""
        )
        names = rel.columns
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
    finally:
        con.close()


@pytest.fixture
def campaign(tmp_path: Path, case_path: Path) -> Path:
    api.ingest(case_path, [_campaign(tmp_path)])
    return case_path


def test_the_rules_networks_stand_apart_with_what_chance_gives(campaign: Path) -> None:
    params = api.DetectParams(traces=("co-repost",), min_participation=2)
    found = api.detect(campaign, params)
    networks = _networks(campaign)
    farm = [n for n in networks if n["members"] == sorted(FARM)]
    assert len(farm) == 1, [n["members"] for n in networks][:3]
    (f,) = farm
    # Every farm pair met on all twelve posts: all 28 are kept; the tests found the farm.
    assert f["pairs"] == 28
    assert f["in_tested"] == 8 and len(f["tested_networks"]) == 1  # type: ignore[arg-type]
    organic = [n for n in networks if n["network"] != f["network"]]
    assert organic, "the organic crowd's chance meetings pass CooRTweet's rule"
    largest = max(organic, key=lambda n: n["accounts"])  # type: ignore[arg-type,return-value]
    assert largest["accounts"] > 150  # type: ignore[operator]
    assert all(n["in_tested"] == 0 for n in organic)  # the tests flag none of them
    # Each account is shifted by one offset within +-30 min, all its posts alike: two farm
    # members still meet within a minute about 120/3600 of the time (on all twelve posts
    # or none), so about 1 of the 28 pairs. Organic reposts spread over an hour spread over
    # two, and meet about two thirds as often.
    assert f["chance_share"] < 0.2  # type: ignore[operator]
    assert largest["chance_share"] > 0.4  # type: ignore[operator]
    assert f["pairs_by_chance"] == pytest.approx(28 * f["chance_share"])  # type: ignore[operator]
    assert found.threshold is not None
    assert found.result.threshold_networks == len(networks)
    assert found.threshold.total == len(networks)
    assert "CooRTweet's rule (min participation 2" in found.threshold.rule
    # The trace's figures on shifted data: fewer kept pairs, a network that still spans
    # most of the crowd.
    row = found.threshold.networks[0]
    assert row.trace_pairs_by_chance is not None and row.largest_by_chance is not None
    assert 0.3 * row.trace_pairs < row.trace_pairs_by_chance < row.trace_pairs
    assert row.largest_by_chance > 100


def test_the_threshold_keeps_what_edges_keeps(campaign: Path, tmp_path: Path) -> None:
    """detect's threshold and `edges --min-participation` are one rule: the same pairs."""
    api.detect(campaign, api.DetectParams(traces=("co-repost",), min_participation=2))
    networks = _networks(campaign)
    out = tmp_path / "pairs.parquet"
    run = api.edges(campaign, "co-repost", 60, out, rule=api.PeerRule(min_participation=2))
    pairs = duckdb.sql(f"SELECT account_a, account_b FROM '{out}'").fetchall()
    assert run.kept == len(pairs) == sum(n["pairs"] for n in networks)  # type: ignore[misc]
    accounts = {a for pair in pairs for a in pair}
    assert accounts == {m for n in networks for m in n["members"]}  # type: ignore[attr-defined]


def test_cnts_minimum_weight_keeps_only_the_repeated_pairs(campaign: Path) -> None:
    """Organic accounts meet once or twice by chance; the farm's pairs met 12 times."""
    api.detect(campaign, api.DetectParams(traces=("co-repost",), min_weight=5))
    networks = _networks(campaign)
    assert [(n["members"], n["pairs"]) for n in networks] == [(sorted(FARM), 28)]


def test_without_a_rule_there_is_no_threshold(campaign: Path) -> None:
    api.detect(campaign, api.DetectParams(traces=("co-repost",), min_participation=2))
    found = api.detect(campaign, api.DetectParams(traces=("co-repost",)))
    assert found.threshold is None
    assert found.as_dict()["threshold"] is None
    tables = query(
        campaign, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'threshold_%'"
    )
    assert tables == [(0,)]


def test_the_report_and_json_name_the_rule(campaign: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["detect", str(campaign), "--trace", "co-repost", "--min-participation", "2",
         "--hide-progress", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    threshold = said["threshold"]
    assert threshold["rule"].startswith("CooRTweet's rule (min participation 2")
    assert threshold["total"] == len(threshold["networks"]) or len(threshold["networks"]) == 10
    assert {n["trace"] for n in threshold["networks"]} == {"co-repost"}
    report = tmp_path / "report.html"
    api.report(campaign, report)
    html = report.read_text(encoding="utf-8")
    assert "Beside the tests: a peer's threshold" in html
    assert "Found by CooRTweet&#39;s rule (min participation 2" in html
    assert "CooRTweet&#39;s min participation (a threshold beside the tests)" in html


def test_russian_coord_tweets_coortweets_network_and_what_chance_gives(
    shared_data: Path, case_path: Path
) -> None:
    """CooRTweet's own example: its rule's 3,721 pairs (60 s, min participation 2) form one
    large network; detect reports it, found by the rule, and the rule on the shifted data
    keeps most of it."""
    api.ingest(case_path, [shared_data / "coortweet" / "russian_coord_tweets.csv"])
    params = api.DetectParams(traces=("co-repost",), window=60, min_participation=2)
    found = api.detect(case_path, params)
    assert found.result.networks == 0  # no calibrated test passes (docs/significance.md)
    assert found.threshold is not None
    largest = found.threshold.networks[0]
    pairs = sum(n.pairs for n in _threshold_rows(case_path))
    assert pairs == 3721
    # The accounts of CooRTweet's pairs, and the share the largest network covers.
    assert found.threshold.accounts == 2110
    assert largest.accounts >= 0.9 * found.threshold.accounts
    assert largest.trace_pairs_by_chance is not None and largest.largest_by_chance is not None
    assert largest.trace_pairs_by_chance > 0.5 * 3721
    assert largest.largest_by_chance > 0.5 * largest.accounts
    # The report lists it, and says what found it: the rule, not a test.
    report = case_path.parent / "report.html"
    api.report(case_path, report)
    html = " ".join(report.read_text(encoding="utf-8").split())
    assert "Found by CooRTweet&#39;s rule (min participation 2" in html
    row = '<td class="num">T1</td><td>co-repost (60 s)</td> <td class="num">{:,}</td>'
    assert row.format(largest.accounts) in html


def _threshold_rows(case: Path) -> list[ThresholdNetwork]:
    with Case.open(case, read_only=True) as opened:
        got = load_threshold(opened.con, limit=1_000_000)
    assert got is not None
    return got.networks


def test_export_lists_the_threshold_networks_accounts(campaign: Path, tmp_path: Path) -> None:
    out = tmp_path / "threshold.csv"
    api.detect(campaign, api.DetectParams(traces=("co-repost",)))
    with pytest.raises(TrollscopeError, match="ran no peer threshold"):
        api.export(campaign, out, fmt="csv", what="threshold")
    api.detect(campaign, api.DetectParams(traces=("co-repost",), min_participation=2))
    api.export(campaign, out, fmt="csv", what="threshold")
    rows = duckdb.sql(
        f"SELECT threshold_network, account_id, network_id FROM '{out}' ORDER BY ALL"
    ).fetchall()
    members = {(n["network"], m) for n in _networks(campaign) for m in n["members"]}  # type: ignore[attr-defined]
    assert {(t, a) for t, a, _ in rows} == members
    # The farm's members are in a tested network; the crowd's are in none.
    assert {a for _, a, tested in rows if tested is not None} == set(FARM)


def test_the_python_handle_reads_the_threshold(campaign: Path) -> None:
    case = trollscope.open(campaign)
    case.detect(traces=["co-repost"])
    with pytest.raises(TrollscopeError, match="ran no peer threshold"):
        case.threshold()
    case.detect(traces=["co-repost"], min_participation=2)
    rows = case.threshold().to_pylist()
    members = {(n["network"], m) for n in _networks(campaign) for m in n["members"]}  # type: ignore[attr-defined]
    assert {(r["network"], r["account_id"]) for r in rows} == members
    assert {r["account_id"] for r in rows if r["tested_network"] is not None} == set(FARM)
