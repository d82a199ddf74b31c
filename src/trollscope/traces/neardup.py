"""The near-dup-text trace: the case's posts as LSH keys (`features/neardup.py` says how
near-copies come to share a key), one row per post and band."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import numpy as np
import pyarrow as pa

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
