"""Compute account signals into the case, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from trollscope.case import Case, transaction
from trollscope.case.schema import ACCOUNT_SIGNALS_DDL
from trollscope.errors import TrollscopeError
from trollscope.progress import StageProgress, Stages
from trollscope.signals.base import (
    ACCOUNT_ROWS,
    ACCOUNT_SIGNALS_SCHEMA,
    SignalParams,
    SignalResult,
)
from trollscope.signals.registry import SIGNALS

if TYPE_CHECKING:
    from trollscope.inputs import Backend


def collect_signals(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    params: SignalParams,
    stage: Callable[[str], None] | None = None,
    engine: Backend | None = None,
) -> dict[str, SignalResult]:
    """Compute `names` on an open case connection, writing nothing: detect reads the
    identity flags before it tests, and stores the results with its own. `stage` is
    told each signal's name as it starts; passes over the posts run on `engine` (None:
    the case's DuckDB)."""
    results: dict[str, SignalResult] = {}
    for name in names:
        if stage is not None:
            stage(name)
        result = SIGNALS[name].compute(con, params, engine)
        rows = result.accounts
        rows = rows.add_column(0, "signal", pa.array([name] * rows.num_rows, pa.string()))
        results[name] = SignalResult(
            rows.select(ACCOUNT_SIGNALS_SCHEMA.names).cast(ACCOUNT_SIGNALS_SCHEMA),
            result.tables,
            result.kept,
        )
    return results


def store_signals(
    con: duckdb.DuckDBPyConnection, results: dict[str, SignalResult]
) -> dict[str, int]:
    """Write collected results into the case (inside the caller's transaction); the
    flagged accounts per signal. Kept rows are copied from their temporary tables, which
    are dropped once stored."""
    con.execute(ACCOUNT_SIGNALS_DDL)
    flagged: dict[str, int] = {}
    for name, result in results.items():
        rows = result.accounts
        con.execute("DELETE FROM account_signals WHERE signal = ?", [name])
        kept = result.kept.get(ACCOUNT_ROWS)
        if kept is None:
            con.register("ts_signal_rows", rows)
            con.execute("INSERT INTO account_signals SELECT * FROM ts_signal_rows")
            con.unregister("ts_signal_rows")
        else:
            con.execute(
                f"INSERT INTO account_signals SELECT ?, {', '.join(kept.columns)} "
                f"FROM {kept.table} ORDER BY platform, account_id",
                [name],
            )
        for table_name, table in result.tables.items():
            con.register("ts_signal_table", table)
            con.execute(f"CREATE OR REPLACE TABLE {table_name} AS SELECT * FROM ts_signal_table")
            con.unregister("ts_signal_table")
        for table_name, part in result.kept.items():
            if table_name != ACCOUNT_ROWS:
                con.execute(
                    f"CREATE OR REPLACE TABLE {table_name} AS "
                    f"SELECT {', '.join(part.columns)} FROM {part.table} ORDER BY {part.order}"
                )
        for temporary in {part.table for part in result.kept.values()}:
            con.execute(f"DROP TABLE IF EXISTS temp.main.{temporary}")
        flagged[name] = int(pa.compute.sum(rows.column("flagged")).as_py() or 0)
    return flagged


def compute_signals(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    params: SignalParams,
    progress: StageProgress | None = None,
    engine: Backend | None = None,
) -> dict[str, int]:
    """Compute `names` on an open case connection and store them (inside the caller's
    transaction); returns the flagged accounts per signal. `progress` is called as each
    signal starts, then as they are stored; passes over the posts run on `engine` (None:
    the case's DuckDB)."""
    stages = Stages(progress, len(names) + 1)
    results = collect_signals(con, names, params, stages.start, engine)
    stages.start("storing signals")
    return store_signals(con, results)


EngineFor = Callable[[duckdb.DuckDBPyConnection], AbstractContextManager["Backend"]]


def signals(
    case_path: Path | str,
    names: Sequence[str] | None = None,
    params: SignalParams | None = None,
    progress: StageProgress | None = None,
    engine_for: EngineFor | None = None,
) -> dict[str, int]:
    """Compute account signals (all by default) into the case; a failure leaves the case
    as it was. Returns the flagged accounts per signal; `progress` as `compute_signals`.
    `engine_for` opens the engine their passes run on over the case's connection (the
    API's `engine.run.engine_for`; None: the case's DuckDB)."""
    chosen = list(names) if names else list(SIGNALS)
    unknown = [n for n in chosen if n not in SIGNALS]
    if unknown:
        raise TrollscopeError(f"unknown signal {unknown[0]!r}; choose among: {', '.join(SIGNALS)}.")
    with Case.open(case_path) as case, transaction(case.con, case.path):
        if engine_for is None:
            return compute_signals(case.con, chosen, params or SignalParams(), progress)
        # The rows kept out of Python outlive the engine (`Backend.to_case`), so the
        # engine closes before they are stored.
        stages = Stages(progress, len(chosen) + 1)
        with engine_for(case.con) as on:
            results = collect_signals(
                case.con, chosen, params or SignalParams(), stages.start, engine=on
            )
        stages.start("storing signals")
        return store_signals(case.con, results)
