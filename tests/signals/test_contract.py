"""Contract tests over the signal registry: every signal gets them for free.

What a signal promises (signals/base.py): a name and a meaning that says what it does not
prove; one row per account it scores, of accounts the case holds, in the shape of
`account_signals`; p-values that are probabilities; evidence in words for every account
it flags; its own tables named in the case's schema; the same output for the same case;
and nothing to say, without an error, on a case with no data.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.signals.test_profile import sim_case
from trollscope.case import Case
from trollscope.case.schema import SIGNAL_TABLES
from trollscope.signals import SIGNALS, Signal, SignalParams
from trollscope.signals.base import ACCOUNT_SIGNALS_SCHEMA
from trollscope.simulate import SimulationConfig

NAMES = SIGNALS.names()
ROW_SCHEMA = ACCOUNT_SIGNALS_SCHEMA.remove(0)  # the runner adds `signal`


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("signals-contract")
    return sim_case(folder, SimulationConfig(posts=20_000, days=7, seed=3))


def _compute(case: Path, signal: Signal) -> tuple[pa.Table, dict[str, pa.Table], set[tuple]]:
    with Case.open(case, read_only=True) as opened:
        result = signal.compute(opened.con, SignalParams())
        accounts = set(opened.con.execute("SELECT platform, account_id FROM accounts").fetchall())
    return result.accounts, result.tables, accounts


@pytest.mark.parametrize("name", NAMES)
def test_signal_declares_itself(name: str) -> None:
    signal = SIGNALS[name]
    assert signal.name == name
    # A meaning a reader can weigh: what the signal shows, and what else gives the same.
    assert len(signal.meaning) > 100
    assert any(word in signal.meaning for word in ("not", "too")), signal.meaning


@pytest.mark.parametrize("name", NAMES)
def test_signal_rows_keep_the_contract(simulated: Path, name: str) -> None:
    rows, tables, accounts = _compute(simulated, SIGNALS[name])
    assert rows.schema.names == ROW_SCHEMA.names
    rows = rows.cast(ROW_SCHEMA)  # the types the runner stores
    keys = list(zip(*(rows.column(c).to_pylist() for c in ("platform", "account_id")), strict=True))
    assert len(keys) == len(set(keys)), "one row per account"
    assert set(keys) <= accounts, "rows of accounts the case does not hold"
    assert rows.column("flagged").null_count == 0
    p = rows.column("p_value").drop_null()
    if len(p):
        assert pc.min(p).as_py() >= 0.0 and pc.max(p).as_py() <= 1.0
    flagged = rows.filter(rows.column("flagged"))
    evidence = flagged.column("evidence").to_pylist()
    assert all(isinstance(e, str) and e.strip() for e in evidence), "a flag without words"
    assert set(tables) <= set(SIGNAL_TABLES), set(tables) - set(SIGNAL_TABLES)


@pytest.mark.parametrize("name", NAMES)
def test_signal_gives_the_same_answer_twice(simulated: Path, name: str) -> None:
    first, _, _ = _compute(simulated, SIGNALS[name])
    second, _, _ = _compute(simulated, SIGNALS[name])
    assert first.equals(second)


@pytest.mark.parametrize("name", NAMES)
def test_signal_on_an_empty_case_says_nothing(tmp_path: Path, name: str) -> None:
    path = tmp_path / "empty.duckdb"
    Case.open(path, create=True).close()
    rows, _, _ = _compute(path, SIGNALS[name])
    assert rows.num_rows == 0


def test_signals_flag_some_planted_farm_members(simulated: Path) -> None:
    """Not every signal catches every farm, but the registry as a whole must: a signal that
    silently returned nothing everywhere would pass the tests above."""
    with duckdb.connect(str(simulated), read_only=True) as con:
        rows = con.execute("SELECT account_id FROM labels WHERE farm_id <> ''").fetchall()
        farm = {r[0] for r in rows}
    caught: dict[str, int] = {}
    for name in NAMES:
        rows, _, _ = _compute(simulated, SIGNALS[name])
        ids = rows.filter(rows.column("flagged")).column("account_id").to_pylist()
        caught[name] = len(farm & set(ids))
    assert sum(n > 0 for n in caught.values()) >= 3, caught
