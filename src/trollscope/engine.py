"""The co-action engine: a trace's rows become weighted account-pair edges with evidence.

For one trace and window W (seconds), two distinct accounts co-act when they have rows
with the same (platform, key) and |t1 - t2| <= W (W = 0: same key, any time). Per account
pair the edge carries:
- `coactions`: distinct (post, post) pairs behind it (an account acting twice on one key
  never pairs with itself; a repeated share counts once per distinct post pair);
- `keys`: distinct keys shared;
- `score`: sum over those keys of log(A / a_key), A the accounts in the trace and a_key
  those that touched the key (IDF: a key everyone touches counts little);
- `median_delay`: median |t1 - t2| in seconds;
- evidence: up to `evidence_limit` (key, post, post) triples and their total.

Viral keys. A key that more than `max_burst` accounts touched within one window (a post
reposted by thousands in a minute) would make a quadratic number of pairs, and an IDF
weight near zero: such keys are skipped, and listed with their burst size in the table
`skipped_keys`, so the user sees what was left out. A farm's keys are touched by its
members (hundreds), far below the default of 5,000.

This first version runs on DuckDB only. Still to build (issue 4): the portable layer and
the Spark engine, and window estimation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb

from trollscope.case import Case
from trollscope.errors import TrollscopeError
from trollscope.traces import TRACES, Trace

EDGE_COLUMNS = (
    "trace",
    "window_s",
    "platform",
    "account_a",
    "account_b",
    "coactions",
    "keys",
    "score",
    "median_delay",
    "evidence",
    "evidence_total",
)


MAX_BURST = 5_000


def burst_sql(trace: Trace, window: float) -> str:
    """SQL: per (platform, key), the most rows within one window (all rows for window 0)."""
    window_us = round(window * 1_000_000)
    frame = (
        f"RANGE BETWEEN CURRENT ROW AND {window_us} FOLLOWING"
        if window_us > 0
        else "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
    )
    return f"""
    SELECT platform, key, max(n) AS burst FROM (
        SELECT platform, key, count(*) OVER (
            PARTITION BY platform, key ORDER BY us {frame}) AS n
        FROM (SELECT DISTINCT platform, account_id, key, epoch_us(t) AS us, post_id
              FROM ({trace.sql}) WHERE key IS NOT NULL AND key <> ''))
    GROUP BY ALL"""


def edges_sql(trace: Trace, window: float, evidence_limit: int = 20) -> str:
    """SQL for the edges of `trace` at `window` seconds, over a connection holding `posts`
    and a table `skipped_keys` (platform, key) of keys to leave out."""
    window_us = round(window * 1_000_000)
    band = f"AND abs(a.us - b.us) <= {window_us}" if window_us > 0 else ""
    return f"""
    WITH rows AS (
        SELECT DISTINCT platform, account_id, key, epoch_us(t) AS us, post_id
        FROM ({trace.sql}) WHERE key IS NOT NULL AND key <> ''
    ),
    kept_rows AS (
        SELECT * FROM rows ANTI JOIN (
            SELECT platform, key FROM skipped_keys WHERE trace = '{trace.name}'
        ) USING (platform, key)
    ),
    key_accounts AS (
        SELECT platform, key, count(DISTINCT account_id) AS n FROM rows GROUP BY ALL
    ),
    total AS (SELECT count(DISTINCT (platform, account_id)) AS n FROM rows),
    pairs AS (
        SELECT a.platform, a.account_id AS account_a, b.account_id AS account_b, a.key,
               a.post_id AS post_a, b.post_id AS post_b, abs(a.us - b.us) / 1e6 AS delay
        FROM kept_rows a JOIN kept_rows b
          ON a.platform = b.platform AND a.key = b.key AND a.account_id < b.account_id
         {band}
    ),
    per_key AS (
        SELECT p.platform, account_a, account_b, p.key,
               ln((SELECT n FROM total) / k.n) AS idf
        FROM (SELECT DISTINCT platform, account_a, account_b, key FROM pairs) p
        JOIN key_accounts k USING (platform, key)
    ),
    scored AS (
        SELECT platform, account_a, account_b, count(*) AS keys, sum(idf) AS score
        FROM per_key GROUP BY ALL
    ),
    counted AS (
        SELECT platform, account_a, account_b,
               count(DISTINCT (post_a, post_b)) AS coactions,
               median(delay) AS median_delay,
               list(DISTINCT {{'key': key, 'post_a': post_a, 'post_b': post_b}}) AS evidence_all
        FROM pairs GROUP BY ALL
    )
    SELECT '{trace.name}' AS trace, {float(window)} AS window_s, c.platform, c.account_a,
           c.account_b, c.coactions, s.keys, s.score, c.median_delay,
           list_slice(list_sort(evidence_all), 1, {int(evidence_limit)}) AS evidence,
           len(evidence_all) AS evidence_total
    FROM counted c JOIN scored s USING (platform, account_a, account_b)
    """


def compute_edges(
    con: duckdb.DuckDBPyConnection,
    trace: Trace,
    window: float,
    evidence_limit: int = 20,
    max_burst: int = MAX_BURST,
) -> int:
    """Compute the edges of `trace` into the case's `edges` table (replacing that trace's
    earlier edges and skipped keys); returns the number of edges."""
    con.execute(
        """CREATE TABLE IF NOT EXISTS skipped_keys (
            trace VARCHAR NOT NULL, platform VARCHAR NOT NULL, key VARCHAR NOT NULL,
            burst BIGINT NOT NULL)"""
    )
    con.execute("DELETE FROM skipped_keys WHERE trace = ?", [trace.name])
    con.execute(
        f"INSERT INTO skipped_keys SELECT '{trace.name}', platform, key, burst "
        f"FROM ({burst_sql(trace, window)}) WHERE burst > {int(max_burst)}"
    )
    con.execute(
        """CREATE TABLE IF NOT EXISTS edges (
            trace VARCHAR NOT NULL, window_s DOUBLE NOT NULL, platform VARCHAR NOT NULL,
            account_a VARCHAR NOT NULL, account_b VARCHAR NOT NULL, coactions BIGINT NOT NULL,
            keys BIGINT NOT NULL, score DOUBLE NOT NULL, median_delay DOUBLE NOT NULL,
            evidence STRUCT(key VARCHAR, post_a VARCHAR, post_b VARCHAR)[],
            evidence_total BIGINT NOT NULL)"""
    )
    con.execute("DELETE FROM edges WHERE trace = ?", [trace.name])
    row = con.execute(f"INSERT INTO edges {edges_sql(trace, window, evidence_limit)}").fetchone()
    return int(row[0]) if row else 0


def edges(
    case_path: Path | str,
    trace_name: str,
    window: float | None = None,
    out: Path | str | None = None,
    max_burst: int = MAX_BURST,
) -> int:
    """Compute one trace's edges into the case (atomically) and, with `out`, write them
    to a Parquet or CSV file (by its suffix). Returns the number of edges."""
    if trace_name not in TRACES:
        raise TrollscopeError(f"unknown trace {trace_name!r}; choose one of: {', '.join(TRACES)}.")
    trace = TRACES[trace_name]
    chosen = trace.window if window is None else window
    if chosen < 0:
        raise TrollscopeError(f"the window must be 0 or more seconds, not {chosen}.")
    with Case.open(case_path) as case:
        case.con.execute("BEGIN")
        try:
            n = compute_edges(case.con, trace, chosen, max_burst=max_burst)
            case.con.execute("COMMIT")
        except BaseException:
            case.con.execute("ROLLBACK")
            raise
        if out is not None:
            target = Path(out)
            fmt = "FORMAT CSV, HEADER" if target.suffix.lower() == ".csv" else "FORMAT PARQUET"
            case.con.execute(
                f"COPY (SELECT * FROM edges WHERE trace = '{trace.name}' "
                f"ORDER BY platform, account_a, account_b) TO '{_quoted(target)}' ({fmt})"
            )
    return n


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


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
    if not 0 < quantile < 1:
        raise TrollscopeError(f"the quantile must be between 0 and 1, not {quantile}.")
    trace = TRACES[trace_name]
    with Case.open(case_path, read_only=True) as case:
        row = case.con.execute(
            f"""WITH firsts AS (
                    SELECT platform, key, account_id, min(epoch_us(t)) AS us
                    FROM ({trace.sql}) WHERE key IS NOT NULL AND key <> '' GROUP BY ALL),
                ranked AS (
                    SELECT *, row_number() OVER (PARTITION BY platform, key ORDER BY us) AS r
                    FROM firsts),
                delays AS (
                    SELECT (max(us) FILTER (WHERE r = 2) - max(us) FILTER (WHERE r = 1)) / 1e6 AS d
                    FROM ranked WHERE r <= 2 GROUP BY platform, key HAVING count(*) = 2)
                SELECT count(*), quantile_cont(d, ?), median(d) FROM delays""",
            [quantile],
        ).fetchone()
    keys, q, median = (int(row[0]), row[1], row[2]) if row else (0, None, None)
    seconds = max(1.0, float(math.ceil(q))) if q is not None else TRACES[trace_name].window
    return WindowEstimate(
        seconds=seconds,
        keys=keys,
        quantile=quantile,
        median_delay=float(median) if median is not None else None,
    )
