"""The avatar-reuse trace: accounts of one platform wearing the same avatar (the keys of
`features/avatars.py`: picture groups and stored files), as window-0 trace rows."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from trollscope.features.avatars import keys_sql
from trollscope.inputs import TRACE_ROWS_SCHEMA

TRACE_SCHEMA = TRACE_ROWS_SCHEMA  # (platform, account_id, key, us, post_id)


def avatar_trace_rows(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The avatar keys as trace rows (platform, account_id, key, us, post_id) for a window-0
    trace: `us` is the account's creation time (0 when unknown; any time matches), the
    post is the account itself."""
    cur = con.cursor()  # the caller's connection may hold an open result
    sql = f"""
    SELECT k.platform, k.account_id, k.key,
           coalesce(epoch_us(a.created_at), 0)::BIGINT AS us, k.account_id AS post_id
    FROM ({keys_sql(cur)}) k
    LEFT JOIN (SELECT platform, account_id, min(created_at) AS created_at FROM accounts
               GROUP BY ALL) a USING (platform, account_id)
    ORDER BY k.platform, k.key, k.account_id"""
    try:
        return cur.sql(sql).to_arrow_table().cast(TRACE_SCHEMA)
    finally:
        cur.close()
