"""The near-dup-text trace: each post's near-copy cluster as its key.

`features/neardup.py` says how near-copies come to share an LSH band (one of ten per
post). A post's key here is the band it shares with the most posts: copies of one text,
lightly edited, keep most of their bands, so they meet on the same one. One key per post,
as for co-text, so that `keys` counts texts and the pair, account and burst tests read
near-copies as they read exact ones. (Ten band keys per post made one near-copy look like
ten repeated texts.)"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import numpy as np
import pyarrow as pa
from scipy import sparse
from scipy.sparse import csgraph

from trollscope.features.neardup import (
    BANDS,
    BATCH,
    ROWS,
    SEED,
    SHINGLE,
    band_keys,
    check_lsh,
    text_hashes,
)
from trollscope.traces.inputs import TRACE_ROWS_SCHEMA

TRACE_SCHEMA = TRACE_ROWS_SCHEMA  # (platform, account_id, key, us, post_id)

_POSTS = (
    "SELECT text, platform, account_id, epoch_us(created_at) AS us, post_id FROM posts "
    "WHERE kind <> 'repost' AND text IS NOT NULL"
)


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
    for posts in con.sql(_POSTS).to_arrow_reader(batch):
        kept, hashes = text_hashes(
            posts.column("text"), shingle=shingle, bands=bands, rows=rows, seed=seed
        )
        if len(kept) == 0:
            continue
        post = np.repeat(kept, bands)
        columns = {"key": band_keys(hashes)}
        for field in TRACE_SCHEMA:
            if field.name != "key":
                columns[field.name] = posts.column(field.name).take(post).cast(field.type)
        yield pa.record_batch([columns[n] for n in TRACE_SCHEMA.names], schema=TRACE_SCHEMA)


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


def cluster_rows(con: duckdb.DuckDBPyConnection, bands: pa.Table) -> pa.Table:
    """One row per post of `bands` (rows of `neardup_rows`): the post with its near-copy
    cluster.

    Bands that two or more posts share are joined into one cluster when they have two
    posts or more in common (two copies of a text keep most of their bands, so an edit
    that breaks one band leaves the others to tie them; two unrelated texts that collide
    in one band by chance, about 3 in a million pairs, do not share two posts). A cluster
    is named by its band with the most posts; a post's key is the cluster of its largest
    band, or that band itself."""
    con.register("ts_nd_bands", bands)
    registered = ["ts_nd_bands"]
    try:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE ts_nd_sized AS
               SELECT *, count(*) OVER (PARTITION BY platform, key) AS n FROM ts_nd_bands"""
        )
        links = con.sql(
            """WITH m AS (SELECT platform, key, post_id FROM ts_nd_sized WHERE n >= 2)
               SELECT a.platform, a.key AS x, b.key AS y
               FROM m a JOIN m b ON a.platform = b.platform AND a.post_id = b.post_id
                                AND a.key < b.key
               GROUP BY ALL HAVING count(*) >= 2"""
        ).to_arrow_table()
        sizes = con.sql(
            "SELECT DISTINCT platform, key, n FROM ts_nd_sized WHERE n >= 2"
        ).to_arrow_table()
        con.register("ts_nd_named", _cluster_names(links, sizes))
        registered.append("ts_nd_named")
        table = con.sql(
            """WITH largest AS (
                   SELECT platform, account_id, us, post_id, arg_min(key, (-n, key)) AS key
                   FROM ts_nd_sized GROUP BY platform, account_id, us, post_id)
               SELECT l.platform, l.account_id, coalesce(c.cluster, l.key) AS key, l.us,
                      l.post_id
               FROM largest l LEFT JOIN ts_nd_named c USING (platform, key)
               ORDER BY l.platform, l.post_id"""
        ).to_arrow_table()
    finally:
        for name in registered:
            con.unregister(name)
        con.execute("DROP TABLE IF EXISTS ts_nd_sized")
    return table.select(TRACE_SCHEMA.names).cast(TRACE_SCHEMA)


def _cluster_names(links: pa.Table, sizes: pa.Table) -> pa.Table:
    """(platform, key, cluster) for every band in a link: the connected components of the
    linked bands, each named by its band with the most posts (ties: the smallest key)."""
    index: dict[tuple[str, str], int] = {}
    for platform, key in zip(
        sizes.column("platform").to_pylist(), sizes.column("key").to_pylist(), strict=True
    ):
        index[(platform, key)] = len(index)
    n = sizes.column("n").to_numpy()
    rows = links.to_pydict()
    a = np.array([index[(p, x)] for p, x in zip(rows["platform"], rows["x"], strict=True)])
    b = np.array([index[(p, y)] for p, y in zip(rows["platform"], rows["y"], strict=True)])
    a, b = a.astype(np.int64), b.astype(np.int64)
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(index), len(index)))
    _, component = csgraph.connected_components(graph, directed=False)
    keys = list(index)
    best: dict[int, int] = {}
    linked = sorted(set(a.tolist()) | set(b.tolist()))
    for v in linked:
        c = int(component[v])
        w = best.get(c)
        if w is None or (-n[v], keys[v][1]) < (-n[w], keys[w][1]):
            best[c] = v
    return pa.table(
        {
            "platform": pa.array([keys[v][0] for v in linked], pa.string()),
            "key": pa.array([keys[v][1] for v in linked], pa.string()),
            "cluster": pa.array([keys[best[int(component[v])]][1] for v in linked], pa.string()),
        }
    )
