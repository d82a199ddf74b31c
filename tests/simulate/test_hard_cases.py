"""The simulator's hard cases (organic behaviour that looks coordinated), campaign
collection and named scenarios: each is in the data when asked for, absent by default,
organic (no hard-case account is labelled), and the default data keeps its bytes."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.simulate.test_simulate import _con
from trollscope.simulate import SimulationConfig, farm_at_stealth, simulate
from trollscope.simulate.config import SCENARIOS, scenario

# The data set of tests/simulate/test_simulate.py.
SMALL = SimulationConfig(posts=20_000, days=7, accounts_per_post=0.06)
# SMALL's data and manifest as the simulator wrote them before the hard cases existed (at
# commit 49b1e56), except that organic reactions that came before their target now wait for
# it rather than sitting at +1 s (the content digest was recorded again after that change;
# the manifest did not change): `simulate(SMALL, out, formats=())`, then `_content(out)` and
# the manifest's sha256. The content digest is over rows, not Parquet bytes, so a pyarrow
# upgrade that encodes the same rows differently does not fail it.
SMALL_CONTENT = "752603f1eb5ba05842b7715039adab0d3d97b5ce2ed4d76b2d239f486503844d"
SMALL_MANIFEST = "6f5a26cbc58e13ac6afdda173382aa60a501c7c43f12fd285694f2571cf55a66"
# Every hard case on, with the default farms and communities in the data too, so that
# "no hard-case account is labelled" is a real check.
HARD = SimulationConfig(
    posts=30_000,
    days=4,
    news_shocks_per_day=1.0,
    copy_chains_per_day=2.0,
    live_events_per_day=1.0,
    live_event_median=60,
)


def _content(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("posts.parquet", "accounts.parquet"):
        for row in pq.read_table(folder / name).to_pylist():
            digest.update(repr(sorted(row.items())).encode())
    digest.update((folder / "labels.csv").read_bytes())
    return digest.hexdigest()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    simulate(SMALL, folder, formats=())
    return folder


@pytest.fixture(scope="module")
def hard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hard")
    simulate(HARD, folder, formats=())
    return folder


# -- the default data keeps its bytes ----------------------------------------------------


def test_default_data_is_what_it_was_before_the_hard_cases(small: Path) -> None:
    assert _content(small) == SMALL_CONTENT
    assert _sha(small / "manifest.json") == SMALL_MANIFEST


def test_knobs_of_cases_that_are_off_change_no_data(small: Path, tmp_path: Path) -> None:
    """Sizes and shares of hard cases and collections that are off draw nothing."""
    off = replace(
        SMALL,
        news_shock_median=999,
        copy_chain_median=77,
        live_event_median=33,
        campaign_share=0.3,
        collection="all",
    )
    simulate(off, tmp_path, formats=())
    for name in ("posts.parquet", "accounts.parquet", "labels.csv"):
        assert _sha(tmp_path / name) == _sha(small / name), name
    # The manifest records the knobs once one is set.
    assert _sha(tmp_path / "manifest.json") != _sha(small / "manifest.json")


def test_hard_cases_are_deterministic(hard: Path, tmp_path: Path) -> None:
    simulate(HARD, tmp_path / "again", formats=())
    simulate(replace(HARD, seed=2), tmp_path / "other", formats=())
    assert _sha(tmp_path / "again" / "posts.parquet") == _sha(hard / "posts.parquet")
    assert _sha(tmp_path / "other" / "posts.parquet") != _sha(hard / "posts.parquet")


# -- news shocks --------------------------------------------------------------------------

# Per link: unlabelled accounts sharing it (in a post or a repost carrying it), the share of
# them whose first share is within 20 minutes of the link's first share, and how many of
# its sharers are labelled farm members.
_LINKS = """
    WITH shares AS (
        SELECT q.link, q.account_id, epoch(q.created_at) AS t, l.farm_id, l.community_id
        FROM (SELECT *, unnest(urls) AS link FROM posts) q
        JOIN labels l ON l.account_id = q.account_id),
    firsts AS (SELECT link, min(t) AS t0 FROM shares GROUP BY link),
    organic AS (
        SELECT link, account_id, min(t) AS t FROM shares
        WHERE farm_id IS NULL AND community_id IS NULL GROUP BY link, account_id)
    SELECT o.link, count(*) AS accounts, avg((o.t - f.t0 <= 1200)::int) AS within_20_min,
           (SELECT count(*) FROM shares s WHERE s.link = o.link AND s.farm_id IS NOT NULL)
    FROM organic o JOIN firsts f USING (link)
    GROUP BY o.link HAVING count(*) >= 100 ORDER BY accounts DESC"""


def test_news_shock_link_is_shared_by_hundreds_within_minutes(hard: Path, small: Path) -> None:
    shocks = [row for row in _con(hard).execute(_LINKS).fetchall() if row[2] > 0.5]
    assert shocks, "no link shared by 100 organic accounts, most within 20 minutes"
    for link, _accounts, _within, farm_sharers in shocks:
        assert farm_sharers == 0, link
    # The shock's sharers write their own posts with the link; some repost the outlet.
    link = shocks[0][0]
    kinds = dict(
        _con(hard)
        .execute(
            "SELECT kind, count(DISTINCT text) FROM posts WHERE list_contains(urls, ?) GROUP BY 1",
            [link],
        )
        .fetchall()
    )
    assert kinds.get("post", 0) >= 20 and kinds.get("repost", 0) >= 1, kinds
    # Without the knob, no link is shared like that.
    assert not [row for row in _con(small).execute(_LINKS).fetchall() if row[2] > 0.5]


# -- copy-paste chains ----------------------------------------------------------------------

# Texts of 12 words or more posted by 50+ unlabelled accounts, normalised (hashtags,
# emoji and punctuation dropped, case folded), with their span and busiest minute.
_CHAINS = """
    WITH copies AS (
        SELECT p.account_id, epoch(p.created_at) AS t, p.text,
               trim(regexp_replace(lower(regexp_replace(regexp_replace(
                   p.text, '#\\S+', '', 'g'), '[^\\w\\s]', '', 'g')), '\\s+', ' ', 'g')) AS norm
        FROM posts p JOIN labels l USING (account_id)
        WHERE p.kind = 'post' AND l.farm_id IS NULL AND l.community_id IS NULL),
    chains AS (
        SELECT norm FROM copies WHERE len(string_split(norm, ' ')) >= 12
        GROUP BY norm HAVING count(DISTINCT account_id) >= 50),
    windows AS (
        SELECT norm, count(*) OVER (
            PARTITION BY norm ORDER BY t RANGE BETWEEN CURRENT ROW AND 59 FOLLOWING) AS n
        FROM copies SEMI JOIN chains USING (norm))
    SELECT norm, count(DISTINCT account_id), max(t) - min(t), count(*),
           (SELECT max(n) FROM windows w WHERE w.norm = c.norm),
           max(text_count) / count(*)
    FROM (SELECT *, count(*) OVER (PARTITION BY text) AS text_count FROM copies) c
    SEMI JOIN chains USING (norm) GROUP BY norm ORDER BY 2 DESC"""


def test_copy_chain_spreads_one_text_over_hours(hard: Path, small: Path) -> None:
    chains = _con(hard).execute(_CHAINS).fetchall()
    assert chains, "no 12-word text posted by 50 organic accounts"
    for norm, _accounts, span_s, posts, busiest_minute, verbatim in chains:
        assert span_s > 3600, (norm, span_s)
        assert busiest_minute <= 0.2 * posts, (norm, busiest_minute, posts)
        # Most copies are verbatim; some carry an emoji or #copied (the same once normalised).
        assert 0.6 <= verbatim < 1.0, (norm, verbatim)
    assert not _con(small).execute(_CHAINS).fetchall()


# -- live events ----------------------------------------------------------------------------

# Per hashtag: accounts that post on it 10 times or more, all within two hours.
_LIVE = """
    SELECT tag, count(*) FILTER (WHERE n >= 10 AND span_s <= 7200) AS live_tweeters,
           count(*) FILTER (WHERE n >= 10 AND span_s <= 7200 AND labelled) AS labelled
    FROM (SELECT q.tag, q.account_id, count(*) AS n,
                 max(epoch(q.created_at)) - min(epoch(q.created_at)) AS span_s,
                 bool_or(l.farm_id IS NOT NULL OR l.community_id IS NOT NULL) AS labelled
          FROM (SELECT *, unnest(hashtags) AS tag FROM posts) q
          JOIN labels l ON l.account_id = q.account_id GROUP BY 1, 2)
    GROUP BY tag HAVING live_tweeters >= 30"""


def test_live_event_is_dozens_of_posts_an_hour_on_one_tag(hard: Path, small: Path) -> None:
    events = _con(hard).execute(_LIVE).fetchall()
    assert events, "no hashtag with 30 accounts posting on it 10 times within two hours"
    assert all(labelled == 0 for _, _, labelled in events), events
    # Farm members post on their campaign tags every weekday, never 10 times in two hours.
    assert not _con(small).execute(_LIVE).fetchall()


# -- campaign collection ----------------------------------------------------------------------


@pytest.mark.parametrize("share", [0.2, 0.5, 0.8])
def test_campaign_collection_makes_farms_the_share_asked(share: float, tmp_path: Path) -> None:
    cfg = replace(SMALL, posts=30_000, days=5, collection="campaign", campaign_share=share)
    result = simulate(cfg, tmp_path, formats=())
    con = _con(tmp_path)
    row = con.execute(
        "SELECT count(*), avg((l.farm_id IS NOT NULL)::int) FROM posts p "
        "JOIN labels l USING (account_id)"
    ).fetchone()
    assert row is not None
    written, farm_share = row
    assert written == result.posts
    assert abs(farm_share - share) <= 0.1, farm_share
    assert abs(written - cfg.posts) <= 0.2 * cfg.posts, written
    assert result.generated_posts > written  # a sample of what was made
    # Labels and profiles: exactly the accounts that author a written post.
    authors = con.execute("SELECT count(DISTINCT account_id) FROM posts").fetchone()
    assert authors == (result.accounts,)
    assert con.execute("SELECT count(*) FROM labels").fetchone() == authors
    assert con.execute(
        "SELECT count(*) FROM labels FULL JOIN accounts USING (account_id) "
        "WHERE labels.account_id IS NULL OR accounts.account_id IS NULL"
    ).fetchone() == (0,)
    assert con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT account_id FROM posts) ANTI JOIN labels "
        "USING (account_id)"
    ).fetchone() == (0,)
    # Organic users of the campaign's hashtags are in the sample too.
    organic_on_tags = con.execute(
        "SELECT count(DISTINCT p.account_id) FROM posts p JOIN labels l USING (account_id) "
        "WHERE l.farm_id IS NULL AND len(list_filter(p.hashtags, "
        "lambda t: t LIKE 'Statement%')) > 0"
    ).fetchone()
    assert organic_on_tags is not None and organic_on_tags[0] >= 10


def test_campaign_collection_of_subtle_farms(tmp_path: Path) -> None:
    """Stealth 3: farms post every day, with camouflage; the share still holds."""
    cfg = replace(SMALL, posts=20_000, days=4, collection="campaign").with_stealth(3)
    result = simulate(cfg, tmp_path, formats=())
    row = (
        _con(tmp_path)
        .execute(
            "SELECT avg((l.farm_id IS NOT NULL)::int) FROM posts JOIN labels l USING (account_id)"
        )
        .fetchone()
    )
    assert row is not None and abs(row[0] - 0.5) <= 0.1
    assert abs(result.posts - 20_000) <= 4_000


def test_campaign_collection_needs_a_farm() -> None:
    with pytest.raises(ValueError, match="farm"):
        SimulationConfig(farms=(), collection="campaign")
    with pytest.raises(ValueError, match="collection"):
        SimulationConfig(collection="everything")
    with pytest.raises(ValueError, match="campaign_share"):
        SimulationConfig(collection="campaign", campaign_share=1.0)


# -- named scenarios --------------------------------------------------------------------------


def test_scenario_configs() -> None:
    assert SCENARIOS == ("default", "campaign", "organic-hard", "hashtag-bursty")
    default = scenario("default", 30_000, seed=4)
    assert default == SimulationConfig(posts=30_000, seed=4)
    assert scenario("default", 30_000, 4, stealth=2) == default.with_stealth(2)
    assert not default.has_hard_cases

    campaign = scenario("campaign", 30_000, seed=4, stealth=1)
    assert (campaign.days, campaign.collection, campaign.campaign_share) == (5, "campaign", 0.5)
    assert [f.size for f in campaign.farms] == [150, 60]
    assert campaign.farms[0] == farm_at_stealth(1, size=150)

    hard = scenario("organic-hard", 30_000, seed=4)
    assert hard.farms == () and hard.communities == ()
    assert (hard.news_shocks_per_day, hard.copy_chains_per_day, hard.live_events_per_day) == (
        1.0,
        2.0,
        1.0,
    )
    assert hard.cascades_per_day == SimulationConfig().cascades_per_day

    bursty = scenario("hashtag-bursty", 30_000, seed=4)
    assert bursty.farms == () and bursty.communities == ()
    assert bursty.live_events_per_day >= 4
    assert bursty.news_shocks_per_day == bursty.copy_chains_per_day == 0.0

    with pytest.raises(ValueError, match="organic-hard"):
        scenario("organic", 30_000, seed=4)


def test_scenarios_hold_what_they_promise(tmp_path: Path) -> None:
    campaign = simulate(scenario("campaign", 30_000, seed=1), tmp_path / "c", formats=())
    assert abs(campaign.farm_posts / campaign.posts - 0.5) <= 0.1
    assert abs(campaign.posts - 30_000) <= 6_000

    hard = simulate(scenario("organic-hard", 30_000, seed=1), tmp_path / "h", formats=())
    assert len(hard.news_shock_sizes) == 5 and len(hard.live_event_sizes) == 5
    assert len(hard.copy_chain_sizes) == 10
    assert hard.farm_members == hard.community_members == hard.farm_posts == 0

    bursty = simulate(scenario("hashtag-bursty", 30_000, seed=1), tmp_path / "b", formats=())
    assert len(bursty.live_event_sizes) == 12
    live = (
        _con(tmp_path / "b")
        .execute(
            "SELECT avg((len(list_filter(hashtags, lambda t: t LIKE '%Live%')) > 0)::int) "
            "FROM posts"
        )
        .fetchone()
    )
    assert live is not None and live[0] > 0.5, live  # mostly live events
    assert abs(bursty.posts - 30_000) <= 6_000


def test_organic_reactions_are_never_in_lockstep_with_their_target(small: Path) -> None:
    """A reaction drawn before its target existed waits for it (a human delay), rather than
    landing one second after it: 15% of organic reposts did, a crowd in lockstep."""
    lockstep = (
        _con(small)
        .execute(
            """SELECT count(*) FROM posts r JOIN posts o ON o.post_id = r.ref_post_id
           JOIN labels l ON l.account_id = r.account_id
           WHERE l.farm_id IS NULL AND l.community_id IS NULL
             AND epoch(r.created_at) - epoch(o.created_at) < 5"""
        )
        .fetchall()[0][0]
    )
    assert lockstep == 0
