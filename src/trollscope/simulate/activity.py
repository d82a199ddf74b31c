"""Posts, one simulated day at a time: organic activity, viral cascades, authentic
communities and planted farms.

Each day is generated and written before the next, so memory is bounded by a day's posts
plus a pool of the last two days' original posts (what people repost and reply to).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from trollscope.model import Kind, Post
from trollscope.simulate import words
from trollscope.simulate.config import FarmSpec, SimulationConfig
from trollscope.simulate.population import EPOCH, FARM, PLATFORM, Population
from trollscope.simulate.uniforms import Uniforms

# Relative activity by local hour of day for organic accounts: quiet nights, busy evenings.
DIURNAL = np.array(
    [3, 2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 7, 7, 7, 8, 9, 10, 10, 9, 7, 5], dtype=float
)
DIURNAL /= DIURNAL.sum()
POST_ID_BASE = 1_600_000_000_000_000_000
DAY = 86_400


@dataclass(slots=True)
class DayStats:
    """What one day holds, for checks and the progress bar."""

    posts: int = 0
    cascade_sizes: list[int] = field(default_factory=list)


class Activity:
    """Generates the posts of each day in order; deterministic for a seeded `rng`."""

    def __init__(self, cfg: SimulationConfig, pop: Population, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.pop = pop
        self.rng = rng
        self.u = Uniforms(rng)
        self.next_post = 0
        self.start = int((cfg.start - EPOCH).total_seconds())
        self.pool_today: list[Post] = []
        self.pool_yesterday: list[Post] = []
        self.organic = pop.organic_like
        w = pop.weight[self.organic]
        self.organic_p = w / w.sum()
        self.followers = np.array([a.followers or 0 for a in pop.accounts], dtype=float)
        self.handles = [a.handle or a.account_id for a in pop.accounts]
        self.ids = [a.account_id for a in pop.accounts]
        self.index_of = {a: i for i, a in enumerate(self.ids)}
        self.farm_members = [np.flatnonzero(pop.farm == f) for f in range(len(cfg.farms))]
        self.community_members = [
            np.flatnonzero(pop.community == c) for c in range(len(cfg.communities))
        ]

    # -- helpers --------------------------------------------------------------------

    def _post_id(self) -> str:
        self.next_post += 1
        return str(POST_ID_BASE + self.next_post * 37)

    def _time(self, seconds: float) -> datetime:
        # The naive UTC time of whole epoch seconds (twice as fast as fromtimestamp).
        return EPOCH + timedelta(seconds=int(seconds))

    def _sentence(self, lang: str) -> str:
        options = words.SENTENCES[lang]
        pick = self.u.pick
        return options[pick(len(options))].format(
            city=words.CITIES[pick(len(words.CITIES))],
            adj=words.ADJECTIVES[pick(len(words.ADJECTIVES))],
            topic=words.TOPICS[pick(len(words.TOPICS))],
        )

    def _original(
        self,
        author: int,
        when: float,
        *,
        hashtags: list[str] | None = None,
        text: str | None = None,
        url: bool = False,
    ) -> Post:
        lang = words.LANGUAGES[int(self.pop.lang[author])]
        body = text if text is not None else self._sentence(lang)
        tags = hashtags or []
        urls = []
        if url:
            domain = words.NEWS_DOMAINS[self.u.pick(len(words.NEWS_DOMAINS))]
            # A few stories are shared widely, most rarely (a Pareto tail over story ids).
            story = int((1.0 - self.u()) ** -2.0) % 400
            urls = [f"https://{domain}/story/{story}"]
        full = " ".join([body, *(f"#{t}" for t in tags), *urls])
        return Post(
            platform=PLATFORM,
            post_id=self._post_id(),
            account_id=self.ids[author],
            created_at=self._time(when),
            kind=Kind.POST,
            text=full,
            lang=lang,
            hashtags=list(tags),
            urls=urls,
        )

    def _repost(self, author: int, target: Post, when: float) -> Post:
        when = max(when, (target.created_at - EPOCH).total_seconds() + 1)
        target_handle = self.handles[self._index(target.account_id)]
        return Post(
            platform=PLATFORM,
            post_id=self._post_id(),
            account_id=self.ids[author],
            created_at=self._time(when),
            kind=Kind.REPOST,
            text=f"RT @{target_handle}: {target.text}",
            lang=target.lang,
            ref_post_id=target.post_id,
            ref_account_id=target.account_id,
            hashtags=list(target.hashtags),
            urls=list(target.urls),
            mentions=[target_handle],
        )

    def _reply(self, author: int, target: Post, when: float, text: str | None = None) -> Post:
        when = max(when, (target.created_at - EPOCH).total_seconds() + 1)
        target_handle = self.handles[self._index(target.account_id)]
        lang = words.LANGUAGES[int(self.pop.lang[author])]
        body = text if text is not None else self._sentence(lang)
        return Post(
            platform=PLATFORM,
            post_id=self._post_id(),
            account_id=self.ids[author],
            created_at=self._time(when),
            kind=Kind.REPLY,
            text=f"@{target_handle} {body}",
            lang=lang,
            ref_post_id=target.post_id,
            ref_account_id=target.account_id,
            mentions=[target_handle],
        )

    def _quote(self, author: int, target: Post, when: float) -> Post:
        when = max(when, (target.created_at - EPOCH).total_seconds() + 1)
        lang = words.LANGUAGES[int(self.pop.lang[author])]
        return Post(
            platform=PLATFORM,
            post_id=self._post_id(),
            account_id=self.ids[author],
            created_at=self._time(when),
            kind=Kind.QUOTE,
            text=self._sentence(lang),
            lang=lang,
            ref_post_id=target.post_id,
            ref_account_id=target.account_id,
        )

    def _index(self, account_id: str) -> int:
        return self.index_of[account_id]

    def _local_time(self, day_start: int, tz: float, hours: np.ndarray) -> np.ndarray:
        """UTC seconds for local hours (fractional) on a day, in time zone `tz`."""
        return day_start + (hours - tz) * 3600.0

    # -- the day --------------------------------------------------------------------

    def day(self, d: int) -> tuple[list[Post], DayStats]:
        stats = DayStats()
        day_start = self.start + d * DAY
        weekday = (self.cfg.start + timedelta(days=d)).weekday()
        self.pool_yesterday, self.pool_today = self.pool_today, []
        posts: list[Post] = []
        trend = f"{words.TOPICS[int(self.rng.integers(len(words.TOPICS)))].capitalize()}Day{d + 1}"

        # Prominent accounts post first: what the crowd, the fans and the farms react to.
        for leader in self.pop.leaders:
            for _ in range(4):
                posts.append(self._original(leader, self._organic_times(day_start, [leader])[0]))
        for group in (*self.pop.amplified, *self.pop.critics):
            for author in group:
                for _ in range(2):
                    posts.append(
                        self._original(
                            int(author), self._organic_times(day_start, [int(author)])[0]
                        )
                    )
        self.pool_today.extend(posts)

        posts += self._cascades(day_start, stats)
        posts += self._communities(day_start, posts)
        for f, spec in enumerate(self.cfg.farms):
            if spec.weekdays_only and weekday >= 5:
                continue
            posts += self._farm_day(f, spec, day_start, d)
        budget = max(0, round(self.cfg.posts / self.cfg.days) - len(posts))
        posts += self._organic(day_start, budget, trend)
        posts.sort(key=lambda p: p.created_at)
        stats.posts = len(posts)
        return posts, stats

    def _organic_times(self, day_start: int, authors: list[int] | np.ndarray) -> np.ndarray:
        n = len(authors)
        hours = self.rng.choice(24, size=n, p=DIURNAL) + self.rng.random(n)
        return self._local_time(day_start, self.pop.tz[np.asarray(authors)], hours)

    def _target(self) -> Post:
        return self._targets(1)[0]

    def _targets(self, n: int) -> list[Post]:
        """`n` posts to react to, from today's and yesterday's originals; popular authors'
        posts draw most reactions (preferential attachment)."""
        pool = self.pool_today + self.pool_yesterday
        weights = (
            np.array([self.followers[self.index_of[p.account_id]] for p in pool], dtype=float)
            + 10.0
        )
        picks = self.rng.choice(len(pool), size=n, p=weights / weights.sum())
        return [pool[int(i)] for i in picks]

    def _organic(self, day_start: int, n: int, trend: str) -> list[Post]:
        if n == 0:
            return []
        cfg = self.cfg
        authors = self.organic[self.rng.choice(len(self.organic), size=n, p=self.organic_p)]
        times = self._organic_times(day_start, authors)
        kinds = self.rng.choice(
            4,
            size=n,
            p=[
                1 - cfg.repost_share - cfg.reply_share - cfg.quote_share,
                cfg.repost_share,
                cfg.reply_share,
                cfg.quote_share,
            ],
        )
        tag_draw = self.rng.random(n)
        url_draw = self.rng.random(n)
        out: list[Post] = []
        # Originals first, so that the day's reposts can point at them.
        for i in np.flatnonzero(kinds == 0):
            tags: list[str] = []
            if tag_draw[i] < 0.12:
                tags = [trend]
            elif tag_draw[i] < 0.3:
                tags = [words.GENERIC_TAGS[int((1.0 - self.u()) ** -1.4) % len(words.GENERIC_TAGS)]]
            post = self._original(
                int(authors[i]), float(times[i]), hashtags=tags, url=url_draw[i] < 0.15
            )
            out.append(post)
            self.pool_today.append(post)
        reacting = np.flatnonzero(kinds != 0)
        for i, target in zip(reacting, self._targets(len(reacting)), strict=True):
            author, when = int(authors[i]), float(times[i])
            if kinds[i] == 1:
                out.append(self._repost(author, target, when))
            elif kinds[i] == 2:
                out.append(self._reply(author, target, when))
            else:
                out.append(self._quote(author, target, when))
        return out

    def _cascades(self, day_start: int, stats: DayStats) -> list[Post]:
        """Viral posts: hundreds of organic accounts repost one post within minutes. The
        main source of false positives for a naive detector."""
        out: list[Post] = []
        for _ in range(int(self.rng.poisson(self.cfg.cascades_per_day))):
            seed_author = int(self.rng.choice(self.pop.popular))
            seed = self._original(
                seed_author, float(self._organic_times(day_start, [seed_author])[0])
            )
            out.append(seed)
            self.pool_today.append(seed)
            size = int(
                min(
                    len(self.organic) // 3,
                    self.rng.lognormal(math.log(self.cfg.cascade_median), 0.6),
                )
            )
            reposters = self.rng.choice(self.organic, size=size, replace=False)
            start = (seed.created_at - EPOCH).total_seconds()
            delays = self.rng.exponential(12 * 60.0, size=size) + 5
            for author, delay in zip(reposters, delays, strict=True):
                if int(author) != seed_author:
                    out.append(self._repost(int(author), seed, start + float(delay)))
            stats.cascade_sizes.append(size)
        return out

    def _communities(self, day_start: int, today: list[Post]) -> list[Post]:
        out: list[Post] = []
        for c, spec in enumerate(self.cfg.communities):
            leader_id = self.ids[self.pop.leaders[c]]
            members = self.community_members[c]
            for post in [p for p in today if p.account_id == leader_id and p.kind == Kind.POST]:
                start = (post.created_at - EPOCH).total_seconds()
                follow = members[self.rng.random(len(members)) < spec.follow_rate]
                delays = self.rng.lognormal(
                    math.log(spec.delay_median_min * 60), spec.delay_spread, size=len(follow)
                )
                for author, delay in zip(follow, delays, strict=True):
                    out.append(self._repost(int(author), post, start + float(delay)))
        return out

    # -- farms ----------------------------------------------------------------------

    def _shift_times(self, day_start: int, spec: FarmSpec, n: int) -> np.ndarray:
        """Directive times: inside office hours in the farm's time zone, not at lunch."""
        hours = [h for h in range(spec.shift_start, spec.shift_end) if h != spec.lunch_hour]
        local = self.rng.choice(hours, size=n) + self.rng.random(n)
        return self._local_time(day_start, spec.tz_hours, local)

    def _delays(self, spec: FarmSpec, n: int) -> np.ndarray:
        return self.rng.lognormal(math.log(spec.delay_median_s), spec.delay_spread, size=n)

    def _participants(self, members: np.ndarray, spec: FarmSpec) -> np.ndarray:
        return members[self.rng.random(len(members)) < spec.participation]

    def _edited(self, text: str, rate: float) -> str:
        if rate <= 0:
            return text
        tokens = text.split(" ")
        for i in range(len(tokens)):
            if self.u() < rate:
                tokens[i] = words.ADJECTIVES[self.u.pick(len(words.ADJECTIVES))]
        return " ".join(tokens)

    def _originals_by(self, authors: set[str]) -> list[Post]:
        """Today's and yesterday's original posts by `authors`, latest first. Found once
        per farm and day, not once per directive: a campaign collection's farms issue
        hundreds of directives a day, and the pool holds a day's organic posts."""
        found = [
            p
            for p in self.pool_today + self.pool_yesterday
            if p.account_id in authors and p.kind == Kind.POST
        ]
        found.sort(key=lambda p: p.created_at, reverse=True)
        return found

    def _latest_before(self, found: list[Post], when: float, k: int) -> Post | None:
        """The k-th latest of `found` (latest first) before `when`."""
        limit = EPOCH + timedelta(seconds=when)
        before = [p for p in found if p.created_at < limit]
        if not before:
            return None
        return before[k % min(len(before), 3)]

    def _farm_day(self, f: int, spec: FarmSpec, day_start: int, d: int) -> list[Post]:
        members = self.farm_members[f]
        out: list[Post] = []
        # Directive 1: applaud the chosen accounts (repost their latest posts). Directives
        # are issued in office hours, so they point at posts made before them.
        amplified = self._originals_by({self.ids[int(a)] for a in self.pop.amplified[f]})
        t0s = self._shift_times(day_start, spec, spec.directives_per_day)
        for k in range(spec.directives_per_day):
            target = self._latest_before(amplified, float(t0s[k]), k)
            if target is None:
                continue
            crew = self._participants(members, spec)
            for author, delay in zip(crew, self._delays(spec, len(crew)), strict=True):
                out.append(self._repost(int(author), target, float(t0s[k]) + float(delay)))
        # Directive 2: push the campaign hashtags, with copy-paste text in several languages.
        tags = [f"Statement{f + 1}{chr(65 + (d + k) % 6)}" for k in range(spec.hashtags_per_day)]
        t0s = self._shift_times(day_start, spec, spec.messages_per_day + len(tags))
        for k in range(spec.messages_per_day + len(tags)):
            topic = words.TOPICS[self.u.pick(len(words.TOPICS))]
            message_no = d * 10 + k + 1
            crew = self._participants(members, spec)
            for author, delay in zip(crew, self._delays(spec, len(crew)), strict=True):
                lang = words.LANGUAGES[int(self.pop.lang[int(author)])]
                base = words.FARM_SENTENCES.get(lang, words.FARM_SENTENCES["en"])[0]
                text = self._edited(base.format(n=message_no, topic=topic), spec.edit_rate)
                out.append(
                    self._original(
                        int(author),
                        float(t0s[k]) + float(delay),
                        hashtags=[tags[k % len(tags)]],
                        text=text,
                    )
                )
        # Directive 3: swarm the critics' posts with replies.
        critics = self._originals_by({self.ids[int(a)] for a in self.pop.critics[f]})
        t0s = self._shift_times(day_start, spec, spec.swarms_per_day)
        for k in range(spec.swarms_per_day):
            target = self._latest_before(critics, float(t0s[k]), k)
            if target is None:
                continue
            crew = self._participants(members, spec)
            for author, delay in zip(crew, self._delays(spec, len(crew)), strict=True):
                out.append(self._reply(int(author), target, float(t0s[k]) + float(delay)))
        # Camouflage: organic-looking posts, in office hours, in proportion to the rest.
        if spec.camouflage > 0 and out:
            extra = int(len(out) * spec.camouflage / (1 - spec.camouflage))
            authors = members[self.rng.integers(0, len(members), size=extra)]
            times = self._shift_times(day_start, spec, extra)
            targets = self._targets(extra)
            for author, when, target in zip(authors, times, targets, strict=True):
                if self.u() < 0.5:
                    out.append(self._repost(int(author), target, float(when)))
                else:
                    out.append(self._original(int(author), float(when)))
        return out

    def farm_member(self, index: int) -> bool:
        return bool(self.pop.role[index] == FARM)
