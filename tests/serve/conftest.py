"""The dashboard's test case: organic reposters, a five-account farm that reposts and
copy-pastes in sync (as in tests/detect) with hostile handles, bios, hashtags and texts,
a second, four-account farm copy-pasting in Persian, and one row the reader rejects.
Detected on co-repost and co-text: two networks, and CooRTweet's rule beside them. As a
DuckDB file, and converted to a Parquet case folder."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from tests.detect.test_detect import _farm, _organic
from trollscope.api import convert_case
from trollscope.detect.params import DetectParams
from trollscope.detect.run import detect
from trollscope.ingest.readers.base import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PWN = "<img src=x onerror=\"document.title='pwned'\">"
RLO = "left\u202eright"  # U+202E RIGHT-TO-LEFT OVERRIDE
QUOTES = "'\"></a><svg onload=alert(1)>"
HOSTILE = [SCRIPT, IMG, RLO, PWN, QUOTES]  # the farm's handles, f0..f4
FARM = [f"f{m}" for m in range(5)]
DESK = [f"g{m}" for m in range(4)]  # the second farm
PERSIAN = "این یک پیام هماهنگ است"
T0 = 1_700_000_000


def _rows(rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []

    def row(id_: str, user: str, time: int, orig: str = "", text: str = "") -> None:
        m = int(user[1:]) if user in FARM else -1
        rows.append(
            {
                "id": id_,
                "user": user,
                "time": time,
                "orig": orig,
                "text": text,
                "lang": "en" if text else "",
                "handle": HOSTILE[m] if m >= 0 else f"organic_{user}",
                "bio": HOSTILE[(m + 1) % 5] if m >= 0 else "just me",
                "tag": HOSTILE[m] if m >= 0 else "news",
            }
        )

    for i, (obj, account, t) in enumerate(_organic(rng)):
        row(f"r{i}", account, T0 + t, obj)
    for i, (obj, account, t) in enumerate(_farm(rng)):
        row(f"fr{i}", account, T0 + t, obj)
    for k in range(12):  # twelve copied texts, each posted by all five within ten seconds
        for m in range(5):
            row(f"fp{k}_{m}", f"f{m}", T0 + k * 3600 + 1800 + rng.randrange(10), "",
                f"{SCRIPT} {PWN} {k}")  # fmt: skip
        for m, account in enumerate(DESK):
            row(f"gp{k}_{m}", account, T0 + k * 3600 + 2400 + rng.randrange(10), "",
                f"{PERSIAN} {k}")  # fmt: skip
    for r in rows:
        if r["user"] in DESK:
            r["lang"] = "fa"
    return rows


def build_case(folder: Path) -> Path:
    """The case, ingested from one CSV (kept beside it as posts.csv) and detected."""
    rows = _rows(random.Random(3))
    path = folder / "posts.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        # One row with a time that is no time: rejected with its line, field and reason.
        writer.writerow({**rows[0], "id": "bad1", "time": "not-a-time"})
    case = folder / "case.duckdb"
    mapping = parse_mapping(
        "post_id=id,account_id=user,created_at=time,repost_of=orig,text=text,lang=lang,"
        "handle=handle,bio=bio,hashtags=tag"
    )
    ingest(case, [path], options=ReadOptions(mapping=mapping))
    # With CooRTweet's rule beside the tests: the networks page lists its networks apart.
    detect(case, DetectParams(traces=("co-repost", "co-text"), min_participation=2))
    return case


@pytest.fixture(scope="session")
def served_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_case(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="session")
def served_parquet_case(served_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same case as a Parquet case folder (`case convert`): every page must read the
    same from it."""
    folder = tmp_path_factory.mktemp("serve-parquet") / "case-pq"
    convert_case(served_case, folder)
    return folder
