"""Coordinated link sharing in a CrowdTangle export, found end to end: the CSV reader, the
co-link trace and detect. The export is sparse (CooRnet's typical data): a farm's posts are
most of the traffic in the hours it acts, which is where the null's period matters
(docs/significance.md, "The period")."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import query
from trollscope.detect.params import DetectParams
from trollscope.detect.run import detect
from trollscope.ingest.run import ingest
from trollscope.ingest.writers.crowdtangle import HEADER

FARM_PAGES = 30
ORGANIC_PAGES = 400
NEW_YORK = ZoneInfo("America/New_York")


def _export(path: Path, organic_posts: int, seed: int = 3) -> set[str]:
    """A pages export: 30 pages that post each of 60 links within 30 s of each other (20
    pages a link), and 400 pages that share popular news links at random over 30 days.
    Returns the farm's page ids."""
    rng = random.Random(seed)
    start = datetime(2021, 10, 1, tzinfo=UTC)
    rows: list[list[str]] = []

    def add(page: int, when: datetime, link: str) -> None:
        local = when.astimezone(NEW_YORK)
        row = {
            "Page Name": f"Page {page}",
            "User Name": f"page{page}",
            "Facebook Id": str(100000 + page),
            "Post Created": f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}",
            "Type": "Link",
            "URL": f"https://www.facebook.com/{100000 + page}/posts/{len(rows)}",
            "Message": "Must read" if page < FARM_PAGES else "Interesting",
            "Link": link,
            "Final Link": link,
        }
        rows.append([row.get(h, "") for h in HEADER])

    for k in range(60):
        when = start + timedelta(hours=rng.uniform(0, 720))
        for page in rng.sample(range(FARM_PAGES), 20):
            add(page, when + timedelta(seconds=rng.uniform(0, 30)), f"https://agenda.example/{k}")
    for _ in range(organic_posts):
        # Popular links are shared by many pages, at any time: a heavy tail.
        story = int(rng.paretovariate(1.2)) % (organic_posts // 4)
        when = start + timedelta(hours=rng.uniform(0, 720))
        add(FARM_PAGES + rng.randrange(ORGANIC_PAGES), when, f"https://news.example/{story}")
    rng.shuffle(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        out.writerows(rows)
    return {str(100000 + page) for page in range(FARM_PAGES)}


@pytest.mark.parametrize("period", [None, 3600.0])
def test_a_link_sharing_farm_in_a_sparse_export(tmp_path: Path, period: float | None) -> None:
    """With six-hour periods the pair tests find the farm; with one hour they cannot (the
    farm's 20 posts are most of each of its hours' traffic, 4 organic posts an hour here,
    so under the popularity null its pages were bound to meet), but the account tests
    do: each page meets the others within seconds, link after link, where its shifted
    timeline would meet them rarely. Either way: the farm, one network, nobody else."""
    export = tmp_path / "export.csv"
    farm = _export(export, organic_posts=3000)
    case = tmp_path / "case.duckdb"
    assert ingest(case, [export]).files[0].rejected == 0
    params = DetectParams(traces=("co-link",))
    if period is not None:
        params = DetectParams(traces=("co-link",), period_s=period)
    result = detect(case, params)
    members = {str(a) for (a,) in query(case, "SELECT account_id FROM account_scores")}
    assert result.networks == 1
    assert members == farm
    assert result.accounts_significant["co-link"] == len(farm)
    if period is None:
        assert result.significant["co-link"] > 0
    else:
        assert result.significant["co-link"] == 0
    words = "6-hour period" if period is None else "1-hour period"
    lines = [str(r[0]) for r in query(case, "SELECT line FROM account_evidence")]
    assert lines and all(words in x for x in lines), lines[:1]
