"""Posts, one simulated day at a time: organic activity, viral cascades, hard cases (news
shocks, copy-paste chains, live events), authentic communities and planted farms.

Each day is generated and written before the next, so memory is bounded by a day's posts
plus a pool of the last two days' original posts (what people repost and reply to). A
campaign collection samples each day's posts as they are made, so it is bounded the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from trollscope.model import Kind, Post
from trollscope.simulate import words
from trollscope.simulate.config import LIVE_POSTS, FarmSpec, SimulationConfig
from trollscope.simulate.population import EPOCH, FARM, ORGANIC, PLATFORM, Population
from trollscope.simulate.uniforms import Uniforms

# Relative activity by local hour of day for organic accounts: quiet nights, busy evenings.
DIURNAL = np.array(
    [3, 2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 7, 7, 7, 8, 9, 10, 10, 9, 7, 5], dtype=float
)
DIURNAL /= DIURNAL.sum()
POST_ID_BASE = 1_600_000_000_000_000_000
# An organic reaction that would come before its target waits for it: at least two minutes,
# then an exponential delay (the post has to be seen first).
REACTION_MIN_S = 120.0
REACTION_MEAN_S = 2400.0
DAY = 86_400
# Share of organic originals that use a campaign hashtag of the day (campaign collection).
ORGANIC_CAMPAIGN_TAG = 0.03
# News shocks: share of sharers who repost the outlet instead of posting the link, and of
# the others who add the story's hashtag; human reaction delays (median 6 minutes,
# log-sigma 1.2: most within 20 minutes, a tail over hours), after a few seconds at least.
SHOCK_REPOST = 0.3
SHOCK_TAGGED = 0.3
SHOCK_DELAY_MEDIAN_S = 360.0
SHOCK_DELAY_SIGMA = 1.2
SHOCK_DELAY_MIN_S = 5.0
# Copy-paste chains: share of copies with a small edit, mean minutes before someone copies
# an earlier adopter (drawn per chain), and seconds at least (reading, pasting).
COPY_EDITED = 0.2
COPY_DELAY_MIN = (20.0, 40.0)
COPY_TYPING_S = 20.0
# Live events: window (seconds), posts per live-tweeter, and shares of replies to another
# live-tweeter, mentions of the show's account and a second shared hashtag.
LIVE_WINDOW_S = (3600.0, 7200.0)
LIVE_REPLY = 0.15
LIVE_MENTION = 0.2
LIVE_SECOND_TAG = 0.3


@dataclass(slots=True)
class DayStats:
    """What one day holds, for checks and the progress bar."""

    posts: int = 0
    cascade_sizes: list[int] = field(default_factory=list)
    # Before a campaign collection's sample (equal to `posts` when every post is written).
    generated: int = 0
    farm_posts: int = 0
    # Accounts taking part in each hard case (sharers, copiers, live-tweeters).
    news_shock_sizes: list[int] = field(default_factory=list)
    copy_chain_sizes: list[int] = field(default_factory=list)
    live_event_sizes: list[int] = field(default_factory=list)


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
        # Hard cases draw their crowds from unlabelled accounts only (not community
        # members), so that every account in one is a false positive if flagged.
        self.plain = np.flatnonzero(pop.role == ORGANIC)
        w = pop.weight[self.plain]
        self.plain_p = w / w.sum()
        self.followers = np.array([a.followers or 0 for a in pop.accounts], dtype=float)
        self.handles = [a.handle or a.account_id for a in pop.accounts]
        self.ids = [a.account_id for a in pop.accounts]
        self.index_of = {a: i for i, a in enumerate(self.ids)}
        self.farm_members = [np.flatnonzero(pop.farm == f) for f in range(len(cfg.farms))]
        self.community_members = [
            np.flatnonzero(pop.community == c) for c in range(len(cfg.communities))
        ]
        # Hard cases are numbered across days, so that each has its own link, text or tag.
        self.shocks = 0
        self.lives = 0
        self.copy_texts: set[str] = set()
        # Each farm's rounds a day (directives, message rounds with the hashtag pushes,
        # swarms): its spec's, unless a campaign collection scales them.
        self.rounds = [
            (s.directives_per_day, s.messages_per_day + s.hashtags_per_day, s.swarms_per_day)
            for s in cfg.farms
        ]
        self.spec_rounds = list(self.rounds)
        # Campaign collection: today's campaign hashtags, farm members, the accounts that
        # author a written post, each farm's active days and posts per round, and the farm
        # posts wanted and made so far (set by _plan_campaign).
        self.campaign = cfg.collection == "campaign"
        self.campaign_tags: list[str] = []
        self.farm_ids = {self.ids[int(i)] for i in np.flatnonzero(pop.role == FARM)}
        self.appearing = np.zeros(len(self.ids), dtype=bool)
        self.active: list[list[bool]] = []
        self.per_round: list[float] = []
        self.farm_target = 0.0
        self.farm_made = 0
        if self.campaign:
            self._plan_campaign()

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
        links: list[str] | None = None,
        lang: str | None = None,
        mention: str | None = None,
    ) -> Post:
        """An original post: `text` (or a sentence in the author's language), hashtags,
        then a link (a random story with `url`, else `links`). `lang` is the text's
        language when it is not the author's; `mention` is a handle it starts with."""
        lang = lang or words.LANGUAGES[int(self.pop.lang[author])]
        body = text if text is not None else self._sentence(lang)
        tags = hashtags or []
        urls = list(links or [])
        if url:
            domain = words.NEWS_DOMAINS[self.u.pick(len(words.NEWS_DOMAINS))]
            # A few stories are shared widely, most rarely (a Pareto tail over story ids).
            story = int((1.0 - self.u()) ** -2.0) % 400
            urls = [f"https://{domain}/story/{story}"]
        lead = [f"@{mention}"] if mention else []
        full = " ".join([*lead, body, *(f"#{t}" for t in tags), *urls])
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
            mentions=[mention] if mention else [],
        )

    def _after(self, target: Post, when: float) -> float:
        """A reaction's time: `when`, or, if that comes before the target exists, a human
        delay after it. (Clamping such reactions to one second after the target, as this
        did before, put 15% of organic reposts and 25% of replies at exactly +1 s: an
        organic crowd in lockstep that no real data shows, which a detector of
        synchrony rightly flagged.)"""
        created = (target.created_at - EPOCH).total_seconds()
        if when > created:
            return when
        return created + REACTION_MIN_S - REACTION_MEAN_S * math.log(1.0 - self.u())

    def _repost(self, author: int, target: Post, when: float) -> Post:
        when = self._after(target, when)
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

    def _reply(
        self,
        author: int,
        target: Post,
        when: float,
        text: str | None = None,
        hashtags: list[str] | None = None,
    ) -> Post:
        when = self._after(target, when)
        target_handle = self.handles[self._index(target.account_id)]
        lang = words.LANGUAGES[int(self.pop.lang[author])]
        body = text if text is not None else self._sentence(lang)
        tags = hashtags or []
        return Post(
            platform=PLATFORM,
            post_id=self._post_id(),
            account_id=self.ids[author],
            created_at=self._time(when),
            kind=Kind.REPLY,
            text=" ".join([f"@{target_handle}", body, *(f"#{t}" for t in tags)]),
            lang=lang,
            ref_post_id=target.post_id,
            ref_account_id=target.account_id,
            hashtags=list(tags),
            mentions=[target_handle],
        )

    def _quote(self, author: int, target: Post, when: float) -> Post:
        when = self._after(target, when)
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
        # Each hard case draws nothing when its rate is 0 (default data keeps its bytes).
        # After the communities: a leader caught up in a hard case (live-tweeting a show)
        # must not pull the community's members into it.
        if self.cfg.news_shocks_per_day > 0:
            posts += self._news_shocks(day_start, stats)
        if self.cfg.copy_chains_per_day > 0:
            posts += self._copy_chains(day_start, stats)
        if self.cfg.live_events_per_day > 0:
            posts += self._live_events(day_start, stats)
        organic_needed = self._plan_day(d) if self.campaign else 0
        self.campaign_tags = []
        farm_posts = 0
        for f, spec in enumerate(self.cfg.farms):
            if spec.weekdays_only and weekday >= 5:
                continue
            made = self._farm_day(f, spec, day_start, d)
            farm_posts += len(made)
            posts += made
        if self.campaign:
            # Organic posts are made to be sampled: as many as the sample needs, twice over.
            self.farm_made += farm_posts
            budget = max(0, organic_needed - (len(posts) - farm_posts))
        else:
            budget = max(0, round(self.cfg.posts / self.cfg.days) - len(posts))
        posts += self._organic(day_start, budget, trend)
        posts.sort(key=lambda p: p.created_at)
        stats.generated = len(posts)
        stats.farm_posts = farm_posts
        if self.campaign:
            posts = self._collect(posts, farm_posts)
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
        # In a campaign collection, some organic posts use a campaign hashtag of the day
        # (people join or answer a pushed tag): a hashtag-collected sample holds them too.
        campaign_tags = self.campaign_tags if self.campaign else []
        campaign_draw = self.rng.random(n) if campaign_tags else None
        out: list[Post] = []
        # Originals first, so that the day's reposts can point at them.
        for i in np.flatnonzero(kinds == 0):
            tags: list[str] = []
            if tag_draw[i] < 0.12:
                tags = [trend]
            elif tag_draw[i] < 0.3:
                tags = [words.GENERIC_TAGS[int((1.0 - self.u()) ** -1.4) % len(words.GENERIC_TAGS)]]
            if campaign_draw is not None and campaign_draw[i] < ORGANIC_CAMPAIGN_TAG:
                which = int(campaign_draw[i] / ORGANIC_CAMPAIGN_TAG * len(campaign_tags))
                tags = [*tags, campaign_tags[which]]
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

    # -- hard cases: organic behaviour that looks synchronous ----------------------------

    def _count(self, rate: float) -> int:
        """Events today at `rate` a day: its whole part, and one more with the probability
        of its fraction. Same mean as a Poisson count, far less spread: a benchmark's few
        days hold the hard cases it asked for (a Poisson(1) day is empty a third of the time)."""
        whole = int(rate)
        return whole + int(self.u() < rate - whole)

    def _crowd(self, size: int) -> np.ndarray:
        """`size` distinct unlabelled accounts, the active ones likelier (as in organic
        posting)."""
        picks = self.rng.choice(len(self.plain), size=size, replace=False, p=self.plain_p)
        return self.plain[picks]

    def _crowd_size(self, median: float, sigma: float, lo: float, hi: float) -> int:
        """A lognormal crowd size within [lo, hi], and at most a third of unlabelled accounts."""
        drawn = float(np.clip(self.rng.lognormal(math.log(median), sigma), lo, hi))
        return int(min(len(self.plain) // 3, drawn))

    def _news_shocks(self, day_start: int, stats: DayStats) -> list[Post]:
        """Breaking news: an outlet posts a link, and hundreds of people share the same link
        in their own words (or repost the outlet) within minutes. Same link, same minutes,
        many accounts: what co-link detection sees, with no coordination behind it."""
        out: list[Post] = []
        median = self.cfg.news_shock_median
        for _ in range(self._count(self.cfg.news_shocks_per_day)):
            self.shocks += 1
            outlet = int(self.rng.choice(self.pop.popular))
            event = float(self._organic_times(day_start, [outlet])[0])
            topic = words.TOPICS[self.u.pick(len(words.TOPICS))]
            domain = words.NEWS_DOMAINS[self.u.pick(len(words.NEWS_DOMAINS))]
            # A path organic posts never use (theirs are /story/N), so the link is the event's.
            link = f"https://{domain}/breaking/{self.shocks}"
            tag = f"{topic.capitalize()}News{self.shocks}"
            news = self._original(outlet, event, hashtags=[tag], links=[link])
            # Not in the reaction pool: the sharers are its reactions, and a popular
            # outlet's post there would draw reposts all day and blur the shock's timing.
            out.append(news)
            size = self._crowd_size(median, 0.5, median / 4, median * 4)
            sharers = self._crowd(size)
            delays = SHOCK_DELAY_MIN_S + self.rng.lognormal(
                math.log(SHOCK_DELAY_MEDIAN_S), SHOCK_DELAY_SIGMA, size=size
            )
            reposts = self.rng.random(size) < SHOCK_REPOST
            tagged = self.rng.random(size) < SHOCK_TAGGED
            shared = 0
            for author, delay, repost, with_tag in zip(
                sharers, delays, reposts, tagged, strict=True
            ):
                if int(author) == outlet:
                    continue
                when = event + float(delay)
                if repost:
                    out.append(self._repost(int(author), news, when))
                else:
                    tags = [tag] if with_tag else None
                    out.append(self._original(int(author), when, hashtags=tags, links=[link]))
                shared += 1
            stats.news_shock_sizes.append(shared)
        return out

    def _copy_text(self) -> str:
        """A copy-paste text no earlier chain used (a chain is one text)."""
        text = ""
        for _ in range(100):
            text = words.COPY_TEXTS[self.u.pick(len(words.COPY_TEXTS))].format(
                city=words.CITIES[self.u.pick(len(words.CITIES))],
                adj=words.ADJECTIVES[self.u.pick(len(words.ADJECTIVES))],
                topic=words.TOPICS[self.u.pick(len(words.TOPICS))],
            )
            if text not in self.copy_texts:
                break
        self.copy_texts.add(text)
        return text

    def _copy_chains(self, day_start: int, stats: DayStats) -> list[Post]:
        """Copy-paste chains ("copy and paste this to your status"): one text posted by tens
        to hundreds of accounts over hours, each copying someone who posted it before (a
        contagion, so it speeds up as adopters multiply, then fades). Identical text from
        many accounts, like a farm's copy-paste, but spread over hours, not seconds."""
        out: list[Post] = []
        median = self.cfg.copy_chain_median
        for _ in range(self._count(self.cfg.copy_chains_per_day)):
            text = self._copy_text()
            # At least 50 when there are 150 unlabelled accounts (there are 500 at least).
            size = self._crowd_size(median, 0.5, 50, 300)
            adopters = self._crowd(size)
            mean_s = 60.0 * self.rng.uniform(*COPY_DELAY_MIN)
            # Adopter i copies one of the i before it, chosen at random, after a delay.
            parents = (self.rng.random(size - 1) * np.arange(1, size)).astype(np.int64)
            delays = COPY_TYPING_S + self.rng.exponential(mean_s, size=size - 1)
            times = np.empty(size)
            times[0] = self._organic_times(day_start, adopters[:1])[0]
            for i in range(1, size):
                times[i] = times[parents[i - 1]] + delays[i - 1]
            edits = self.rng.random(size)
            for author, when, edit in zip(adopters, times, edits, strict=True):
                out.append(self._copy(int(author), float(when), text, float(edit)))
            stats.copy_chain_sizes.append(size)
        return out

    def _copy(self, author: int, when: float, text: str, edit: float) -> Post:
        """One copy of a chain's text: most verbatim, some with a word changed, an emoji
        added or "#copied" at the end (`edit` is a uniform draw that picks which)."""
        if edit >= COPY_EDITED:
            return self._original(author, when, text=text, lang="en")
        which = edit / COPY_EDITED * 3
        if which < 1:
            tokens = text.split(" ")
            tokens[self.u.pick(len(tokens))] = words.ADJECTIVES[self.u.pick(len(words.ADJECTIVES))]
            return self._original(author, when, text=" ".join(tokens), lang="en")
        if which < 2:
            ending = words.COPY_ENDINGS[self.u.pick(len(words.COPY_ENDINGS))]
            return self._original(author, when, text=f"{text} {ending}", lang="en")
        return self._original(author, when, text=text, lang="en", hashtags=["copied"])

    def _live_events(self, day_start: int, stats: DayStats) -> list[Post]:
        """A show, a match or a hashtag game: for one to two hours, tens to hundreds of
        people post 10-40 times each on its hashtag, answer each other and mention the
        show. Dozens of posts an hour on one tag per account: a burst, organically."""
        out: list[Post] = []
        median = self.cfg.live_event_median
        for _ in range(self._count(self.cfg.live_events_per_day)):
            self.lives += 1
            show = int(self.rng.choice(self.pop.popular))
            show_handle = self.handles[show]
            start = float(self._organic_times(day_start, [show])[0])
            length = float(self.rng.uniform(*LIVE_WINDOW_S))
            topic = words.TOPICS[self.u.pick(len(words.TOPICS))]
            tag = f"{topic.capitalize()}Live{self.lives}"
            second = words.GENERIC_TAGS[self.u.pick(len(words.GENERIC_TAGS))]
            size = self._crowd_size(median, 0.35, median / 2, median * 2)
            tweeters = self._crowd(size)
            counts = self.rng.integers(LIVE_POSTS[0], LIVE_POSTS[1] + 1, size=size)
            authors = np.repeat(tweeters, counts)
            # Uniform times in the window given each count: a Poisson process in the window.
            times = start + self.rng.random(len(authors)) * length
            order = np.argsort(times, kind="stable")
            draws = self.rng.random((3, len(authors)))
            event: list[Post] = []
            for j in order:
                author, when = int(authors[j]), float(times[j])
                tags = [tag, second] if draws[2, j] < LIVE_SECOND_TAG else [tag]
                # A reply to one of the last few live posts, when it is someone else's.
                target = None
                if draws[0, j] < LIVE_REPLY and event:
                    target = event[-1 - self.u.pick(min(len(event), 30))]
                if target is not None and target.account_id != self.ids[author]:
                    post = self._reply(author, target, when, hashtags=tags)
                elif draws[1, j] < LIVE_MENTION and author != show:
                    post = self._original(author, when, hashtags=tags, mention=show_handle)
                else:
                    post = self._original(author, when, hashtags=tags)
                event.append(post)
            out += event
            stats.live_event_sizes.append(size)
        return out

    # -- campaign collection --------------------------------------------------------

    def _plan_campaign(self) -> None:
        """What a campaign collection needs before the first day: each farm's posts per
        round and active days, and a check that the farms post at all.

        A farm's output does not grow with `posts` (it is its members times its rounds), so
        for the farms to write `campaign_share` of `posts` their rounds a day (directives,
        messages, swarms) are scaled; how each round is done (who takes part, delays,
        edits, camouflage) is unchanged. `_plan_day` sets each day's rounds."""
        cfg = self.cfg
        weekdays = [(cfg.start + timedelta(days=d)).weekday() for d in range(cfg.days)]
        self.active = [
            [not (spec.weekdays_only and w >= 5) for w in weekdays] for spec in cfg.farms
        ]
        # Posts per round: members who take part, plus camouflage in proportion.
        self.per_round = [
            s.size * s.participation / max(1e-9, 1.0 - s.camouflage) for s in cfg.farms
        ]
        self.farm_target = cfg.campaign_share * cfg.posts
        self.farm_made = 0
        if self._expected_farm_posts(0) <= 0:
            raise ValueError("a campaign collection needs farms that post on some day")

    def _expected_farm_posts(self, first_day: int) -> float:
        """Farm posts the specs' rounds would give from `first_day` to the end."""
        return sum(
            self.per_round[f] * sum(self.spec_rounds[f]) * sum(self.active[f][first_day:])
            for f in range(len(self.cfg.farms))
        )

    def _plan_day(self, d: int) -> int:
        """Set day `d`'s rounds for each farm from the farm posts still owed (so a day that
        made fewer than expected, as day one does, having no earlier posts for every
        directive to point at, is made up later), and return the organic posts to make."""
        cfg = self.cfg
        owed = max(0.0, self.farm_target - self.farm_made)
        expected = self._expected_farm_posts(d)
        factor = owed / expected if expected > 0 else 0.0
        planned = 0.0
        for f, (directives, messages, swarms) in enumerate(self.spec_rounds):
            rounds = directives + messages + swarms
            scaled = round(rounds * factor)
            d_rounds = round(directives * scaled / rounds) if rounds else 0
            s_rounds = round(swarms * scaled / rounds) if rounds else 0
            self.rounds[f] = (d_rounds, max(0, scaled - d_rounds - s_rounds), s_rounds)
            if self.active[f][d]:
                planned += self.per_round[f] * scaled
        # Twice the organic posts the sample takes, so that it is a sample; never fewer
        # than an uncollected day has, so that reactions have their usual pool.
        keep = (1.0 - cfg.campaign_share) / cfg.campaign_share
        return max(round(cfg.posts / cfg.days), math.ceil(2.0 * keep * planned))

    def _collect(self, posts: list[Post], farm_posts: int) -> list[Post]:
        """What collecting the farms' hashtags keeps of a day: every farm post, and organic
        posts so that the farms are `campaign_share` of them; organic posts with a campaign
        hashtag first (a tag collection holds them all), then others at random (matched by
        keywords). The order of `posts` (by time) is kept."""
        share = self.cfg.campaign_share
        want = round(farm_posts * (1.0 - share) / share)
        tags = set(self.campaign_tags)
        farm = [i for i, p in enumerate(posts) if p.account_id in self.farm_ids]
        farm_set = set(farm)
        others = [i for i in range(len(posts)) if i not in farm_set]
        tagged = [i for i in others if tags.intersection(posts[i].hashtags)]
        kept = list(farm)
        if len(tagged) >= want:
            kept += self._sample(tagged, want)
        else:
            tagged_set = set(tagged)
            rest = [i for i in others if i not in tagged_set]
            kept += tagged + self._sample(rest, want - len(tagged))
        kept.sort()
        written = [posts[i] for i in kept]
        # Authors only: every format carries its authors' profiles, not always those of the
        # accounts they repost, so labels then match the accounts a case of the data holds.
        for post in written:
            self.appearing[self.index_of[post.account_id]] = True
        return written

    def _sample(self, items: list[int], n: int) -> list[int]:
        if n >= len(items):
            return list(items)
        if n <= 0:
            return []
        picks = self.rng.choice(len(items), size=n, replace=False)
        return [items[int(i)] for i in picks]

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
        # Rounds a day: the spec's, or more (fewer) when a campaign collection needs it.
        directives, message_rounds, swarms = self.rounds[f]
        # Message numbers stay distinct across days when a farm sends more than 10 a day.
        stride = max(10, message_rounds) if self.campaign else 10
        # Directive 1: applaud the chosen accounts (repost their latest posts). Directives
        # are issued in office hours, so they point at posts made before them.
        amplified = self._originals_by({self.ids[int(a)] for a in self.pop.amplified[f]})
        t0s = self._shift_times(day_start, spec, directives)
        for k in range(directives):
            target = self._latest_before(amplified, float(t0s[k]), k)
            if target is None:
                continue
            crew = self._participants(members, spec)
            for author, delay in zip(crew, self._delays(spec, len(crew)), strict=True):
                out.append(self._repost(int(author), target, float(t0s[k]) + float(delay)))
        # Directive 2: push the campaign hashtags, with copy-paste text in several languages.
        tags = [f"Statement{f + 1}{chr(65 + (d + k) % 6)}" for k in range(spec.hashtags_per_day)]
        self.campaign_tags += tags
        t0s = self._shift_times(day_start, spec, message_rounds)
        for k in range(message_rounds):
            topic = words.TOPICS[self.u.pick(len(words.TOPICS))]
            message_no = d * stride + k + 1
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
        t0s = self._shift_times(day_start, spec, swarms)
        for k in range(swarms):
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
