"""The avatar-reuse trace: accounts of one platform wearing the same avatar (the keys of
`features/avatars.py`: picture groups and stored files), as window-0 trace rows."""

from __future__ import annotations

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from trollscope.features.avatars import HASHES, avatar_keys, register_hashes
from trollscope.inputs import AVATAR_ROWS, TRACE_ROWS_SCHEMA, Backend, CaseBackend, Inputs

TRACE_SCHEMA = TRACE_ROWS_SCHEMA  # (platform, account_id, key, us, post_id)


def avatar_rows(accounts: ir.Table, keys: ir.Table) -> ir.Table:
    """The avatar keys `keys` as trace rows (TRACE_SCHEMA) for a window-0 trace: `us` is
    the account's creation time from `accounts` (0 when unknown; any time matches), the
    post is the account itself."""
    created = accounts.group_by("platform", "account_id").aggregate(first_us=accounts.us.min())
    j = keys.left_join(
        created,
        [keys.platform == created.platform, keys.account_id == created.account_id],
    )
    return j.select(
        platform=keys.platform,
        account_id=keys.account_id,
        key=keys.key,
        us=created.first_us.fill_null(0),
        post_id=keys.account_id,
    )


def avatar_rows_on(
    con: duckdb.DuckDBPyConnection, engine: Backend, name: str = AVATAR_ROWS
) -> None:
    """Materialise the trace's rows as `name` on `engine`: the picture keys of the case's
    `avatar_hashes` (made on this machine by `trollscope avatars`) go to the engine, the
    accounts' avatar strings are keyed there."""
    i = Inputs()
    hashes = register_hashes(con, engine)
    try:
        engine.store(name, avatar_rows(i.accounts, avatar_keys(i.accounts, hashes)))
    finally:
        if hashes is not None:
            engine.drop(HASHES)


def avatar_trace_rows(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The trace's rows of the case (TRACE_SCHEMA), made on the case's own DuckDB, in
    (platform, key, account_id) order."""
    cur = con.cursor()  # the caller's connection may hold an open result
    try:
        engine = CaseBackend(cur)
        name = "ts_avatar_trace_rows"
        avatar_rows_on(cur, engine, name)
        table = engine.fetch(ibis.table(TRACE_SCHEMA, name=name))
    finally:
        cur.close()
    order = [(c, "ascending") for c in ("platform", "key", "account_id")]
    return table.cast(TRACE_SCHEMA).sort_by(order)
