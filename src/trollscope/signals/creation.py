"""Creation bursts: many accounts created within hours of each other, far more than the
data's own rate of creations at that time.

Farms register their accounts in batches (a few hundred on one afternoon), and the chart
of creations per day is the first thing researchers publish about a farm. This signal
finds such batches with a scan test, per platform:

- Counts. Creations per hour when the data has a time of day (a platform whose creation
  times are mostly not exactly midnight), else per day (archives such as Twitter's
  information-operation releases give dates only).
- Baseline. The expected creations per day is a robust local rate: the larger of the
  trimmed mean of the daily counts within +-30 days (the middle 60%, so a burst of up to
  twelve days does not raise its own baseline) and the plain mean within +-182 days (a
  floor for sparse data, where the trimmed mean is zero). Local, not data-wide, because
  platforms grow: ten creations a day may be a lot in 2009 and nothing in 2020. Per hour
  the daily rate is spread by the data's own hour-of-day profile of creations (sign-ups
  follow the clock), estimated without the accounts of bursts found in whole-day windows.
- Test. Every window of 1 to 48 whole hours (1 to 7 days for dates), at every hour
  (day), gets an upper-tail p-value P(X >= count) under a Poisson law with the window's
  expected count, or a negative binomial when the days vary more than Poisson allows
  (organic waves of sign-ups; the extra variance is estimated from the data). The
  p-values are Bonferroni-corrected for every window tested (conservative: overlapping
  windows are correlated), and a window is a burst when the corrected p-value is at most
  `alpha` and it holds at least `MIN_ACCOUNTS` accounts.
- Bursts. Significant windows are picked greedily, most significant first, skipping
  windows that overlap one already picked and windows with a lull inside (two batches,
  reported apart), so that each burst is reported once, at the window length that fits
  it best. A picked window then grows over the bins next to it that are unusual on their
  own (p <= alpha uncorrected, at least two accounts), to take in a batch's first and
  last few accounts.

Where it runs: the pass over the accounts is Ibis on the engine detect runs on (DuckDB
or Spark): creations per platform and hour come back, the scan runs here in numpy, and
each account's outcome (its burst's, else its day's) is joined to it on the engine, where
its row stays until DuckDB copies it into the case (`base.Kept`): only the flagged rows
come back to Python.

Per account: `value` is the ratio count / baseline of its burst (of its creation day, for
accounts in no burst), `p_value` the corrected p-value of that window, `flagged` whether
it is in a burst. scipy.stats gives the tail probabilities.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from scipy import stats

from trollscope.inputs import Inputs
from trollscope.signals.base import (
    ACCOUNT_COLUMNS,
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

HOUR = 3600
DAY = 86_400
WIDTHS_HOURS = tuple(range(1, 49))
WIDTHS_DAYS = tuple(range(1, 8))
LOCAL_DAYS = 30  # the trimmed local rate looks this many days either side
TRIM = 0.2  # share of days dropped at each end of the local window
WIDE_DAYS = 182  # the plain-mean floor looks this many days either side
MIN_ACCOUNTS = 5  # fewer accounts is no batch, however quiet the time around them
# Creation dates before this are placeholders (1970-01-01, 1900-01-01), not creations.
EARLIEST = "1995-01-01"
HOUR_US = HOUR * 1_000_000
DAY_US = DAY * 1_000_000
EARLIEST_US = int(datetime.fromisoformat(EARLIEST).replace(tzinfo=UTC).timestamp()) * 1_000_000
# A tiny p-value that underflows is ranked by its leading term instead.
TINY = 1e-300

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

BURSTS_SCHEMA = pa.schema(
    [
        pa.field("platform", pa.string(), nullable=False),
        pa.field("start", pa.timestamp("us"), nullable=False),
        pa.field("end", pa.timestamp("us"), nullable=False),
        pa.field("resolution", pa.string(), nullable=False),
        pa.field("accounts", pa.int64(), nullable=False),
        pa.field("baseline", pa.float64(), nullable=False),
        pa.field("ratio", pa.float64(), nullable=False),
        pa.field("p_value", pa.float64(), nullable=False),
    ]
)
HISTOGRAM_SCHEMA = pa.schema(
    [
        pa.field("platform", pa.string(), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("accounts", pa.int64(), nullable=False),
        pa.field("baseline", pa.float64(), nullable=False),
    ]
)


@dataclass(frozen=True, slots=True)
class Burst:
    """A window picked as a burst: bins [start, start + width) of the platform's grid."""

    start: int
    width: int
    count: int
    expected: float
    p_value: float  # corrected


@dataclass(frozen=True, slots=True)
class _Grid:
    """A platform's creations on its grid of hours (or days)."""

    unit: int  # seconds per bin
    origin: int  # first bin, in bins since the epoch
    counts: Ints  # creations per bin
    widths: tuple[int, ...]  # window lengths tested, in bins


def local_rate(daily: Floats) -> Floats:
    """The expected creations per day: max(trimmed mean within +-LOCAL_DAYS, mean within
    +-WIDE_DAYS); windows are cut at the ends of the data."""
    n = len(daily)
    pad = np.concatenate([np.full(LOCAL_DAYS, np.nan), daily, np.full(LOCAL_DAYS, np.nan)])
    windows = np.sort(np.lib.stride_tricks.sliding_window_view(pad, 2 * LOCAL_DAYS + 1), axis=1)
    valid = (~np.isnan(windows)).sum(axis=1)  # NaN sorts last: values are windows[:, :valid]
    cut = np.floor(valid * TRIM).astype(np.int64)
    cumulative = np.concatenate(
        [np.zeros((n, 1)), np.cumsum(np.nan_to_num(windows), axis=1)], axis=1
    )
    rows = np.arange(n)
    kept = valid - 2 * cut
    trimmed = (cumulative[rows, valid - cut] - cumulative[rows, cut]) / kept
    sums = np.concatenate([[0.0], np.cumsum(daily)])
    lo = np.clip(rows - WIDE_DAYS, 0, n)
    hi = np.clip(rows + WIDE_DAYS + 1, 0, n)
    wide = (sums[hi] - sums[lo]) / (hi - lo)
    return np.asarray(np.maximum(trimmed, wide), dtype=np.float64)


def dispersion(daily: Floats, rate: Floats) -> float:
    """The squared coefficient of variation of the daily rate beyond Poisson (0 = Poisson):
    var(count) = m + s2 * m^2. A pooled method-of-moments estimate, weighted by m^2 so
    that busy days (which measure it best) count most, over days expecting at least five
    creations (fewer cannot show it), leaving out days more than eight Poisson standard
    deviations above their rate: bursts, not waves."""
    use = (rate >= 5.0) & (daily <= rate + 8.0 * np.sqrt(rate))
    if use.sum() < 30:
        return 0.0
    c, m = daily[use], rate[use]
    return max(0.0, float(((c - m) ** 2 - c).sum() / (m * m).sum()))


def log_tail(count: Floats, mu: Floats, s2: float) -> Floats:
    """log P(X >= count) for X Poisson(mu) (s2 = 0) or negative binomial with variance
    mu + s2 * mu^2. Where the tail underflows, its leading term log P(X = count) stands in
    (it ranks the windows the same way)."""
    if s2 > 0:
        r = 1.0 / s2
        law_sf = stats.nbinom.sf(count - 1, r, r / (r + mu))
        law_logpmf = stats.nbinom.logpmf(count, r, r / (r + mu))
    else:
        law_sf = stats.poisson.sf(count - 1, mu)
        law_logpmf = stats.poisson.logpmf(count, mu)
    with np.errstate(divide="ignore"):
        logs = np.log(law_sf)
    return np.asarray(np.where(law_sf > TINY, logs, law_logpmf), dtype=np.float64)


def _window_sums(values: Floats, width: int) -> Floats:
    """Sums of values[s : s + width] for every start s (windows cut at the end)."""
    sums = np.concatenate([[0.0], np.cumsum(values)])
    starts = np.arange(len(values))
    return np.asarray(sums[np.minimum(starts + width, len(values))] - sums[starts])


def scan(grid: _Grid, expected: Floats, s2: float, alpha: float) -> list[Burst]:
    """Every window of every width, tested; the significant ones picked greedily, most
    significant first, none overlapping another."""
    tests = len(grid.counts) * len(grid.widths)
    threshold = math.log(alpha) - math.log(tests)
    found: list[tuple[float, int, int]] = []  # (log p, start, width)
    counts = grid.counts.astype(np.float64)
    for width in grid.widths:
        n = _window_sums(counts, width)
        mu = _window_sums(expected, width)
        candidates = np.flatnonzero((n >= MIN_ACCOUNTS) & (n > mu))
        # Only windows that could pass: log P(X >= n) >= log P(X = n), which Stirling
        # bounds below by the Chernoff exponent - 1 - log(n) / 2 (negative binomial tails
        # are heavier still). Saves the exact tail for the many windows far from passing.
        k, m = n[candidates], mu[candidates]
        floor = k - m - k * np.log(k / m) - 1.0 - 0.5 * np.log(k)
        candidates = candidates[floor <= threshold]
        if not len(candidates):
            continue
        logp = log_tail(n[candidates], mu[candidates], s2)
        for i in np.flatnonzero(logp <= threshold):
            found.append((float(logp[i]), int(candidates[i]), width))
    found.sort(key=lambda f: (f[0], f[2], f[1]))  # most significant, then shortest
    taken = np.zeros(len(grid.counts), dtype=bool)
    bursts: list[Burst] = []
    # Bins unusual on their own (at alpha, uncorrected): a picked window grows over them.
    unusual = (counts >= 2) & (log_tail(counts, expected, s2) <= math.log(alpha))
    for logp_value, start, width in found:
        end = start + width
        if taken[start:end].any():
            continue
        if not _one_burst(counts[start:end], expected[start:end], alpha):
            continue
        # The best window of a whole number of hours can leave a batch's first or last
        # few accounts just outside: grow it while the next bin is unusual itself.
        while start > 0 and unusual[start - 1] and not taken[start - 1]:
            start -= 1
        while end < len(counts) and unusual[end] and not taken[end]:
            end += 1
        taken[start:end] = True
        count, mu = counts[start:end].sum(), expected[start:end].sum()
        if end - start > width:
            logp_value = float(log_tail(np.array([count]), np.array([mu]), s2)[0])
        p = min(1.0, math.exp(logp_value) * tests)
        bursts.append(Burst(start, end - start, int(count), float(mu), p))
    return bursts


def _one_burst(counts: Floats, expected: Floats, alpha: float) -> bool:
    """False when a stretch inside the window is far quieter than the window's own rate
    predicts: two batches with a lull between them (which one window can outscore either
    batch alone), to be reported apart. The lull's count is tested against the window's
    ratio times its expected count (a lower Poisson tail, Bonferroni over the stretches)."""
    width = len(counts)
    if width < 3:
        return True
    ratio = counts.sum() / expected.sum()
    n = np.concatenate([[0.0], np.cumsum(counts)])
    e = np.concatenate([[0.0], np.cumsum(expected)])
    a, b = np.triu_indices(width + 1, 1)  # every stretch [a, b) of the window
    inside = (a >= 1) & (b <= width - 1)
    a, b = a[inside], b[inside]
    low = stats.poisson.logcdf(n[b] - n[a], ratio * (e[b] - e[a]))
    return bool(low.min() > math.log(alpha) - math.log(len(a)))


def _grid(hours: Ints, counts: Ints, timed: bool) -> tuple[_Grid, Ints]:
    """The platform's grid from its creations per hour (`hours` since the epoch, each with
    `counts` creations), and each of those hours' bin on it."""
    unit, widths = (HOUR, WIDTHS_HOURS) if timed else (DAY, WIDTHS_DAYS)
    bins = hours if timed else hours // 24
    origin = int(bins.min())
    # The grid starts at a midnight, so that hour-of-day and calendar days line up.
    origin -= origin % (DAY // unit)
    per_bin = np.bincount(bins - origin, weights=counts).astype(np.int64)
    pad = -len(per_bin) % (DAY // unit)
    grid = _Grid(unit, origin, np.concatenate([per_bin, np.zeros(pad, np.int64)]), widths)
    return grid, bins - origin


def _hourly_expected(
    grid: _Grid, rate: Floats, hours: Ints, counts: Ints, s2: float, alpha: float
) -> Floats:
    """Expected creations per hour: the day's rate spread by the hour-of-day profile of
    the creations that are in no whole-day burst (`hours`: bins of the hourly grid, each
    with `counts` creations)."""
    flat = np.repeat(rate / 24.0, 24)
    day_grid = _Grid(grid.unit, grid.origin, grid.counts, (24, 48))
    in_burst = np.zeros(len(grid.counts), dtype=bool)
    for burst in scan(day_grid, flat, s2, alpha):
        in_burst[burst.start : burst.start + burst.width] = True
    calm = ~in_burst[hours]
    # A pseudo-count of five per hour keeps a sparse profile from zero expectations.
    profile = np.bincount(hours[calm] % 24, weights=counts[calm], minlength=24) + 5.0
    profile /= profile.sum()
    return np.asarray(flat * 24.0 * np.tile(profile, len(rate)), dtype=np.float64)


@dataclass(slots=True)
class _PlatformResult:
    """One platform's outcomes, each what an account created there gets (a busy day's or
    a burst's value, flag, p-value and evidence), and the outcome of each of its hours."""

    outcome_of_hour: Ints
    value: Floats
    flagged: NDArray[np.bool_]
    p_value: Floats
    evidence: list[str]
    bursts: list[dict[str, object]]
    histogram: pa.Table


def _when(grid: _Grid, bin_index: int) -> datetime:
    seconds = (grid.origin + bin_index) * grid.unit
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _p_text(p: float) -> str:
    return "p < 1e-300" if p < TINY else f"p = {p:.2g}"


def _burst_text(grid: _Grid, burst: Burst) -> str:
    start = _when(grid, burst.start)
    end = _when(grid, burst.start + burst.width)
    others = f"with {burst.count - 1} other account{'s' if burst.count != 2 else ''}"
    ratio = burst.count / burst.expected
    if grid.unit == DAY:
        span = (
            f"on {start:%Y-%m-%d}"
            if burst.width == 1
            else f"between {start:%Y-%m-%d} and {end:%Y-%m-%d} (exclusive)"
        )
        what = "that day" if burst.width == 1 else f"those {burst.width} days"
    else:
        span = f"between {start:%Y-%m-%d %H:00} and {end:%Y-%m-%d %H:00} UTC"
        what = "that hour" if burst.width == 1 else f"those {burst.width} hours"
    return (
        f"created {span} {others}; {ratio:.3g}x this data's baseline of "
        f"{burst.expected:.3g} for {what} ({_p_text(burst.p_value)}, corrected for "
        f"{len(grid.counts) * len(grid.widths):,} windows)"
    )


def _day_text(day: int, count: int, rate: float) -> str:
    when = datetime.fromtimestamp(day * DAY, UTC)
    return (
        f"created on {when:%Y-%m-%d}, in no burst: {count} creation{'s' if count != 1 else ''} "
        f"that day against this data's local baseline of {rate:.3g} a day"
    )


def _platform(
    platform: str, hours: Ints, counts: Ints, timed: bool, params: SignalParams
) -> _PlatformResult:
    grid, bins = _grid(hours, counts, timed)
    per_day = DAY // grid.unit
    daily = grid.counts.reshape(-1, per_day).sum(axis=1).astype(np.float64)
    rate = local_rate(daily)
    s2 = dispersion(daily, rate)
    if grid.unit == HOUR:
        expected = _hourly_expected(grid, rate, bins, counts, s2, params.alpha)
    else:
        expected = rate
    bursts = scan(grid, expected, s2, params.alpha)

    # Each account: its burst, else its calendar day (a window tested as well). One
    # outcome per busy day and per burst; each hour of creations points at its own.
    tests = len(grid.counts) * len(grid.widths)
    days = bins // per_day
    day_origin = grid.origin // per_day
    day_p = np.minimum(1.0, np.exp(log_tail(daily, rate, s2)) * tests)
    burst_of_bin = np.full(len(grid.counts), -1, dtype=np.int64)
    for b, burst in enumerate(bursts):
        burst_of_bin[burst.start : burst.start + burst.width] = b
    member_of = burst_of_bin[bins]
    busy = np.flatnonzero(daily > 0)
    text_of_day = np.zeros(len(daily), dtype=np.int64)
    text_of_day[busy] = np.arange(len(busy))
    rows: list[dict[str, object]] = [
        {
            "platform": platform,
            "start": _when(grid, burst.start),
            "end": _when(grid, burst.start + burst.width),
            "resolution": f"{burst.width}{'h' if grid.unit == HOUR else 'd'}",
            "accounts": burst.count,
            "baseline": burst.expected,
            "ratio": burst.count / burst.expected,
            "p_value": burst.p_value,
        }
        for burst in bursts
    ]
    histogram = pa.table(
        {
            "platform": pa.array([platform] * len(busy), pa.string()),
            "day": pa.array((day_origin + busy).astype("datetime64[D]"), pa.date32()),
            "accounts": pa.array(daily[busy].astype(np.int64), pa.int64()),
            "baseline": pa.array(rate[busy], pa.float64()),
        },
        schema=HISTOGRAM_SCHEMA,
    )
    return _PlatformResult(
        outcome_of_hour=np.where(member_of >= 0, len(busy) + member_of, text_of_day[days]),
        value=np.concatenate([daily[busy] / rate[busy], [b.count / b.expected for b in bursts]]),
        flagged=np.concatenate([np.zeros(len(busy), np.bool_), np.ones(len(bursts), np.bool_)]),
        p_value=np.concatenate([day_p[busy], [b.p_value for b in bursts]]),
        evidence=[_day_text(day_origin + int(d), int(daily[d]), float(rate[d])) for d in busy]
        + [_burst_text(grid, burst) for burst in bursts],
        bursts=rows,
        histogram=histogram,
    )


# --- the pass over the accounts, on the engine ------------------------------------------

_OUTCOME_TABLE = ibis.schema(
    {
        "platform": "string",
        "hour": "int64",
        "value": "float64",
        "flagged": "boolean",
        "p_value": "float64",
        "evidence": "string",
    }
)


def _created(accounts: ir.Table) -> ir.Table:
    """(platform, account_id, hour, timed) of the accounts with a creation time: the hour
    since the epoch it falls in, and whether it is at least a second past midnight (a
    creation time with a time of day)."""
    kept = accounts.filter(accounts.us >= EARLIEST_US)
    return kept.select(
        "platform",
        "account_id",
        hour=(kept.us / HOUR_US).floor().cast("int64"),
        timed=kept.us % DAY_US >= 1_000_000,
    )


def _per_hour(created: ir.Table) -> ir.Table:
    """Creations per platform and hour, and how many of them have a time of day."""
    return created.group_by("platform", "hour").aggregate(
        accounts=created.count(), timed=created.timed.cast("int64").sum()
    )


def _assigned(created: ir.Table, outcomes: ir.Table) -> ir.Table:
    """Each account's row: the outcome of its hour (`outcomes`: its burst's, else its
    day's, one row per platform and hour)."""
    joined = created.join(outcomes, ["platform", "hour"])
    return joined.select("platform", "account_id", "value", "flagged", "p_value", "evidence")


def compute(
    con: duckdb.DuckDBPyConnection, params: SignalParams, engine: Backend | None = None
) -> SignalResult:
    """Creation bursts per platform, over the accounts with a creation time. The pass
    over the accounts (creations per hour, then each account's outcome) runs on `engine`
    (see `base.posts_engine`); the scan tests run here on the counts per hour."""
    on = posts_engine(con, engine)
    created = _created(Inputs().accounts)
    hours = on.fetch(_per_hour(created)).sort_by([("platform", "ascending"), ("hour", "ascending")])
    parts: list[_PlatformResult] = []
    outcome_rows: list[pa.Table] = []
    platform_column = hours.column("platform").to_numpy(zero_copy_only=False)
    for platform in sorted(set(platform_column.tolist())):
        mine = hours.filter(pc.equal(hours.column("platform"), platform))
        hour = mine.column("hour").to_numpy().astype(np.int64)
        counts = mine.column("accounts").to_numpy().astype(np.int64)
        timed = 2 * int(mine.column("timed").to_numpy().sum()) > int(counts.sum())
        part = _platform(str(platform), hour, counts, timed, params)
        parts.append(part)
        which = pa.array(part.outcome_of_hour, pa.int64())
        outcome_rows.append(
            pa.table(
                {
                    "platform": mine.column("platform"),
                    "hour": mine.column("hour").cast(pa.int64()),
                    "value": pa.array(part.value, pa.float64()).take(which),
                    "flagged": pa.array(part.flagged, pa.bool_()).take(which),
                    "p_value": pa.array(part.p_value, pa.float64()).take(which),
                    "evidence": pa.array(part.evidence, pa.string()).take(which),
                }
            )
        )
    accounts = empty_accounts()
    kept: dict[str, Kept] = {}
    if parts:
        # The outcomes of the hours go to the engine, and each account gets its hour's
        # there: the accounts' rows reach the case's connection (`Kept`), and only the
        # flagged ones come back here.
        run = uuid.uuid4().hex[:12]
        outcomes_name, rows_name = f"ts_creation_outcomes_{run}", f"ts_creation_rows_{run}"
        on.register(outcomes_name, pa.concat_tables(outcome_rows))
        try:
            on.store(rows_name, _assigned(created, ibis.table(_OUTCOME_TABLE, name=outcomes_name)))
        finally:
            on.drop(outcomes_name)
        rows = on.to_case(rows_name)
        kept[ACCOUNT_ROWS] = Kept(rows, ACCOUNT_COLUMNS)
        accounts = flagged_rows(con, rows)
    bursts = [row for part in parts for row in part.bursts]
    histograms = [part.histogram for part in parts]
    return SignalResult(
        accounts=accounts,
        kept=kept,
        tables={
            "creation_bursts": pa.Table.from_pylist(bursts, schema=BURSTS_SCHEMA),
            "creation_histogram": (
                pa.concat_tables(histograms) if histograms else HISTOGRAM_SCHEMA.empty_table()
            ),
        },
    )


SIGNAL = Signal(
    name="creation-burst",
    compute=compute,
    meaning=(
        "Accounts created in a burst: a window of hours (or days) with far more creations "
        "than this data's own local rate, by a scan test corrected for every window tried. "
        "A farm registers its accounts in batches. It does not prove a farm: a news event, "
        "a platform's promotion or a school class can bring a real wave of sign-ups, and "
        "the test only compares with the data's own creations around that time."
    ),
)
