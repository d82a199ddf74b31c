"""The peers' thresholds, to reproduce their networks beside ours: thresholds, not tests.

CooRTweet (`detect_groups(min_participation = N)`) keeps accounts with N rows or more in
the data, pairs those that shared an object within the window, and keeps a pair when one
of its two accounts has N or more distinct *coordinated* posts (posts shared within the
window with another kept account). coordination-network-toolkit keeps an edge whose
weight, its co-actions, is at least its `--min-weight`. Neither rule says how likely the
pair is by chance; `trollscope detect` tests that. These rules filter the edges a trace
computed, so that a user can hold the peers' networks against what passed the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from trollscope.case import Case
from trollscope.errors import TrollscopeError
from trollscope.sql import literal


@dataclass(frozen=True, slots=True)
class PeerRule:
    """`min_participation`: CooRTweet's rule (None: off); `min_weight`: CNT's (None: off)."""

    min_participation: int | None = None
    min_weight: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("min participation", self.min_participation),
                            ("min weight", self.min_weight)):  # fmt: skip
            if value is not None and value < 1:
                raise TrollscopeError(f"the {name} must be 1 or more, not {value}.")

    @property
    def active(self) -> bool:
        return self.min_participation is not None or self.min_weight is not None

    def words(self) -> str:
        """The rule in words, for the user: what it keeps, and that it is no test."""
        parts = []
        if self.min_participation is not None:
            n = self.min_participation
            parts.append(
                f"CooRTweet's rule (min participation {n}: accounts with {n}+ posts, a pair "
                f"kept if one side has {n}+ coordinated posts)"
            )
        if self.min_weight is not None:
            parts.append(
                f"CNT's rule (min weight {self.min_weight}: pairs with "
                f"{self.min_weight}+ co-actions)"
            )
        return " and ".join(parts) + ": a threshold, not a test"


def kept_edges(case_path: Path | str, trace: str, rule: PeerRule) -> pa.Table:
    """The trace's edges in the case that `rule` keeps (the case's `edges` rows)."""
    # Imported here: the CLI reads PeerRule at start-up, and traces load Ibis.
    from trollscope.engine.run import trace_rows_sql
    from trollscope.traces import TRACES

    with Case.open(case_path, read_only=True) as case:
        sql = kept_edges_sql(case.con, trace, trace_rows_sql(case.con, TRACES[trace]), rule)
        return case.con.sql(sql).to_arrow_table()


def kept_edges_sql(
    con: duckdb.DuckDBPyConnection, trace: str, rows_sql: str, rule: PeerRule
) -> str:
    """SQL for the trace's edges (the view `edges`) that `rule` keeps, in edge order.
    `rows_sql`: the trace's rows (platform, account_id, key, us, post_id)."""
    where = [f"e.trace = {literal(trace)}"]
    ctes = []
    if rule.min_weight is not None:
        where.append(f"e.coactions >= {rule.min_weight}")
    if rule.min_participation is not None:
        window = con.execute("SELECT max(window_s) FROM edges WHERE trace = ?", [trace]).fetchall()[
            0
        ][0]
        window_us = round(float(window or 0.0) * 1_000_000)
        n = rule.min_participation
        band = f"AND abs(x.us - y.us) <= {window_us}" if window_us > 0 else ""
        ctes.append(
            f"""active AS (SELECT platform, account_id FROM posts GROUP BY ALL
                           HAVING count(*) >= {n}),
                r AS (SELECT r.* FROM ({rows_sql}) r SEMI JOIN active USING (platform, account_id)),
                coordinated AS (
                    SELECT platform, account_id FROM (
                        SELECT x.platform, x.account_id, x.post_id
                        FROM r x JOIN r y ON x.platform = y.platform AND x.key = y.key
                             AND x.account_id <> y.account_id {band})
                    GROUP BY ALL HAVING count(DISTINCT post_id) >= {n})"""
        )
        where.append(
            """(e.platform, e.account_a) IN (SELECT (platform, account_id) FROM active)
               AND (e.platform, e.account_b) IN (SELECT (platform, account_id) FROM active)
               AND ((e.platform, e.account_a) IN (SELECT (platform, account_id) FROM coordinated)
                    OR (e.platform, e.account_b) IN
                       (SELECT (platform, account_id) FROM coordinated))"""
        )
    with_clause = ("WITH " + ", ".join(ctes)) if ctes else ""
    return f"""{with_clause}
        SELECT e.* FROM edges e WHERE {" AND ".join(where)}
        ORDER BY e.platform, e.account_a, e.account_b"""
