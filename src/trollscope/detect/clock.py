"""The data's clock tick: minute-stamped data meets on a lattice of minutes.

Why it matters: under a jitter of timelines, two actions stamped to the minute meet
"within 60 s" on the lattice {-60, 0, +60} s, a wider band than 2W of continuous time, so
the synchrony null's meeting rate adds one tick (`pairtest.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import ibis.expr.types as ir

if TYPE_CHECKING:
    from trollscope.inputs import Backend

US = 1_000_000  # trace times are int64 microseconds
TICKS_US = (60 * US, US, 1_000, 1)  # clock ticks tried, coarsest first


def _coarsest(found: tuple[object, ...] | list[object]) -> int:
    return next((t for t, ok in zip(TICKS_US, found, strict=False) if ok), 1)


def clock_tick_us(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    """The coarsest of TICKS_US that divides every `us` of `relation` (a table name or a
    parenthesised query), in one scan."""
    tests = ", ".join(f"bool_and(us % {t} = 0)" for t in TICKS_US[:-1])
    return _coarsest(con.execute(f"SELECT {tests} FROM {relation}").fetchall()[0])


def clock_tick(engine: Backend, rows: ir.Table) -> int:
    """`clock_tick_us` of a table expression with a column `us`, on any engine."""
    found = engine.fetch(
        rows.aggregate(**{f"t{i}": (rows.us % t == 0).all() for i, t in enumerate(TICKS_US[:-1])})
    )
    # An empty table has no tick to find: every test is then null, the finest tick wins.
    return _coarsest([found.column(i)[0].as_py() for i in range(found.num_columns)])
