"""The Spark engine: the same trace and band-join expressions, run as Spark SQL.

Optional: install with `pip install 'trollscope[spark]'` (PySpark; Java 17 or later on the
machine). The session runs in local mode on all cores unless the environment variable
`TROLLSCOPE_SPARK_MASTER` names a cluster (e.g. `spark://host:7077`).

The case stays the store; the edges come back as Arrow into the case's transaction. The
engine's input tables (`inputs.py`) come from it in one of two ways:
- a Parquet case (`case/parquet.py`): Spark reads the files its manifest lists (never the
  unlisted leftovers of a killed write) in place and computes the input tables itself,
  the same columns and types as DuckDB's (`us` from `created_at`, `platform` from the
  manifest rather than decoded from the folder names). On a cluster the case folder must
  be on storage every executor sees at the same path.
- a DuckDB case: they are exported from it as Parquet into a working folder, and Spark
  reads them there.
Tables the engine registers (`register`) are written to the working folder too. On a
cluster it must be shared storage; set `TROLLSCOPE_SPARK_TMP` to put it there.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from trollscope import inputs
from trollscope.case import file_of, parquet
from trollscope.errors import TrollscopeError
from trollscope.sql import literal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Each input table and the Parquet dataset it is computed from, in a Parquet case.
_DATASETS = {
    inputs.POSTS: ("posts", inputs.POSTS_SCHEMA),
    inputs.ACCOUNTS: ("accounts", inputs.ACCOUNTS_SCHEMA),
}


# The columns `SparkBackend.number` works with, and the integer types it numbers in.
_PART, _START = "ts_number_bucket", "ts_number_start"
_SPARK_INTS = {"int32": "int", "int64": "bigint"}
# Tables up to this many rows are numbered in one bucket; larger ones from a sample of
# about this many keys per bucket.
_ONE_BUCKET = 100_000
_SAMPLE_PER_PART = 200


def _at_or_above(frame: DataFrame, order_by: Sequence[str], bound: tuple[Any, ...]) -> Any:
    """The condition that a row's key (`order_by`) sorts at or after `bound`: compared
    column by column, each bound cast to its column's type."""
    from pyspark.sql import functions as F

    condition = None
    for c, value in reversed(list(zip(order_by, bound, strict=True))):
        col = F.col(c)
        literal = F.lit(value).cast(frame.schema[c].dataType)
        if condition is None:
            condition = col >= literal
        else:
            condition = (col > literal) | ((col == literal) & condition)
    return condition


def session() -> SparkSession:
    """A Spark session for trollscope: UTC, quiet, no web UI, this Python for UDFs."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise TrollscopeError(
            "the Spark engine needs PySpark: pip install 'trollscope[spark]' "
            "(and Java 17 or later)."
        ) from exc
    # Python workers must be this interpreter, which has pyarrow and trollscope installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    master = os.environ.get("TROLLSCOPE_SPARK_MASTER", "local[*]")
    builder: Any = SparkSession.builder
    spark: SparkSession = (
        builder.master(master)
        .appName("trollscope")
        .config("spark.ui.enabled", "false")
        # Library code never prints: no progress bars on the console.
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", os.environ.get("TROLLSCOPE_SPARK_MEMORY", "4g"))
        # detect runs thousands of small jobs, and Spark's status store keeps each one's
        # plan (long SQL from Ibis) for a UI that is off. At the default 1,000 of each they
        # filled a 4 GB driver heap on a 200k-post simulation until an aggregation found no
        # page of memory (AGGREGATE_OUT_OF_MEMORY, with nothing cached in memory); 20
        # keeps what a failure report needs.
        .config("spark.sql.ui.retainedExecutions", "20")
        .config("spark.ui.retainedJobs", "20")
        .config("spark.ui.retainedStages", "20")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _nfc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text)


def parquet_root(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The folder of the Parquet case whose inner file `con` is open on (None for a DuckDB
    case): the inner file sits at the top of the folder."""
    inner = file_of(con)
    if inner is None or not parquet.is_parquet_case(con):
        return None
    return inner.resolve().parent


_GLOB = re.compile(r"([\\\[\]{}*?])")


def _hadoop_path(file: Path) -> str:
    """`file` as Spark's reader takes it: on the local (or mounted) filesystem whatever the
    cluster's default filesystem is, with the glob characters a case folder's name may
    hold escaped (Spark expands globs in the paths it reads). Not a URI: Hadoop reads `%`
    literally, so the percent-encoded partition folders need nothing."""
    text = str(file)
    if ":" in text and _GLOB.search(text):
        # Hadoop's glob makes a relative path of each folder name, and refuses one with a
        # colon ("Relative path in absolute URI").
        raise TrollscopeError(
            f"Spark cannot read {file}: its path has a ':' and one of []{{}}*?\\. "
            "Rename or move the case folder, or use --engine duckdb."
        )
    return "file:" + _GLOB.sub(r"\\\1", text)


def _input_table(
    spark: SparkSession, root: Path, files: list[tuple[str, str | None]], schema: ibis.Schema
) -> DataFrame:
    """An input table of `schema` computed by Spark from a Parquet case's listed `files`
    (path relative to `root`, platform): DuckDB's `inputs.CASE_VIEWS` on the same rows.
    Each platform's files are read as plain files (no partition discovery: no `day`
    column, no decoding of folder names) and get their platform from the manifest."""
    from ibis.backends.pyspark.datatypes import PySparkSchema, PySparkType
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType

    by_platform: dict[str | None, list[str]] = {}
    for file, platform in files:
        by_platform.setdefault(platform, []).append(_hadoop_path(root / file))
    if not by_platform:
        return spark.createDataFrame([], PySparkSchema.from_ibis(schema))
    frames = []
    for platform, paths in by_platform.items():
        # DuckDB writes proleptic Gregorian times; no legacy calendar to rebase from.
        read = spark.read.option("datetimeRebaseMode", "CORRECTED").parquet(*paths)
        # `created_at` is TIMESTAMP in the case, Parquet's timestamp not adjusted to UTC,
        # which Spark reads as TIMESTAMP_NTZ (or, configured so, as TIMESTAMP): either way
        # its microseconds since the epoch, as DuckDB's epoch_us gives them, whatever the
        # session's time zone.
        if isinstance(read.schema["created_at"].dataType, TimestampNTZType):
            epoch = "TIMESTAMP_NTZ '1970-01-01 00:00:00'"
            us = F.expr(f"timestampdiff(MICROSECOND, {epoch}, created_at)")
        else:
            us = F.unix_micros("created_at")
        read = read.withColumn("us", us).withColumn("platform", F.lit(platform))
        frames.append(
            read.select(
                *(
                    F.col(name).cast(PySparkType.from_ibis(dtype)).alias(name)
                    for name, dtype in schema.items()
                )
            )
        )
    table = frames[0]
    for frame in frames[1:]:
        table = table.unionByName(frame)
    return table


class SparkBackend:
    """Runs compiled expressions on a Spark session; input tables come from the case (read
    in place if it is a Parquet case, else exported from it)."""

    dialect = "pyspark"

    def __init__(self, con: duckdb.DuckDBPyConnection, workdir: Path) -> None:
        self.con = con
        self.workdir = Path(os.environ.get("TROLLSCOPE_SPARK_TMP", workdir))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.spark = session()
        # Ibis's PySpark SQL compiler reads the backend's options, registered here.
        from ibis.backends.pyspark import Backend as IbisSpark

        IbisSpark.register_options()
        # DuckDB has nfc_normalize built in; Spark has not, so it gets a Python UDF of
        # that name and the traces compile to the same call on both engines.
        from pyspark.sql.types import StringType

        self.spark.udf.register("nfc_normalize", _nfc, StringType())
        # Every temporary view this backend makes: the session outlives it (one per
        # process), and a view left over from a closed backend points at files in a
        # folder that is gone (Spark logged FileNotFound for them on later runs).
        self._views: set[str] = set()
        root = parquet_root(con)
        for name, sql in inputs.CASE_VIEWS.items():
            if root is not None:
                dataset, schema = _DATASETS[name]
                files = con.execute(
                    f"SELECT file, platform FROM {parquet.MANIFEST} WHERE dataset = ? "
                    "ORDER BY file",
                    [dataset],
                ).fetchall()
                frame = _input_table(self.spark, root, files, schema)
                frame.createOrReplaceTempView(name)
                self._views.add(name)
            else:
                self.from_case(name, sql)
        self._cached: dict[str, Any] = {}
        self._copies: set[str] = set()  # tables `to_case` made on the case's connection

    def sql(self, expr: ir.Table) -> str:
        return str(ibis.to_sql(expr, dialect=self.dialect))

    def register(self, name: str, table: pa.Table) -> None:
        target = self.workdir / f"{name}.parquet"
        pq.write_table(table, target)
        self.spark.read.parquet(str(target)).createOrReplaceTempView(name)
        self._views.add(name)

    def materialize(self, name: str, expr: ir.Table) -> None:
        self.drop(name)
        frame = self.spark.sql(self.sql(expr)).cache()
        frame.createOrReplaceTempView(name)
        self._views.add(name)
        self._cached[name] = frame

    def number(
        self, name: str, expr: ir.Table, column: str, order_by: Sequence[str], dtype: str
    ) -> None:
        """Materialise `expr` with `column`: each row's place (from 0) in the order of
        `order_by`, whose values no two rows share, as DuckDB's `number` gives it. Not a
        window over the whole table, which Spark computes in one partition (one task
        would number every row of a trace): each row falls in a bucket, the count of
        bounds (drawn from a sample) at or below its key, so that buckets follow the
        order; its place is the rows of the buckets before its own plus its place in its
        own, numbered by a window per bucket. Every step is a function of the rows (the
        bounds are literals once drawn), so a recomputed partition numbers its rows
        again the same way; only a sample and one count per bucket reach the driver."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        self.drop(name)
        frame = self.spark.sql(self.sql(expr))
        bucket = F.lit(0)
        for bound in self._bounds(frame, order_by):
            at_or_above = _at_or_above(frame, order_by, bound)
            bucket = bucket + F.when(at_or_above, 1).otherwise(0)
        bucketed = frame.withColumn(_PART, bucket.cast("int"))
        counts = sorted(
            (int(r[_PART]), int(r["count"])) for r in bucketed.groupBy(_PART).count().collect()
        )
        offsets, before = [], 0
        for index, n in counts:
            offsets.append((index, before))
            before += n
        starts = self.spark.createDataFrame(offsets, f"{_PART} INT, {_START} BIGINT")
        place = F.row_number().over(
            Window.partitionBy(_PART).orderBy(*(F.col(c) for c in order_by))
        )
        numbered = bucketed.join(F.broadcast(starts), _PART).select(
            *(F.col(c) for c in expr.columns),
            (F.col(_START) + place - 1).cast(_SPARK_INTS[dtype]).alias(column),
        )
        frame = numbered.cache()
        frame.createOrReplaceTempView(name)
        self._views.add(name)
        self._cached[name] = frame

    def _bounds(self, frame: DataFrame, order_by: Sequence[str]) -> list[tuple[Any, ...]]:
        """Up to one bound fewer than Spark's shuffle partitions, cutting a sample of the
        keys of `frame` into parts of equal size (none for a small table: one bucket)."""
        parts = int(self.spark.conf.get("spark.sql.shuffle.partitions") or 8)
        rows = frame.count()
        if parts < 2 or rows <= _ONE_BUCKET:
            return []
        fraction = min(1.0, _SAMPLE_PER_PART * parts / rows)
        # A seed, for balance alike from run to run; the numbers do not depend on it.
        sample = frame.select(*order_by).sample(fraction=fraction, seed=1).collect()
        keys = sorted(tuple(r) for r in sample)
        return sorted({keys[len(keys) * i // parts] for i in range(1, parts)}) if keys else []

    def fetch(self, expr: ir.Table) -> pa.Table:
        return self.spark.sql(self.sql(expr)).toArrow()

    def map_batches(self, name: str, expr: ir.Table, fn: inputs.BatchFn, schema: pa.Schema) -> None:
        """Materialise `name`: `fn` over the rows of `expr`, batch by batch where they lie
        (`mapInArrow`: Python workers on the executors, which must have trollscope),
        stored at once as Parquet (`store`): Python is the costly part, never to be run
        again because a cache was dropped."""
        from pyspark.sql.pandas.types import from_arrow_schema

        frame = self.spark.sql(self.sql(expr)).mapInArrow(
            partial(inputs.map_each, fn), from_arrow_schema(schema)
        )
        self._write(name, frame)

    def store(self, name: str, expr: ir.Table) -> None:
        """Materialise `name` now, as Parquet in the working folder read back: later
        queries read files, with their statistics, and no lineage back to what made them
        (a cached frame built from a cached frame was recomputed when the first was
        dropped; near-dup-text's edges took 60 s instead of 15 at 200,000 posts)."""
        self._write(name, self.spark.sql(self.sql(expr)))

    def _write(self, name: str, frame: DataFrame) -> None:
        self.drop(name)
        target = self.workdir / f"{name}.parquet"
        frame.write.mode("overwrite").parquet(str(target))
        self.spark.read.parquet(str(target)).createOrReplaceTempView(name)
        self._views.add(name)

    def insert(self, expr: ir.Table, table: str) -> int:
        """Fetch the rows of `expr` from Spark and insert them into the case's `table`, by
        column name."""
        rows = self.fetch(expr)
        self.con.register("ts_spark_rows", rows)
        cols = ", ".join(expr.columns)
        try:
            self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM ts_spark_rows")
        finally:
            self.con.unregister("ts_spark_rows")
        return int(rows.num_rows)

    def to_case(self, name: str) -> str:
        """`name` (made by `store` or `map_batches`) copied into a temporary table of the
        case's connection of the same name, which outlives this backend (`close` leaves
        it; `drop` drops it, as on DuckDB, where it is the table itself): DuckDB reads the
        Parquet files Spark wrote, so that the rows never pass through Python."""
        files = self.workdir / f"{name}.parquet"
        if not files.is_dir():
            raise TrollscopeError(
                f"{name!r} is not a table Spark wrote (under {files}): only tables made "
                "by store or map_batches can be copied to the case."
            )
        if any(files.glob("*.parquet")):
            source = f"read_parquet({literal(str(files / '*.parquet'))})"
        else:  # no row, and no file: the empty table, of the view's columns
            self.con.register("ts_spark_empty", self.spark.table(name).limit(0).toArrow())
            source = "ts_spark_empty"
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {source}")
        finally:
            if source == "ts_spark_empty":
                self.con.unregister(source)
        self._copies.add(name)
        return name

    def from_case(self, name: str, sql: str) -> None:
        """Make `name` from DuckDB SQL over the case's tables: DuckDB writes it as Parquet
        in the working folder and Spark reads it, its rows never passing through Python."""
        target = self.workdir / f"{name}.parquet"
        self.con.execute(f"COPY ({sql}) TO {literal(target)} (FORMAT PARQUET)")
        self.spark.read.parquet(str(target)).createOrReplaceTempView(name)
        self._views.add(name)

    def drop(self, *names: str) -> None:
        """Forget materialised or registered tables (their cache goes with them), and
        their copies in the case (`to_case`)."""
        for name in names:
            if name in self._copies:
                self._copies.discard(name)
                self.con.execute(f"DROP TABLE IF EXISTS temp.main.{name}")
            frame = self._cached.pop(name, None)
            if frame is not None:
                frame.unpersist()
            self.spark.catalog.dropTempView(name)
            self._views.discard(name)

    def close(self) -> None:
        """Unpersist what was cached and drop every view this backend made."""
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()
        for name in sorted(self._views):
            self.spark.catalog.dropTempView(name)
        self._views.clear()
