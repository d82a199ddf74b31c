"""What a signal is: a name, a function from the case to per-account values, and what it
means. `SignalResult` is what the function returns; `run.py` stores it.

Where a signal reads the posts (rhythm, content), its pass over them is an Ibis
expression over the engine's input tables (`trollscope.inputs`), run on the engine detect
runs on (DuckDB or Spark): what comes back is one row per account (or per account and
half-hour of the week), and the tests on those rows run here in numpy. creation-burst's
and profile's passes over the accounts run there too (creations per platform and hour;
each account's profile parts, `features/profile.py`). avatar reads the pictures' hashes,
made where the files are by `trollscope avatars`, from the case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import duckdb
import pyarrow as pa

from trollscope.inputs import CaseBackend

if TYPE_CHECKING:
    from trollscope.inputs import Backend

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


class Compute(Protocol):
    """A signal's function: the case's connection, the parameters, and the engine for a
    pass over the posts (None: the case's own DuckDB, see `posts_engine`)."""

    def __call__(
        self,
        con: duckdb.DuckDBPyConnection,
        params: SignalParams,
        engine: Backend | None = None,
    ) -> SignalResult: ...


def posts_engine(con: duckdb.DuckDBPyConnection, engine: Backend | None) -> Backend:
    """The engine a signal's pass over the posts runs on: the one given, else the case's
    own DuckDB (`trollscope signals`, which has no engine option)."""
    return engine if engine is not None else CaseBackend(con)


@dataclass(frozen=True, slots=True)
class Signal:
    """One account signal: `compute` reads the case and returns per-account values;
    `meaning` says what it shows and what it does not prove."""

    name: str
    compute: Compute
    meaning: str


def empty_accounts() -> pa.Table:
    """An empty per-account result (a signal with nothing to say on this case)."""
    return ACCOUNT_SIGNALS_SCHEMA.remove(0).empty_table()
