"""Per account: a score, its network, and its evidence in words.

The score is the strength of the account's strongest significant test, -log10 p (capped
at 300: beyond that p underflows and the order no longer means anything). The evidence
is its strongest tests, one line each, in the words of the trace and of the test:

- a pair: "reposted 41 of the same posts as @x within 60 s (p < 1e-300). Within the same
  6-hour period the two shared 44 items, where chance predicts 0.3." (two counts, each
  in its own sentence: issue 22);
- its account test: "reposted the same posts as 23 other accounts within 60 s, on 14
  occasions where its own timeline, shifted within each 6-hour period, allowed 0.8;
  p = 2e-12";
- a burst: "one of 1,000 accounts that posted the same text within 60 s (of 1,000 that
  posted it; shifted timelines put 1.3 in one window); p < 1e-300";
- a cohort: "one of 37 accounts created 2024-02-14 00:00 to 2024-02-16 00:00 (creation
  burst) that reposted the same posts together: 40 posts in 8 periods, up to 12 of them
  within 5 min; p = 3e-9".
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from trollscope.case import has_table
from trollscope.case.schema import ACCOUNT_EVIDENCE_DDL, ACCOUNT_SCORES_DDL
from trollscope.detect.cohorts import WIDE_COHORTS
from trollscope.detect.describe import IDENTITY_SIGNALS
from trollscope.detect.store import ACCOUNTS, BURST_MEMBERS, COHORT_MEMBERS, MEMBERS, SIGNIFICANT
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
    """A pair's evidence line in words: the items acted on within the window, then, in
    its own sentence, the items both acted on in one period against chance."""
    said = TRACES[trace].said.format(n=keys, partner=partner)
    return (
        f"{said} within {window:g} s ({format_p(log_p)}). Within the same "
        f"{period_words(period_s)} the two shared {shared} items, where chance predicts "
        f"{expected:.2g}."
    )


def account_line(
    trace: str,
    window: float,
    met: int,
    partners: int,
    expected: float,
    log_p: float,
    period_s: float,
) -> str:
    """An account test's evidence line in words."""
    others = "other account" if partners == 1 else "other accounts"
    return (
        f"{TRACES[trace].acted} as {partners:,} {others} within {window:g} s, on {met} "
        f"occasions where its own timeline, shifted within each {period_words(period_s)}, "
        f"allowed {expected:.2g}; {format_p(log_p)}"
    )


def burst_line(
    trace: str, window: float, burst: int, accounts: int, expected: float, log_p: float
) -> str:
    """A burst's evidence line in words (the member's view)."""
    return (
        f"one of {burst:,} accounts that {TRACES[trace].acted.replace('texts', 'text')} "
        f"within {window:g} s (of {accounts:,} that posted it; shifted timelines put "
        f"{expected:.2g} in one window); {format_p(log_p)}"
    )


def cohort_line(
    trace: str,
    cohort: str,
    signal: str,
    size: int,
    keys: int,
    periods: int,
    best: int,
    best_window: float,
    log_p: float,
) -> str:
    """A cohort test's evidence line in words (the member's view)."""
    acted = TRACES[trace].acted
    what = acted.split(" the same ", 1)[-1] if " the same " in acted else "keys"
    within = f"{best_window / 60:g} min" if best_window >= 60 else f"{best_window:g} s"
    # "created 2024-02-14 00:00 to ...", "sharing the template ...", "wearing the avatar ..."
    trait = (
        cohort
        if signal == "creation-burst" or cohort in WIDE_COHORTS.values()
        else ("sharing the " + cohort if signal == "profile" else "wearing the " + cohort)
    )
    return (
        f"one of {size:,} accounts {trait} ({signal.replace('-', ' ')}) that {acted} "
        f"together: {keys:,} {what} in {periods} periods, up to {best} of them within "
        f"{within}; {format_p(log_p)}"
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
    # Every significant test of every member: both sides of its pairs, its account tests,
    # the bursts it was in. `keys`, `shared`, `expected` are each test's own numbers.
    # `cohort`, `signal`, `periods`, `best`, `best_window` describe a cohort test's row.
    extra = "NULL::VARCHAR, NULL::VARCHAR, NULL::BIGINT, NULL::BIGINT, NULL::DOUBLE"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ts_det_sides AS
            SELECT 'pair' AS test, trace, window_s, platform, account_a AS account_id,
                   account_b AS partner_id, keys, shared, expected, log_p,
                   NULL::VARCHAR AS cohort, NULL::VARCHAR AS signal, NULL::BIGINT AS periods,
                   NULL::BIGINT AS best, NULL::DOUBLE AS best_window
            FROM {SIGNIFICANT}
            UNION ALL
            SELECT 'pair', trace, window_s, platform, account_b, account_a, keys, shared,
                   expected, log_p, {extra} FROM {SIGNIFICANT}
            UNION ALL
            SELECT 'account', trace, window_s, platform, account_id, NULL, met, partners,
                   expected, log_p, {extra} FROM {ACCOUNTS}
            UNION ALL
            SELECT 'burst', trace, window_s, platform, account_id, NULL, burst, accounts,
                   expected, log_p, {extra} FROM {BURST_MEMBERS}
            UNION ALL
            SELECT 'cohort', trace, window_s, platform, account_id, NULL, keys, size, 0.0,
                   log_p, cohort, signal, periods, best_burst, best_window_s
            FROM {COHORT_MEMBERS}"""
    )
    con.execute(
        f"""INSERT INTO account_scores
            SELECT m.platform, m.account_id, a.handle, m.network,
                   least({SCORE_CAP}, -min(s.log_p) / ln(10)),
                   (SELECT count(DISTINCT CASE WHEN e.account_a = m.account_id
                                               THEN e.account_b ELSE e.account_a END)
                    FROM network_edges e
                    WHERE e.platform = m.platform AND e.network = m.network
                      AND (e.account_a = m.account_id OR e.account_b = m.account_id)),
                   list(DISTINCT s.trace ORDER BY s.trace),
                   coalesce({identity}, [])
            FROM {MEMBERS} m JOIN ts_det_sides s USING (platform, account_id)
            LEFT JOIN accounts a USING (platform, account_id)
            GROUP BY m.platform, m.account_id, a.handle, m.network"""
    )
    top = con.sql(
        f"""SELECT * FROM (
                SELECT s.*, p.handle AS partner_handle,
                       row_number() OVER (PARTITION BY s.platform, s.account_id
                           -- cohort last: two cohorts of one trace often tie (both p
                           -- below 1e-300), and the lines must not depend on row order.
                           ORDER BY s.log_p, s.keys DESC, s.test, s.trace, s.partner_id,
                                    s.cohort)
                           AS rank
                FROM ts_det_sides s
                SEMI JOIN {MEMBERS} m USING (platform, account_id)
                LEFT JOIN accounts p
                  ON p.platform = s.platform AND p.account_id = s.partner_id)
            WHERE rank <= {LINES_PER_ACCOUNT}
            ORDER BY platform, account_id, rank"""
    ).to_arrow_table()
    d = top.to_pydict()
    lines = []
    for i in range(top.num_rows):
        test, trace, window = d["test"][i], d["trace"][i], d["window_s"][i]
        keys, shared, expected, log_p = (d[c][i] for c in ("keys", "shared", "expected", "log_p"))
        if test == "pair":
            partner = "@" + (d["partner_handle"][i] or d["partner_id"][i])
            lines.append(line(trace, window, keys, shared, expected, log_p, partner, period_s))
        elif test == "account":
            lines.append(account_line(trace, window, keys, shared, expected, log_p, period_s))
        elif test == "burst":
            lines.append(burst_line(trace, window, keys, shared, expected, log_p))
        else:
            lines.append(
                cohort_line(
                    trace,
                    str(d["cohort"][i]),
                    str(d["signal"][i]),
                    shared,
                    keys,
                    int(d["periods"][i]),
                    int(d["best"][i]),
                    float(d["best_window"][i]),
                    log_p,
                )
            )
    con.register(
        "ts_det_lines",
        top.select(
            [
                "platform",
                "account_id",
                "rank",
                "test",
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
