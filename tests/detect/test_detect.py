"""Detection: the pair tests against values worked out by hand and a resampled null,
hand-made farms found and jittered ones not, and the calibration and detection targets
on simulated and real data."""

from __future__ import annotations

import json
import math
import random
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.compute as pc
import pytest

from tests.conftest import DATA, T0, query
from tests.detect import DETECT_TABLES
from trollscope.detect.networks import simes_log_p
from trollscope.detect.pairtest import log_pvalues, pair_tests
from trollscope.detect.params import DetectParams
from trollscope.detect.run import detect
from trollscope.engine.run import edges
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest

HOUR = 3600


def _shares(tmp_path: Path, rows: list[tuple[str, str, int]]) -> Path:
    """A CooRTweet shares file from (object, account, seconds); content ids numbered."""
    path = tmp_path / "shares.csv"
    lines = ["object_id,account_id,content_id,timestamp_share"]
    lines += [f"{o},{a},c{i},{T0 + t}" for i, (o, a, t) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _organic(rng: random.Random, accounts: int = 60, posts: int = 40) -> list[tuple[str, str, int]]:
    """Organic reposting: each account reposts 10 random posts at random times over 12
    hours, and one viral post draws 40 accounts within five minutes."""
    rows = []
    for a in range(accounts):
        for _ in range(10):
            rows.append((f"p{rng.randrange(posts)}", f"o{a}", rng.randrange(12 * HOUR)))
    for a in rng.sample(range(accounts), 40):
        rows.append(("viral", f"o{a}", 3 * HOUR + rng.randrange(300)))
    return rows


def _farm(rng: random.Random, offsets: dict[str, int] | None = None) -> list[tuple[str, str, int]]:
    """Five accounts reposting twelve posts that nobody else touches, one an hour, each
    within ten seconds of the first; `offsets` shifts a member's whole timeline."""
    rows = []
    for k in range(12):
        for m in range(5):
            member = f"f{m}"
            shift = (offsets or {}).get(member, 0)
            rows.append((f"t{k}", member, k * HOUR + 600 + rng.randrange(10) + shift))
    return rows


def detected_farm(folder: Path) -> Path:
    """A case in `folder`: the five-member farm among organic reposters, detected on
    co-repost (one network). Shared by the report, export and write-error tests."""
    case = folder / "case.duckdb"
    rng = random.Random(3)
    ingest(case, [_shares(folder, _organic(rng) + _farm(rng))])
    detect(case, DetectParams(traces=("co-repost",)))
    return case


# -- the tests' arithmetic, by hand --------------------------------------------------


def test_repeat_pvalue_is_the_conditional_poisson_tail() -> None:
    e = 0.5
    # P(X >= 3) / P(X >= 1) for X ~ Poisson(0.5), written out.
    tail = 1 - math.exp(-e) * (1 + e + e * e / 2)
    want = tail / (1 - math.exp(-e))
    got = log_pvalues(np.array([3, 1, 0]), np.array([e, e, e]))
    assert math.isclose(math.exp(got[0]), want, rel_tol=1e-9)
    assert got[1] == 0.0 and got[2] == 0.0  # one meeting is what made the pair a candidate


def test_repeat_pvalue_far_in_the_tail_is_a_number() -> None:
    # scipy's logsf underflowed to -inf there, and -inf reached account_tests.log_p.
    # For tiny E, P(X >= S) / P(X >= 1) is E^(S - 1) / S! to many digits.
    got = log_pvalues(np.array([50, 400]), np.array([1e-10, 2.0]))
    assert np.isfinite(got).all()
    assert math.isclose(got[0], 49 * math.log(1e-10) - math.lgamma(51), rel_tol=1e-9)
    want = 400 * math.log(2.0) - 2.0 - math.lgamma(401) - math.log(1 - math.exp(-2.0))
    assert math.isclose(got[1], want, rel_tol=1e-3)


def test_evidence_names_the_period_in_words() -> None:
    from trollscope.detect.words import period_words

    assert period_words(21600) == "6-hour period"
    assert period_words(5400) == "90-minute period"
    assert period_words(90) == "90-second period"
    assert period_words(0.5) == "0.5-second period"


def _tagged(tmp_path: Path, case_path: Path, rows: list[tuple[str, str, int, str]]) -> None:
    """Ingest (post id, account, seconds, hashtag) rows; a post's rows give its tags."""
    path = tmp_path / "tags.csv"
    lines = ["id,user,t,tag", *(f"{p},{a},{T0 + t},{g}" for p, a, t, g in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = parse_mapping("post=id,account=user,time=t,hashtag=tag")
    ingest(case_path, [path], options=ReadOptions(mapping=mapping))


def _background(rng: random.Random) -> list[tuple[str, str, int, str]]:
    """Forty accounts using twenty tags at random over a day: the popularity around."""
    return [
        (f"bg{a}-{i}", f"bg{a}", rng.randrange(24 * HOUR), f"tag{rng.randrange(20)}")
        for a in range(40)
        for i in range(12)
    ]


def test_live_tweeters_whose_bursts_overlap_are_not_synchronised(
    tmp_path: Path, case_path: Path
) -> None:
    """Two accounts live-tweet three shows, thirty posts each on the show's tag within its
    hour: they meet within a minute on every show's tag. Each show is one unit whose
    meeting the jitter makes certain (30 x 30 chances), so nothing is significant; with
    one rate per key, the three tags were three rare coincidences."""
    rng = random.Random(5)
    rows = _background(rng)
    for show in range(3):
        start = show * 8 * HOUR
        for account in ("x", "y"):
            for i in range(30):
                rows.append(
                    (f"{account}{show}-{i}", account, start + rng.randrange(HOUR), f"show{show}")
                )
    _tagged(tmp_path, case_path, rows)
    edges(case_path, "co-hashtag", 60)
    tested = pair_tests(duckdb.connect(str(case_path)), "co-hashtag", 6 * HOUR).table
    pair = tested.filter(pc.equal(tested.column("account_a"), "x"))
    assert pair.column("keys").to_pylist() == [3]  # they met within the window on all three
    assert pair.column("sync_periods").to_pylist() == [3]
    assert pair.column("sync_expected").to_pylist() == [3.0]  # each unit: certain to meet
    assert math.exp(pair.column("sync_log_p")[0].as_py()) > 0.5


def test_one_post_with_many_tags_is_one_coincidence(tmp_path: Path, case_path: Path) -> None:
    """x and y each post once, ten seconds apart, with the same six tags, and never
    again: six keys met within the window, but one pair of posts, so one unit."""
    rng = random.Random(6)
    rows = _background(rng)
    for account, t in (("x", 5 * HOUR), ("y", 5 * HOUR + 10)):
        rows += [(f"{account}-post", account, t, f"rare{k}") for k in range(6)]
    _tagged(tmp_path, case_path, rows)
    edges(case_path, "co-hashtag", 60)
    tested = pair_tests(duckdb.connect(str(case_path)), "co-hashtag", 6 * HOUR).table
    pair = tested.filter(pc.equal(tested.column("account_a"), "x"))
    assert pair.column("keys").to_pylist() == [6]
    assert pair.column("sync_periods").to_pylist() == [1]
    assert pair.column("sync_log_p").to_pylist() == [0.0]


def test_synchrony_rate_matches_the_resampled_jitter_null() -> None:
    """rho = (2W + tick) / P, the chance that a same-period meeting falls within W under
    the jitter null, against the null itself: a pair that acted together on 100 keys
    over a week, each account's whole timeline shifted by its own offset in +-1 day,
    400,000 times; the meetings within W over the meetings in one period. (One shift
    moves all of a pair's meetings at once, so few of the draws realign it: hence many.)"""
    window, period, jitter, tick = 60.0, 3600.0, 86400.0, 1.0
    draws = np.random.default_rng(7)
    times = np.sort(draws.uniform(0, 7 * 86400, 100)).round()  # seconds, on a 1 s tick
    lag = draws.uniform(0, 20, 100).round()  # b acts within 20 s of a, as farms do
    within = same_period = 0
    for _ in range(40):
        off = draws.uniform(-jitter, jitter, (10_000, 2)).round()
        ta = times[None, :] + off[:, :1]
        tb = times[None, :] + lag[None, :] + off[:, 1:]
        same = (ta // period) == (tb // period)
        same_period += int(same.sum())
        within += int((same & (np.abs(ta - tb) <= window)).sum())
    rho = (2 * window + tick) / period
    assert math.isclose(within / same_period, rho, rel_tol=0.1), (within / same_period, rho)


def test_simes_combination() -> None:
    p = np.array([0.01, 0.04, 0.5])
    want = min(3 * 0.01 / 1, 3 * 0.04 / 2, 3 * 0.5 / 3)
    assert math.isclose(math.exp(simes_log_p(np.log(p))), want, rel_tol=1e-9)
    assert simes_log_p(np.array([])) == 0.0
    # Two more tests ran with p = 1 (not listed): m = 5.
    want = min(5 * 0.01 / 1, 5 * 0.04 / 2, 5 * 0.5 / 3)
    assert math.isclose(math.exp(simes_log_p(np.log(p), tests=5)), want, rel_tol=1e-9)


def test_expected_meetings_match_the_resampled_popularity_null(
    tmp_path: Path, case_path: Path
) -> None:
    """E_ab from the SQL against a Monte Carlo of the null it stands for: in every hour,
    each account's picks redrawn in proportion to the keys' popularity that hour."""
    rng = random.Random(5)
    rows = _organic(rng)
    ingest(case_path, [_shares(tmp_path, rows)])
    edges(case_path, "co-repost", 3600)
    con = duckdb.connect(str(case_path))
    table = pair_tests(con, "co-repost", HOUR).table.to_pydict()
    con.close()
    assert len(table["expected"]) > 50

    picks: dict[tuple[str, int], set[str]] = defaultdict(set)  # (account, hour) -> keys
    for key, account, t in rows:
        picks[(account, t // HOUR)].add(key)
    popularity: dict[int, Counter[str]] = defaultdict(Counter)
    for (_account, hour), keys in picks.items():
        # Sorted: a set's order follows the string hash, which changes from run to run, and
        # so would the draws below (one run in a dozen missed the tolerance).
        popularity[hour].update(sorted(keys))
    draws = np.random.default_rng(1)
    meetings = np.zeros(len(table["expected"]))
    reps = 400
    pairs = list(zip(table["account_a"], table["account_b"], strict=True))
    for _ in range(reps):
        drawn: dict[tuple[str, int], np.ndarray] = {}
        for (account, hour), keys in picks.items():
            names = list(popularity[hour])
            weights = np.array([popularity[hour][k] for k in names], dtype=float)
            drawn[(account, hour)] = draws.choice(len(names), len(keys), p=weights / weights.sum())
        for i, (a, b) in enumerate(pairs):
            for hour in range(12):
                x, y = drawn.get((a, hour)), drawn.get((b, hour))
                if x is not None and y is not None:
                    meetings[i] += (x[:, None] == y[None, :]).sum()
    resampled = meetings / reps
    expected = np.array(table["expected"])
    assert math.isclose(resampled.sum(), expected.sum(), rel_tol=0.03)
    big = expected > 0.5
    assert big.sum() > 10
    assert np.allclose(resampled[big], expected[big], rtol=0.25)


# -- hand-made farms ------------------------------------------------------------------


def _networks(case: Path) -> list[set[str]]:
    rows = query(case, "SELECT network, account_id FROM account_scores ORDER BY network")
    found: dict[int, set[str]] = defaultdict(set)
    for network, account in rows:
        found[int(network)].add(str(account))  # type: ignore[call-overload]
    return list(found.values())


def test_a_synchronised_farm_is_one_network_and_nobody_else_is_flagged(
    tmp_path: Path, case_path: Path
) -> None:
    rng = random.Random(3)
    ingest(case_path, [_shares(tmp_path, _organic(rng) + _farm(rng))])
    result = detect(case_path, DetectParams(traces=("co-repost",)))
    assert _networks(case_path) == [{f"f{m}" for m in range(5)}]
    assert result.flagged_accounts == 5 and result.networks == 1
    assert result.significant["co-repost"] == 10  # every pair of the five
    pairs = query(case_path, "SELECT line FROM account_evidence WHERE test = 'pair'")
    lines = [str(r[0]) for r in pairs]
    assert len(lines) == 5 * 4  # each member, its four partners
    assert all(line.startswith("reposted 12 of the same posts as @f") for line in lines)
    assert all("within 60 s" in line for line in lines)
    # And each member's account test: the same posts as its four partners, every time.
    own = query(case_path, "SELECT line FROM account_evidence WHERE test = 'account'")
    assert len(own) == 5
    assert all(
        str(r[0]).startswith("reposted the same posts as 4 other accounts within 60 s, on 12")
        for r in own
    )
    net = query(case_path, "SELECT size, pairs, density, traces FROM networks")[0]
    assert net[:3] == (5, 10, 1.0)
    assert net[3] == [{"trace": "co-repost", "pairs": 10}]


def test_a_farm_jittered_apart_repeats_but_is_not_synchronised(
    tmp_path: Path, case_path: Path
) -> None:
    """The same farm with each member's timeline shifted by its own offset within +-1
    day (the jitter null): it still reposts the same posts, never together."""
    rng = random.Random(3)
    offsets = {f"f{m}": rng.randrange(-86400, 86400) for m in range(5)}
    ingest(case_path, [_shares(tmp_path, _organic(rng) + _farm(rng, offsets))])
    result = detect(case_path, DetectParams(traces=("co-repost",)))
    assert result.flagged_accounts == 0
    assert query(case_path, "SELECT count(*) FROM networks") == [(0,)]


def test_a_failed_detection_leaves_the_previous_one(tmp_path: Path, case_path: Path) -> None:
    rng = random.Random(3)
    ingest(case_path, [_shares(tmp_path, _organic(rng) + _farm(rng))])
    detect(case_path, DetectParams(traces=("co-repost",)))
    before = query(case_path, "SELECT * FROM account_scores ORDER BY account_id")
    with pytest.raises(Exception, match="q"):
        detect(case_path, DetectParams(traces=("co-repost",), q=2.0))
    assert query(case_path, "SELECT * FROM account_scores ORDER BY account_id") == before


# -- calibration and detection on simulated data (slow) -------------------------------

SIM_POSTS = 300_000  # farms keep their full size and habits; the organic crowd shrinks


def _simulated(folder: Path, stealth: int | None, seed: int = 2) -> tuple[Path, Path]:
    """Simulate (stealth None: organic only, no farms or communities), ingest, detect."""
    from dataclasses import replace

    from trollscope.simulate import SimulationConfig, simulate

    config = replace(SimulationConfig(), posts=SIM_POSTS, seed=seed)
    if stealth is None:
        config = replace(config, farms=(), communities=())
    else:
        config = config.with_stealth(stealth)
    simulate(config, folder / "sim", formats=("io-tweets",))
    case = folder / "case.duckdb"
    ingest(case, [folder / "sim" / "io_tweets.csv"])
    detect(case)
    return case, folder / "sim" / "labels.csv"


@pytest.mark.slow
def test_organic_only_data_with_viral_cascades_flags_almost_nobody(tmp_path: Path) -> None:
    case, _labels = _simulated(tmp_path, None)
    accounts = query(case, "SELECT count(*) FROM accounts")[0][0]
    flagged = query(case, "SELECT count(*) FROM account_scores")[0][0]
    cascades = query(
        case,
        """SELECT count(*) FROM (SELECT ref_post_id FROM posts WHERE kind = 'repost'
           GROUP BY ref_post_id HAVING count(DISTINCT account_id) >= 200)""",
    )[0][0]
    assert cascades >= 10  # the null has viral cascades to explain
    assert flagged <= 0.005 * accounts, (flagged, accounts)  # type: ignore[operator]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stealth", "min_f1", "min_ari"), [(0, 0.95, 0.9), (1, 0.95, 0.9), (2, 0.8, None)]
)
def test_planted_farms_are_found_and_communities_are_not_called_inauthentic(
    tmp_path: Path, stealth: int, min_f1: float, min_ari: float | None
) -> None:
    from trollscope.simulate.evaluate import evaluate

    case, labels = _simulated(tmp_path, stealth)
    result = evaluate(labels, None, case)
    assert result.farms.f1 >= min_f1, result.farms
    if min_ari is not None:
        assert result.farms.adjusted_rand >= min_ari, result.farms
    assert result.communities_called_inauthentic == 0
    # Every planted farm is labelled inauthentic: the verdict is not coordination alone.
    verdicts = query(case, "SELECT count(*) FROM networks WHERE inauthentic")[0][0]
    assert verdicts >= 2  # type: ignore[operator]


# -- calibration on real data: CooRTweet's two data sets, jittered and as they are -------

COORTWEET = ("russian_coord_tweets.csv", "german_elections.csv")


def _jitter_timelines(case: Path, jitter: int, seed: int) -> int:
    """Shift each account's whole timeline by its own offset, uniform in +-jitter
    seconds; returns the number of accounts."""
    con = duckdb.connect(str(case))
    accounts = [str(a) for (a,) in con.execute("SELECT DISTINCT account_id FROM posts").fetchall()]
    rng = np.random.default_rng(seed)
    shifts = rng.integers(-jitter * 10**6, jitter * 10**6, len(accounts), endpoint=True)
    con.execute("CREATE TEMP TABLE shifts (account_id VARCHAR, us BIGINT)")
    con.executemany(
        "INSERT INTO shifts VALUES (?, ?)", list(zip(accounts, shifts.tolist(), strict=True))
    )
    before = con.execute("SELECT sum(epoch_us(created_at)) FROM posts").fetchall()[0][0]
    con.execute(
        """UPDATE posts SET created_at = posts.created_at + to_microseconds(s.us)
           FROM shifts s WHERE s.account_id = posts.account_id"""
    )
    after = con.execute("SELECT sum(epoch_us(created_at)) FROM posts").fetchall()[0][0]
    con.close()
    assert before != after  # the timelines did move
    return len(accounts)


@pytest.mark.slow
@pytest.mark.parametrize("name", COORTWEET)
@pytest.mark.parametrize("jitter", [3600, 86400])
def test_real_coordinated_data_jittered_per_account_flags_almost_nobody(
    shared_data: Path, tmp_path: Path, name: str, jitter: int
) -> None:
    """Each account's whole timeline shifted by its own offset, uniform in +-J: the
    accounts keep what they share and their rhythm, and lose their synchrony."""
    case = tmp_path / "case.duckdb"
    ingest(case, [shared_data / "coortweet" / name])
    accounts = _jitter_timelines(case, jitter, seed=11)
    result = detect(case)
    assert sum(result.tested.values()) > 100  # coincidences within the window remain
    assert result.flagged_accounts <= 0.005 * accounts


@pytest.mark.slow
def test_the_same_run_on_the_data_as_it_is_finds_networks(
    shared_data: Path, tmp_path: Path
) -> None:
    """german_elections (links, hashtags, domains and image hashes shared on Facebook):
    accounts that shared the same links within a minute, again and again. (On
    russian_coord_tweets no pair passes: docs/significance.md says why.)"""
    case = tmp_path / "case.duckdb"
    ingest(case, [shared_data / "coortweet" / "german_elections.csv"])
    result = detect(case)
    assert result.networks >= 10
    assert result.significant["co-link"] >= 100
    sizes = [int(n) for (n,) in query(case, "SELECT size FROM networks")]  # type: ignore[call-overload]
    assert max(sizes) >= 10


# -- the command line -----------------------------------------------------------------


def test_detect_and_scan_print_hostile_strings_literally(tmp_path: Path) -> None:
    """Hashtags and handles are the data's: rich markup in them is shown, not applied."""
    from click.testing import CliRunner

    from trollscope.cli import cli

    rng = random.Random(3)
    lines = ["id,user,time,orig,orig_user,tag,handle"]
    for i, (key, account, t) in enumerate(_organic(rng) + _farm(rng)):
        tag = "[i]x[/i]" if account.startswith("f") else f"topic{i % 7}"
        lines.append(f"p{i},{account},{T0 + t},{key},[b]v[/b],{tag},[blink]{account}")
    data = tmp_path / "shares.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = (
        "post_id=id,account_id=user,created_at=time,repost_of=orig,ref_account_id=orig_user,"
        "hashtags=tag,handle=handle"
    )
    out_dir = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["scan", str(data), "-o", str(out_dir), "--map", mapping, "--trace", "co-repost"],
    )
    assert result.exit_code == 0, result.output
    assert "5 accounts in 1 networks" in result.stdout
    assert "[i]x[/i]" in result.stdout
    assert "[b]v[/b]" in result.stdout
    case = out_dir / "case.duckdb"
    lines_of_f0 = query(
        case, "SELECT line FROM account_evidence WHERE account_id = 'f0' AND test = 'pair'"
    )
    assert lines_of_f0 and all("@[blink]f" in str(line[0]) for line in lines_of_f0)

    again = CliRunner().invoke(cli, ["detect", str(case), "--trace", "co-repost", "--json"])
    assert again.exit_code == 0, again.output
    found = json.loads(again.stdout)
    assert found["flagged_accounts"] == 5 and found["networks"] == 1
    assert found["significant"] == {"co-repost": 10}
    assert found["networks_top"][0]["size"] == 5
    assert found["networks_top"][0]["hashtags"][0] == "[i]x[/i]"
    bad = CliRunner().invoke(cli, ["detect", str(case), "--period", "0"])
    assert bad.exit_code == 2 and "--period" in bad.output
    # The CLI writes the library's default period out (it imports detect late): same value.
    [run] = query(case, "SELECT params FROM detect_runs ORDER BY run_at DESC LIMIT 1")
    assert json.loads(str(run[0]))["period_s"] == DetectParams().period_s


def test_evaluate_without_a_detection_says_what_to_run(tmp_path: Path, case_path: Path) -> None:
    from click.testing import CliRunner

    from trollscope.cli import cli

    ingest(case_path, [_shares(tmp_path, _farm(random.Random(1)))])
    labels = tmp_path / "labels.csv"
    labels.write_text("account_id,farm_id\nf0,x\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", str(case_path), "--labels", str(labels)])
    assert result.exit_code == 1
    assert "trollscope detect" in result.output
    # After a detection: the table says what each row is scored against.
    detect(case_path, DetectParams(traces=("co-repost",)))
    scored = CliRunner().invoke(cli, ["evaluate", str(case_path), "--labels", str(labels)])
    assert scored.exit_code == 0, scored.output
    said = " ".join(scored.stdout.split())
    assert "networks labelled inauthentic;" in said
    assert "farms are scored against the networks labelled inauthentic; communities" in said


def test_the_same_case_gives_the_same_detection_to_the_last_bit(tmp_path: Path) -> None:
    """DuckDB sums floats in whatever order its threads meet them; the IDF grid
    (coaction.py) and the ordered sum of expected meetings (pairtest.py) make the edges'
    scores and the pair tests exact, so a detection repeats byte for byte. At this size
    (the demo's 50k posts, several row groups) two runs differed in the last digits."""
    from dataclasses import replace

    from trollscope.simulate import SimulationConfig, simulate

    simulate(
        replace(SimulationConfig(), posts=50_000, days=7), tmp_path / "sim", formats=("io-tweets",)
    )
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    ingest(first, [tmp_path / "sim" / "io_tweets.csv"])
    shutil.copy(first, second)
    results = []
    for case in (first, second):
        detect(case)
        results.append(
            [query(case, f"SELECT * FROM {table} ORDER BY ALL") for table in DETECT_TABLES]
            + [query(case, "SELECT * FROM edges ORDER BY ALL")]
        )
    assert results[0][0], "the data holds pair tests to compare"
    assert results[0] == results[1]


def test_a_case_of_accounts_and_no_posts_detects_nothing(case_path: Path) -> None:
    # Found by the fuzz tests: an io-users file alone gave content-mix a rates table
    # with no columns, which DuckDB refuses to store, and detect crashed.
    ingest(case_path, [DATA / "ioarchive" / "users.csv"])
    found = detect(case_path)
    assert (found.networks, found.flagged_accounts) == (0, 0)
    assert query(case_path, "SELECT count(*) FROM content_rates") == [(0,)]
