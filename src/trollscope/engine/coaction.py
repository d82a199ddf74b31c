"""The band join, written once as Ibis expressions: trace rows -> account-pair edges.

For one trace and window W (seconds), two distinct accounts co-act when they have rows
with the same (platform, key) and |t1 - t2| <= W (W = 0: same key, any time). Per account
pair the edge carries:
- `coactions`: distinct (post, post) pairs behind it (an account acting twice on one key
  never pairs with itself; a repeated share counts once per distinct post pair);
- `keys`: distinct keys shared;
- `score`: sum over those keys of ln(A / a_key), A the accounts in the trace and a_key
  those that touched the key (IDF: a key everyone touches counts little);
- `median_delay`: median |t1 - t2| in seconds (interpolated, as quantile 0.5);
- evidence: the first `evidence_limit` (key, post_a, post_b) triples in sorted order, and
  their total (a pair with a huge total collects all its triples before the cut; a top-n
  aggregate would avoid that, but the window function that does it portably is 2x slower).

The stages, each materialised once by the engine: the trace's rows; integer ids for its
accounts (numbered in sorted order, so that a < b holds for the ids as for the texts) and
its keys (with their IDF); the rows with those ids and a row number; the band join on
integers, which refers to its two rows by their numbers; the account pairs with several
rows. Texts (accounts, keys, post ids) come back only for the pairs with several rows,
in their aggregated edges; a pair with one row (most of them) is stored as the numbers of
its two rows, with the ids and rows they refer to, and the case's view `edges` reads it
back as texts (`edgestore.py`). On 10M posts this took co-repost from 88 s and 19 GB to
53 s and 6 GB, edges stored; row numbers in place of post ids, keys and delays in the
pairs then took co-mention's 88.7M pair rows from 17.7 s and 9.2 GB to 3-4 s and 3.2 GB,
and its whole run from 12.2 to 7.4 GB; storing one-row edges as two row numbers took
every action trace from 252-291 s to 156-173 s.

Ids are 32-bit integers while the trace has fewer than 2^31 rows (every id numbers a
subset of them), else 64-bit: `id_type` says which, and the engine passes it to the
`*_table` functions that declare the materialised tables. (The case stores one-row edges
with 32-bit row numbers, so the engine refuses a larger trace before it gets here; the
64-bit ids keep these expressions right for a store without that limit, and a test
runs them.)

These functions only build expressions over tables named in `inputs.py`; `engine.py`
compiles them to the SQL of the engine that runs them (DuckDB or Spark).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

import ibis
import ibis.expr.types as ir

from trollscope.case.schema import EDGE_COLUMNS
from trollscope.engine import edgestore

if TYPE_CHECKING:
    from trollscope.inputs import Backend

ROWS = "ts_rows"  # the trace's rows, materialised once per run
SKIPPED = "ts_skipped"  # (platform, key) left out as viral
ACCOUNT_IDS = "ts_account_ids"  # (platform, account_id) -> aid, numbered in sorted order
KEY_IDS = "ts_key_ids"  # (platform, key) -> kid, with the key's IDF
ID_ROWS = "ts_id_rows"  # the rows the band join reads: (aid, kid, us, post_id, rid)
PAIRS = "ts_pairs"  # the band join's rows (a, b, ra, rb), materialised once per run
MULTI = "ts_multi"  # the account pairs with more than one row in PAIRS
# What a run leaves behind besides ROWS (which detect's pair tests read next).
SCRATCH = (ACCOUNT_IDS, KEY_IDS, ID_ROWS, PAIRS, MULTI)

ROW_SCHEMA = ibis.schema(
    {
        "platform": "string",
        "account_id": "string",
        "key": "string",
        "us": "int64",
        "post_id": "string",
    }
)


IdType = Literal["int32", "int64"]


def id_type(rows: int) -> IdType:
    """The integer type of the ids of a trace with `rows` rows. 32 bits halve the band
    join's pairs in memory (co-mention at 10M posts, 88.7M pair rows: peak 5.9 GB with
    64-bit ids, 4.0 GB with 32-bit, and 8.3 against 6.5 GB while counting rows per pair);
    every id (account, key, row) numbers a subset of the rows, so fewer than 2^31 rows
    fit."""
    return "int32" if rows < 2**31 - 1 else "int64"


def trace_rows(raw: ir.Table, keys_checked: bool = False) -> ir.Table:
    """The distinct rows of a trace, without empty keys (an empty key never pairs).
    `keys_checked`: the trace's own rows never hold one, and the filter is left out (on a
    costly key, co-text's hash of normalised text, DuckDB computes the key again for the
    filter: 2.7x the time)."""
    kept = raw if keys_checked else raw.filter(raw.key.notnull() & (raw.key != ""))
    return kept.select(*ROW_SCHEMA.names).distinct()


def rows_table() -> ir.Table:
    return ibis.table(ROW_SCHEMA, name=ROWS)


def skipped_table() -> ir.Table:
    return ibis.table({"platform": "string", "key": "string"}, name=SKIPPED)


def viral(rows: ir.Table, window: float, max_burst: int) -> ir.Table:
    """The (platform, key)s with more than `max_burst` rows within one window (within all
    time for window 0), and that most (`burst`).

    Sliding a window over every row of a trace took 5 s per trace at 10M posts, so only
    keys that could burst past the cap slide: rows within one window lie in at most two
    neighbouring buckets one window wide, so a key whose every two neighbouring buckets
    hold no more than `max_burst` rows cannot."""
    window_us = round(window * 1_000_000)
    if window_us <= 0:
        counts = rows.group_by("platform", "key").aggregate(burst=rows.count())
        return counts.filter(counts.burst > max_burst)
    per = rows.mutate(bucket=rows.us // window_us)
    per = per.group_by("platform", "key", "bucket").aggregate(n=per.count())
    later = per.select("platform", "key", bucket=per.bucket - 1, n_next=per.n)
    two = per.left_join(later, ["platform", "key", "bucket"])
    two = two.mutate(both=two.n + two.n_next.fill_null(0))
    many = two.filter(two.both > max_burst).select("platform", "key").distinct()
    big = rows.semi_join(many, ["platform", "key"])
    frame = ibis.range_window(
        preceding=0, following=window_us, group_by=[big.platform, big.key], order_by=big.us
    )
    counted = big.mutate(n=big.count().over(frame))
    bursts = counted.group_by("platform", "key").aggregate(burst=counted.n.max())
    return bursts.filter(bursts.burst > max_burst)


def account_ids(engine: Backend, name: str, rows: ir.Table, ids: IdType) -> None:
    """Materialise as `name` each (platform, account) of the trace numbered (`aid`) in
    sorted order, so that comparing two `aid`s orders their accounts as comparing the
    texts would (edges keep account_a < account_b). A platform's accounts never meet
    another's: keys are per platform, and so are their ids below."""
    accounts = rows.select("platform", "account_id").distinct()
    engine.number(name, accounts, "aid", ("platform", "account_id"), ids)


# An integer, not a float literal: Spark reads a literal like 4294967296.0 as a DECIMAL and
# rounds the product to its scale.
IDF_GRID = 2**32


def key_ids(engine: Backend, rows: ir.Table, skipped: ir.Table, accounts: int, ids: IdType) -> None:
    """Materialise as KEY_IDS each (platform, key) not skipped as viral and touched by two
    accounts or more, numbered (`kid`), with its IDF: ln(A / a_key), A the trace's
    accounts and a_key those that touched the key."""
    kept = rows.anti_join(skipped, ["platform", "key"])
    touched = kept.group_by("platform", "key").aggregate(n=kept.account_id.nunique())
    # A key one account alone touched can pair no one: it is left out here, and its rows
    # drop out of the band join with it (in real data most co-text and co-link keys are
    # a text or a link posted once).
    touched = touched.filter(touched.n > 1)
    keys = touched.select(
        "platform",
        "key",
        # Rounded to a multiple of 2^-32: a pair's score sums these in whatever order the
        # engine's threads meet them, and sums of such numbers (below 64, up to 2^15
        # terms) are exact in a double, so the score is the same on every run and engine.
        idf=((ibis.literal(float(accounts)) / touched.n).ln() * IDF_GRID).round() / IDF_GRID,
    )
    engine.number(KEY_IDS, keys, "kid", ("platform", "key"), ids)


def id_rows(
    engine: Backend, rows: ir.Table, accounts: ir.Table, keys: ir.Table, ids: IdType
) -> None:
    """Materialise as ID_ROWS the rows the band join reads, with integer ids for accounts
    and keys: the join and the grouping by account pair compare integers, not texts (at
    10M posts the co-repost pairs took 13 s with texts, 4 s with integers). Viral keys
    drop out here (they have no kid). Each row gets a number, `rid`, that the pairs carry
    instead of its post id."""
    joined = rows.join(accounts, ["platform", "account_id"]).join(keys, ["platform", "key"])
    joined = joined.select("aid", "kid", "us", "post_id")
    engine.number(ID_ROWS, joined, "rid", ("kid", "us", "aid", "post_id"), ids)


def pairs(rows: ir.Table, window: float) -> ir.Table:
    """The band join over `id_rows`: one row per (key, post_a, post_b) of two distinct
    accounts (a < b) within the window, as the numbers of its two rows (`ra`, `rb`) and
    the two account ids (the per-pair grouping reads them). Key, post ids and times come
    back from `id_rows` by the row numbers for the final edges only: the pairs are the
    run's largest table (88.7M rows for co-mention at 10M posts), and four 32-bit
    integers a row keep it at 1.4 GB. The engine materialises it once."""
    window_us = round(window * 1_000_000)
    if window_us > 0:
        # Time buckets one window wide: two rows within the window are at most one bucket
        # apart, so the join is an equality on (kid, bucket) against b's rows copied into
        # their neighbouring buckets, and only then filtered on |dt|. Without it a key
        # used all month (a trending tag) compares every pair of its rows.
        a = rows.mutate(bucket=rows.us // window_us).view()
        # (The offsets are unnested on their own: Spark allows no generator inside an
        # expression.)
        shifted = rows.mutate(offset=ibis.literal([-1, 0, 1]).unnest())
        b = shifted.mutate(bucket=shifted.us // window_us + shifted.offset).view()
        on = [
            a.kid == b.kid,
            a.bucket == b.bucket,
            a.aid < b.aid,
            (a.us - b.us).abs() <= window_us,
        ]
    else:
        a, b = rows.view(), rows.view()
        on = [a.kid == b.kid, a.aid < b.aid]
    return a.join(b, on).select(a=a.aid, b=b.aid, ra=a.rid, rb=b.rid)


def multi(pairs: ir.Table) -> ir.Table:
    """The account pairs with several rows in `pairs`, and how many: the only ones whose
    edge needs aggregation (on the 1M scenario, one in five; at 10M, 1.5%)."""
    sizes = pairs.group_by("a", "b").aggregate(rows_n=pairs.count())
    return sizes.filter(sizes.rows_n > 1)


def pair_count(pairs: ir.Table) -> ir.Table:
    """One row, one column `n`: the distinct account pairs among the band join's rows."""
    return pairs.select("a", "b").distinct().aggregate(n=ibis._.count())


def pairs_table(ids: IdType) -> ir.Table:
    return ibis.table({"a": ids, "b": ids, "ra": ids, "rb": ids}, name=PAIRS)


def multi_table(ids: IdType) -> ir.Table:
    return ibis.table({"a": ids, "b": ids, "rows_n": "int64"}, name=MULTI)


def account_ids_table(ids: IdType) -> ir.Table:
    return ibis.table({"platform": "string", "account_id": "string", "aid": ids}, name=ACCOUNT_IDS)


def key_ids_table(ids: IdType) -> ir.Table:
    return ibis.table(
        {"platform": "string", "key": "string", "kid": ids, "idf": "float64"}, name=KEY_IDS
    )


def id_rows_table(ids: IdType) -> ir.Table:
    return ibis.table(
        {"aid": ids, "kid": ids, "us": "int64", "post_id": "string", "rid": ids}, name=ID_ROWS
    )


class EdgeParts(NamedTuple):
    """One trace's edges in the two forms the case stores (`edgestore.py`)."""

    # Pairs with one row in the band join, as the numbers of their two rows (tid, ra,
    # rb); None when `min_keys` > 1 leaves none of them.
    single: ir.Table | None
    # Pairs with several rows, every column aggregated (EDGE_COLUMNS).
    whole: ir.Table


def edges(
    pairs: ir.Table,
    several_rows: ir.Table,
    accounts: ir.Table,
    keys: ir.Table,
    posts: ir.Table,
    trace: str,
    window: float,
    tid: int,
    evidence_limit: int = 20,
    min_keys: int = 1,
) -> EdgeParts:
    """The edges of one trace from its materialised `pairs` and `several_rows` (`multi`);
    `accounts`, `keys` and `posts` (`id_rows`) turn the ids back into texts, `keys`
    carries each key's IDF; `tid` is the trace's number in the case (`edgestore.py`).
    `min_keys` > 1 keeps only pairs that met on that many keys (detect tests no others).
    Two parts, for the engine to insert one after the other (in one statement DuckDB held
    both parts' hash tables at once)."""
    a_ids = accounts.select(platform="platform", account_a="account_id", a="aid")
    b_ids = accounts.select(account_b="account_id", b="aid")
    key_of = keys.select("kid", "key", "idf")
    post_a = posts.select(ra="rid", kid="kid", post_a="post_id", us_a="us")
    post_b = posts.select(rb="rid", post_b="post_id", us_b="us")

    # Most account pairs co-act once (on the 1M scenario, four in five; at 10M, 98.5%):
    # their edge is their one row, stored as its two row numbers and read back through
    # the view (`edgestore.py`). Holistic aggregates (median, distinct counts, evidence
    # lists) over tens of millions of one-row groups are what exhausts memory at scale,
    # so only pairs with several rows go through them.
    many = pairs.semi_join(several_rows, ["a", "b"])
    many = many.join(post_a, "ra").join(post_b, "rb").join(key_of, "kid")
    many = many.mutate(delay=(many.us_a - many.us_b).abs() / 1e6)
    # The key-level part (keys, IDF score) needs the distinct (pair, key) rows; everything
    # else is one pass over the rows (one GROUP BY, not one per column: 2x faster).
    per_key = many.select("a", "b", "kid", "idf").distinct()
    scored = per_key.group_by("a", "b").aggregate(keys=per_key.count(), score=per_key.idf.sum())
    triple = ibis.struct({"key": many.key, "post_a": many.post_a, "post_b": many.post_b})
    main = many.group_by("a", "b").aggregate(
        coactions=ibis.struct({"a": many.post_a, "b": many.post_b}).nunique(),
        median_delay=many.delay.median(),
        evidence_total=many.count(),
        # Sorted, then cut: the triples are distinct per pair, so the sample is the same on
        # every engine.
        evidence=triple.collect(),
    )
    several = main.join(scored, ["a", "b"]).join(a_ids, "a").join(b_ids, "b")
    several = several.select(
        trace=ibis.literal(trace),
        window_s=ibis.literal(float(window)),
        platform="platform",
        account_a="account_a",
        account_b="account_b",
        coactions="coactions",
        keys="keys",
        score="score",
        median_delay="median_delay",
        evidence=ibis._.evidence.sort()[:evidence_limit],
        evidence_total="evidence_total",
    )
    if min_keys > 1:  # a one-row pair met on one key: none of them is kept
        whole = several.filter(several["keys"] >= min_keys).select(*EDGE_COLUMNS)
        return EdgeParts(single=None, whole=whole)
    one = pairs.anti_join(several_rows, ["a", "b"])
    single = one.select(tid=ibis.literal(tid, "int16"), ra=one.ra, rb=one.rb)
    return EdgeParts(single=single, whole=several.select(*EDGE_COLUMNS))


def dictionaries(
    accounts: ir.Table, keys: ir.Table, posts: ir.Table, tid: int
) -> dict[str, ir.Table]:
    """What the one-row edges' numbers refer to, for the case's tables of that name
    (`edgestore.py`): the trace's rows, accounts and keys with its number `tid`."""
    number = ibis.literal(tid, "int16")
    return {
        edgestore.ROWS: posts.select(
            tid=number, rid="rid", aid="aid", kid="kid", us="us", post_id="post_id"
        ),
        edgestore.ACCOUNTS: accounts.select(
            tid=number, aid="aid", platform="platform", account_id="account_id"
        ),
        edgestore.KEYS: keys.select(tid=number, kid="kid", key="key", idf="idf"),
    }
