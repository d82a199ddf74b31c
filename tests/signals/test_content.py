"""The content-mix signal: shares of reposts, copies, hashtags and swarming replies."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from tests.conftest import query
from tests.signals.test_profile import sim_case
from trollscope.case import Case
from trollscope.signals import SignalParams, content
from trollscope.signals.content import compute, fit_null, log_betabinom_tail
from trollscope.signals.run import signals
from trollscope.simulate.config import SimulationConfig, farm_at_stealth

# --- the beta-binomial -------------------------------------------------------------------


def _reference_log_tail(k: int, n: int, a: float, b: float) -> float:
    """ln P(X >= k) for BetaBinomial(n, a, b), its pmf summed term by term (math.lgamma)."""

    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    terms = [
        math.lgamma(n + 1)
        - math.lgamma(x + 1)
        - math.lgamma(n - x + 1)
        + log_beta(x + a, n - x + b)
        - log_beta(a, b)
        for x in range(k, n + 1)
    ]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


@pytest.mark.parametrize(
    ("mu", "rho"), [(0.3, 0.05), (0.02, 0.001), (0.9, 0.3), (0.5, 0.2), (0.2, 0.01)]
)
def test_log_betabinom_tail(mu: float, rho: float) -> None:
    rng = np.random.default_rng(3)
    n = rng.integers(1, 300, size=200)
    k = (rng.random(200) * (n + 1)).astype(np.int64)
    got = log_betabinom_tail(k, n, mu, rho)
    s = (1 - rho) / rho
    for g, kk, nn in zip(got.tolist(), k.tolist(), n.tolist(), strict=True):
        want = _reference_log_tail(kk, nn, mu * s, (1 - mu) * s) if kk > 0 else 0.0
        assert g == pytest.approx(want, rel=1e-8, abs=1e-10)


def test_log_betabinom_tail_at_rho_zero_is_the_binomial() -> None:
    # P(X >= 9 | n = 10, p = 0.2) = 10 * 0.2^9 * 0.8 + 0.2^10
    got = log_betabinom_tail(np.array([9, 0, 11]), np.array([10, 10, 10]), 0.2, 0.0)
    # (rho = 0 is computed as 1e-8: the binomial to within a millionth here)
    assert math.exp(got[0]) == pytest.approx(10 * 0.2**9 * 0.8 + 0.2**10, rel=1e-5)
    assert got[1] == 0.0 and got[2] == -math.inf


@pytest.mark.parametrize("rho", [0.0, 0.01, 0.1])
@pytest.mark.parametrize("planted", [0.0, 0.1])
def test_fit_null_recovers_the_crowd(rho: float, planted: float) -> None:
    # 5,000 accounts with a typical share of 0.2 and dispersion rho, and a tenth of them
    # planted at 0.8: the fit must describe the crowd, not the plant.
    rng = np.random.default_rng(11)
    n = rng.integers(10, 200, size=5_000)
    if rho > 0:
        s = (1 - rho) / rho
        p = rng.beta(0.2 * s, 0.8 * s, size=len(n))
    else:
        p = np.full(len(n), 0.2)
    k = rng.binomial(n, p)
    farm = rng.random(len(n)) < planted
    k[farm] = rng.binomial(n[farm], 0.8)
    mu, fitted = fit_null(k, n)
    # rho is fitted on 1,000 sampled accounts: over seeds, 0.6-1.3 times the truth at
    # 0.01, 0.8-1.1 times at 0.1 (twelve seeds).
    if planted == 0:
        assert mu == pytest.approx(0.2, abs=0.015)
        assert 0.5 * rho - 0.002 <= fitted <= 1.5 * rho + 0.002
    else:
        # The plant pulls a little (the pooled share moves from 0.20 to about 0.26).
        assert 0.19 <= mu <= 0.24 < k.sum() / n.sum()
        assert 0.5 * rho - 0.002 <= fitted <= 1.8 * rho + 0.003


@pytest.mark.parametrize(
    ("typical", "rho"),
    [
        (0.9, 0.1),  # a crowd near 1, a quarter copying every text (the simulator's copy share)
        (0.95, 0.1),  # half of it at k = n
        (0.05, 0.3),  # most accounts at 0 (real hashtag or copy shares)
        (0.02, 0.1),
    ],
)
def test_fit_null_holds_for_a_crowd_at_the_edge(typical: float, rho: float) -> None:
    # Issue 20: ties at k = n or k = 0 made the fit fall to the binomial at 0.5 (a crowd at
    # 0.9) or at 0.004 (a crowd at 0.05): 83-90% and 10-17% of a crowd with no farm flagged.
    rng = np.random.default_rng(11)
    n = rng.integers(10, 200, size=5_000)
    s = (1 - rho) / rho
    k = rng.binomial(n, rng.beta(typical * s, (1 - typical) * s, size=len(n)))
    mu, fitted = fit_null(k, n)
    assert mu == pytest.approx(typical, rel=0.25)
    assert 0.5 * rho <= fitted <= 1.5 * rho
    flagged = log_betabinom_tail(k, n, mu, fitted) <= math.log(0.01 / len(n))
    assert flagged.sum() == 0


# --- a hand-made case ------------------------------------------------------------------

POSTS = [
    # post_id, account, kind, text, lang, ref_account, hashtags, mentions
    ("t1", "t", "post", "An original post", "en", None, [], []),
    ("u1", "u", "post", "What a view from the hill", "en", None, [], []),
    ("a1", "a", "post", "Good morning #tag", "en", None, ["tag"], []),
    ("a2", "a", "post", "Same text here", "en", None, [], []),
    ("a3", "a", "repost", "RT @t: An original post", "en", "t", [], ["t"]),
    ("a4", "a", "reply", "@u lovely picture there", "en", "u", [], ["u"]),
    ("a5", "a", "reply", "@t totally agree with this", "en", "t", [], ["t"]),
    ("b1", "b", "post", "same text HERE!", "en", None, [], []),
    ("b2", "b", "post", "hi @U how are you", "en", None, [], ["@U"]),
    ("b3", "b", "reply", "@u indeed it is", "en", "u", [], ["u"]),
    ("b4", "b", "reply", "@b and one more thing", "en", "b", [], ["b"]),
    ("c1", "c", "quote", "quoting this one", "en", "u", [], []),
    ("c2", "c", "reply", "@u thanks a lot", "en", "u", [], ["u"]),
    ("c3", "c", "post", "سلام دوستان", "fa", None, [], []),
]


def _hand_made(path: Path) -> Path:
    case = Case.open(path, create=True)
    try:
        for handle in "tuabc":
            case.con.execute(
                "INSERT INTO accounts (platform, account_id, handle, source_id) "
                "VALUES ('twitter', ?, ?, 0)",
                [handle, handle],
            )
        for i, (post, account, kind, text, lang, ref, tags, mentions) in enumerate(POSTS):
            case.con.execute(
                "INSERT INTO posts (platform, post_id, account_id, created_at, text, lang, kind,"
                " ref_account_id, hashtags, mentions, source_id)"
                " VALUES ('twitter', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                [post, account, datetime(2024, 3, 1, 10, i), text, lang, kind, ref, tags, mentions],
            )
    finally:
        case.close()
    return path


def test_the_mix_of_a_hand_made_case(case_path: Path) -> None:
    path = _hand_made(case_path)
    with Case.open(path, read_only=True) as case:
        result = compute(case.con, SignalParams())
        mix_rows = result.table(case.con, "content_mix")
        every = result.all_accounts(case.con)
    mix = {r["account_id"]: r for r in mix_rows.to_pylist()}
    cols = ("posts", "reposts", "own_posts", "hashtagged", "texts", "copied", "replies")
    # a: "Same text here" is b's "same text HERE!" once normalised; its reply to u is a
    # swarm (it never reposted, quoted or mentioned u), its reply to t is not (it reposted t).
    assert tuple(mix["a"][c] for c in cols) == (5, 1, 4, 1, 4, 1, 2)
    assert (mix["a"]["swarm_replies"], mix["a"]["swarm_share"]) == (1, 0.5)
    assert mix["a"]["hashtags_per_post"] == 0.25
    # b mentioned @U in a post: its reply to u is no swarm; its reply to itself is no reply
    # to another account.
    assert tuple(mix["b"][c] for c in cols) == (4, 0, 4, 0, 4, 1, 1)
    assert mix["b"]["swarm_replies"] == 0
    # c quoted u; two languages, English the main one.
    assert (mix["c"]["replies"], mix["c"]["swarm_replies"]) == (1, 0)
    assert (mix["c"]["languages"], mix["c"]["main_language"]) == (2, "en")
    assert mix["c"]["main_language_share"] == pytest.approx(2 / 3)
    assert mix["t"]["copied"] == 0 and mix["t"]["repost_share"] == 0.0
    assert mix["u"]["swarm_share"] is None  # no reply: nothing to share
    assert every.num_rows == 5 and not any(every.column("flagged").to_pylist())


def test_stored_by_the_runner(case_path: Path) -> None:
    path = _hand_made(case_path)
    assert signals(path, ["content-mix"]) == {"content-mix": 0}
    assert query(path, "SELECT count(*) FROM account_signals WHERE signal = 'content-mix'") == [
        (5,)
    ]
    assert query(path, "SELECT count(*) FROM content_mix") == [(5,)]
    assert query(path, "SELECT count(DISTINCT share) FROM content_rates") == [(4,)]


def test_the_fit_on_the_engine_is_fit_null_over_every_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compute fits each null from sums and a sample fetched from the engine; fit_null
    fits it from every account's counts. Same positions drawn, same accounts, same
    (mu, rho), with a sample small enough (50) for every measure to draw one."""
    monkeypatch.setattr(content, "DISPERSION_SAMPLE", 50)
    path = sim_case(tmp_path, SimulationConfig(posts=20_000, days=5, seed=5))
    with Case.open(path, read_only=True) as case:
        result = compute(case.con, SignalParams())
        mix = result.table(case.con, "content_mix")
    drawn = 0
    for rate in result.tables["content_rates"].to_pylist():
        rows = mix.filter(pc.equal(mix.column("platform"), rate["platform"]))
        _, count, trials, _ = next(m for m in content.MEASURES if m[0] == rate["share"])
        k = rows.column(count).to_numpy().astype(np.int64)
        n = rows.column(trials).to_numpy().astype(np.int64)
        drawn += int((n >= content.MIN_TRIALS_FOR_DISPERSION).sum() > 50)
        assert (rate["typical"], rate["rho"]) == fit_null(k, n), rate
        assert rate["pooled"] == k.sum() / n.sum()
    assert drawn >= 3, "too few measures drew a sample: this test would test little"


# --- simulated farms -----------------------------------------------------------------------


def test_farm_members_are_flagged_and_organic_accounts_rarely(tmp_path: Path) -> None:
    farms = (farm_at_stealth(0, size=60), farm_at_stealth(0, size=30, tz_hours=3.5))
    path = sim_case(tmp_path, SimulationConfig(posts=60_000, days=7, farms=farms))
    with Case.open(path, read_only=True) as case:
        result = compute(case.con, SignalParams(alpha=0.01))
        case.con.register("result", result.all_accounts(case.con))
        rows = case.con.execute(
            "SELECT farm_id IS NOT NULL, community_id IS NOT NULL, avg(flagged::INT) "
            "FROM result JOIN labels USING (account_id) GROUP BY ALL"
        ).fetchall()
        evidence = case.con.execute(
            "SELECT evidence FROM result JOIN labels USING (account_id) "
            "WHERE farm_id IS NOT NULL LIMIT 1"
        ).fetchall()[0][0]
    rate = {(bool(f), bool(c)): float(r) for f, c, r in rows}
    assert rate[(True, False)] >= 0.9
    assert rate[(False, False)] <= 0.01
    assert "own posts carry a hashtag (typical account: " in evidence
