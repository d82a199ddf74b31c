"""Rhythm: accounts that post on a shift (weekdays, office hours, a lunch break) rather
than on a person's day (evenings, weekends, whenever).

Farm operators work shifts; the accounts they run post in their office hours and fall
silent at weekends. For each account with at least `MIN_POSTS` posts:

- Profile. Posts per hour of the week in UTC (stored in `rhythm_profiles`, Monday 00h = 0,
  nonzero hours only) and, for the test, its active half-hours: the distinct half-hours
  of the data in which it posted. A thread of twenty posts in one sitting is one active
  half-hour, so a burst of posting is not mistaken for a working day.
- Time zone. Each UTC offset from -12 to +14 in half-hours is tried; the inferred offset is
  the one that puts most active half-hours in local office hours (Monday to Friday, 09:00
  to 18:00), ties going to the offset whose neighbours agree best. It is the offset under
  which the account looks most like a shift worker: a good guess for an account that is
  one, a meaningless one for an account that is not.
- Score (`value`): the share of the active half-hours in office hours at that offset.
- Test. The reference is the median score of the data's accounts: what the accounts of
  this data show, with the same choice of the best offset (so that an account is not
  flagged for the choice alone), robust to farms as long as they are fewer than half of
  the accounts. A one-sided binomial test of the account's office half-hours against that
  share, Bonferroni-corrected for every account and every offset tried, gives `p_value`;
  `flagged` when it is at most `alpha`.
- Lunch dip (reported, not tested): the quietest weekday local hour from 11h to 14h,
  and how much quieter it is than the other office hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from scipy import stats

from trollscope.inputs import Inputs
from trollscope.signals.base import (
    Signal,
    SignalParams,
    SignalResult,
    empty_accounts,
    posts_engine,
)

if TYPE_CHECKING:
    from trollscope.inputs import Backend

MIN_POSTS = 20
SLOT = 1800  # seconds per half-hour
WEEK = 336  # half-hours per week
OFFSETS = np.arange(-24, 29) / 2.0  # UTC offsets tried, hours: -12 .. +14
OFFICE = (9, 18)  # local office hours, [start, end)
LUNCH = (11, 12, 13, 14)  # local hours where a lunch dip is looked for
DIP = 0.5  # a dip this deep (share below the other office hours) is reported

Floats = NDArray[np.float64]
Cells = NDArray[np.float32]  # accounts x half-hours of the week (float32: 10M posts fit)

PROFILES_SCHEMA = pa.schema(
    [
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("hour_of_week", pa.int16(), nullable=False),
        pa.field("posts", pa.int64(), nullable=False),
    ]
)
SCORES_SCHEMA = pa.schema(
    [
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("posts", pa.int64(), nullable=False),
        pa.field("active_half_hours", pa.int64(), nullable=False),
        pa.field("utc_offset", pa.float64(), nullable=False),
        pa.field("office_share", pa.float64(), nullable=False),
        pa.field("weekend_share", pa.float64(), nullable=False),
        pa.field("lunch_hour", pa.int8(), nullable=False),
        pa.field("lunch_dip", pa.float64(), nullable=False),
    ]
)

SLOT_US = SLOT * 1_000_000
DAY_US = 86_400 * 1_000_000


def _cells(posts: ir.Table) -> ir.Table:
    """(platform, account_id, half_hour, posts, active) of each account with MIN_POSTS
    dated posts or more: per half-hour of the week (UTC), its posts and its active
    half-hours (distinct half-hours of the data). The epoch began on a Thursday: +3 days
    makes Monday 00:00 the first half-hour of the week."""
    dated = posts.filter(posts.us.notnull())
    slots = dated.group_by(
        "platform", "account_id", slot=(dated.us / SLOT_US).floor().cast("int64")
    ).aggregate(posts=dated.count())
    totals = slots.group_by("platform", "account_id").aggregate(total=slots.posts.sum())
    chosen = totals.filter(totals.total >= MIN_POSTS).select("platform", "account_id")
    kept = slots.join(chosen, ["platform", "account_id"])
    half_hour = ((kept.slot + 3 * 48) % WEEK + WEEK) % WEEK
    return kept.group_by("platform", "account_id", half_hour=half_hour).aggregate(
        posts=kept.posts.sum(), active=kept.count()
    )


def _midnight(posts: ir.Table) -> ir.Table:
    """The share of dated posts at midnight sharp: posts dated without a time of day."""
    dated = posts.filter(posts.us.notnull())
    return dated.aggregate(midnight=(dated.us % DAY_US == 0).cast("float64").mean())


def _numbered(cells: pa.Table) -> tuple[pa.Table, NDArray[np.int64]]:
    """The accounts of `cells` in (platform, account_id) order, and each cell's row among
    them (a hash join on the few accounts, not a sort of every cell)."""
    keys = (
        cells.group_by(["platform", "account_id"])
        .aggregate([])
        .sort_by([("platform", "ascending"), ("account_id", "ascending")])
    )
    numbered = keys.append_column("row", pa.array(np.arange(keys.num_rows, dtype=np.int64)))
    rows = cells.append_column("cell", pa.array(np.arange(cells.num_rows, dtype=np.int64)))
    joined = rows.join(numbered, ["platform", "account_id"]).select(["cell", "row"])
    row = np.empty(cells.num_rows, dtype=np.int64)
    row[joined.column("cell").to_numpy()] = joined.column("row").to_numpy()
    return keys, row


def _local_mask(test: NDArray[np.bool_]) -> Floats:
    """A (len(OFFSETS), WEEK) matrix: 1 where a UTC half-hour of the week falls in the
    local half-hours `test` (a WEEK-long mask in local time) at each offset."""
    utc = np.arange(WEEK)
    shifts = (OFFSETS * 2).astype(np.int64)
    return np.asarray(test[(utc[None, :] + shifts[:, None]) % WEEK], dtype=np.float64)


def _office() -> NDArray[np.bool_]:
    local = np.arange(WEEK)
    day, half = local // 48, local % 48
    return (day < 5) & (half >= 2 * OFFICE[0]) & (half < 2 * OFFICE[1])


def _weekend() -> NDArray[np.bool_]:
    return np.arange(WEEK) // 48 >= 5


def cosine(a: Floats, b: Floats) -> float:
    """The cosine similarity of two activity profiles (e.g. posts per hour of the week):
    1 for the same rhythm at any volume, 0 for rhythms that never overlap."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm > 0 else 0.0


def similarity(profiles: Floats) -> Floats:
    """Pairwise cosine similarities of the rows of `profiles` (accounts x hours of the
    week); a row of zeros is similar to nothing."""
    norms = np.linalg.norm(profiles, axis=1)
    unit = profiles / np.where(norms > 0, norms, 1.0)[:, None]
    return np.asarray(unit @ unit.T, dtype=np.float64)


def load_profiles(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, Floats]:
    """The stored `rhythm_profiles` as (keys: platform, account_id; matrix: one row of 168
    posts per hour of the week per account, in the order of the keys)."""
    keys = con.sql(
        "SELECT DISTINCT platform, account_id FROM rhythm_profiles ORDER BY ALL"
    ).to_arrow_table()
    cells = con.sql(
        """WITH k AS (SELECT platform, account_id,
                        row_number() OVER (ORDER BY platform, account_id) - 1 AS row
                      FROM (SELECT DISTINCT platform, account_id FROM rhythm_profiles))
           SELECT k.row, p.hour_of_week, p.posts FROM rhythm_profiles p JOIN k
           USING (platform, account_id)"""
    ).fetchnumpy()
    matrix = np.zeros((keys.num_rows, 168))
    matrix[cells["row"].astype(np.int64), cells["hour_of_week"].astype(np.int64)] = cells["posts"]
    return keys, matrix


@dataclass(slots=True)
class _Scores:
    offset: Floats
    office: Floats  # active half-hours in office hours at the offset
    weekend: Floats
    lunch_hour: NDArray[np.int64]
    lunch_dip: Floats
    usual: Floats  # mean active half-hours in the other office hours (weekdays)


def _scores(active: Cells) -> _Scores:
    """Best offset, office and weekend half-hours, lunch dip, per account (row)."""
    office = active @ _local_mask(_office()).T  # accounts x offsets
    n = active.sum(axis=1)
    # Ties (common for quiet accounts) go to the offset whose neighbours score best.
    padded = np.pad(office, ((0, 0), (1, 1)))
    neighbours = padded[:, :-2] + padded[:, 2:]
    best = np.argmax(office + neighbours / (2.0 * n[:, None] + 1.0), axis=1)
    rows = np.arange(len(active))
    shifts = (OFFSETS[best] * 2).astype(np.int64)
    # Each account's half-hours in its own local time: local[i, b] = active[i, b - shift].
    local = np.take_along_axis(active, (np.arange(WEEK)[None, :] - shifts[:, None]) % WEEK, axis=1)
    weekday_hours = local[:, : 5 * 48].reshape(len(active), 5, 24, 2).sum(axis=(1, 3))
    lunch = np.array(LUNCH)
    lunch_hour = lunch[np.argmin(weekday_hours[:, lunch], axis=1)]
    at_lunch = weekday_hours[rows, lunch_hour]
    office_hours = weekday_hours[:, OFFICE[0] : OFFICE[1]].sum(axis=1)
    others = (office_hours - at_lunch) / (OFFICE[1] - OFFICE[0] - 1)
    dip = np.where(others > 0, 1.0 - at_lunch / np.where(others > 0, others, 1.0), 0.0)
    return _Scores(
        offset=OFFSETS[best],
        office=office[rows, best],
        weekend=local[:, _weekend()].sum(axis=1, dtype=np.float64),
        lunch_hour=lunch_hour.astype(np.int64),
        lunch_dip=dip,
        usual=others,
    )


def _offset_text(offset: float) -> str:
    if offset == 0:
        return "UTC"
    sign = "+" if offset > 0 else "-"
    hours, rest = divmod(abs(offset), 1.0)
    return f"UTC{sign}{int(hours)}" + (":30" if rest else "")


def _evidence(s: _Scores, i: int, n: int, posts: int, reference: float) -> str:
    share = float(s.office[i]) / n
    weekend = int(s.weekend[i])
    weekends = "none at weekends" if weekend == 0 else f"{weekend / n:.0%} at weekends"
    if s.usual[i] < 5:
        lunch = "too little weekday activity to see a lunch dip"
    elif s.lunch_dip[i] >= DIP:
        lunch = f"lunch dip at {s.lunch_hour[i]}h ({s.lunch_dip[i]:.0%} quieter)"
    else:
        lunch = "no lunch dip"
    return (
        f"{share:.0%} of {n} active half-hours ({posts} posts) Mon-Fri "
        f"{OFFICE[0]:02d}-{OFFICE[1]:02d} {_offset_text(float(s.offset[i]))}, {weekends}; "
        f"{lunch}; median of this data's accounts: {reference:.0%}"
    )


def compute(
    con: duckdb.DuckDBPyConnection, params: SignalParams, engine: Backend | None = None
) -> SignalResult:
    """Shift-work scores of the accounts with at least MIN_POSTS posts; the pass over the
    posts runs on `engine` (see `base.posts_engine`)."""
    on = posts_engine(con, engine)
    posts_table = Inputs().posts
    midnight = on.fetch(_midnight(posts_table)).column("midnight")[0].as_py()
    cells = on.fetch(_cells(posts_table))
    # Posts dated without a time of day (mostly at midnight sharp) have no rhythm to read.
    if cells.num_rows == 0 or float(midnight or 0.0) > 0.5:
        return SignalResult(
            empty_accounts(),
            {
                "rhythm_profiles": PROFILES_SCHEMA.empty_table(),
                "rhythm_scores": SCORES_SCHEMA.empty_table(),
            },
        )
    keys, row = _numbered(cells)
    half_hour = cells.column("half_hour").to_numpy().astype(np.int64)
    accounts = keys.num_rows
    posts = np.zeros((accounts, WEEK), dtype=np.float32)
    active = np.zeros((accounts, WEEK), dtype=np.float32)
    posts[row, half_hour] = cells.column("posts").to_numpy()
    active[row, half_hour] = cells.column("active").to_numpy()

    s = _scores(active)
    n = active.sum(axis=1, dtype=np.float64)
    share = s.office / n
    reference = float(np.median(share))
    tests = accounts * len(OFFSETS)
    p_value = np.minimum(1.0, stats.binom.sf(s.office - 1, n, reference) * tests)
    flagged = p_value <= params.alpha
    total = posts.sum(axis=1, dtype=np.float64).astype(np.int64)
    evidence = [_evidence(s, i, int(n[i]), int(total[i]), reference) for i in range(accounts)]
    result = pa.table(
        {
            "platform": keys.column("platform"),
            "account_id": keys.column("account_id"),
            "value": pa.array(share, pa.float64()),
            "flagged": pa.array(flagged, pa.bool_()),
            "p_value": pa.array(p_value, pa.float64()),
            "evidence": pa.array(evidence, pa.string()),
        }
    )
    return SignalResult(
        result,
        {
            "rhythm_profiles": _profiles(keys, posts),
            "rhythm_scores": pa.table(
                {
                    "platform": keys.column("platform"),
                    "account_id": keys.column("account_id"),
                    "posts": pa.array(total, pa.int64()),
                    "active_half_hours": pa.array(n.astype(np.int64), pa.int64()),
                    "utc_offset": pa.array(s.offset, pa.float64()),
                    "office_share": pa.array(share, pa.float64()),
                    "weekend_share": pa.array(s.weekend / n, pa.float64()),
                    "lunch_hour": pa.array(s.lunch_hour, pa.int8()),
                    "lunch_dip": pa.array(s.lunch_dip, pa.float64()),
                },
                schema=SCORES_SCHEMA,
            ),
        },
    )


def _profiles(keys: pa.Table, posts: Cells) -> pa.Table:
    """Posts per UTC hour of the week, nonzero cells only."""
    hourly = posts.reshape(len(posts), 168, 2).sum(axis=2)
    rows, hours = np.nonzero(hourly)
    take = pa.array(rows)
    return pa.table(
        {
            "platform": keys.column("platform").take(take),
            "account_id": keys.column("account_id").take(take),
            "hour_of_week": pa.array(hours.astype(np.int16), pa.int16()),
            "posts": pa.array(hourly[rows, hours].astype(np.int64), pa.int64()),
        },
        schema=PROFILES_SCHEMA,
    )


SIGNAL = Signal(
    name="rhythm",
    compute=compute,
    meaning=(
        "An account that posts on a shift: its active half-hours fall in weekday office "
        "hours (09-18, Monday to Friday) of some time zone far more than this data's "
        "accounts do, often with a lunch break. Farms work shifts. It does not prove a "
        "farm: newsrooms, parties, companies and people who post only from work keep "
        "office hours too, and the inferred time zone is a guess, right for a shift "
        "worker and meaningless for anyone else."
    ),
)
