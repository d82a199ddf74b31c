"""Per account: a score, its network, and its evidence in words.

The score is the strength of the account's strongest significant pair, -log10 p (capped
at 300: beyond that p underflows and the order no longer means anything). The evidence
is its strongest pairs, one line each, in the words of the trace:
"reposted 41 of the same posts as @x within 60 s (44 in the same hour where 0.3 were
expected); p < 1e-300".
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from trollscope.case import has_table
from trollscope.case.schema import ACCOUNT_EVIDENCE_DDL, ACCOUNT_SCORES_DDL
from trollscope.detect.describe import IDENTITY_SIGNALS, MEMBERS, SIGNIFICANT
from trollscope.detect.words import SCORE_CAP, format_p, period_words
from trollscope.traces import TRACES

LINES_PER_ACCOUNT = 5


def line(
    trace: str,
    window: float,
    keys: int,
    shared: int,
    expected: float,
    log_p: float,
    partner: str,
    period_s: float,
) -> str:
    """One evidence line in words."""
    said = TRACES[trace].said.format(n=keys, partner=partner)
    return (
        f"{said} within {window:g} s ({shared} in the same {period_words(period_s)} where "
        f"{expected:.2g} were expected by chance); {format_p(log_p)}"
    )


def write_scores(con: duckdb.DuckDBPyConnection, period_s: float) -> None:
    """Create `account_scores` and `account_evidence` (the caller holds the transaction);
    `period_s` is the null's period, which the evidence lines name."""
    names = ", ".join(f"'{s}'" for s in IDENTITY_SIGNALS)
    has_signals = has_table(con, "account_signals")
    identity = (
        f"""(SELECT list(signal ORDER BY signal) FROM account_signals s
             WHERE s.platform = m.platform AND s.account_id = m.account_id AND s.flagged
               AND s.signal IN ({names}))"""
        if has_signals
        else "NULL"
    )
    con.execute("DROP TABLE IF EXISTS account_scores")
    con.execute("DROP TABLE IF EXISTS account_evidence")
    con.execute(ACCOUNT_SCORES_DDL)
    con.execute(ACCOUNT_EVIDENCE_DDL)
    # Both directions of every significant pair: the account and its partner.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ts_det_sides AS
            SELECT trace, window_s, platform, account_a AS account_id, account_b AS partner_id,
                   keys, shared, expected, log_p FROM {SIGNIFICANT}
            UNION ALL
            SELECT trace, window_s, platform, account_b, account_a, keys, shared, expected,
                   log_p FROM {SIGNIFICANT}"""
    )
    con.execute(
        f"""INSERT INTO account_scores
            SELECT m.platform, m.account_id, a.handle, m.network,
                   least({SCORE_CAP}, -min(s.log_p) / ln(10)),
                   count(DISTINCT s.partner_id), list(DISTINCT s.trace ORDER BY s.trace),
                   coalesce({identity}, [])
            FROM {MEMBERS} m JOIN ts_det_sides s USING (platform, account_id)
            LEFT JOIN accounts a USING (platform, account_id)
            GROUP BY m.platform, m.account_id, a.handle, m.network"""
    )
    top = con.sql(
        f"""SELECT * FROM (
                SELECT s.*, p.handle AS partner_handle,
                       row_number() OVER (PARTITION BY s.platform, s.account_id
                           ORDER BY s.log_p, s.keys DESC, s.trace, s.partner_id) AS rank
                FROM ts_det_sides s LEFT JOIN accounts p
                  ON p.platform = s.platform AND p.account_id = s.partner_id)
            WHERE rank <= {LINES_PER_ACCOUNT}
            ORDER BY platform, account_id, rank"""
    ).to_arrow_table()
    d = top.to_pydict()
    lines = [
        line(
            d["trace"][i],
            d["window_s"][i],
            d["keys"][i],
            d["shared"][i],
            d["expected"][i],
            d["log_p"][i],
            "@" + (d["partner_handle"][i] or d["partner_id"][i]),
            period_s,
        )
        for i in range(top.num_rows)
    ]
    con.register(
        "ts_det_lines",
        top.select(
            [
                "platform",
                "account_id",
                "rank",
                "trace",
                "partner_id",
                "partner_handle",
                "keys",
                "shared",
                "expected",
                "log_p",
            ]
        ).append_column("line", pa.array(lines, pa.string())),
    )
    con.execute("INSERT INTO account_evidence SELECT * FROM ts_det_lines")
    con.unregister("ts_det_lines")
    con.execute("DROP TABLE IF EXISTS ts_det_sides")
