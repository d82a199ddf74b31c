"""Content mix: what an account posts, against what every account of the data posts.

A farm member's timeline is made of its directives (DESIGN.md): reposts of the accounts it
applauds, the campaign's hashtags, copy-pasted messages, replies swarming critics it never
otherwise deals with. Each is a share of the account's posts, compared with what a typical
account of the data does (the table `content_mix` keeps every measure; `content_rates` the
pooled and typical shares and the dispersion):

- `repost_share`: reposts / posts.
- `copy_share`: of its texts (posts, replies and quotes whose text keeps a letter or digit
  after normalisation), those that another account also posted. The normalisation is
  near-dup-text's (`neardup.normalise`: co-text's, plus invisible format characters
  dropped), done once per distinct text in numpy, by a batch function on the engine
  (`norm_batch`): as co-text's DuckDB regexes it took 16 s
  on the simulator's 1M posts.
- `hashtag_share`: of its own posts (not reposts), those with a hashtag; and
  `hashtags_per_post` (reported, not tested).
- `swarm_share`: of its replies to other accounts, those to an account it never reposted,
  quoted or mentioned (mentions in its posts and quotes, matched to handles; a reply's own
  @-prefix is not an interaction). Organic replies mostly go to accounts one follows; a
  swarm goes at a target chosen for it.
- `languages`, `main_language`, `main_language_share` of its own posts (reported, not
  tested).

**The test.** For each tested share (repost, copy, hashtag, swarm) and platform, the
account's count k of n trials is compared with what a typical account of the platform
does. Accounts differ far more than coin flips do (some only repost), so the null is
beta-binomial, not binomial: k ~ BetaBinomial(n, mu, rho), each account's share drawn from
a beta distribution of mean mu, rho the correlation between one account's trials (rho = 0
is the binomial). mu and rho are fitted to the data robustly (`fit_null`, on up to 1,000
accounts with 10 trials or more): with the right (mu, rho), the randomised probability
integral transforms of the counts are uniform, so mu is set where their median is 1/2 and
rho, jointly, where the median of those below 1/2 is 1/4 (where most accounts count 0,
where the median of those above the zeros' share z is (1 + z) / 2). The pooled share (all
trials of all accounts) is kept in `content_rates` but is not the centre: a farm posts so
much that it moves the pooled share towards itself (the simulator's 90 farm members among
3,100 accounts moved the pooled hashtag share from 22% to 28%), and then a variance-based
rho widens the null around it until nobody is flagged; medians, and the lower half only
for rho, leave the farm (in the upper tail of the share that tests it) almost no say
unless it is half the accounts. Synthetic checks (`tests/signals/test_content.py`, 5,000
accounts of typical share 0.2, twelve seeds): rho 0.01 comes back as 0.006-0.013 and 0.1
as 0.08-0.11 (the sample of 1,000 accounts is the noise); with a tenth of the accounts
planted at a share of 0.8, the typical share comes back as 0.21-0.23 (the pooled one is
0.26) and rho as 0.95-1.8 times the truth. Crowds at the edges (typical share 0.9 or
0.95, a quarter to a half of the accounts at k = n; 0.05 or 0.02, two thirds at 0) come
back within a quarter of their typical share and half of their rho, and none of their
accounts is flagged; the alternating fit used before (issue 20) tested the first against
the binomial at 0.5 and the second at 0.004, flagging 10-90% of the crowd.

The p-value of a share is the upper tail P(X >= k), exact, summed in log space; an
account's p-value is its smallest, times the number of tests (Bonferroni over accounts and
shares), capped at 1; flagged at `alpha`. `value` is -log10 of the smallest tail, before
Bonferroni. The evidence names every share that passes on its own, with the typical
account's share.

**What it does not prove.** A share far from the crowd's says "this timeline is unlike
most", not "this is a troll": news bots, fan accounts that only repost one star, activists
who tag every post, people who argue with strangers all have extreme shares (on the
simulator's 1M posts, 94 of the 95 members of its authentic communities, fans who only
repost their leader, are flagged with the 210 farm members, and no other organic
account). The typical share is the data set's own, so a data set collected around one
hashtag makes hashtags normal. The copy share counts texts another account also posted,
whoever copied whom.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from trollscope.features.neardup import normalise
from trollscope.inputs import Inputs, int_sum, one_batch
from trollscope.signals.base import (
    ACCOUNT_COLUMNS,
    ACCOUNT_ROW_SCHEMA,
    ACCOUNT_ROWS,
    Kept,
    Signal,
    SignalParams,
    SignalResult,
    empty_accounts,
    flagged_rows,
    posts_engine,
)

if TYPE_CHECKING:
    from trollscope.inputs import Backend

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

# (share, count column, trials column, words for the evidence)
MEASURES: tuple[tuple[str, str, str, str], ...] = (
    ("repost", "reposts", "posts", "of its {n:,} posts are reposts"),
    ("copy", "copied", "texts", "of its {n:,} texts were also posted by other accounts"),
    ("hashtag", "hashtagged", "own_posts", "of its {n:,} own posts carry a hashtag"),
    (
        "swarm",
        "swarm_replies",
        "replies",
        "of its {n:,} replies go to accounts it never reposted, quoted or mentioned",
    ),
)
MIN_TRIALS_FOR_DISPERSION = 10
MIN_ACCOUNTS_FOR_DISPERSION = 30
DISPERSION_SAMPLE = 1_000


def _handle(name: ir.StringValue) -> ir.StringValue:
    """A handle or a mention as one key: leading @s dropped, lower-cased."""
    return name.re_replace("^@+", "").lower()


def _mix(posts: ir.Table, accounts: ir.Table, texts: ir.Table) -> ir.Table:
    """One row per account that posted: its counts of each measure's trials and hits,
    hashtags per own post, languages. `texts` is `text_keys`'s table on the engine."""
    own = posts.kind != "repost"
    # An absent list counts as empty (Spark's size() of NULL is -1, DuckDB's NULL).
    tags = ibis.ifelse(posts.hashtags.isnull(), 0, posts.hashtags.length())
    base = posts.group_by("platform", "account_id").aggregate(
        posts=posts.count(),
        reposts=posts.count(where=posts.kind == "repost"),
        own_posts=posts.count(where=own),
        hashtagged=posts.count(where=own & (tags > 0)),
        hashtag_uses=tags.sum(where=own).coalesce(0),
    )
    spoken = posts.filter(own & posts.lang.notnull())
    per_lang = spoken.group_by("platform", "account_id", "lang").aggregate(n=spoken.count())
    langs = per_lang.group_by("platform", "account_id").aggregate(
        languages=per_lang.count(),
        # The most used language, ties to the greatest code (as DuckDB's arg_max on (n, lang)).
        main_language=per_lang.lang.argmax(ibis.struct({"n": per_lang.n, "lang": per_lang.lang})),
        main_language_share=per_lang.n.max() / per_lang.n.sum(),
    )
    shared = (
        texts.group_by("platform", "key")
        .aggregate(first=texts.account_id.min(), last=texts.account_id.max())
        .filter(lambda t: t.first != t.last)
        .select("platform", "key", copy=ibis.literal(1))
    )
    copied = texts.left_join(shared, ["platform", "key"])
    copies = copied.group_by("platform", "account_id").aggregate(
        texts=copied.count(), copied=copied.copy.count()
    )
    named = accounts.filter(accounts.handle.notnull())
    handles = named.select("platform", h=_handle(named.handle), other=named.account_id)
    shares = posts.filter(posts.kind.isin(("repost", "quote")) & posts.ref_account_id.notnull())
    mentioning = posts.filter(posts.kind.isin(("post", "quote")))
    mentions = mentioning.select("platform", "account_id", m=mentioning.mentions.unnest())
    mentions = mentions.select("platform", "account_id", h=_handle(mentions.m))
    mentioned = mentions.join(handles, ["platform", "h"]).select("platform", "account_id", "other")
    touched = ibis.union(
        shares.select("platform", "account_id", other=shares.ref_account_id),
        mentioned,
        distinct=True,
    ).mutate(hit=ibis.literal(1))
    asked = posts.filter(
        (posts.kind == "reply")
        & posts.ref_account_id.notnull()
        & (posts.ref_account_id != posts.account_id)
    )
    answered = asked.select("platform", "account_id", other=asked.ref_account_id).left_join(
        touched, ["platform", "account_id", "other"]
    )
    replies = answered.group_by("platform", "account_id").aggregate(
        replies=answered.count(), swarm_replies=answered.count(where=answered.hit.isnull())
    )
    keys = ["platform", "account_id"]
    joined = base.left_join(copies, keys).left_join(replies, keys).left_join(langs, keys)
    return joined.select(
        base.platform,
        base.account_id,
        base.posts,
        base.reposts,
        base.own_posts,
        base.hashtagged,
        hashtags_per_post=base.hashtag_uses / base.own_posts.nullif(0),
        texts=copies.texts.coalesce(0),
        copied=copies.copied.coalesce(0),
        replies=replies.replies.coalesce(0),
        swarm_replies=replies.swarm_replies.coalesce(0),
        languages=langs.languages.coalesce(0),
        main_language=langs.main_language,
        main_language_share=langs.main_language_share,
    )


NORMS_SCHEMA = pa.schema([pa.field("text", pa.string()), pa.field("key", pa.string())])


def _own_texts(posts: ir.Table) -> ir.Table:
    return posts.filter((posts.kind != "repost") & posts.text.notnull())


def norm_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """(text, key) of a batch of distinct texts: `key` the normalised text (near-dup-text's
    `normalise`) where it keeps a letter or digit, else null."""
    texts = batch.column("text")
    norm = normalise(texts).cast(pa.string())
    worded = pc.fill_null(pc.match_substring_regex(norm, r"[\p{L}\p{N}]"), False)
    key = pc.if_else(worded, norm, pa.scalar(None, pa.string()))
    return pa.record_batch([texts, key], schema=NORMS_SCHEMA)


def _text_rows(posts: ir.Table, norms: ir.Table) -> ir.Table:
    """(platform, account_id, key) of every post, reply and quote whose normalised text
    keeps a letter or digit (`norms`: `norm_batch` over the distinct texts)."""
    joined = _own_texts(posts).join(norms, "text")
    return joined.filter(joined.key.notnull()).select("platform", "account_id", "key")


# --- the beta-binomial tail --------------------------------------------------------------


def fit_null(k: Ints, n: Ints, seed: int = 1) -> tuple[float, float]:
    """The null's typical share mu and dispersion rho, fitted robustly (module docstring).

    With the right (mu, rho) the randomised probability integral transforms u = P(X < k)
    + V P(X = k) (V uniform) of the accounts' counts are uniform on [0, 1]. For each rho
    tried, mu is set so that their median is 1/2; rho is the smallest at which the median
    of those below 1/2 is then 1/4 (too small a rho puts the counts too far out, that
    median below 1/4). Medians, and the lower half for rho: a farm sits in the upper tail
    of the share that tests it, so it cannot drag the centre to itself (as it drags the
    pooled share) nor widen its own null (as it widens a variance) unless it is half the
    accounts. Where most accounts count 0, the lower half says nothing and the PITs above
    the zeros' share are used (below).

    mu and rho are fitted jointly, not alternately (issue 20): a crowd near 1 (the
    simulator's copy share, 40% of accounts copying every text) has its median far off
    at rho = 0, no rho then brought the lower median to 1/4 around that mu, and the
    alternation fell to a U-shaped beta and then to the binomial at 0.5: a crowd at 0.9
    tested against 0.5 flagged 4-5% of the simulator's organic accounts.
    Without 30 accounts of 10 trials or more: the pooled share and the binomial.
    """
    total = int(n.sum())
    pooled = float(k.sum() / total) if total else 0.0
    use = np.flatnonzero(n >= MIN_TRIALS_FOR_DISPERSION)
    if len(use) < MIN_ACCOUNTS_FOR_DISPERSION or not 0.0 < pooled < 1.0:
        return pooled, 0.0
    chosen, rng = sample_positions(len(use), seed)
    if chosen is not None:
        use = use[chosen]
    return fit_sample(k[use], n[use], rng)


def sample_positions(eligible: int, seed: int) -> tuple[Ints | None, np.random.Generator]:
    """Which of the `eligible` accounts (those with enough trials, in account order) the
    fit reads, in order (None: all), and the generator, to draw on for the fit."""
    rng = np.random.default_rng(seed)
    if eligible <= DISPERSION_SAMPLE:
        return None, rng
    chosen: Ints = np.sort(rng.choice(eligible, DISPERSION_SAMPLE, replace=False))
    return chosen, rng


def fit_sample(kk: Ints, nn: Ints, rng: np.random.Generator) -> tuple[float, float]:
    """`fit_null`'s (mu, rho) from its sample of accounts (`sample_positions`)."""
    v = rng.random(len(kk))

    # The fit asks for some 400 PITs of the same counts: each summed over the shorter
    # side of k (0..k or k..n), the ranges laid end to end once, P(X = k) read off them.
    lower = kk <= nn - kk
    lengths = np.where(lower, kk + 1, nn - kk + 1)
    seg, pos = _ragged(lengths)
    x = np.where(lower, 0, kk)[seg] + pos
    starts = np.cumsum(lengths) - lengths
    at_k = np.where(lower, starts + lengths - 1, starts)
    top = int(nn.max())

    def pit(mu: float, rho: float) -> Floats:
        terms = _log_pmf(top, mu, rho)(x, nn[seg])
        peak = np.maximum.reduceat(terms, starts)
        side = np.exp(peak) * np.add.reduceat(np.exp(terms - peak[seg]), starts)
        at = np.exp(terms[at_k])
        u: Floats = np.where(lower, side - at, 1.0 - side) + v * at
        return np.clip(u, 0.0, 1.0)

    @functools.cache
    def centre(rho: float) -> float:
        # The median PIT falls as mu rises: bisection on the log-odds of mu, to 3e-5
        # (far inside the noise of a sample of 1,000; each step is a pass over the counts,
        # and the fit of rho asks for mu at some twenty rhos).
        lo, hi = -14.0, 14.0
        for _ in range(20):
            mid = (lo + hi) / 2
            if np.median(pit(_expit(mid), rho)) > 0.5:
                lo = mid
            else:
                hi = mid
        return _expit((lo + hi) / 2)

    # The part of the PITs that tells the crowd's width is the lower half, which a farm
    # (in the upper tail) does not reach. But where most accounts count 0, the lower half
    # is those zeros spread at random, which any rho fits (a crowd of typical share 0.05
    # and rho 0.3, 64% zeros, came out as the binomial at 0.004 and 18% of it was
    # flagged): then the PITs above the zeros' share z tell (their median must be
    # (1 + z) / 2), and a farm among them widens the null, never narrows it.
    zeros = float(np.mean(kk == 0))
    cut = max(zeros, 0.5)

    def width(rho: float) -> float:
        u = pit(centre(rho), rho)
        part = u[u >= cut] if zeros >= 0.5 else u[u < 0.5]
        if not part.size:  # nothing to judge by: take this rho
            return 0.0
        if zeros >= 0.5:
            return (1.0 + cut) / 2 - float(np.median(part))
        return float(np.median(part)) - 0.25

    rho = _fit_rho(width)
    return centre(rho), rho


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _fit_rho(width: Callable[[float], float]) -> float:
    """The smallest rho at which `width` (how far the half's median is inside its target)
    reaches 0: the first crossing on a grid half a decade apart from 1e-6 (beyond it a
    U-shaped beta would cross again), refined by bisection on log rho. Without a crossing
    (counts no beta-binomial fits), the grid's rho that comes closest, never the grid's
    end: a U-shaped beta is no crowd."""
    best, closest = 0.0, width(0.0)
    if closest >= 0.0:
        return 0.0
    lo = 0.0
    for rho in np.logspace(-6, math.log10(0.999), 13):
        reached = width(float(rho))
        if reached >= 0.0:
            hi = float(rho)
            break
        if reached > closest:
            best, closest = float(rho), reached
        lo = float(rho)
    else:
        return best
    for _ in range(8):  # to 0.5% of rho
        mid = math.sqrt(lo * hi) if lo > 0 else hi / 10
        lo, hi = (lo, mid) if width(mid) >= 0.0 else (mid, hi)
    return (lo + hi) / 2


def log_betabinom_tail(k: Ints, n: Ints, mu: float, rho: float) -> Floats:
    """ln P(X >= k) for X ~ BetaBinomial(n, a, b), a = mu (1 - rho) / rho, b = (1 - mu)
    (1 - rho) / rho (rho = 0: the binomial), elementwise over accounts; 0 where the share
    cannot be tested (mu 0 or 1).

    Each P(X = x), x = k .. n, is looked up in tables of ln x! and of the rising products
    a (a+1) ... (a+x-1) (running sums of logarithms: no lgamma of the huge a and b a small
    rho gives, whose differences would lose digits), then summed in log space over the
    accounts' concatenated ranges: linear in the sum of n - k.
    """
    k = np.asarray(k, np.int64)
    n = np.asarray(n, np.int64)
    out = np.zeros(len(k), np.float64)
    out[k > n] = -np.inf
    todo = (k > 0) & (k <= n)
    if not todo.any() or not 0.0 < mu < 1.0:  # no account, or all alike: nothing to test
        return out
    kk, nn = k[todo], n[todo]
    log_pmf = _log_pmf(int(nn.max()), mu, rho)
    lengths = nn - kk + 1
    seg, pos = _ragged(lengths)
    terms = log_pmf(kk[seg] + pos, nn[seg])
    starts = np.cumsum(lengths) - lengths
    top = np.maximum.reduceat(terms, starts)
    total = np.add.reduceat(np.exp(terms - top[seg]), starts)
    out[todo] = np.minimum(top + np.log(total), 0.0)
    return out


def _log_pmf(top: int, mu: float, rho: float) -> Callable[[Ints, Ints], Floats]:
    """ln P(X = x | n) for n <= top, by table lookups."""
    # rho below 1e-8 is the binomial to within n * 1e-8 of its variance; above, a and b
    # stay small enough for running sums of their logarithms to keep their digits.
    rho = min(max(rho, 1e-8), 1.0 - 1e-8)
    s = (1.0 - rho) / rho
    steps = np.arange(top, dtype=np.float64)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(steps + 1.0))])
    rise_a = np.concatenate([[0.0], np.cumsum(np.log(mu * s + steps))])
    rise_b = np.concatenate([[0.0], np.cumsum(np.log((1.0 - mu) * s + steps))])
    rise_ab = np.concatenate([[0.0], np.cumsum(np.log(s + steps))])

    def log_pmf(x: Ints, n: Ints) -> Floats:
        out: Floats = (
            log_fact[n] - log_fact[x] - log_fact[n - x] + rise_a[x] + rise_b[n - x] - rise_ab[n]
        )
        return out

    return log_pmf


def _ragged(lengths: Ints) -> tuple[Ints, Ints]:
    """For ranges of the given lengths laid end to end: each element's range and its
    position in it."""
    seg = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    return seg, np.arange(int(lengths.sum()), dtype=np.int64) - starts[seg]


# --- the signal ----------------------------------------------------------------------


def compute(
    con: duckdb.DuckDBPyConnection, params: SignalParams, engine: Backend | None = None
) -> SignalResult:
    """The content mix of every account that posted (see the module docstring), on
    `engine` (`base.posts_engine`): the distinct texts normalised by a batch function (as
    near-dup text's are), the mix, each null's fit from a sample of the mix's rows, then
    the tests, a batch function over the mix. Only the fits' samples and the flagged
    rows come to Python; the rest reaches the case's connection as `Kept` tables."""
    on = posts_engine(con, engine)
    inputs = Inputs()
    # Names of their own: two results on one connection must not share tables.
    run = uuid.uuid4().hex[:12]
    norms_name, mix_name, rows_name = (
        f"ts_content_{part}_{run}" for part in ("norms", "mix", "rows")
    )
    on.map_batches(
        norms_name, _own_texts(inputs.posts).select("text").distinct(), norm_batch, NORMS_SCHEMA
    )
    norms = ibis.table(ibis.Schema.from_pyarrow(NORMS_SCHEMA), name=norms_name)
    mix_expr = _mix(inputs.posts, inputs.accounts, _text_rows(inputs.posts, norms))
    on.store(mix_name, mix_expr)
    on.drop(norms_name)
    mix = ibis.table(mix_expr.schema(), name=mix_name)
    try:
        rates = _fit(on, mix, params.seed)
    except BaseException:
        on.drop(mix_name)
        raise
    schema = _rows_schema(mix_expr)
    if not rates:  # no post: nothing to test, the tables empty
        on.drop(mix_name)
        empty_mix = schema.empty_table().select(list(_mix_columns(mix_expr)))
        return SignalResult(
            empty_accounts(),
            {"content_mix": empty_mix, "content_rates": RATES_SCHEMA.empty_table()},
        )
    tests = sum(r.accounts for r in rates)
    test = functools.partial(tails_batch, tuple(rates), params.alpha, tests, schema)
    on.map_batches(rows_name, mix, test, schema)
    on.drop(mix_name)
    rows = on.to_case(rows_name)
    flagged = flagged_rows(con, rows)
    return SignalResult(
        flagged,
        {"content_rates": _rates_table(rates)},
        kept={
            ACCOUNT_ROWS: Kept(rows, ACCOUNT_COLUMNS),
            "content_mix": Kept(rows, _mix_columns(mix_expr)),
        },
    )


def _mix_columns(mix: ir.Table) -> tuple[str, ...]:
    """The columns of the stored `content_mix`: the mix's, each measure's share and
    tail, and the account's p-value."""
    measured = [c for name, *_ in MEASURES for c in (f"{name}_share", f"{name}_p")]
    return (*mix.columns, *measured, "p_value")


def _rows_schema(mix: ir.Table) -> pa.Schema:
    """What `tails_batch` makes: the account's row, then the rest of `content_mix`."""
    fields = list(ACCOUNT_ROW_SCHEMA)
    fields += [f for f in mix.schema().to_pyarrow() if f.name not in ("platform", "account_id")]
    for name, *_ in MEASURES:
        fields += [pa.field(f"{name}_share", pa.float64()), pa.field(f"{name}_p", pa.float64())]
    return pa.schema([f.with_nullable(f.name != "flagged") for f in fields])


def _fit(on: Backend, mix: ir.Table, seed: int) -> list[Rate]:
    """Per platform and measure, the null's fit (`fit_null`), from sums over the mix and
    the rows of its sample, fetched from the engine: the same numbers as `fit_null` over
    every account's counts."""
    sums: dict[str, ir.Scalar] = {}
    for name, count, trials, _ in MEASURES:
        sums[f"{name}_k"] = int_sum(mix[count])
        sums[f"{name}_n"] = int_sum(mix[trials])
        sums[f"{name}_eligible"] = mix.count(where=mix[trials] >= MIN_TRIALS_FOR_DISPERSION)
        sums[f"{name}_tested"] = mix.count(where=mix[trials] > 0)
    per_platform = on.fetch(mix.group_by("platform").aggregate(**sums).order_by("platform"))
    rates: list[Rate] = []
    for row in per_platform.to_pylist():
        platform = str(row["platform"])
        for name, count, trials, _ in MEASURES:
            k_sum, n_sum = int(row[f"{name}_k"] or 0), int(row[f"{name}_n"] or 0)
            pooled = float(np.int64(k_sum) / np.int64(n_sum)) if n_sum else 0.0
            eligible = int(row[f"{name}_eligible"])
            mu, rho = pooled, 0.0
            if eligible >= MIN_ACCOUNTS_FOR_DISPERSION and 0.0 < pooled < 1.0:
                kk, nn, rng = _sample(on, mix, platform, count, trials, eligible, seed)
                mu, rho = fit_sample(kk, nn, rng)
            tested = int(row[f"{name}_tested"]) if 0.0 < mu < 1.0 else 0
            rates.append(Rate(platform, name, pooled, mu, rho, tested))
    return rates


def _sample(
    on: Backend, mix: ir.Table, platform: str, count: str, trials: str, eligible: int, seed: int
) -> tuple[Ints, Ints, np.random.Generator]:
    """The counts of `fit_null`'s sample: the eligible accounts of `platform` in account
    order, or those at the positions `sample_positions` draws, numbered on the engine."""
    chosen, rng = sample_positions(eligible, seed)
    rows = mix.filter((mix.platform == platform) & (mix[trials] >= MIN_TRIALS_FOR_DISPERSION))
    rows = rows.select("account_id", k=mix[count], n=mix[trials])
    if chosen is None:
        got = on.fetch(rows.order_by("account_id"))
    else:
        name = f"ts_content_sample_{uuid.uuid4().hex[:12]}"
        on.number(name, rows, "pos", ["account_id"], "int64")
        try:
            numbered = ibis.table(rows.schema() | ibis.schema({"pos": "int64"}), name=name)
            picked = numbered.filter(numbered.pos.isin([int(c) for c in chosen]))
            got = on.fetch(picked.order_by("pos"))
        finally:
            on.drop(name)
    return _counts(got, "k"), _counts(got, "n"), rng


def tails_batch(
    rates: tuple[Rate, ...], alpha: float, tests: int, schema: pa.Schema, batch: pa.RecordBatch
) -> pa.RecordBatch:
    """The account rows and `content_mix` rows of a batch of the mix's rows, tested
    against the fitted nulls (`rates`), Bonferroni-corrected for `tests`."""
    mix = pa.Table.from_batches([batch])
    tails = _tails(mix, rates)
    log_min = np.minimum.reduce([np.zeros(mix.num_rows), *tails.values()])
    p_value = np.exp(np.minimum(log_min + math.log(max(tests, 1)), 0.0))
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "platform": mix.column("platform"),
        "account_id": mix.column("account_id"),
        "value": pa.array(-log_min / math.log(10), pa.float64()),
        "flagged": pa.array(p_value <= alpha, pa.bool_()),
        "p_value": pa.array(p_value, pa.float64()),
        "evidence": pa.array(_evidence(mix, tails, list(rates), alpha, tests), pa.string()),
    }
    for column in mix.column_names:
        columns.setdefault(column, mix.column(column))
    for name, count, trials, _ in MEASURES:
        k, n = _counts(mix, count), _counts(mix, trials)
        columns[f"{name}_share"] = pa.array(k / np.maximum(n, 1), pa.float64(), mask=n == 0)
        columns[f"{name}_p"] = pa.array(np.exp(tails[name]), pa.float64())
    return one_batch(pa.table({f.name: columns[f.name] for f in schema}).cast(schema))


def _rates_table(rates: list[Rate]) -> pa.Table:
    """The rates as a table, with its columns even when there are none (a case of
    accounts and no posts): a table without columns cannot be stored."""
    if rates:
        return pa.Table.from_pylist([asdict(r) for r in rates])
    return RATES_SCHEMA.empty_table()


def _counts(mix: pa.Table, column: str) -> Ints:
    counts: Ints = mix.column(column).to_numpy().astype(np.int64)
    return counts


@dataclass(frozen=True, slots=True)
class Rate:
    """Per platform and share: the pooled share, the null's typical share and dispersion
    (`fit_null`), and the accounts tested."""

    platform: str
    share: str
    pooled: float
    typical: float
    rho: float
    accounts: int


RATES_SCHEMA = pa.schema(
    [
        ("platform", pa.string()),
        ("share", pa.string()),
        ("pooled", pa.float64()),
        ("typical", pa.float64()),
        ("rho", pa.float64()),
        ("accounts", pa.int64()),
    ]
)


def _tails(mix: pa.Table, rates: Sequence[Rate]) -> dict[str, Floats]:
    """ln P(X >= k) of every account and share, against its platform's fitted null."""
    platforms = mix.column("platform").to_numpy(zero_copy_only=False)
    tails = {name: np.zeros(mix.num_rows, np.float64) for name, *_ in MEASURES}
    fitted = {(r.platform, r.share): r for r in rates}
    for platform in sorted(set(platforms.tolist())):
        rows = np.flatnonzero(platforms == platform)
        for name, count, trials, _ in MEASURES:
            k, n = _counts(mix, count)[rows], _counts(mix, trials)[rows]
            rate = fitted[(platform, name)]
            tails[name][rows] = log_betabinom_tail(k, n, rate.typical, rate.rho)
    return tails


def _evidence(
    mix: pa.Table,
    tails: dict[str, Floats],
    rates: list[Rate],
    alpha: float,
    tests: int,
) -> list[str | None]:
    """Per account, the shares that pass the test at alpha on their own, most surprising
    first, in words; None for the others."""
    typical = {(r.platform, r.share): r.typical for r in rates}
    platforms = mix.column("platform").to_pylist()
    threshold = math.log(alpha) - math.log(max(tests, 1))
    said: dict[int, list[tuple[float, str]]] = {}
    for name, count, trials, words in MEASURES:
        k, n = _counts(mix, count), _counts(mix, trials)
        for i in np.flatnonzero(tails[name] <= threshold).tolist():
            mu = typical[(platforms[i], name)]
            tail = float(tails[name][i])
            text = (
                f"{_share_words(int(k[i]), int(n[i]))} {words.format(n=int(n[i]))} "
                f"(typical account: {mu:.0%}; P = {math.exp(tail):.1e} before Bonferroni)"
            )
            said.setdefault(i, []).append((tail, text))
    return [
        "; ".join(t for _, t in sorted(said[i])) if i in said else None for i in range(mix.num_rows)
    ]


def _share_words(k: int, n: int) -> str:
    return "all" if k == n > 1 else f"{k:,} ({k / n:.0%})"


SIGNAL = Signal(
    "content-mix",
    compute,
    "Shares of an account's posts that are reposts, copies of other accounts' texts, "
    "hashtagged, or replies swarming accounts it never otherwise deals with, tested "
    "against the data's pooled shares (beta-binomial, Bonferroni). Bots, fans and "
    "activists have extreme shares too.",
)
