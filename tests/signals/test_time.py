"""Time signals: creation bursts and shift-work rhythm, on real DuckDB cases.

Simulated cases carry their truth in labels.csv (farm members are created in batches and
post in office hours in UTC+1 and UTC+3:30); hand-made cases plant one thing each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import query
from trollscope.case import Case
from trollscope.model import ACCOUNTS_SCHEMA, POSTS_SCHEMA
from trollscope.signals import SIGNALS, SignalParams
from trollscope.signals.creation import dispersion, local_rate, log_tail
from trollscope.signals.rhythm import cosine, load_profiles, similarity
from trollscope.signals.run import signals
from trollscope.simulate import SimulationConfig, simulate

# Three thousand organic accounts over two weeks with two weekends; farms of 150 and 60.
SIM = SimulationConfig(posts=60_000, days=14)
BOTH = ["creation-burst", "rhythm"]


def _rows(case: Path, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
    """`query`, its cells typed loosely for the comparisons below."""
    return query(case, sql, params)


def _case_from_simulation(cfg: SimulationConfig, folder: Path) -> Path:
    """A real case holding a simulated data set (its canonical Parquet files)."""
    simulate(cfg, folder, formats=())
    path = folder / "case.duckdb"
    with Case.open(path, create=True) as case:
        case.con.execute(
            f"INSERT INTO posts SELECT *, 0 FROM read_parquet('{folder}/posts.parquet')"
        )
        case.con.execute(
            f"INSERT INTO accounts SELECT *, 0 FROM read_parquet('{folder}/accounts.parquet')"
        )
    return path


def _flags(case: Path, signal: str) -> dict[str, bool]:
    rows = _rows(case, "SELECT account_id, flagged FROM account_signals WHERE signal = ?", [signal])
    return {str(a): bool(f) for a, f in rows}


def _farms(folder: Path) -> dict[str, str]:
    """account_id -> farm ('' for organic and community accounts)."""
    rows = _rows(
        folder / "case.duckdb",
        f"SELECT account_id, coalesce(farm_id, '') FROM read_csv('{folder}/labels.csv', "
        "all_varchar = true)",
    )
    return {str(a): str(f) for a, f in rows}


@pytest.fixture(scope="module")
def stealth_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Simulated cases at stealth 0, 1 and 2, with both signals computed."""
    out = {}
    for stealth in (0, 1, 2):
        folder = tmp_path_factory.mktemp(f"stealth{stealth}")
        case = _case_from_simulation(SIM.with_stealth(stealth), folder)
        signals(case, BOTH)
        out[stealth] = folder
    return out


@pytest.fixture(scope="module")
def organic_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("organic")
    case = _case_from_simulation(replace(SIM, farms=()), folder)
    signals(case, BOTH, SignalParams(alpha=0.01))
    return case


def test_both_signals_are_registered() -> None:
    assert {"creation-burst", "rhythm"} <= set(SIGNALS)


# -- creation bursts ------------------------------------------------------------------


@pytest.mark.parametrize(("stealth", "min_recall"), [(0, 0.95), (1, 0.95), (2, 0.75)])
def test_planted_creation_bursts_are_found_with_their_members(
    stealth_cases: dict[int, Path], stealth: int, min_recall: float
) -> None:
    folder = stealth_cases[stealth]
    farms = _farms(folder)
    flags = _flags(folder / "case.duckdb", "creation-burst")
    members = {a for a, f in farms.items() if f}
    flagged = {a for a, f in flags.items() if f}
    recall = len(flagged & members) / len(members)
    organic = len(farms) - len(members)
    assert recall >= min_recall, (stealth, recall)
    # Organic accounts created in the same hours are in a burst too: few of them.
    assert len(flagged - members) <= 0.01 * organic
    assert len(flagged & members) / len(flagged) >= 0.9


def test_burst_table_and_histogram_tell_the_same_story(stealth_cases: dict[int, Path]) -> None:
    case = stealth_cases[0] / "case.duckdb"
    bursts = _rows(
        case,
        'SELECT start, "end", resolution, accounts, baseline, p_value FROM creation_bursts '
        "ORDER BY accounts DESC",
    )
    assert bursts, "no burst found at stealth 0"
    start, end, resolution, accounts, baseline, p_value = bursts[0]
    assert isinstance(start, datetime) and isinstance(end, datetime)
    # The farm of 150 was created within six hours; its burst is that short, not a day.
    assert timedelta(hours=5) <= end - start <= timedelta(hours=12)
    assert resolution == f"{(end - start).seconds // 3600}h"
    assert 0 < float(p_value) <= 0.01
    assert int(accounts) > 20 * float(baseline)
    # The accounts the table counts are the flagged accounts created in that window.
    inside = _rows(
        case,
        "SELECT count(*) FROM accounts JOIN account_signals s USING (platform, account_id) "
        "WHERE s.signal = 'creation-burst' AND s.flagged AND created_at >= ? AND created_at < ?",
        [start, end],
    )
    assert inside[0][0] == accounts
    # The histogram counts every account with a creation date, once.
    total = _rows(case, "SELECT sum(accounts) FROM creation_histogram")[0][0]
    assert total == _rows(case, "SELECT count(created_at) FROM accounts")[0][0]


def _accounts_case(path: Path, created: Iterable[datetime | None]) -> Path:
    """A real case whose accounts were created at the given times (no posts)."""
    times = list(created)
    table = pa.table(
        {
            "platform": ["twitter"] * len(times),
            "account_id": [f"a{i:05d}" for i in range(len(times))],
            "created_at": pa.array(times, pa.timestamp("us")),
        }
    )
    columns = {
        f.name: table.column(f.name)
        if f.name in table.column_names
        else pa.nulls(len(times), f.type)
        for f in ACCOUNTS_SCHEMA
    }
    with Case.open(path, create=True) as case:
        case.con.register("hand", pa.table(columns, schema=ACCOUNTS_SCHEMA))
        case.con.execute("INSERT INTO accounts SELECT *, 0 FROM hand")
    return path


def _background(
    rng: np.random.Generator, n: int, days: int, hours: np.ndarray | None = None
) -> list[datetime]:
    """`n` creations spread over `days` days from 2022-01-01, uniform in the day unless
    `hours` gives the share of each hour of the day."""
    day = rng.integers(0, days, size=n)
    hour = rng.choice(24, size=n, p=hours) if hours is not None else rng.integers(0, 24, size=n)
    second = rng.integers(0, 3600, size=n)
    t0 = datetime(2022, 1, 1)
    return [
        t0 + timedelta(days=int(d), hours=int(h), seconds=int(s))
        for d, h, s in zip(day, hour, second, strict=True)
    ]


def test_hand_made_burst_of_forty_in_two_hours(case_path: Path) -> None:
    rng = np.random.default_rng(7)
    organic = _background(rng, 2000, 730)  # about 2.7 a day
    planted = [
        datetime(2023, 5, 10, 14) + timedelta(seconds=int(s)) for s in rng.integers(0, 7200, 40)
    ]
    _accounts_case(case_path, organic + planted)
    signals(case_path, ["creation-burst"])
    flags = _flags(case_path, "creation-burst")
    ids = [f"a{i:05d}" for i in range(len(organic) + len(planted))]
    planted_ids = set(ids[len(organic) :])
    flagged = {a for a, f in flags.items() if f}
    assert planted_ids <= flagged
    assert len(flagged - planted_ids) <= 1  # an organic account created in those two hours
    bursts = _rows(case_path, 'SELECT start, "end", accounts FROM creation_bursts')
    assert len(bursts) == 1
    start, end, accounts = bursts[0]
    assert start <= datetime(2023, 5, 10, 14) and end >= datetime(2023, 5, 10, 16)
    assert end - start <= timedelta(hours=3)
    evidence = _rows(
        case_path,
        "SELECT evidence FROM account_signals WHERE signal = 'creation-burst' AND account_id = ?",
        [ids[-1]],
    )[0][0]
    assert f"with {int(accounts) - 1} other accounts" in str(evidence)
    assert "2023-05-10 14:00" in str(evidence)


def test_dates_without_time_of_day_are_scanned_by_day(case_path: Path) -> None:
    rng = np.random.default_rng(8)
    days = [datetime(2022, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 730, 3000)]
    planted = [datetime(2023, 5, 10)] * 45
    _accounts_case(case_path, days + planted)
    signals(case_path, ["creation-burst"])
    bursts = _rows(case_path, 'SELECT start, "end", resolution, accounts FROM creation_bursts')
    assert [(b[0], b[2]) for b in bursts] == [(datetime(2023, 5, 10), "1d")]
    flagged = _rows(
        case_path,
        "SELECT count(*) FROM account_signals WHERE signal = 'creation-burst' AND flagged",
    )[0][0]
    assert flagged == bursts[0][3] >= 45


def test_busy_hours_of_the_day_are_not_bursts(case_path: Path) -> None:
    """Sign-ups follow the clock: 70% of these are made between 19h and 21h UTC. The
    hourly baseline follows the data's own hour-of-day profile, so the evening peak
    (about 35 an hour against a flat 2.3) is nothing unusual."""
    hours = np.full(24, 0.3 / 22)
    hours[19] = hours[20] = 0.35
    _accounts_case(case_path, _background(np.random.default_rng(9), 20_000, 365, hours))
    signals(case_path, ["creation-burst"])
    assert _rows(case_path, "SELECT count(*) FROM creation_bursts")[0][0] == 0


def test_local_rate_is_not_raised_by_a_burst() -> None:
    daily = np.full(400, 10.0)
    daily[200] = 300.0
    rate = local_rate(daily)
    # The trimmed +-30-day mean ignores the burst; the +-182-day floor dilutes it.
    assert rate[200] == pytest.approx((365 * 10 + 290) / 365)
    assert rate[0] == pytest.approx(10.0)


def test_dispersion_is_estimated_from_the_days() -> None:
    rng = np.random.default_rng(3)
    m = np.full(3000, 50.0)
    poisson = rng.poisson(m).astype(np.float64)
    assert dispersion(poisson, m) < 0.01
    # Daily rates varying by a gamma factor with squared coefficient of variation 0.1.
    waves = rng.poisson(m * rng.gamma(10.0, 0.1, size=3000)).astype(np.float64)
    assert dispersion(waves, m) == pytest.approx(0.1, abs=0.03)
    # A few bursts do not make the days look overdispersed.
    bursts = poisson.copy()
    bursts[::300] += 400
    assert dispersion(bursts, m) < 0.01


def test_tail_probabilities_match_the_formulas() -> None:
    # P(X >= 3) for Poisson(1) = 1 - e^-1 (1 + 1 + 1/2).
    expected = 1 - math.exp(-1) * 2.5
    assert math.exp(log_tail(np.array([3.0]), np.array([1.0]), 0.0)[0]) == pytest.approx(expected)
    # Negative binomial with r = 1 (s2 = 1) is geometric: P(X >= k) = (mu / (1 + mu))^k.
    got = math.exp(log_tail(np.array([4.0]), np.array([2.0]), 1.0)[0])
    assert got == pytest.approx((2 / 3) ** 4)
    # Far tails that underflow still rank: a larger count is less likely.
    far = log_tail(np.array([900.0, 1000.0]), np.array([1.0, 1.0]), 0.0)
    assert far[1] < far[0] < -1000


# -- rhythm ---------------------------------------------------------------------------


def test_shift_schedule_is_recovered_with_its_time_zone(stealth_cases: dict[int, Path]) -> None:
    folder = stealth_cases[0]
    farms = _farms(folder)
    rows = _rows(folder / "case.duckdb", "SELECT account_id, utc_offset FROM rhythm_scores")
    offsets: dict[str, list[float]] = {}
    for account, offset in rows:
        offsets.setdefault(farms[str(account)], []).append(float(offset))
    # The simulator's farms work 09-18 in UTC+1 and UTC+3:30, with lunch at 13h.
    assert np.mean(np.array(offsets["farm1"]) == 1.0) >= 0.95
    assert np.mean(np.array(offsets["farm2"]) == 3.5) >= 0.95
    flags = _flags(folder / "case.duckdb", "rhythm")
    members = {a for a, f in farms.items() if f}
    assert sum(flags.get(a, False) for a in members) >= 0.95 * len(members)
    organic_flagged = sum(f for a, f in flags.items() if a not in members)
    assert organic_flagged <= 0.01 * (len(flags) - len(members & set(flags)))
    evidence = _rows(
        folder / "case.duckdb",
        "SELECT s.evidence FROM account_signals s JOIN rhythm_scores r "
        "USING (platform, account_id) "
        "WHERE s.signal = 'rhythm' AND s.flagged AND r.utc_offset = 1 LIMIT 1",
    )[0][0]
    assert "Mon-Fri 09-18 UTC+1," in str(evidence)
    assert "none at weekends" in str(evidence) and "lunch dip at 13h" in str(evidence)


def _post_rows(account: str, times: Iterable[datetime]) -> list[dict[str, object]]:
    return [
        {"platform": "twitter", "post_id": f"{account}-{i}", "account_id": account, "created_at": t}
        for i, t in enumerate(times)
    ]


def _posts_case(path: Path, rows: list[dict[str, object]]) -> Path:
    columns = {
        f.name: pa.array([r.get(f.name) for r in rows], f.type)
        if f.name in rows[0]
        else pa.nulls(len(rows), f.type)
        for f in POSTS_SCHEMA
    }
    columns["kind"] = pa.array(["post"] * len(rows), pa.string())
    with Case.open(path, create=True) as case:
        case.con.register("hand", pa.table(columns, schema=POSTS_SCHEMA))
        case.con.execute("INSERT INTO posts SELECT *, 0 FROM hand")
    return path


def test_hand_made_shift_in_new_york_and_a_thread_at_work(case_path: Path) -> None:
    rng = np.random.default_rng(11)
    monday = datetime(2024, 3, 4)
    rows: list[dict[str, object]] = []
    # The shift: weekdays of three weeks, local 09-17 except 12h, in UTC-5.
    shift = [
        monday + timedelta(days=7 * w + d, hours=int(h) + 5, minutes=int(rng.integers(60)))
        for w in range(3)
        for d in range(5)
        for h in rng.choice([9, 10, 11, 13, 14, 15, 16, 17], size=6, replace=False)
    ]
    rows += _post_rows("shift", shift)
    # People: any day, mostly evenings in their own time zone.
    evening = np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, 6, 8, 9, 9, 8, 5, 2.0])
    for k in range(60):
        tz = int(rng.integers(-6, 6))
        hours = rng.choice(24, size=40, p=evening / evening.sum())
        days = rng.integers(0, 21, size=40)
        rows += _post_rows(
            f"person{k}",
            [
                monday + timedelta(days=int(d), hours=int(h) - tz, minutes=int(rng.integers(60)))
                for d, h in zip(days, hours, strict=True)
            ],
        )
    # A person who posted a thread of 40 at 10h UTC on a Tuesday, and eight evenings.
    # Counted in posts, 83% of it would be in office hours.
    thread = [monday + timedelta(days=1, hours=10, seconds=20 * i) for i in range(40)]
    thread += [monday + timedelta(days=d, hours=20) for d in (0, 2, 5, 6, 8, 12, 15, 19)]
    rows += _post_rows("thread", thread)
    _posts_case(case_path, rows)
    signals(case_path, ["rhythm"])
    scores = {
        str(r[0]): r[1:]
        for r in _rows(
            case_path,
            "SELECT account_id, utc_offset, office_share, weekend_share, lunch_hour, lunch_dip "
            "FROM rhythm_scores",
        )
    }
    assert scores["shift"] == (-5.0, 1.0, 0.0, 12, 1.0)
    flags = _flags(case_path, "rhythm")
    assert flags["shift"] and not flags["thread"]
    assert sum(flags[f"person{k}"] for k in range(60)) == 0
    evidence = _rows(
        case_path,
        "SELECT evidence FROM account_signals WHERE signal = 'rhythm' AND account_id = 'shift'",
    )[0][0]
    assert str(evidence).startswith("100% of 90 active half-hours (90 posts) Mon-Fri 09-18 UTC-5,")
    assert "none at weekends; lunch dip at 12h" in str(evidence)


def test_profiles_are_stored_and_shift_workers_share_a_rhythm(
    stealth_cases: dict[int, Path],
) -> None:
    folder = stealth_cases[0]
    case = folder / "case.duckdb"
    with Case.open(case, read_only=True) as opened:
        keys, matrix = load_profiles(opened.con)
    ids = keys.column("account_id").to_pylist()
    # Every profile holds all of its account's posts (counted here from the posts table).
    posts = dict(_rows(case, "SELECT account_id, count(*) FROM posts GROUP BY 1"))
    assert all(matrix[i].sum() == posts[a] for i, a in enumerate(ids))
    farms = _farms(folder)
    farm1 = [i for i, a in enumerate(ids) if farms[a] == "farm1"]
    organic = [i for i, a in enumerate(ids) if not farms[a]][:200]
    sim = similarity(matrix)
    within = sim[np.ix_(farm1, farm1)][np.triu_indices(len(farm1), 1)]
    across = sim[np.ix_(farm1, organic)]
    assert within.mean() > 0.9 > 0.6 > across.mean()
    assert np.allclose(sim, sim.T)


def test_cosine_of_profiles() -> None:
    a = np.zeros(168)
    a[[33, 34, 35]] = [1, 2, 3]
    assert cosine(a, 10 * a) == pytest.approx(1.0)
    b = np.zeros(168)
    b[[130, 131]] = 5
    assert cosine(a, b) == 0.0
    assert cosine(a, np.zeros(168)) == 0.0
    assert cosine(a, a + b) == pytest.approx(math.sqrt(14) / math.sqrt(14 + 50))


# -- false positives ------------------------------------------------------------------


def test_organic_only_data_is_rarely_flagged(organic_case: Path) -> None:
    for signal in BOTH:
        scored, flagged = _rows(
            organic_case,
            "SELECT count(*), count(*) FILTER (WHERE flagged) FROM account_signals "
            "WHERE signal = ?",
            [signal],
        )[0]
        assert int(scored) > 500, signal
        assert int(flagged) <= 0.01 * int(scored), signal


def test_empty_case_gives_empty_results(case_path: Path) -> None:
    with Case.open(case_path, create=True):
        pass
    assert signals(case_path, BOTH) == {"creation-burst": 0, "rhythm": 0}
    for table in ("creation_bursts", "creation_histogram", "rhythm_profiles", "rhythm_scores"):
        assert _rows(case_path, f"SELECT count(*) FROM {table}")[0][0] == 0
