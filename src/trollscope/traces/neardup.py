"""The near-dup-text trace: each post's near-copy cluster as its key.

`features/neardup.py` says how near-copies come to share an LSH band (one of ten per
post). A post's key here is the band it shares with the most posts: copies of one text,
lightly edited, keep most of their bands, so they meet on the same one. One key per post,
as for co-text, so that `keys` counts texts and the pair, account and burst tests read
near-copies as they read exact ones. (Ten band keys per post made one near-copy look like
ten repeated texts.)

Where it runs (`neardup_on`). The MinHash of each text is Python (numpy) on a batch of
posts: on this machine's DuckDB the posts stream through it and the clusters are made in
numpy (`neardup_clusters`), whose matrices of integers hold a tenth of what ten rows of
strings per post held in DuckDB (22.8 GB at 10M posts, on a 24 GB machine). On Spark the
same batch function runs on the executors (`Backend.map_batches`), and the clusters are
an Ibis expression over its rows (`cluster_expr`): the same rule as `cluster_keys`, as
joins, group-bys and windows, so nothing but the edges comes back to the driver. Tests
assert both give the same keys."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trollscope import inputs
from trollscope.features.neardup import (
    BANDS,
    BATCH,
    ROWS,
    SEED,
    SHINGLE,
    U64,
    band_keys,
    check_lsh,
    key_strings,
    text_hashes,
)
from trollscope.inputs import TRACE_ROWS_SCHEMA, Backend

TRACE_SCHEMA = TRACE_ROWS_SCHEMA  # (platform, account_id, key, us, post_id)


def neardup_batches(
    con: duckdb.DuckDBPyConnection,
    *,
    shingle: int = SHINGLE,
    bands: int = BANDS,
    rows: int = ROWS,
    seed: int = SEED,
    batch: int = BATCH,
) -> Iterator[pa.RecordBatch]:
    """The near-dup trace of the case's posts (reposts left out: their text is the
    original's), as record batches of `TRACE_SCHEMA`: one row per post and band.

    Posts stream from DuckDB `batch` at a time, so memory is bounded by the batch, not
    the case. Copies within a batch are normalised and hashed once; copies far apart are
    hashed again (grouping the whole case by text in DuckDB first would hash each text
    once, but held 650 MB for 1M posts against 200 MB, and was slower). The query runs on
    `con`: to stream these batches into a query on the same database, pass `con.cursor()`.
    """
    check_lsh(shingle, bands, rows)
    for posts in con.sql(_posts_sql()).to_arrow_reader(batch):
        out = hash_batch(posts, shingle=shingle, bands=bands, rows=rows, seed=seed)
        if out.num_rows:
            yield out


def hash_batch(
    posts: pa.RecordBatch,
    *,
    shingle: int = SHINGLE,
    bands: int = BANDS,
    rows: int = ROWS,
    seed: int = SEED,
) -> pa.RecordBatch:
    """One row (TRACE_SCHEMA) per post and band of a batch of posts (text, platform,
    account_id, us, post_id), for the texts long enough to judge: the function an
    engine runs on every batch of posts (`Backend.map_batches`)."""
    kept, hashes = text_hashes(
        posts.column("text"), shingle=shingle, bands=bands, rows=rows, seed=seed
    )
    post = pa.array(np.repeat(kept, bands), pa.int64())
    columns = {"key": band_keys(hashes) if len(kept) else pa.array([], pa.string())}
    for field in TRACE_SCHEMA:
        if field.name != "key":
            columns[field.name] = posts.column(field.name).take(post).cast(field.type)
    return pa.record_batch([columns[n] for n in TRACE_SCHEMA.names], schema=TRACE_SCHEMA)


# --- on the engine ------------------------------------------------------------------------

BANDS_TABLE = "ts_neardup_bands"
RANKED_TABLE = "ts_neardup_ranked"
_POST = ("platform", "account_id", "us", "post_id")
RANKED_SCHEMA = pa.schema(
    [
        *(TRACE_SCHEMA.field(c) for c in _POST),
        pa.field("key", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("largest", pa.string()),
        pa.field("n_big", pa.int64()),
    ]
)


def posts_to_hash(posts: ir.Table) -> ir.Table:
    """The posts whose texts are hashed, as `hash_batch` reads them (reposts left out:
    their text is the original's)."""
    kept = posts.filter((posts.kind != "repost") & posts.text.notnull())
    return kept.select("text", *_POST)


def _posts_sql() -> str:
    """`posts_to_hash` as DuckDB SQL over the case's own tables, for the numpy path's
    cursor, which has no input views: the view is a common table expression instead."""
    query = ibis.to_sql(posts_to_hash(inputs.Inputs().posts), dialect="duckdb")
    return f"WITH {inputs.POSTS} AS ({inputs.POSTS_SQL}) SELECT * FROM ({query})"


def neardup_on(con: duckdb.DuckDBPyConnection, engine: Backend) -> None:
    """The near-dup-text trace's rows on `engine`, as `inputs.NEARDUP_ROWS`: made in numpy
    from the case when the engine is the case's own DuckDB (a cursor: the caller's
    connection may hold an open result), else by `hash_batch` on the engine's executors
    and `cluster_expr` there."""
    if engine.dialect == "duckdb":
        cur = con.cursor()
        try:
            engine.register(inputs.NEARDUP_ROWS, neardup_clusters(cur))
        finally:
            cur.close()
        return
    clusters_on(engine, inputs.NEARDUP_ROWS)


def clusters_on(engine: Backend, name: str) -> None:
    """Materialise `name` on `engine`: the near-dup trace of its posts by `hash_batch`
    and `cluster_expr`. Each band row ranked by its band's size and its post's largest
    band (`ranked_expr`) is stored on the way, and the band rows, the largest table, are
    dropped as soon as it is. The rest reads the ranked rows three times, and Spark,
    which inlines a query's common parts, computed their two windows three times (at 1M
    posts near-dup-text's edges took 5.6 times the CPU they took with the clusters in
    numpy on the driver, commit 5ba7cc8; docs/benchmarks.md, "Spark's CPU, stage by
    stage")."""
    engine.map_batches(BANDS_TABLE, posts_to_hash(inputs.Inputs().posts), hash_batch, TRACE_SCHEMA)
    try:
        engine.store(RANKED_TABLE, ranked_expr(ibis.table(TRACE_SCHEMA, name=BANDS_TABLE)))
        engine.drop(BANDS_TABLE)
        engine.store(name, clusters_of(ibis.table(RANKED_SCHEMA, name=RANKED_TABLE)))
    finally:
        engine.drop(BANDS_TABLE, RANKED_TABLE)


def cluster_expr(bands: ir.Table) -> ir.Table:
    """`cluster_keys` as an Ibis expression over a trace's band rows (`hash_batch`'s: one
    per post and band): one row per post (TRACE_SCHEMA), its key its near-copy cluster.

    Keys are 'B:hhhhhhhhhhhhhhhh' strings (`key_strings`), whose byte order is the order
    of (band, hash) that `cluster_keys`'s key ids follow, so comparing strings breaks
    ties as it does. A post is its (platform, account_id, us, post_id). In two steps,
    `ranked_expr` then `clusters_of`, which an engine may store between them."""
    return clusters_of(ranked_expr(bands))


def ranked_expr(bands: ir.Table) -> ir.Table:
    """Each band row (RANKED_SCHEMA) with its band's size (`size`), and its post's largest
    band (`largest`, the first by size desc, key) and that band's size (`n_big`). A post
    that shares no band gets its smallest key, band 0's, as `cluster_keys` does."""
    sized = bands.mutate(size=bands.key.count().over(ibis.window(group_by=bands.key)))
    by_post = ibis.window(
        group_by=[sized[c] for c in _POST], order_by=[sized.size.desc(), sized.key]
    )
    ranked = sized.mutate(
        largest=sized.key.first().over(by_post), n_big=sized.size.first().over(by_post)
    )
    return ranked.select(*RANKED_SCHEMA.names)


def clusters_of(ranked: ir.Table) -> ir.Table:
    """`cluster_expr`'s second step, over `ranked_expr`'s rows: each post's key is its
    largest band, or the larger band that holds at least half of that band's posts (two
    or more), one hop only."""
    post = list(_POST)
    rows = ranked.filter(ranked.size >= 2)  # shared bands, of posts whose largest is shared
    used = rows.select(used=rows.largest).distinct()
    rows = rows.semi_join(used, rows.key == used.used)
    bigger = (rows.n_big > rows.size) | ((rows.n_big == rows.size) & (rows.largest < rows.key))
    picked = rows.filter(bigger)
    pairs = picked.group_by(band=picked.key, other=picked.largest).aggregate(
        both=picked.count(), n_band=picked.size.max(), n_other=picked.n_big.max()
    )
    ok = pairs.filter((pairs.both >= 2) & (2 * pairs.both >= pairs.n_band))
    best = ibis.row_number().over(
        ibis.window(group_by=ok.band, order_by=[ok.n_other.desc(), ok.other])
    )
    ranked_ok = ok.mutate(rank=best)
    container = ranked_ok.filter(ranked_ok.rank == 0).select(largest="band", other="other")
    posts = ranked.filter(ranked.key == ranked.largest).select(*post, "largest")
    keyed = posts.view().left_join(container, "largest")
    return keyed.select(
        "platform",
        "account_id",
        key=ibis.coalesce(keyed.other, keyed.largest),
        us=keyed.us,
        post_id=keyed.post_id,
    )


def neardup_rows(
    con: duckdb.DuckDBPyConnection,
    *,
    shingle: int = SHINGLE,
    bands: int = BANDS,
    rows: int = ROWS,
    seed: int = SEED,
    batch: int = BATCH,
) -> pa.Table:
    """`neardup_batches` as one table (platform, account_id, key, us, post_id)."""
    return pa.Table.from_batches(
        neardup_batches(con, shingle=shingle, bands=bands, rows=rows, seed=seed, batch=batch),
        schema=TRACE_SCHEMA,
    )


def neardup_clusters(
    con: duckdb.DuckDBPyConnection,
    *,
    shingle: int = SHINGLE,
    bands: int = BANDS,
    rows: int = ROWS,
    seed: int = SEED,
    batch: int = BATCH,
) -> pa.Table:
    """The near-dup-text trace of the case: one row per post (platform, account_id, key,
    us, post_id), its key the post's near-copy cluster (`cluster_keys`).

    The band hashes are held as (posts, bands) matrices of integers, and clustered in
    numpy: ten rows of strings per post, clustered in DuckDB, held 22.8 GB at 10M posts
    (the machine has 24)."""
    check_lsh(shingle, bands, rows)
    meta: list[pa.Table] = []
    parts: list[U64] = []
    for posts in con.sql(_posts_sql()).to_arrow_reader(batch):
        kept, hashes = text_hashes(
            posts.column("text"), shingle=shingle, bands=bands, rows=rows, seed=seed
        )
        if len(kept) == 0:
            continue
        fields = [f for f in TRACE_SCHEMA if f.name != "key"]
        meta.append(
            pa.table(
                {f.name: posts.column(f.name).take(pa.array(kept)).cast(f.type) for f in fields}
            )
        )
        parts.append(hashes)
    if not parts:
        return TRACE_SCHEMA.empty_table()
    matrix = np.concatenate(parts)
    del parts
    # Key ids in key order (band, then hash), band by band: ids of band b follow those
    # of band b - 1, and within a band np.unique sorts the hashes.
    kid = np.empty(matrix.shape, np.int64)
    size = np.empty(matrix.shape, np.int64)
    key_band: list[npt.NDArray[np.int64]] = []
    key_hash: list[U64] = []
    start = 0
    for b in range(matrix.shape[1]):
        unique, inverse, counts = np.unique(matrix[:, b], return_inverse=True, return_counts=True)
        kid[:, b] = start + inverse.reshape(-1)
        size[:, b] = counts[inverse.reshape(-1)]
        key_band.append(np.full(len(unique), b, np.int64))
        key_hash.append(unique)
        start += len(unique)
    del matrix
    post, band = np.nonzero(size >= 2)
    chosen = cluster_keys(
        post.astype(np.int64),
        kid[post, band],
        size[post, band],
        fallback=kid[:, 0],  # band 0's key: the smallest of each post's keys
    )
    bands_of = np.concatenate(key_band)[chosen]
    keys = key_strings(np.concatenate(key_hash)[chosen], bands_of, bands)
    table = pa.concat_tables(meta)
    return pa.table(
        {n: keys if n == "key" else table.column(n) for n in TRACE_SCHEMA.names},
        schema=TRACE_SCHEMA,
    )


def cluster_keys(
    post: npt.NDArray[np.int64],
    key: npt.NDArray[np.int64],
    size: npt.NDArray[np.int64],
    fallback: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Each post's near-copy cluster, as a key id. Keys are ids (below 2^31 of them) whose
    order is the keys' order; (post, key, size) are the rows of keys held by two posts or
    more, with each key's number of posts; `fallback[p]` is post p's key when it shares
    none (its smallest).

    A post's key is its largest band (the one it shares with the most posts; ties: the
    smallest key), or, when at least half of that band's posts (and two or more) have one
    larger band as their own largest, that band: copies of one text keep most of their
    bands, so the copies whose edit broke the text's largest band still join it through
    the bands they kept. One hop only, never a chain: texts that merely resemble one
    another (sentences of one template with other words in them) overlap band to band,
    and following every such overlap joined 93% of a simulated million posts into one
    cluster. Numpy over the rows: a join of each post's bands with one another ran to 2.4
    GB at 1M posts."""
    largest = fallback.copy()
    if len(post) == 0:
        return largest
    order = np.lexsort((key, -size, post))  # by post, its largest band first
    head = order[np.r_[True, post[order][1:] != post[order][:-1]]]
    largest[post[head]] = key[head]
    keys = int(max(key.max(), fallback.max())) + 1
    n_of = np.ones(keys, np.int64)
    n_of[key] = size
    used = np.zeros(keys, np.bool_)
    used[key[head]] = True
    # Each shared row of a used band U, paired with its post's own largest band L.
    big = largest[post]
    bigger = (n_of[big] > size) | ((n_of[big] == size) & (big < key))
    pick = bigger & used[key]
    pair, both = np.unique(key[pick] * keys + big[pick], return_counts=True)
    band, other = pair // keys, pair % keys
    ok = both >= np.maximum(2, 0.5 * n_of[band])
    band, other = band[ok], other[ok]
    # Per band, the larger band with the most posts (ties: the smallest key) wins.
    order = np.lexsort((other, -n_of[other], band))
    first = order[np.r_[True, band[order][1:] != band[order][:-1]]] if len(order) else order
    container = np.arange(keys, dtype=np.int64)
    container[band[first]] = other[first]
    return container[largest]


def cluster_rows(bands: pa.Table) -> pa.Table:
    """One row per post of `bands` (rows of `neardup_rows`, any string keys): the post
    with its near-copy cluster (`cluster_keys`)."""
    posts = (
        pa.table({n: bands.column(n) for n in ("platform", "account_id", "us", "post_id")})
        .group_by(["platform", "account_id", "us", "post_id"], use_threads=False)
        .aggregate([])
    )
    names = sorted(set(bands.column("key").to_pylist()))
    kid_of = {k: i for i, k in enumerate(names)}
    pid_of = {
        (p, a, u, i): n
        for n, (p, a, u, i) in enumerate(
            zip(*(posts.column(c).to_pylist() for c in posts.column_names), strict=True)
        )
    }
    pid = np.array(
        [
            pid_of[row]
            for row in zip(
                *(bands.column(c).to_pylist() for c in ("platform", "account_id", "us", "post_id")),
                strict=True,
            )
        ],
        np.int64,
    )
    kid = np.array([kid_of[k] for k in bands.column("key").to_pylist()], np.int64)
    size = np.bincount(kid, minlength=len(names))[kid]
    fallback = np.full(posts.num_rows, len(names), np.int64)
    np.minimum.at(fallback, pid, kid)
    shared = size >= 2
    chosen = cluster_keys(pid[shared], kid[shared], size[shared], fallback)
    keys = pa.array([names[k] for k in chosen], pa.string())
    return (
        pa.table({n: keys if n == "key" else posts.column(n) for n in TRACE_SCHEMA.names})
        .cast(TRACE_SCHEMA)
        .sort_by([("platform", "ascending"), ("post_id", "ascending")])
    )
