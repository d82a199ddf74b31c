"""What a signal is: a name, a function from the case to per-account values, and what it
means. `SignalResult` is what the function returns; `run.py` stores it.

Where a signal reads the posts (rhythm, content), its pass over them is an Ibis
expression over the engine's input tables (`trollscope.inputs`), run on the engine detect
runs on (DuckDB or Spark), and so are its tests, as batch functions over one row per
account (`Backend.map_batches`). creation-burst's, profile's and avatar's passes over the
accounts run there too (creations per platform and hour; each account's profile parts,
`features/profile.py`; the avatar keys). Every signal's per-account rows reach the case's
connection as temporary tables DuckDB reads from the engine (`Kept`, `Backend.to_case`),
and only the flagged rows come to Python. avatar reads the pictures' hashes, made where
the files are by `trollscope avatars`, from the case."""

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


@dataclass(frozen=True, slots=True)
class Kept:
    """Rows a signal left out of Python: a temporary table of the case's connection
    (`Backend.to_case`: DuckDB read them from the engine) and the columns of it that make
    the case's table, stored in `order` (an ORDER BY clause)."""

    table: str
    columns: tuple[str, ...]
    order: str = "ALL"


ACCOUNT_ROWS = "account_signals"
ACCOUNT_ROW_SCHEMA = ACCOUNT_SIGNALS_SCHEMA.remove(0)  # a signal's rows: the runner adds `signal`
ACCOUNT_COLUMNS = tuple(ACCOUNT_ROW_SCHEMA.names)


@dataclass(slots=True)
class SignalResult:
    """`accounts`: rows of ACCOUNT_SIGNALS_SCHEMA without the `signal` column (the runner
    adds it): every row, or only the flagged ones where `kept` holds ACCOUNT_ROWS (all of
    them, left on the engine's side; detect reads only the flags). `tables`: extra tables
    to store in the case, by name; `kept`: those, and ACCOUNT_ROWS, that stayed out of
    Python, by the case's table name."""

    accounts: pa.Table
    tables: dict[str, pa.Table] = field(default_factory=dict)
    kept: dict[str, Kept] = field(default_factory=dict)

    def all_accounts(self, con: duckdb.DuckDBPyConnection) -> pa.Table:
        """Every per-account row, in (platform, account_id) order where kept (a tool's or
        a test's view: detect needs only `accounts`)."""
        rows = self.kept.get(ACCOUNT_ROWS)
        if rows is None:
            return self.accounts
        return con.sql(
            f"SELECT {', '.join(rows.columns)} FROM {rows.table} ORDER BY platform, account_id"
        ).to_arrow_table()

    def table(self, con: duckdb.DuckDBPyConnection, name: str) -> pa.Table:
        """The extra table `name`, from Python or, if kept, in the order of its columns."""
        kept = self.kept.get(name)
        if kept is None:
            return self.tables[name]
        return con.sql(
            f"SELECT {', '.join(kept.columns)} FROM {kept.table} ORDER BY {kept.order}"
        ).to_arrow_table()

    def table_names(self) -> list[str]:
        """The extra tables, held or kept."""
        return [*self.tables, *(n for n in self.kept if n != ACCOUNT_ROWS)]


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


def flagged_rows(con: duckdb.DuckDBPyConnection, table: str) -> pa.Table:
    """The flagged rows of a kept per-account table (`Kept`): all that comes to Python."""
    return con.sql(
        f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM {table} WHERE flagged "
        "ORDER BY platform, account_id"
    ).to_arrow_table()


def empty_accounts() -> pa.Table:
    """An empty per-account result (a signal with nothing to say on this case)."""
    return ACCOUNT_ROW_SCHEMA.empty_table()
