"""Score a detector's answer against ground-truth labels (the simulator's, or a release's).

An answer says, per account, which reported network it is in (if any) and a score.
Truth says, per account, its planted farm (if any) and its authentic community (if any).
Farms and communities are scored separately: a detector should find farms, and it may
find communities too (they are coordinated) but must not call them farms.

Metrics (all on the accounts of the labels file):
- precision, recall, F1 of "in a reported network" against "in a farm" (or community);
- PR-AUC (average precision) of the account scores against farm membership;
- adjusted Rand index and NMI between reported networks and planted groups, computed on
  the accounts that are in a planted group or in a reported network. An account outside
  every group (on either side) is a singleton there, so an organic account pulled into a
  network, or a farm member left out, lowers both.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from trollscope.case import Case, has_table
from trollscope.errors import FormatError


@dataclass(frozen=True, slots=True)
class GroupScores:
    """How well reported networks recover one kind of planted group."""

    truth_accounts: int
    reported_accounts: int
    precision: float
    recall: float
    f1: float
    adjusted_rand: float
    nmi: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    accounts: int
    networks: int
    farms: GroupScores
    communities: GroupScores
    pr_auc: float
    # With a case: how many labelled accounts the case holds (labels and data must match).
    labelled_in_case: int | None = None
    # With a detection read from the case: authentic communities whose members mostly sit
    # in a network labelled inauthentic (the mistake the verdict must not make).
    communities_called_inauthentic: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Labels:
    farm: dict[str, str]  # account -> farm id, planted accounts only
    community: dict[str, str]  # account -> community id
    accounts: list[str]  # every labelled account, in file order


@dataclass(frozen=True, slots=True)
class Answer:
    network: dict[str, str]  # account -> network id, accounts in a network only
    score: dict[str, float]


def precision_recall_f1(truth: set[str], predicted: set[str]) -> tuple[float, float, float]:
    """Precision and recall of a predicted set; both 1.0 for an empty prediction of an
    empty truth, precision 0.0 for an empty prediction of a non-empty truth."""
    hits = len(truth & predicted)
    precision = hits / len(predicted) if predicted else float(not truth)
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _pairs(n: int) -> float:
    return n * (n - 1) / 2


def adjusted_rand_index(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Hubert & Arabie's adjusted Rand index of two labelings of the same items."""
    if len(a) != len(b):
        raise ValueError("labelings must have the same length")
    n = len(a)
    if n < 2:
        return 1.0
    cells = sum(_pairs(c) for c in Counter(zip(a, b, strict=True)).values())
    rows = sum(_pairs(c) for c in Counter(a).values())
    cols = sum(_pairs(c) for c in Counter(b).values())
    expected = rows * cols / _pairs(n)
    maximum = (rows + cols) / 2
    if maximum == expected:
        # Both labelings all singletons or both one cluster: identical structure.
        return 1.0
    return (cells - expected) / (maximum - expected)


def _entropy(counts: Mapping[Hashable, int], n: int) -> float:
    return -sum(c / n * math.log(c / n) for c in counts.values() if c)


def normalized_mutual_information(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Mutual information normalised by the arithmetic mean of the two entropies."""
    if len(a) != len(b):
        raise ValueError("labelings must have the same length")
    n = len(a)
    if n == 0:
        return 1.0
    ca, cb = Counter(a), Counter(b)
    ha, hb = _entropy(ca, n), _entropy(cb, n)
    if ha == 0 and hb == 0:
        return 1.0
    mi = sum(
        c / n * math.log(c * n / (ca[x] * cb[y]))
        for (x, y), c in Counter(zip(a, b, strict=True)).items()
    )
    mean = (ha + hb) / 2
    return mi / mean if mean else 0.0


def average_precision(truth: Sequence[bool], scores: Sequence[float]) -> float:
    """Area under the precision-recall curve as average precision: the mean of the
    precision at each distinct score threshold, weighted by the recall it adds.
    Tied scores enter together."""
    positives = sum(truth)
    if positives == 0:
        return 0.0
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    ap = 0.0
    tp = seen = 0
    previous_recall = 0.0
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and scores[order[j]] == scores[order[i]]:
            tp += truth[order[j]]
            seen += 1
            j += 1
        recall = tp / positives
        ap += (recall - previous_recall) * (tp / seen)
        previous_recall = recall
        i = j
    return ap


def _group_scores(groups: Mapping[str, str], answer: Answer) -> GroupScores:
    truth = set(groups)
    predicted = set(answer.network)
    precision, recall, f1 = precision_recall_f1(truth, predicted)
    universe = sorted(truth | predicted)
    truth_labels = [groups.get(a, f"alone:{a}") for a in universe]
    predicted_labels = [answer.network.get(a, f"alone:{a}") for a in universe]
    return GroupScores(
        truth_accounts=len(truth),
        reported_accounts=len(predicted),
        precision=precision,
        recall=recall,
        f1=f1,
        adjusted_rand=adjusted_rand_index(truth_labels, predicted_labels),
        nmi=normalized_mutual_information(truth_labels, predicted_labels),
    )


def score(labels: Labels, answer: Answer, coordinated: Answer | None = None) -> Evaluation:
    """All metrics of `answer` against `labels`. Farms are scored against `answer`;
    communities against `coordinated` (all networks, whatever their verdict) if given."""
    known = set(labels.accounts)

    def restrict(given: Answer) -> Answer:
        kept = {a: n for a, n in given.network.items() if a in known}
        return Answer(network=kept, score=given.score)

    answer = restrict(answer)
    truth = [a in labels.farm for a in labels.accounts]
    scores = [answer.score.get(a, 0.0) for a in labels.accounts]
    return Evaluation(
        accounts=len(labels.accounts),
        networks=len(set(answer.network.values())),
        farms=_group_scores(labels.farm, answer),
        communities=_group_scores(labels.community, restrict(coordinated or answer)),
        pr_auc=average_precision(truth, scores),
    )


def case_answers(case_path: Path | str) -> tuple[Answer, Answer]:
    """The last detection in a case as answers: (members of networks labelled
    inauthentic, members of every network); scores are the accounts' scores."""
    with Case.open(case_path, read_only=True) as case:
        if not has_table(case.con, "account_scores"):
            raise FormatError(
                Path(case_path),
                "the case has no detection results.",
                f"Run `trollscope detect {case_path}` first, or pass --answer FILE.",
            )
        rows = case.con.execute(
            """SELECT s.account_id, s.network::VARCHAR, s.score, n.inauthentic
               FROM account_scores s JOIN networks n USING (network)"""
        ).fetchall()
    scores = {str(a): float(sc) for a, _, sc, _ in rows}
    every = {str(a): str(n) for a, n, _, _ in rows}
    inauthentic = {str(a): str(n) for a, n, _, bad in rows if bad}
    return Answer(network=inauthentic, score=scores), Answer(network=every, score=scores)


def _rows(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise FormatError(
                path,
                f"column(s) {', '.join(missing)} missing from the header "
                f"(found: {', '.join(header) or 'nothing'}).",
                f"Expected a CSV with the columns {', '.join(required)}.",
            )
        return [(reader.line_num, row) for row in reader]


def read_labels(path: Path) -> Labels:
    """A labels CSV: account_id, farm_id (empty if organic), community_id (optional)."""
    farm: dict[str, str] = {}
    community: dict[str, str] = {}
    accounts: list[str] = []
    for line, row in _rows(path, ("account_id", "farm_id")):
        account = (row["account_id"] or "").strip()
        if not account:
            raise FormatError(path, f"line {line}, field account_id: empty.")
        accounts.append(account)
        if (row.get("farm_id") or "").strip():
            farm[account] = row["farm_id"].strip()
        if (row.get("community_id") or "").strip():
            community[account] = row["community_id"].strip()
    return Labels(farm=farm, community=community, accounts=accounts)


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


def read_answer(path: Path) -> tuple[Answer, Answer | None]:
    """An answer CSV: account_id, network_id (empty if in no network), score (optional),
    inauthentic (optional): (the answer, None), or where the file says which networks are
    inauthentic, as `trollscope export --what scores` writes it, (members of those
    networks, members of every network), as `case_answers` reads a case."""
    network: dict[str, str] = {}
    inauthentic: dict[str, str] = {}
    scores: dict[str, float] = {}
    rows = _rows(path, ("account_id", "network_id"))
    verdicts = bool(rows) and "inauthentic" in rows[0][1]
    for line, row in rows:
        account = (row["account_id"] or "").strip()
        if not account:
            raise FormatError(path, f"line {line}, field account_id: empty.")
        if (row.get("network_id") or "").strip():
            network[account] = row["network_id"].strip()
            if verdicts and _flag(path, line, row.get("inauthentic")):
                inauthentic[account] = network[account]
        raw = (row.get("score") or "").strip()
        if raw:
            try:
                scores[account] = float(raw)
            except ValueError:
                raise FormatError(
                    path, f"line {line}, field score: expected a number, got {raw!r}."
                ) from None
    if verdicts:
        return Answer(network=inauthentic, score=scores), Answer(network=network, score=scores)
    return Answer(network=network, score=scores), None


def _flag(path: Path, line: int, raw: str | None) -> bool:
    said = (raw or "").strip().lower()
    if said in _TRUE | _FALSE:
        return said in _TRUE
    raise FormatError(path, f"line {line}, field inauthentic: expected true or false, got {raw!r}.")


def evaluate(
    labels_path: Path | str, answer_path: Path | str | None, case_path: Path | str | None = None
) -> Evaluation:
    """Score the answer file (or, without one, the case's last detection: farms against
    the networks labelled inauthentic, communities against all networks) against the
    labels. With a case, also count how many labelled accounts it holds: labels of
    another data set score nothing meaningful."""
    labels = read_labels(Path(labels_path))
    if answer_path is not None:
        answer, coordinated = read_answer(Path(answer_path))
        if coordinated is None:
            result = score(labels, answer)
        else:  # networks with verdicts (an exported scores file): scored as a case is
            result = _with_verdicts(labels, answer, coordinated)
    elif case_path is not None:
        result = _with_verdicts(labels, *case_answers(case_path))
    else:
        raise FormatError(Path(labels_path), "nothing to score.", "Pass --answer FILE or a CASE.")
    if case_path is None:
        return result
    with Case.open(case_path, read_only=True) as case:
        case.con.execute("CREATE TEMP TABLE labelled (account_id VARCHAR)")
        case.con.executemany("INSERT INTO labelled VALUES (?)", [(a,) for a in labels.accounts])
        row = case.con.execute(
            "SELECT count(DISTINCT account_id) FROM labelled SEMI JOIN accounts USING (account_id)"
        ).fetchone()
    return replace(result, labelled_in_case=int(row[0]) if row else 0)


def _with_verdicts(labels: Labels, inauthentic: Answer, coordinated: Answer) -> Evaluation:
    """Farms against the networks labelled inauthentic, communities against all."""
    return replace(
        score(labels, inauthentic, coordinated),
        communities_called_inauthentic=_called_inauthentic(labels, inauthentic, coordinated),
    )


def _called_inauthentic(labels: Labels, inauthentic: Answer, coordinated: Answer) -> int:
    """Communities most of whose found members sit in networks labelled inauthentic."""
    called = 0
    for community in set(labels.community.values()):
        members = [a for a, c in labels.community.items() if c == community]
        found = [a for a in members if a in coordinated.network]
        bad = [a for a in found if a in inauthentic.network]
        if found and 2 * len(bad) > len(found):
            called += 1
    return called
