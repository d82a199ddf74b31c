"""Campaigns where the campaign is the data: no organic background to compare with.

A copy-paste campaign can be one text posted by a thousand pages within a minute: no pair
repeats anything, no account does anything twice, and the data holds nothing else. The
burst test finds it; organic copying, spread over hours, it leaves alone.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import query
from trollscope.detect.params import DetectParams
from trollscope.detect.run import detect
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest

TEXT = (
    "The council has decided today and every citizen should know what it means for the "
    "river, the schools and the market: read it and share it with your friends"
)
START = 1_700_000_000  # seconds


def _pages(path: Path, posts: list[tuple[str, int, str]]) -> ReadOptions:
    """(page, seconds, text) rows as a mapped CSV of Facebook posts."""
    lines = ["id,page,time,text"]
    lines += [f'{i},{page},{t},"{text}"' for i, (page, t, text) in enumerate(posts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ReadOptions(
        mapping=parse_mapping("post_id=id,account_id=page,created_at=time,text=text"),
        platform="facebook",
    )


def test_a_thousand_pages_posting_one_text_within_a_minute_are_one_network(
    tmp_path: Path, case_path: Path
) -> None:
    rng = random.Random(1)
    posts = [(f"page{i}", START + rng.randrange(50), TEXT) for i in range(1000)]
    data = tmp_path / "pages.csv"
    ingest(case_path, [data], options=_pages(data, posts))
    result = detect(case_path)  # the default options
    assert result.bursts_significant["co-text"] == 1
    assert result.networks == 1
    assert result.flagged_accounts == 1000
    found = query(case_path, "SELECT found_by FROM networks")[0][0]
    assert {"test": "burst", "trace": "co-text", "found": 1} in found  # type: ignore[operator]
    line = query(case_path, "SELECT line FROM account_evidence WHERE account_id = 'page7'")
    assert str(line[0][0]).startswith("one of 1,000 accounts that posted the same text within")


def test_organic_copying_spread_over_hours_is_not_a_burst(tmp_path: Path, case_path: Path) -> None:
    """'Copy and paste this to your status': 300 people, one after another, over six hours
    (each copies someone who posted before, minutes later). Some copies fall within a minute
    of another, as chance has them do; nothing is significant."""
    rng = random.Random(2)
    times = [START]
    while len(times) < 300:
        times.append(rng.choice(times) + round(rng.expovariate(1 / 1800)) + 20)
    posts = [(f"person{i}", t, TEXT) for i, t in enumerate(times)]
    data = tmp_path / "people.csv"
    ingest(case_path, [data], options=_pages(data, posts))
    result = detect(case_path, DetectParams())
    assert result.bursts_tested["co-text"] == 1  # the text was tested: several met
    assert result.bursts_significant["co-text"] == 0
    assert result.networks == 0


def test_lightly_edited_copies_are_one_near_copy_burst(tmp_path: Path, case_path: Path) -> None:
    """The same campaign with one word of each copy changed: no two texts are equal, so
    co-text has nothing; near-dup-text's keys are near-copy clusters, and the burst test
    finds the 400 pages as one network."""
    rng = random.Random(3)
    words = TEXT.split(" ")
    posts = []
    for i in range(400):
        edited = list(words)
        edited[rng.randrange(len(edited))] = f"w{i}"
        posts.append((f"page{i}", START + rng.randrange(50), " ".join(edited)))
    data = tmp_path / "pages.csv"
    ingest(case_path, [data], options=_pages(data, posts))
    result = detect(case_path)
    assert result.bursts_significant["co-text"] == 0
    assert result.bursts_significant["near-dup-text"] >= 1
    assert result.networks == 1
    assert result.flagged_accounts >= 380  # the LSH misses a copy now and then


# -- the simulator's campaign cases and hard organic nulls (issue 18) -------------------


def _simulate_and_detect(folder: Path, config: object) -> tuple[Path, object]:
    from trollscope.simulate import simulate

    simulate(config, folder / "sim", formats=("io-tweets",))  # type: ignore[arg-type]
    case = folder / "case.duckdb"
    ingest(case, [folder / "sim" / "io_tweets.csv"])
    return case, detect(case)


def _organic_flagged(case: Path, labels: Path) -> tuple[int, int]:
    rows = query(
        case,
        f"""SELECT count(*), count(s.account_id)
            FROM read_csv('{labels}', all_varchar = true) l
            LEFT JOIN account_scores s USING (account_id)
            WHERE l.farm_id IS NULL AND l.community_id IS NULL""",
    )
    return int(rows[0][1]), int(rows[0][0])  # type: ignore[call-overload]


@pytest.mark.slow
# Issue 18's targets. Stealth 2 gave ARI 0.926 on this seed (0.7 was the bar until each
# identity signal's cohorts were also tested as one: a 60-member farm created in four
# bursts was found a burst at a time).
@pytest.mark.parametrize(("stealth", "min_f1", "min_ari"), [(1, 0.95, 0.9), (2, 0.8, 0.9)])
def test_farms_in_a_small_campaign_sample_are_found(
    tmp_path: Path, stealth: int, min_f1: float, min_ari: float | None
) -> None:
    """30,000 posts over five days, the farms about a quarter of them: pairs rarely pass
    here (the farms are their own popularity); the account and cohort tests find them."""
    from trollscope.simulate import SimulationConfig
    from trollscope.simulate.evaluate import evaluate

    config = SimulationConfig(posts=30_000, days=5, seed=2).with_stealth(stealth)
    case, _ = _simulate_and_detect(tmp_path, config)
    labels = tmp_path / "sim" / "labels.csv"
    scores = evaluate(labels, None, case)
    assert scores.farms.f1 >= min_f1, scores.farms
    if min_ari is not None:
        assert scores.farms.adjusted_rand >= min_ari, scores.farms
    flagged, organic = _organic_flagged(case, labels)
    assert flagged <= 0.005 * organic, (flagged, organic)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["organic-hard", "hashtag-bursty"])
def test_hard_organic_data_flags_almost_nobody(tmp_path: Path, name: str) -> None:
    """News shocks, copy-paste chains, live-tweeting and hashtag games: organic bursts that
    draw many accounts at once. At most 0.5% of the accounts flagged."""
    from trollscope.simulate.config import scenario

    case, result = _simulate_and_detect(tmp_path, scenario(name, 30_000, 3))
    accounts = int(query(case, "SELECT count(*) FROM accounts")[0][0])  # type: ignore[call-overload]
    assert accounts > 1000
    assert result.flagged_accounts <= 0.005 * accounts, (result, accounts)  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21, 26])
def test_a_farm_with_language_desks_is_one_network_and_two_farms_are_two(
    tmp_path: Path, seed: int
) -> None:
    """A sample collected on the farms' hashtags (20,000 posts over five days, farms half
    of them) at stealth 1: each farm is one network. On both seeds Leiden cut the
    150-member farm along its three language desks and the join tests make it one again,
    from when they act. On seed 26 the two farms were also created in the same days:
    their creation-burst cohort's star tied the second farm to one desk of the first
    (ARI 0.0) until cohort groups were split by who bursts together (detect/groups.py)."""
    from trollscope.simulate.config import scenario
    from trollscope.simulate.evaluate import evaluate

    case, result = _simulate_and_detect(tmp_path, scenario("campaign", 20_000, seed, 1))
    scores = evaluate(tmp_path / "sim" / "labels.csv", None, case)
    assert scores.farms.f1 == 1.0, scores.farms
    assert scores.farms.adjusted_rand >= 0.99, scores.farms
    found = query(case, "SELECT found_by FROM networks ORDER BY size DESC LIMIT 1")[0][0]
    assert "join" in {f["test"] for f in found}  # type: ignore[attr-defined]
    assert sum(result.joins_significant.values()) > 0  # type: ignore[attr-defined]
    # A join test names the network it made, by the same id as `networks` and the members.
    wrong = query(
        case,
        """SELECT count(*) FROM join_tests j JOIN account_scores s
           ON s.platform = j.platform AND s.account_id = j.members_a[1]
           WHERE j.significant AND s.network <> j.network""",
    )
    assert wrong[0][0] == 0
