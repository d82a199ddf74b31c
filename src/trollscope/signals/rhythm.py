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

import uuid
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from scipy import stats

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
        posts=int_sum(kept.posts), active=kept.count()
    )


def _midnight(posts: ir.Table) -> ir.Table:
    """The share of dated posts at midnight sharp: posts dated without a time of day."""
    dated = posts.filter(posts.us.notnull())
    return dated.aggregate(midnight=(dated.us % DAY_US == 0).cast("float64").mean())


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


# Accounts scored at a time inside a batch: two float32 matrices of WEEK columns each, so
# that a batch of DuckDB's 65,536 rows never needs more than a few MB per matrix.
CHUNK = 4_096

SHARE_SCHEMA = pa.schema([pa.field("office_share", pa.float64(), nullable=False)])
ROWS_SCHEMA = pa.schema(
    [
        *ACCOUNT_ROW_SCHEMA,
        *(f for f in SCORES_SCHEMA if f.name not in ("platform", "account_id")),
    ]
)


CELLS_SCHEMA = ibis.schema(
    {
        "platform": "string",
        "account_id": "string",
        "half_hour": "int64",
        "posts": "int64",
        "active": "int64",
    }
)


def _lists(cells: ir.Table) -> ir.Table:
    """(platform, account_id, cells): `_cells`' rows as one row per account, its cells a
    list of (h: half-hour, p: posts, a: active half-hours), for the batch functions."""
    cell = ibis.struct({"h": cells.half_hour, "p": cells.posts, "a": cells.active})
    return cells.group_by("platform", "account_id").aggregate(cells=cell.collect())


def _profiles(cells: ir.Table) -> ir.Table:
    """Posts per UTC hour of the week of each account of `_cells`' rows (none are zero)."""
    hour = (cells.half_hour // 2).cast("int16")
    return cells.group_by("platform", "account_id", hour_of_week=hour).aggregate(
        posts=int_sum(cells.posts)
    )


def _matrices(batch: pa.RecordBatch) -> tuple[Cells, Cells]:
    """Posts and active half-hours per account (row of the batch) and half-hour of the
    week, from the batch's lists of cells."""
    lists = batch.column("cells")
    offsets = np.asarray(lists.offsets, dtype=np.int64)
    row = np.repeat(np.arange(batch.num_rows), offsets[1:] - offsets[:-1])
    # struct_field, not StructArray.field: the cells of a slice start where it starts.
    values = lists.flatten()
    half_hour = pc.struct_field(values, "h").to_numpy(zero_copy_only=False).astype(np.int64)
    posts = np.zeros((batch.num_rows, WEEK), dtype=np.float32)
    active = np.zeros((batch.num_rows, WEEK), dtype=np.float32)
    posts[row, half_hour] = pc.struct_field(values, "p").to_numpy(zero_copy_only=False)
    active[row, half_hour] = pc.struct_field(values, "a").to_numpy(zero_copy_only=False)
    return posts, active


def _chunks(batch: pa.RecordBatch) -> list[pa.RecordBatch]:
    return [batch.slice(start, CHUNK) for start in range(0, max(batch.num_rows, 1), CHUNK)]


def _joined(parts: list[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    return one_batch(pa.Table.from_batches(parts, schema))


def share_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Each account's office share at its best offset (`value`): what the reference, the
    median, is taken over."""
    parts = []
    for chunk in _chunks(batch):
        _, active = _matrices(chunk)
        s = _scores(active)
        share = s.office / active.sum(axis=1, dtype=np.float64)
        parts.append(pa.record_batch([pa.array(share, pa.float64())], schema=SHARE_SCHEMA))
    return _joined(parts, SHARE_SCHEMA)


def test_batch(reference: float, tests: int, alpha: float, batch: pa.RecordBatch) -> pa.RecordBatch:
    """The account rows and scores of the batch's accounts: the binomial test against
    `reference`, Bonferroni-corrected for `tests`, and the evidence in words."""
    parts = []
    for chunk in _chunks(batch):
        posts, active = _matrices(chunk)
        s = _scores(active)
        n = active.sum(axis=1, dtype=np.float64)
        share = s.office / n
        p_value = np.minimum(1.0, stats.binom.sf(s.office - 1, n, reference) * tests)
        total = posts.sum(axis=1, dtype=np.float64).astype(np.int64)
        evidence = [
            _evidence(s, i, int(n[i]), int(total[i]), reference) for i in range(chunk.num_rows)
        ]
        columns = {
            "platform": chunk.column("platform"),
            "account_id": chunk.column("account_id"),
            "value": pa.array(share, pa.float64()),
            "flagged": pa.array(p_value <= alpha, pa.bool_()),
            "p_value": pa.array(p_value, pa.float64()),
            "evidence": pa.array(evidence, pa.string()),
            "posts": pa.array(total, pa.int64()),
            "active_half_hours": pa.array(n.astype(np.int64), pa.int64()),
            "utc_offset": pa.array(s.offset, pa.float64()),
            "office_share": pa.array(share, pa.float64()),
            "weekend_share": pa.array(s.weekend / n, pa.float64()),
            "lunch_hour": pa.array(s.lunch_hour, pa.int8()),
            "lunch_dip": pa.array(s.lunch_dip, pa.float64()),
        }
        parts.append(pa.record_batch(list(columns.values()), schema=ROWS_SCHEMA))
    return _joined(parts, ROWS_SCHEMA)


def _empty() -> SignalResult:
    return SignalResult(
        empty_accounts(),
        {
            "rhythm_profiles": PROFILES_SCHEMA.empty_table(),
            "rhythm_scores": SCORES_SCHEMA.empty_table(),
        },
    )


def compute(
    con: duckdb.DuckDBPyConnection, params: SignalParams, engine: Backend | None = None
) -> SignalResult:
    """Shift-work scores of the accounts with at least MIN_POSTS posts. The pass over the
    posts and the tests run on `engine` (see `base.posts_engine`), as batch functions
    over one row per account: first each account's share, whose median (found on the
    engine: two values come back) is the reference; then the tests, against it. The rows
    reach the case's connection as `Kept` tables; only the flagged ones come to Python."""
    on = posts_engine(con, engine)
    posts_table = Inputs().posts
    midnight = on.fetch(_midnight(posts_table)).column("midnight")[0].as_py()
    # Posts dated without a time of day (mostly at midnight sharp) have no rhythm to read.
    if float(midnight or 0.0) > 0.5:
        return _empty()
    # Names of their own: two results on one connection (DuckDB's and Spark's, in a test)
    # must not overwrite each other's tables.
    run = uuid.uuid4().hex[:12]
    cells_name = f"ts_rhythm_cells_{run}"
    # One pass over the posts: the cells are stored, and the two batch passes and the
    # profiles read them.
    on.store(cells_name, _cells(posts_table))
    try:
        return _tested(con, on, ibis.table(CELLS_SCHEMA, name=cells_name), run, params)
    finally:
        on.drop(cells_name)


def _tested(
    con: duckdb.DuckDBPyConnection, on: Backend, cells: ir.Table, run: str, params: SignalParams
) -> SignalResult:
    """`compute` over the stored cells."""
    shares_name, rows_name, profiles_name = (
        f"ts_rhythm_{part}_{run}" for part in ("shares", "rows", "profiles")
    )
    lists = _lists(cells)
    on.map_batches(shares_name, lists, share_batch, SHARE_SCHEMA)
    shares = ibis.table(SHARE_SCHEMA, name=shares_name)
    accounts = int(on.fetch(shares.aggregate(n=shares.count())).column("n")[0].as_py())
    if accounts == 0:
        on.drop(shares_name)
        return _empty()
    # numpy's median of every share, from the one or two middle ones only.
    middle = shares.order_by(shares.office_share).limit(
        2 - accounts % 2, offset=(accounts - 1) // 2
    )
    reference = float(np.median(on.fetch(middle).column("office_share").to_numpy()))
    on.drop(shares_name)
    test = partial(test_batch, reference, accounts * len(OFFSETS), params.alpha)
    on.map_batches(rows_name, lists, test, ROWS_SCHEMA)
    on.store(profiles_name, _profiles(cells))
    rows = on.to_case(rows_name)
    flagged = flagged_rows(con, rows)
    return SignalResult(
        flagged,
        kept={
            ACCOUNT_ROWS: Kept(rows, ACCOUNT_COLUMNS),
            "rhythm_scores": Kept(rows, tuple(SCORES_SCHEMA.names)),
            "rhythm_profiles": Kept(on.to_case(profiles_name), tuple(PROFILES_SCHEMA.names)),
        },
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
