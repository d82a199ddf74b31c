"""Evaluation metrics against values computed by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from trollscope.cli import cli
from trollscope.errors import FormatError
from trollscope.simulate.evaluate import (
    Answer,
    Labels,
    adjusted_rand_index,
    average_precision,
    evaluate,
    normalized_mutual_information,
    precision_recall_f1,
    score,
)


def test_ari_by_hand() -> None:
    # Contingency cells 2,1,1 -> 1 pair; rows 2,2 -> 2 pairs; cols 2,1,1 -> 1 pair; n=4 -> 6.
    # expected = 2*1/6 = 1/3; max = 1.5; ARI = (1 - 1/3) / (1.5 - 1/3) = 4/7.
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand_index([0, 0, 1, 1], ["x", "x", "y", "y"]) == 1.0
    # Every pair split differently: cells 0 pairs, rows 2, cols 2, n=4 -> expected 2/3,
    # max 2 -> ARI = (0 - 2/3) / (2 - 2/3) = -1/2.
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)


def test_nmi_by_hand() -> None:
    # H(U) = ln 2, H(V) = 1.5 ln 2, MI = ln 2 -> NMI = ln2 / (1.25 ln2) = 0.8.
    assert normalized_mutual_information([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(0.8)
    assert normalized_mutual_information([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert normalized_mutual_information([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.0)


def test_average_precision_by_hand() -> None:
    # Ranked: pos, neg, pos, neg -> precision 1 at recall .5, 2/3 at recall 1.
    assert average_precision([True, False, True, False], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(
        0.5 * 1 + 0.5 * (2 / 3)
    )
    # Ties enter together: all four tied -> precision 1/2 at recall 1.
    assert average_precision([True, False, True, False], [1, 1, 1, 1]) == pytest.approx(0.5)
    assert average_precision([False, False], [0.3, 0.2]) == 0.0


def test_precision_recall_f1_by_hand() -> None:
    assert precision_recall_f1({"a", "b", "c", "d"}, {"a", "b", "x"}) == pytest.approx(
        (2 / 3, 1 / 2, 2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))
    )
    assert precision_recall_f1({"a"}, set()) == (0.0, 0.0, 0.0)


LABELS = Labels(
    farm={"f1": "farm1", "f2": "farm1", "f3": "farm2", "f4": "farm2"},
    community={"c1": "community1", "c2": "community1"},
    accounts=["f1", "f2", "f3", "f4", "c1", "c2", "o1", "o2"],
)


def test_perfect_answer() -> None:
    answer = Answer(
        network={"f1": "n1", "f2": "n1", "f3": "n2", "f4": "n2"},
        score={"f1": 0.9, "f2": 0.9, "f3": 0.8, "f4": 0.8},
    )
    result = score(LABELS, answer)
    assert (result.farms.precision, result.farms.recall, result.farms.f1) == (1.0, 1.0, 1.0)
    assert result.farms.adjusted_rand == 1.0
    assert result.farms.nmi == pytest.approx(1.0)
    assert result.pr_auc == 1.0
    assert result.networks == 2
    # The communities were (rightly) not reported as farms: recall 0 for them.
    assert result.communities.recall == 0.0


def test_empty_answer() -> None:
    result = score(LABELS, Answer(network={}, score={}))
    assert (result.farms.precision, result.farms.recall, result.farms.f1) == (0.0, 0.0, 0.0)
    # Universe = the 4 farm members, predicted all singletons: cells 0, rows 2, cols 0,
    # expected 0, max 1 -> ARI 0.
    assert result.farms.adjusted_rand == 0.0
    assert result.pr_auc == pytest.approx(4 / 8)  # all scores tied at 0: precision 4/8
    assert result.networks == 0


def test_partial_answer_by_hand() -> None:
    # One network holds farm1, farm2's f3 and an organic account o1; f4 is missed.
    answer = Answer(network={"f1": "n", "f2": "n", "f3": "n", "o1": "n"}, score={})
    result = score(LABELS, answer)
    assert result.farms.precision == pytest.approx(3 / 4)
    assert result.farms.recall == pytest.approx(3 / 4)
    # Universe f1..f4, o1: truth [1,1,2,2,o1], pred [n,n,n,f4,n].
    truth = ["farm1", "farm1", "farm2", "farm2", "alone:o1"]
    pred = ["n", "n", "n", "alone:f4", "n"]
    assert result.farms.adjusted_rand == pytest.approx(adjusted_rand_index(truth, pred))
    # By hand: cells (farm1,n)=2 ->1, (farm2,n)=1, (farm2,f4)=1, (o1,n)=1 -> 1 pair;
    # rows 2,2,1 -> 2; cols n=4 -> 6, f4=1 -> 6; n=5 -> 10; expected 1.2; max 4;
    # ARI = (1 - 1.2) / (4 - 1.2) = -1/14.
    assert result.farms.adjusted_rand == pytest.approx(-1 / 14)
    assert not math.isnan(result.farms.nmi)


def test_evaluate_files_and_cli(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "account_id,farm_id,community_id\nf1,farm1,\nf2,farm1,\no1,,\nc1,,community1\n",
        encoding="utf-8",
    )
    answer = tmp_path / "answer.csv"
    answer.write_text("account_id,network_id,score\nf1,7,0.9\nf2,7,0.8\no1,,0.1\n", "utf-8")
    result = evaluate(labels, answer)
    assert result.farms.f1 == 1.0
    run = CliRunner().invoke(
        cli, ["evaluate", "--labels", str(labels), "--answer", str(answer), "--json"]
    )
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert data["farms"]["f1"] == 1.0
    assert data["pr_auc"] == 1.0


def test_bad_answer_file(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("account_id,farm_id\na,farm1\n", encoding="utf-8")
    answer = tmp_path / "answer.csv"
    answer.write_text("account,network\na,1\n", encoding="utf-8")
    with pytest.raises(FormatError, match="column\\(s\\) account_id, network_id missing"):
        evaluate(labels, answer)
    answer.write_text("account_id,network_id,score\na,1,high\n", encoding="utf-8")
    with pytest.raises(FormatError, match="line 2, field score: expected a number, got 'high'"):
        evaluate(labels, answer)


def test_case_checks_that_labels_match_the_data(tmp_path: Path) -> None:
    from trollscope.ingest.run import ingest

    data = tmp_path / "shares.csv"
    data.write_text(
        "object_id,account_id,content_id,timestamp_share\n9,f1,1,1609459300\n9,f2,2,1609459301\n",
        "utf-8",
    )
    case = tmp_path / "case.duckdb"
    ingest(case, [data])
    labels = tmp_path / "labels.csv"
    labels.write_text("account_id,farm_id\nf1,farm1\nf2,farm1\nzz,\n", encoding="utf-8")
    answer = tmp_path / "answer.csv"
    answer.write_text("account_id,network_id\nf1,1\nf2,1\n", encoding="utf-8")
    assert evaluate(labels, answer, case).labelled_in_case == 2
    run = CliRunner().invoke(
        cli, ["evaluate", str(case), "--labels", str(labels), "--answer", str(answer)]
    )
    assert run.exit_code == 0, run.output
    assert "2 of the 3 labelled accounts are in" in run.stdout
    # An answer file is scored as given: no caption about the case's verdicts.
    assert "farms are scored against" not in run.stdout
