"""Account signals: the troll-farm fingerprint beyond co-actions.

A signal looks at accounts one by one (an office-hours rhythm, a handle like
`name84736251`, a burst of creations on one day) and gives each account a value with
evidence in words. Pairwise account signals (a shared bio template, a reused avatar) are
traces instead (`traces/`, window 0: "same key, any time"), so that the engine's edges,
IDF and later significance apply to them alike.

One registry, `SIGNALS`, feeds the CLI (`trollscope signals`), docs/signals.md and tests.
Each signal is a module of this package with a `compute(con, params)` that reads the
case (`posts`, `accounts`) through its DuckDB connection and returns a `SignalResult`.
`run.py` stores the results in the case, all in one transaction:

- `account_signals (signal, platform, account_id, value, flagged, p_value, evidence)`:
  one row per account the signal scored. `value` is the signal's own measure (documented
  per signal), `flagged` whether it passes the signal's test at the given alpha, `p_value`
  where the signal has a test, `evidence` a short sentence a reader can check.
- signal-specific tables (e.g. `creation_bursts`, `creation_histogram`), named by the
  signal, replaced on each run.
"""

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


# Filled by `registry.load()` from the modules listed in `registry.MODULES`.
SIGNALS: dict[str, Signal] = {}
