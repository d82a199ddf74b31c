"""Knobs of a simulated data set: the organic population, authentic communities and farms.

A farm's knobs follow public reporting on troll farms (batch-created accounts, templated
profiles, office hours, daily directives, copy-paste text in several languages, shared
avatars, camouflage). `stealth` presets set them from blatant (0) to subtle (3); any knob
can still be set by hand after a preset.

Hard cases (news shocks, copy-paste chains, live events) are organic behaviour that looks
synchronous; campaign collection keeps the farms as a large share of the data, as in a
data set collected on the farms' own hashtags. `scenario()` names the combinations that
benchmarks and tests use. docs/simulate.md describes every knob and preset.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FarmSpec:
    """One planted farm. Times are in the farm's own time zone (`tz_hours` from UTC)."""

    size: int = 150
    # Batch creation: members are created in `creation_bursts` bursts, each spread over
    # `burst_hours`, all within `creation_span_days` (ending a little before the data).
    creation_bursts: int = 1
    burst_hours: float = 6.0
    creation_span_days: float = 3.0
    # Templated profiles: share of members with a templated bio, the one location, and a
    # name+8-digit handle.
    template_share: float = 1.0
    location: str = "Iran"
    handle_digits_share: float = 1.0
    # Shift schedule: office hours in the farm's time zone, weekdays only, lunch dip.
    tz_hours: float = 1.0
    shift_start: int = 9
    shift_end: int = 18
    lunch_hour: int = 13
    weekdays_only: bool = True
    # Daily directives: targets to repost and hashtags to push, each member acting after a
    # lognormal delay (median seconds, spread = sigma of log delay) with probability
    # `participation`.
    directives_per_day: int = 6
    hashtags_per_day: int = 2
    delay_median_s: float = 20.0
    delay_spread: float = 0.5
    participation: float = 0.9
    # Reply swarms on critics: per day, critics' posts swarmed by the members.
    swarms_per_day: int = 1
    # Copy-paste text: messages per day posted by members, with this share of words edited.
    messages_per_day: int = 2
    edit_rate: float = 0.0
    languages: tuple[str, ...] = ("en", "fa", "ar")
    # Avatars: share of members using one of a few shared avatar images.
    shared_avatar_share: float = 0.5
    # Camouflage: share of each member's posts that are organic-like.
    camouflage: float = 0.0


STEALTH_PRESETS: dict[int, dict[str, object]] = {
    0: {
        "creation_bursts": 1,
        "burst_hours": 6.0,
        "creation_span_days": 2.0,
        "template_share": 1.0,
        "handle_digits_share": 1.0,
        "delay_median_s": 20.0,
        "delay_spread": 0.5,
        "participation": 0.9,
        "edit_rate": 0.0,
        "shared_avatar_share": 0.6,
        "camouflage": 0.0,
        "weekdays_only": True,
    },
    1: {
        "creation_bursts": 2,
        "burst_hours": 12.0,
        "creation_span_days": 20.0,
        "template_share": 0.8,
        "handle_digits_share": 0.8,
        "delay_median_s": 60.0,
        "delay_spread": 0.8,
        "participation": 0.8,
        "edit_rate": 0.1,
        "shared_avatar_share": 0.4,
        "camouflage": 0.2,
        "weekdays_only": True,
    },
    2: {
        "creation_bursts": 4,
        "burst_hours": 24.0,
        "creation_span_days": 120.0,
        "template_share": 0.5,
        "handle_digits_share": 0.5,
        "delay_median_s": 300.0,
        "delay_spread": 1.0,
        "participation": 0.6,
        "edit_rate": 0.3,
        "shared_avatar_share": 0.2,
        "camouflage": 0.5,
        "weekdays_only": True,
    },
    3: {
        "creation_bursts": 8,
        "burst_hours": 48.0,
        "creation_span_days": 700.0,
        "template_share": 0.2,
        "handle_digits_share": 0.2,
        "delay_median_s": 1800.0,
        "delay_spread": 1.2,
        "participation": 0.4,
        "edit_rate": 0.5,
        "shared_avatar_share": 0.0,
        "camouflage": 0.7,
        "weekdays_only": False,
    },
}


def farm_at_stealth(stealth: int, **overrides: object) -> FarmSpec:
    """A FarmSpec with the preset of `stealth` (0 blatant .. 3 subtle), then overrides."""
    if stealth not in STEALTH_PRESETS:
        raise ValueError(f"stealth must be 0, 1, 2 or 3, not {stealth}")
    return replace(FarmSpec(), **{**STEALTH_PRESETS[stealth], **overrides})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class CommunitySpec:
    """An authentic community: organic accounts that really co-share (fans of a leader,
    a newsroom's staff). Coordinated, not inauthentic: organic profiles, rhythms and
    creation dates."""

    size: int = 60
    # Probability that a member reposts a given post of the leader, and the delay (minutes).
    follow_rate: float = 0.6
    delay_median_min: float = 8.0
    delay_spread: float = 1.0


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """A whole data set. `posts` is the target total (organic + communities + farms)."""

    posts: int = 1_000_000
    seed: int = 1
    start: datetime = datetime(2024, 3, 1)
    days: int = 28
    # Organic accounts per post (50k accounts for 1M posts by default).
    accounts_per_post: float = 0.05
    # Organic mix of kinds.
    repost_share: float = 0.35
    reply_share: float = 0.15
    quote_share: float = 0.05
    # Viral cascades: per day, posts reposted by hundreds of organic accounts in minutes.
    cascades_per_day: float = 1.5
    cascade_median: int = 400
    farms: tuple[FarmSpec, ...] = field(
        default_factory=lambda: (
            farm_at_stealth(0, size=150),
            farm_at_stealth(0, size=60, tz_hours=3.5),
        )
    )
    communities: tuple[CommunitySpec, ...] = field(
        default_factory=lambda: (CommunitySpec(size=60), CommunitySpec(size=35, follow_rate=0.5))
    )
    # Hard cases: organic, unlabelled behaviour that looks coordinated. All are off by
    # default, and off they draw no random numbers, so a seed gives the bytes it always did.
    # News shocks, per day: an outlet posts a link and hundreds of accounts share it in
    # their own posts (or repost the outlet) within minutes, with a tail over hours.
    news_shocks_per_day: float = 0.0
    news_shock_median: int = 300
    # Copy-paste chains, per day: one long text copied by tens to hundreds of accounts,
    # each copying an earlier adopter, over hours.
    copy_chains_per_day: float = 0.0
    copy_chain_median: int = 120
    # Live events, per day: a show or match with its hashtag; live-tweeters post on it
    # 10-40 times each within one to two hours.
    live_events_per_day: float = 0.0
    live_event_median: int = 100
    # Which posts are written: "all", or "campaign": what collecting the farms' hashtags
    # gives, the farms being `campaign_share` of the posts written (see Activity).
    collection: str = "all"
    campaign_share: float = 0.5

    def __post_init__(self) -> None:
        if self.collection not in COLLECTIONS:
            raise ValueError(f"collection must be one of {COLLECTIONS}, not {self.collection!r}")
        if not 0.0 < self.campaign_share < 1.0:
            raise ValueError(f"campaign_share must be between 0 and 1, not {self.campaign_share}")
        if self.collection == "campaign" and not self.farms:
            raise ValueError("a campaign collection needs at least one farm")

    @property
    def has_hard_cases(self) -> bool:
        """Whether any knob added with the hard cases differs from its default."""
        return any(getattr(self, k) != v for k, v in HARD_CASE_DEFAULTS.items())

    def with_stealth(self, stealth: int) -> SimulationConfig:
        """The same data set with every farm's knobs set to the `stealth` preset."""
        farms = tuple(
            farm_at_stealth(stealth, size=f.size, tz_hours=f.tz_hours, location=f.location)
            for f in self.farms
        )
        return replace(self, farms=farms)


COLLECTIONS = ("all", "campaign")
# The knobs added with the hard cases and their defaults: a manifest records them only when
# one is set, so that data sets made without them keep their manifest's bytes too.
HARD_CASE_DEFAULTS: dict[str, object] = {
    "news_shocks_per_day": 0.0,
    "news_shock_median": 300,
    "copy_chains_per_day": 0.0,
    "copy_chain_median": 120,
    "live_events_per_day": 0.0,
    "live_event_median": 100,
    "collection": "all",
    "campaign_share": 0.5,
}

SCENARIOS = ("default", "campaign", "organic-hard", "hashtag-bursty")
# Posts of one live-tweeter in a live event (uniformly, inclusive), and their mean.
LIVE_POSTS = (10, 40)
LIVE_POSTS_EACH = sum(LIVE_POSTS) / 2


def scenario(name: str, posts: int, seed: int = 1, stealth: int | None = None) -> SimulationConfig:
    """A named data set for benchmarks and tests (docs/simulate.md says what each stresses).

    - "default": the default data set (28 days, two farms, two communities, cascades).
    - "campaign": five days collected on the farms' hashtags; farms write half the posts.
    - "organic-hard": five days, no farms or communities; news shocks (1/day), copy-paste
      chains (2/day), a live event (1/day) and the usual viral cascades.
    - "hashtag-bursty": three days, no farms or communities; most posts are live events,
      four a day, each on its own hashtag.

    `stealth` (0 when None) sets the farms' preset; scenarios without farms ignore it.
    Live events are sized from `posts` so that they are the intended share of the posts
    at any size (a fixed size would swamp a small data set or vanish in a large one).
    """
    base = SimulationConfig(posts=posts, seed=seed)
    level = 0 if stealth is None else stealth
    if name == "default":
        return base.with_stealth(level)
    if name == "campaign":
        return replace(base, days=5, collection="campaign", campaign_share=0.5).with_stealth(level)
    if name == "organic-hard":
        days = 5
        return replace(
            base,
            days=days,
            farms=(),
            communities=(),
            news_shocks_per_day=1.0,
            copy_chains_per_day=2.0,
            live_events_per_day=1.0,
            # About 30% of a day's posts in its live event, up to 100 live-tweeters.
            live_event_median=_live_median(0.3 * posts / days, 1.0, cap=100),
        )
    if name == "hashtag-bursty":
        days, per_day = 3, 4.0
        return replace(
            base,
            days=days,
            farms=(),
            communities=(),
            live_events_per_day=per_day,
            # About 70% of the posts in live events, however large the data set.
            live_event_median=_live_median(0.7 * posts / days, per_day, cap=None),
        )
    raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")


def _live_median(posts_per_day: float, events_per_day: float, cap: int | None) -> int:
    """Median live-tweeters per event for live events to hold `posts_per_day` posts a day
    (at least 20, so that an event is still a burst of many accounts)."""
    median = max(20, round(posts_per_day / events_per_day / LIVE_POSTS_EACH))
    return median if cap is None else min(cap, median)
