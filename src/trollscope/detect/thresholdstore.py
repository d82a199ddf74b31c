"""The tables a peer's threshold in `detect` leaves in the case (`thresholds.py` makes
them), and their reader for the CLI, `--json` and the report, which read the case, not
the engine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path

import duckdb

from trollscope.case import Case, has_table
from trollscope.peerrule import PeerRule

THRESHOLD_NETWORKS_DDL = """CREATE TABLE threshold_networks (
    network BIGINT NOT NULL, trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL,
    accounts BIGINT NOT NULL, pairs BIGINT NOT NULL,
    pairs_by_chance DOUBLE, chance_share DOUBLE, trace_pairs BIGINT NOT NULL,
    trace_pairs_by_chance DOUBLE, largest_by_chance DOUBLE, draws BIGINT NOT NULL,
    jitter_s DOUBLE NOT NULL, in_tested BIGINT NOT NULL,
    tested_networks BIGINT[] NOT NULL)"""

THRESHOLD_MEMBERS_DDL = """CREATE TABLE threshold_members (
    network BIGINT NOT NULL, platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL)"""


@dataclass(frozen=True, slots=True)
class ThresholdNetwork:
    """One network of a peer's threshold, as plain values (the CLI, --json, the report):
    the columns of `threshold_networks`."""

    network: int
    trace: str
    window_s: float
    accounts: int
    pairs: int
    pairs_by_chance: float | None
    chance_share: float | None
    trace_pairs: int
    trace_pairs_by_chance: float | None
    largest_by_chance: float | None
    draws: int
    jitter_s: float
    in_tested: int
    tested_networks: list[int]


@dataclass(frozen=True, slots=True)
class Threshold:
    """A detection's peer threshold: its rule in words, its first networks (largest
    first), how many networks and accounts it has in all."""

    rule: str
    networks: list[ThresholdNetwork]
    total: int
    accounts: int


def load_threshold(con: duckdb.DuckDBPyConnection, limit: int = 10) -> Threshold | None:
    """The case's last detection's threshold networks (the first `limit`), or None when
    it ran without a threshold."""
    rule = _last_rule(con)
    if rule is None or not has_table(con, "threshold_networks"):
        return None
    fields = ", ".join(f.name for f in dataclass_fields(ThresholdNetwork))
    rows = con.execute(
        f"SELECT {fields} FROM threshold_networks ORDER BY network LIMIT ?", [limit]
    ).fetchall()
    total = con.execute("SELECT count(*) FROM threshold_networks").fetchall()
    accounts = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT platform, account_id FROM threshold_members)"
    ).fetchall()
    return Threshold(
        rule.words(),
        [ThresholdNetwork(*row) for row in rows],
        int(total[0][0]),
        int(accounts[0][0]),
    )


def _last_rule(con: duckdb.DuckDBPyConnection) -> PeerRule | None:
    """The peer rule of the case's last detection (detect_runs.params), if it had one."""
    if not has_table(con, "detect_runs"):
        return None
    rows = con.execute("SELECT params FROM detect_runs ORDER BY run_at DESC LIMIT 1").fetchall()
    try:
        params = json.loads(rows[0][0] or "{}") if rows else {}
    except json.JSONDecodeError:
        return None
    if not isinstance(params, dict):
        return None
    # A value detect would have refused (an edited case) reads as no rule, not an error.
    values = [params.get("min_participation"), params.get("min_weight")]
    kept = [v if isinstance(v, int) and v >= 1 else None for v in values]
    rule = PeerRule(*kept)
    return rule if rule.active else None


def threshold_summary(case_path: Path | str, limit: int = 10) -> Threshold | None:
    """`load_threshold` on the case at `case_path`."""
    with Case.open(case_path, read_only=True) as case:
        return load_threshold(case.con, limit)
