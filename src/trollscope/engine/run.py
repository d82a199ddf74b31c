"""The co-action engine: runs a trace and the band join (`coaction.py`) on an engine and
keeps the edges in the case.

Engines. The traces and the band join are Ibis expressions, compiled here to the SQL of
the engine that runs them:
- `duckdb` (default): inside the case's own connection and transaction; nothing leaves
  DuckDB, the edges are inserted straight from the query into the case's edge tables
  (read through the view `edges`, see `edgestore.py`).
- `spark`: a Spark session (local mode unless `TROLLSCOPE_SPARK_MASTER` says otherwise,
  see `spark.py`) reads the input tables (a DuckDB case's exported as Parquet; a Parquet
  case's own files in place), the same expressions run as Spark SQL, and the edges come
  back as Arrow into the case. detect's tests run on the same backend (`engine_for`).

Viral keys. A key that more than `max_burst` accounts touched within one window (a post
reposted by thousands in a minute) would make a quadratic number of pairs, and an IDF
weight near zero: such keys are skipped, and listed with their burst size in the table
`skipped_keys`, so the user sees what was left out. A farm's keys are touched by its
members (hundreds), far below the default of 5,000.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from trollscope import inputs
from trollscope.case import Case, file_of, limit_resources, transaction
from trollscope.case.schema import SKIPPED_KEYS_DDL
from trollscope.engine import ENGINES, MAX_BURST, coaction, edgestore, peers
from trollscope.errors import TrollscopeError
from trollscope.inputs import Backend, CaseBackend
from trollscope.peerrule import PeerRule
from trollscope.progress import StageProgress, Stages
from trollscope.traces import TRACES, Trace


class DuckDBBackend(CaseBackend):
    """The case's own connection (`inputs.CaseBackend`), which can keep the band join's
    scratch tables for detect's tests."""

    def close(self, keep: bool = False) -> None:
        """Drop the scratch tables; `keep` leaves them (the trace's rows, its ids, the
        band join's pairs) for a caller that tests the edges next (detect), which then
        drops them with `drop_scratch`."""
        if not keep:
            drop_scratch(self.con)


def drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what a run of `compute_edges` left in temporary tables."""
    for name in (*coaction.SCRATCH, coaction.ROWS):
        con.execute(f"DROP TABLE IF EXISTS {name}")


NEW_SKIPPED = "ts_new_skipped"

# `compute_edges`'s stages, as its progress callback names them; the band join ("pairs")
# is where the time goes at scale.
EDGE_STAGES = ("trace rows", "viral keys", "account and key ids", "pairs", "storing edges")


def compute_edges(
    con: duckdb.DuckDBPyConnection,
    trace: Trace,
    window: float,
    evidence_limit: int = 20,
    max_burst: int = MAX_BURST,
    backend: Backend | None = None,
    keep_scratch: bool = False,
    min_keys: int = 1,
    progress: StageProgress | None = None,
) -> tuple[int, int]:
    """Compute the edges of `trace` on `backend` (default: DuckDB on `con`) and replace the
    trace's edges and skipped keys in the case by them, in one short transaction. Returns
    the number of edges kept and of account pairs in all (they differ when `min_keys` > 1
    keeps only pairs that met on several keys). With `keep_scratch` (DuckDB only), the
    trace's rows (`ts_rows`), ids and band-join pairs stay in their temp tables
    (`coaction.ROWS`, `coaction.SCRATCH`) until `drop_scratch`.

    The scratch work happens outside the case's transaction on purpose: DuckDB keeps a
    transaction's writes (here the scratch tables, tens of millions of pair rows at
    scale) as transaction-local storage, which spilled past 60 GB on 1M posts. The
    transaction holds only the final INSERTs (one-row pairs and what their numbers refer
    to, then the others), straight from the scratch tables into the edge tables (a copy
    through a temporary table first cost 20 s more at 10M posts). `progress` is called
    as each of EDGE_STAGES starts."""
    engine: Backend
    own: DuckDBBackend | None = None
    if backend is None:
        engine = own = DuckDBBackend(con)
    else:
        engine = backend
    try:
        stages = Stages(progress, len(EDGE_STAGES))
        return _compute_and_store(
            con, engine, trace, window, evidence_limit, max_burst, min_keys, stages.start
        )
    finally:
        # Also after a failure (out of memory, say): detect goes on with one connection.
        con.execute(f"DROP TABLE IF EXISTS {NEW_SKIPPED}")
        if own is not None:  # ours: drop its scratch tables now, not when the case closes
            own.close(keep_scratch)


def _compute_and_store(
    con: duckdb.DuckDBPyConnection,
    engine: Backend,
    trace: Trace,
    window: float,
    evidence_limit: int,
    max_burst: int,
    min_keys: int,
    stage: Callable[[str], None],
) -> tuple[int, int]:
    """`compute_edges`'s stages, on `engine`; the caller drops the scratch tables."""
    stage(EDGE_STAGES[0])
    if trace.prepare is not None:
        trace.prepare(con, engine)
    raw = trace.rows(inputs.Inputs())
    engine.materialize(coaction.ROWS, coaction.trace_rows(raw, trace.keys_checked))
    rows = coaction.rows_table()

    stage(EDGE_STAGES[1])
    viral = engine.fetch(coaction.viral(rows, window, max_burst))
    con.register("ts_viral", viral)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {NEW_SKIPPED} AS "
        f"SELECT '{trace.name}' AS trace, platform, key, burst FROM ts_viral"
    )
    con.unregister("ts_viral")
    engine.register(coaction.SKIPPED, viral.select(["platform", "key"]))

    counted_rows = engine.fetch(rows.aggregate(n=rows.count()))
    n_rows = int(counted_rows.column("n")[0].as_py())
    if n_rows > edgestore.MAX_ROWS:
        raise TrollscopeError(
            f"the {trace.name} trace has {n_rows:,} rows, more than the case's 32-bit row "
            f"numbers hold ({edgestore.MAX_ROWS:,}): compute its edges on a part of the "
            "data (a time span or a platform per case)."
        )
    ids = coaction.id_type(n_rows)
    stage(EDGE_STAGES[2])
    coaction.account_ids(engine, coaction.ACCOUNT_IDS, rows, ids)
    account_ids = coaction.account_ids_table(ids)
    # IDF's A, the trace's accounts: the rows of the table just made.
    total = engine.fetch(account_ids.aggregate(n=account_ids.count()))
    accounts = int(total.column("n")[0].as_py()) if total.num_rows else 0
    skipped = coaction.skipped_table()
    coaction.key_ids(engine, rows, skipped, accounts, ids)
    key_ids = coaction.key_ids_table(ids)
    coaction.id_rows(engine, rows, account_ids, key_ids, ids)
    id_rows = coaction.id_rows_table(ids)
    stage(EDGE_STAGES[3])
    engine.materialize(coaction.PAIRS, coaction.pairs(id_rows, window))
    pairs = coaction.pairs_table(ids)
    engine.materialize(coaction.MULTI, coaction.multi(pairs))
    stage(EDGE_STAGES[4])
    with transaction(con, file_of(con)):
        edgestore.prepare(con)
        tid = edgestore.replace(con, trace.name, window)
        con.execute(SKIPPED_KEYS_DDL)
        con.execute("DELETE FROM skipped_keys WHERE trace = ?", [trace.name])
        parts = coaction.edges(
            pairs,
            coaction.multi_table(ids),
            account_ids,
            key_ids,
            id_rows,
            trace.name,
            window,
            tid,
            evidence_limit,
            min_keys,
        )
        kept = 0
        if parts.single is not None:
            kept += engine.insert(parts.single, edgestore.SINGLE)
            tables = coaction.dictionaries(account_ids, key_ids, id_rows, tid)
            for table, expr in tables.items():
                engine.insert(expr, table)
        kept += engine.insert(parts.whole, edgestore.WHOLE)
        con.execute(f"INSERT INTO skipped_keys SELECT * FROM {NEW_SKIPPED}")
    if min_keys == 1:
        return kept, kept
    counted = engine.fetch(coaction.pair_count(pairs))
    return kept, int(counted.column("n")[0].as_py()) if counted.num_rows else 0


def check_engine(engine: str) -> None:
    """Refuse an engine name that is not one of ENGINES, naming them."""
    if engine not in ENGINES:
        raise TrollscopeError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}.")


@contextmanager
def engine_for(engine: str, con: duckdb.DuckDBPyConnection) -> Iterator[Backend]:
    """A backend of `engine` over the case's connection `con`, closed on the way out
    (Spark's working folder is removed with it). What the caller materialises stays
    until it drops it or the backend closes."""
    check_engine(engine)
    if engine == "duckdb":
        backend = DuckDBBackend(con)
        try:
            yield backend
        finally:
            backend.close(keep=True)
        return
    from trollscope.engine.spark import SparkBackend

    with tempfile.TemporaryDirectory(prefix="trollscope-spark-") as tmp:
        spark = SparkBackend(con, Path(tmp))
        try:
            yield spark
        finally:
            spark.close()


def edges(
    case_path: Path | str,
    trace_name: str,
    window: float | None = None,
    max_burst: int = MAX_BURST,
    engine: str = "duckdb",
    memory_limit: str | None = None,
    progress: StageProgress | None = None,
) -> int:
    """Compute one trace's edges into the case (atomically) on `engine`; the number of
    edges. `memory_limit` caps DuckDB's memory (see `case.limit_resources`); `progress`
    is called as each of EDGE_STAGES starts."""
    return ruled_edges(
        case_path, trace_name, None, window, max_burst, engine, memory_limit, progress
    )[0]


def ruled_edges(
    case_path: Path | str,
    trace_name: str,
    rule: PeerRule | None,
    window: float | None = None,
    max_burst: int = MAX_BURST,
    engine: str = "duckdb",
    memory_limit: str | None = None,
    progress: StageProgress | None = None,
) -> tuple[int, pa.Table | None]:
    """`edges`, and with an active peer `rule` the pairs it keeps (platform, account_a,
    account_b; else None)."""
    if trace_name not in TRACES:
        raise TrollscopeError(f"unknown trace {trace_name!r}; choose one of: {', '.join(TRACES)}.")
    if engine not in ENGINES:
        raise TrollscopeError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}.")
    trace = TRACES[trace_name]
    chosen = trace.window if window is None else window
    if chosen < 0:
        raise TrollscopeError(f"the window must be 0 or more seconds, not {chosen}.")
    kept = None
    with Case.open(case_path) as case:
        limit_resources(case.con, case_path, memory_limit)
        try:
            # A rule reads the band join's scratch tables: they stay until it has run.
            with engine_for(engine, case.con) as backend:
                n, _ = compute_edges(
                    case.con,
                    trace,
                    chosen,
                    max_burst=max_burst,
                    backend=backend,
                    progress=progress,
                )
                if rule is not None and rule.active:
                    found = peers.named(peers.kept_pairs(rule))
                    kept = backend.fetch(found.drop("a", "b"))
        except duckdb.OutOfMemoryException as exc:
            raise TrollscopeError(
                f"the {trace.name} edges at a {chosen:g} s window need more memory and disk "
                f"than this machine has ({exc}). Lower --max-burst (keys touched by fewer "
                "accounts per window are kept), shorten the window, or free disk space."
            ) from None
        finally:
            drop_scratch(case.con)
    return n, kept


def skipped_keys(case_path: Path | str, trace_name: str) -> int:
    """How many keys of a trace were skipped as viral at its last computation."""
    with Case.open(case_path, read_only=True) as case:
        try:
            row = case.con.execute(
                "SELECT count(*) FROM skipped_keys WHERE trace = ?", [trace_name]
            ).fetchone()
        except duckdb.CatalogException:
            return 0
    return int(row[0]) if row else 0


def trace_rows_sql(con: duckdb.DuckDBPyConnection, trace: Trace) -> str:
    """DuckDB SQL for a trace's rows over views of the case (for estimation and tests)."""
    backend = DuckDBBackend(con)
    if trace.prepare is not None:
        trace.prepare(con, backend)
    return backend.sql(coaction.trace_rows(trace.rows(inputs.Inputs()), trace.keys_checked))


@dataclass(frozen=True, slots=True)
class WindowEstimate:
    """A proposed co-action window and what it rests on."""

    seconds: float
    keys: int  # keys with at least two accounts, whose delays were measured
    quantile: float
    median_delay: float | None

    def explain(self) -> str:
        if not self.keys:
            return "no key was touched by two accounts; nothing to estimate from."
        return (
            f"{self.seconds:g} s: the {self.quantile:.0%} quantile of the delay between the "
            f"first and the second account acting on a key, over {self.keys:,} keys "
            f"(median delay {self.median_delay:g} s)."
        )


def estimate_window(
    case_path: Path | str, trace_name: str, quantile: float = 0.1
) -> WindowEstimate:
    """Propose a window for a trace from the data, in the spirit of CooRnet's coordination
    interval: for every key that two or more accounts touched, the delay from the first
    account's action to the second account's; the window is a low quantile of those
    delays (the fast reactions the data holds), at least 1 s."""
    with Case.open(case_path, read_only=True) as case:
        return estimate_window_on(case.con, trace_name, quantile)


def estimate_window_on(
    con: duckdb.DuckDBPyConnection, trace_name: str, quantile: float = 0.1
) -> WindowEstimate:
    """`estimate_window` on an open case (detect's `--window auto`, inside its run)."""
    if not 0 < quantile < 1:
        raise TrollscopeError(f"the quantile must be between 0 and 1, not {quantile}.")
    trace = TRACES[trace_name]
    rows = trace_rows_sql(con, trace)
    found = con.execute(
        f"""WITH firsts AS (
                SELECT platform, key, account_id, min(us) AS us
                FROM ({rows}) GROUP BY ALL),
            ranked AS (
                SELECT *, row_number() OVER (PARTITION BY platform, key ORDER BY us) AS r
                FROM firsts),
            delays AS (
                SELECT (max(us) FILTER (WHERE r = 2) - max(us) FILTER (WHERE r = 1)) / 1e6 AS d
                FROM ranked WHERE r <= 2 GROUP BY platform, key HAVING count(*) = 2)
            SELECT count(*), quantile_cont(d, ?), median(d) FROM delays""",
        [quantile],
    ).fetchall()
    # fetchall, not fetchone: a result left unfinished blocks the connection's next query
    # (detect's traces go on on the same connection).
    row = found[0] if found else None
    keys, q, median = (int(row[0]), row[1], row[2]) if row else (0, None, None)
    seconds = max(1.0, float(math.ceil(q))) if q is not None else trace.window
    return WindowEstimate(
        seconds=seconds,
        keys=keys,
        quantile=quantile,
        median_delay=float(median) if median is not None else None,
    )
