"""The engine's input tables: what the traces and the account signals read, the same on
every engine; and what an engine must do with them (`Backend`), with the case's own
DuckDB as one (`CaseBackend`).

The case (DuckDB) is the store; the traces and the band join run on an engine (DuckDB or
Spark). Between them sit a few narrow tables, defined here once: `POSTS_SQL` and
`ACCOUNTS_SQL` select from the case the columns the traces need, with times as int64
microseconds since the epoch (one integer type every engine compares exactly). The DuckDB
engine reads them as views of the case; the Spark engine reads them as Parquet files
exported from it. Traces see them as unbound Ibis tables (`Inputs`), bound by name when
the engine runs the compiled SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import duckdb
import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from trollscope.case import rows_written

POSTS = "ts_posts"
ACCOUNTS = "ts_accounts"
HASHTAG_KEYS = "ts_hashtag_keys"
NEARDUP_ROWS = "ts_neardup_rows"
PROFILE_ROWS = "ts_profile_rows"
AVATAR_ROWS = "ts_avatar_rows"

POSTS_SQL = (
    "SELECT post_id, platform, account_id, epoch_us(created_at) AS us, kind, text, "
    "ref_post_id, ref_account_id, lang, hashtags, urls, mentions, media FROM posts"
)
ACCOUNTS_SQL = (
    "SELECT account_id, platform, epoch_us(created_at) AS us, handle, display_name, bio, "
    "location, avatar FROM accounts"
)

CASE_VIEWS = {POSTS: POSTS_SQL, ACCOUNTS: ACCOUNTS_SQL}

_STRINGS = "array<string>"
POSTS_SCHEMA = ibis.schema(
    {
        "post_id": "string",
        "platform": "string",
        "account_id": "string",
        "us": "int64",
        "kind": "string",
        "text": "string",
        "ref_post_id": "string",
        "ref_account_id": "string",
        "lang": "string",
        "hashtags": _STRINGS,
        "urls": _STRINGS,
        "mentions": _STRINGS,
        "media": _STRINGS,
    }
)
ACCOUNTS_SCHEMA = ibis.schema(
    {
        "account_id": "string",
        "platform": "string",
        "us": "int64",
        "handle": "string",
        "display_name": "string",
        "bio": "string",
        "location": "string",
        "avatar": "string",
    }
)
# Rows computed in Python by a trace's `prepare` (near-dup text, profile templates): already
# trace rows, read as they are.
_TRACE_ROWS = {
    "platform": "string",
    "account_id": "string",
    "key": "string",
    "us": "int64",
    "post_id": "string",
}
# The same columns as Arrow, for traces computed in Python (near-dup text, profiles,
# avatars) before they are handed to an engine.
TRACE_ROWS_SCHEMA = pa.schema(
    [
        ("platform", pa.string()),
        ("account_id", pa.string()),
        ("key", pa.string()),
        ("us", pa.int64()),
        ("post_id", pa.string()),
    ]
)


@dataclass(frozen=True)
class Inputs:
    """Unbound Ibis tables the traces are written against."""

    posts: ir.Table = field(default_factory=lambda: ibis.table(POSTS_SCHEMA, name=POSTS))
    accounts: ir.Table = field(default_factory=lambda: ibis.table(ACCOUNTS_SCHEMA, name=ACCOUNTS))
    hashtag_keys: ir.Table = field(
        default_factory=lambda: ibis.table({"tag": "string", "key": "string"}, name=HASHTAG_KEYS)
    )
    neardup_rows: ir.Table = field(
        default_factory=lambda: ibis.table(_TRACE_ROWS, name=NEARDUP_ROWS)
    )
    avatar_rows: ir.Table = field(default_factory=lambda: ibis.table(_TRACE_ROWS, name=AVATAR_ROWS))
    profile_rows: ir.Table = field(
        default_factory=lambda: ibis.table(_TRACE_ROWS, name=PROFILE_ROWS)
    )


BatchFn = Callable[[pa.RecordBatch], pa.RecordBatch]
"""A function from a batch of a query's rows to a batch of new rows (MinHash of texts):
Python that an engine runs where the rows are (`Backend.map_batches`)."""

# Rows per batch that `CaseBackend.map_batches` streams from DuckDB.
MAP_BATCH = 65_536


def one_batch(table: pa.Table) -> pa.RecordBatch:
    """`table` as the one batch a `BatchFn` returns (empty or not)."""
    batches = table.combine_chunks().to_batches()  # one chunk: one batch, or none if empty
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def map_each(fn: BatchFn, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """`fn` over each batch (a module-level function, so that Spark can ship it)."""
    for batch in batches:
        yield fn(batch)


def int_sum(counts: ir.IntegerColumn) -> ir.IntegerScalar:
    """A sum of counts as int64 on every engine: DuckDB sums BIGINT into HUGEINT (Arrow's
    decimal), and Ibis drops a cast of an int64 sum to int64. Summed as doubles, exact
    below 2^53, and cast back."""
    return counts.cast("float64").sum().cast("int64")


def _tables_read(expr: ir.Table) -> set[str]:
    """The names of the tables `expr` reads."""
    return {op.name for op in expr.op().find(ops.UnboundTable)}


class Backend(Protocol):
    """What the engine needs of a query engine: name tables, run compiled SQL."""

    dialect: str

    def register(self, name: str, table: pa.Table) -> None: ...

    def materialize(self, name: str, expr: ir.Table) -> None: ...

    def number(
        self, name: str, expr: ir.Table, column: str, order_by: Sequence[str], dtype: str
    ) -> None: ...

    def fetch(self, expr: ir.Table) -> pa.Table: ...

    def map_batches(self, name: str, expr: ir.Table, fn: BatchFn, schema: pa.Schema) -> None: ...

    def store(self, name: str, expr: ir.Table) -> None: ...

    def insert(self, expr: ir.Table, table: str) -> int: ...

    def to_case(self, name: str) -> str: ...

    def from_case(self, name: str, sql: str) -> None: ...

    def drop(self, *names: str) -> None: ...

    def close(self) -> None: ...


class CaseBackend:
    """The case's own connection: input tables are views of the case. (The engine's
    `DuckDBBackend` adds the band join's scratch tables to what it drops.)"""

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._registered: set[str] = set()
        for name, sql in CASE_VIEWS.items():
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def sql(self, expr: ir.Table) -> str:
        return str(ibis.to_sql(expr, dialect=self.dialect))

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)
        self._registered.add(name)

    def materialize(self, name: str, expr: ir.Table) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {self.sql(expr)}")

    def store(self, name: str, expr: ir.Table) -> None:
        """`materialize`: a DuckDB table is made at once and stands on its own. (Spark's
        backend writes Parquet, so that what made the table is not run again.)"""
        self.materialize(name, expr)

    def number(
        self, name: str, expr: ir.Table, column: str, order_by: Sequence[str], dtype: str
    ) -> None:
        """Materialise `expr` with `column` of type `dtype`: each row's place (from 0) in
        the order of `order_by`, columns whose values no two rows share. (DuckDB numbers a
        window over the whole table in parallel; Spark's backend does it otherwise.)"""
        place = ibis.row_number().over(order_by=[expr[c] for c in order_by])
        self.materialize(name, expr.mutate(**{column: place.cast(dtype)}))

    def fetch(self, expr: ir.Table) -> pa.Table:
        return self.con.sql(self.sql(expr)).to_arrow_table()

    def map_batches(self, name: str, expr: ir.Table, fn: BatchFn, schema: pa.Schema) -> None:
        """Materialise `name`: `fn` over the rows of `expr`, in batches. Where `expr` reads
        only the case's input tables (`CASE_VIEWS`), they are streamed from a cursor, as
        the temporary table is written on the connection meanwhile (the cursor sees the
        case and its own views of it, not this connection's temporary tables). Where it
        reads what was made here (one row per account, say), its rows are read whole
        first, then mapped batch by batch."""
        if _tables_read(expr) <= set(CASE_VIEWS):
            cur = self.con.cursor()
            try:
                for view, sql in CASE_VIEWS.items():
                    cur.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")
                self._map_into(name, cur.sql(self.sql(expr)).to_arrow_reader(MAP_BATCH), fn, schema)
            finally:
                cur.close()
            return
        rows = self.con.sql(self.sql(expr)).to_arrow_table()
        self._map_into(
            name,
            pa.RecordBatchReader.from_batches(rows.schema, rows.to_batches(MAP_BATCH)),
            fn,
            schema,
        )

    def _map_into(
        self, name: str, source: pa.RecordBatchReader, fn: BatchFn, schema: pa.Schema
    ) -> None:
        mapped = pa.RecordBatchReader.from_batches(schema, map_each(fn, source))
        self.con.register("ts_mapped_batches", mapped)
        try:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM ts_mapped_batches"
            )
        finally:
            self.con.unregister("ts_mapped_batches")

    def insert(self, expr: ir.Table, table: str) -> int:
        """Insert the rows of `expr` into the case's `table`, by column name."""
        cols = ", ".join(expr.columns)
        sql = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM ({self.sql(expr)})"
        return rows_written(self.con.execute(sql))

    def to_case(self, name: str) -> str:
        """The name of a temporary table of the case's connection holding the rows of
        `name` (made by `store` or `map_batches`): here, that table itself."""
        return name

    def from_case(self, name: str, sql: str) -> None:
        """Make `name` on the engine from DuckDB SQL over the case's tables, its rows never
        passing through Python: here, a temporary table."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def drop(self, *names: str) -> None:
        """Drop tables made by `materialize` (and unregister `register`ed ones)."""
        for name in names:
            if name in self._registered:
                self._registered.discard(name)
                self.con.unregister(name)
            else:
                self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        """Nothing to release: the views live as long as the connection."""
