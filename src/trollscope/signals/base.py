"""What a signal is: a name, a function from the case to per-account values, and what it
means. `SignalResult` is what the function returns; `run.py` stores it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

ACCOUNT_SIGNALS_SCHEMA = pa.schema(
    [
        pa.field("signal", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("flagged", pa.bool_(), nullable=False),
        pa.field("p_value", pa.float64()),
        pa.field("evidence", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class SignalParams:
    """What the user may set for every signal (a signal documents what it reads)."""

    alpha: float = 0.01
    seed: int = 1


@dataclass(slots=True)
class SignalResult:
    """`accounts`: rows of ACCOUNT_SIGNALS_SCHEMA without the `signal` column (the runner
    adds it). `tables`: extra tables to store in the case, by name."""

    accounts: pa.Table
    tables: dict[str, pa.Table] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Signal:
    """One account signal: `compute` reads the case and returns per-account values;
    `meaning` says what it shows and what it does not prove."""

    name: str
    compute: Callable[[duckdb.DuckDBPyConnection, SignalParams], SignalResult]
    meaning: str


def empty_accounts() -> pa.Table:
    """An empty per-account result (a signal with nothing to say on this case)."""
    return ACCOUNT_SIGNALS_SCHEMA.remove(0).empty_table()
