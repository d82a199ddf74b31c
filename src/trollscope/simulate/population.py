"""The simulated accounts: an organic population, authentic communities and farm members.

Arrays are indexed by account number; profiles become canonical `Account`s. Account ids
are a random permutation, so an id says nothing about who is a farm member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from trollscope.model import Account
from trollscope.simulate import words
from trollscope.simulate.config import SimulationConfig
from trollscope.simulate.uniforms import Uniforms

PLATFORM = "twitter"
ORGANIC, COMMUNITY, FARM = 0, 1, 2
# Time zones of organic accounts (hours from UTC) and how common each is.
TIME_ZONES = np.array([-8, -5, -3, 0, 1, 2, 3, 3.5, 4, 5.5, 8, 9], dtype=float)
TZ_WEIGHTS = np.array([6, 12, 5, 12, 14, 8, 10, 10, 6, 7, 5, 5], dtype=float)
EPOCH = datetime(1970, 1, 1)


@dataclass(slots=True)
class Population:
    accounts: list[Account]
    role: np.ndarray  # ORGANIC | COMMUNITY | FARM
    farm: np.ndarray  # farm number, -1 if none
    community: np.ndarray  # community number, -1 if none
    tz: np.ndarray  # hours from UTC
    lang: np.ndarray  # index into words.LANGUAGES
    weight: np.ndarray  # relative organic activity
    popular: np.ndarray  # indices of popular accounts (celebrities, news)
    leaders: list[int]  # community leaders (popular accounts)
    amplified: list[np.ndarray]  # per farm: accounts it applauds
    critics: list[np.ndarray]  # per farm: accounts it swarms

    @property
    def organic_like(self) -> np.ndarray:
        """Accounts with organic activity (organic and community members)."""
        return np.flatnonzero(self.role != FARM)


def _handle(u: Uniforms, first: str, last: str) -> str:
    style = u.pick(5)
    if style == 0:
        return f"{first}{last}"
    if style == 1:
        return f"{first.lower()}_{last.lower()}"
    if style == 2:
        return f"{first}{1 + u.pick(998)}"
    if style == 3 and u() < 0.25:
        # Platforms suggest name+8 digits to new users: organic accounts have them too.
        return f"{first}{10**7 + u.pick(9 * 10**7)}"
    return f"{first[0]}{last}{10 + u.pick(89)}"


def _organic_bio(u: Uniforms) -> str | None:
    n = u.pick(4)
    if n == 0:
        return None
    parts: list[str] = []
    while len(parts) < n:
        part = words.BIO_PARTS[u.pick(len(words.BIO_PARTS))]
        if part not in parts:
            parts.append(part)
    return " | ".join(parts)


def _created(share: float, cfg: SimulationConfig) -> datetime:
    """A creation time `share` of the way from 2008 to a month before the data."""
    first = datetime(2008, 1, 1)
    span = (cfg.start - timedelta(days=30) - first).total_seconds()
    return (first + timedelta(seconds=share * span)).replace(microsecond=0)


def build(cfg: SimulationConfig, rng: np.random.Generator) -> Population:
    n_organic = max(500, int(cfg.posts * cfg.accounts_per_post))
    n_comm = sum(c.size for c in cfg.communities)
    n_farm = sum(f.size for f in cfg.farms)
    total = n_organic + n_comm + n_farm
    ids = rng.permutation(total) + 10**9
    role = np.full(total, ORGANIC, dtype=np.int8)
    farm = np.full(total, -1, dtype=np.int16)
    community = np.full(total, -1, dtype=np.int16)
    tz = TIME_ZONES[rng.choice(len(TIME_ZONES), size=total, p=TZ_WEIGHTS / TZ_WEIGHTS.sum())]
    lang = rng.choice(len(words.LANGUAGES), size=total, p=np.array(words.LANGUAGE_WEIGHTS))
    # Heavy-tailed activity: a few very active accounts, most quiet.
    weight = rng.lognormal(0.0, 1.4, size=total)

    start = n_organic
    for c, community_spec in enumerate(cfg.communities):
        role[start : start + community_spec.size] = COMMUNITY
        community[start : start + community_spec.size] = c
        start += community_spec.size
    farm_ranges = []
    for f, spec in enumerate(cfg.farms):
        role[start : start + spec.size] = FARM
        farm[start : start + spec.size] = f
        tz[start : start + spec.size] = spec.tz_hours
        farm_langs = [words.LANGUAGES.index(code) for code in spec.languages]
        lang[start : start + spec.size] = rng.choice(farm_langs, size=spec.size)
        farm_ranges.append((start, start + spec.size))
        start += spec.size
    weight[role == FARM] = 0.0  # farm members post only on the farm's schedule

    organic_idx = np.flatnonzero(role == ORGANIC)
    n_popular = max(10, n_organic // 100)
    popular = rng.choice(organic_idx, size=n_popular, replace=False)
    weight[popular] *= 3.0
    leaders = [int(x) for x in popular[: len(cfg.communities)]]
    rest = popular[len(cfg.communities) :]
    amplified, critics = [], []
    for _ in cfg.farms:
        picks = rng.choice(rest, size=6, replace=False)
        amplified.append(picks[:3])
        critics.append(picks[3:])

    is_popular = np.zeros(total, dtype=bool)
    is_popular[popular] = True
    u = Uniforms(rng)
    # Spread over years, more recent accounts more common.
    created_share = rng.beta(2.0, 1.2, size=total)
    followers_all = rng.lognormal(5.0, 1.5, size=total).astype(int)
    following_all = rng.lognormal(5.5, 1.0, size=total).astype(int)
    accounts: list[Account] = []
    farm_avatars = [[f"avatar:farm{f}-{k}" for k in range(3)] for f in range(len(cfg.farms))]
    for i in range(total):
        first = words.FIRST_NAMES[u.pick(len(words.FIRST_NAMES))]
        last = words.LAST_NAMES[u.pick(len(words.LAST_NAMES))]
        followers = int(followers_all[i])
        if role[i] == FARM:
            spec = cfg.farms[int(farm[i])]
            templated = u() < spec.template_share
            handle = (
                f"{first}{10**7 + u.pick(9 * 10**7)}"
                if u() < spec.handle_digits_share
                else _handle(u, first, last)
            )
            template = words.FARM_BIO_TEMPLATES[u.pick(len(words.FARM_BIO_TEMPLATES))]
            bio = template.format(name=first) if templated else _organic_bio(u)
            location = spec.location if templated else words.LOCATIONS[u.pick(len(words.LOCATIONS))]
            avatar = (
                farm_avatars[int(farm[i])][u.pick(3)]
                if u() < spec.shared_avatar_share
                else f"avatar:{u.pick(2**52):013x}"
            )
            created = None  # set below, in bursts
            followers = followers // 20
        else:
            handle = _handle(u, first, last)
            bio = _organic_bio(u)
            location = words.LOCATIONS[u.pick(len(words.LOCATIONS))]
            avatar = f"avatar:{u.pick(2**52):013x}"
            created = _created(float(created_share[i]), cfg)
        if is_popular[i]:
            followers = int(followers * 400)
        accounts.append(
            Account(
                platform=PLATFORM,
                account_id=str(int(ids[i])),
                handle=handle,
                display_name=f"{first} {last}",
                bio=bio,
                location=location or None,
                created_at=created,
                followers=followers,
                following=int(following_all[i]),
                avatar=avatar,
                lang=words.LANGUAGES[int(lang[i])],
            )
        )
    for f, spec in enumerate(cfg.farms):
        lo, hi = farm_ranges[f]
        _batch_creation(
            rng,
            cfg,
            spec.creation_bursts,
            spec.burst_hours,
            spec.creation_span_days,
            accounts[lo:hi],
        )
    return Population(
        accounts=accounts,
        role=role,
        farm=farm,
        community=community,
        tz=tz,
        lang=lang,
        weight=weight,
        popular=popular,
        leaders=leaders,
        amplified=amplified,
        critics=critics,
    )


def _batch_creation(
    rng: np.random.Generator,
    cfg: SimulationConfig,
    bursts: int,
    burst_hours: float,
    span_days: float,
    members: list[Account],
) -> None:
    """Members created in a few bursts (each `burst_hours` long) within `span_days`."""
    end = cfg.start - timedelta(days=7)
    centres = [end - timedelta(days=float(rng.uniform(0.0, span_days))) for _ in range(bursts)]
    for account in members:
        centre = centres[int(rng.integers(bursts))]
        account.created_at = (
            centre + timedelta(hours=float(rng.uniform(0.0, burst_hours)))
        ).replace(microsecond=0)
