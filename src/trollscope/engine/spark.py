"""The Spark engine: the same trace and band-join expressions, run as Spark SQL.

Optional: install with `pip install 'trollscope[spark]'` (PySpark; Java 17 or later on the
machine). The session runs in local mode on all cores unless the environment variable
`TROLLSCOPE_SPARK_MASTER` names a cluster (e.g. `spark://host:7077`).

The case stays the store: the engine's input tables (`traces.inputs`) are exported from it
as Parquet into a working folder, Spark reads them there, and the edges come back as Arrow
into the case's transaction. On a cluster that folder must be shared storage; set
`TROLLSCOPE_SPARK_TMP` to put it there.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from trollscope.errors import TrollscopeError
from trollscope.sql import literal
from trollscope.traces import inputs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _nfc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text)


class SparkBackend:
    """Runs compiled expressions on a Spark session; input tables come from the case."""

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
        for name, sql in inputs.CASE_VIEWS.items():
            target = self.workdir / f"{name}.parquet"
            con.execute(f"COPY ({sql}) TO {literal(target)} (FORMAT PARQUET)")
            self.spark.read.parquet(str(target)).createOrReplaceTempView(name)
        self._cached: dict[str, Any] = {}

    def sql(self, expr: ir.Table) -> str:
        return str(ibis.to_sql(expr, dialect=self.dialect))

    def register(self, name: str, table: pa.Table) -> None:
        target = self.workdir / f"{name}.parquet"
        pq.write_table(table, target)
        self.spark.read.parquet(str(target)).createOrReplaceTempView(name)

    def materialize(self, name: str, expr: ir.Table) -> None:
        self.drop(name)
        frame = self.spark.sql(self.sql(expr)).cache()
        frame.createOrReplaceTempView(name)
        self._cached[name] = frame

    def fetch(self, expr: ir.Table) -> pa.Table:
        return self.spark.sql(self.sql(expr)).toArrow()

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

    def drop(self, *names: str) -> None:
        """Forget materialised or registered tables (their cache goes with them)."""
        for name in names:
            frame = self._cached.pop(name, None)
            if frame is not None:
                frame.unpersist()
            self.spark.catalog.dropTempView(name)

    def close(self) -> None:
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()
