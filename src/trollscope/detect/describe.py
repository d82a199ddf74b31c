"""What each network is and does: its traces, what it pushes, whom it amplifies and
attacks, its languages, and what the account signals say of its members.

Coordination and inauthenticity are kept apart. A network is coordinated because its
pairs passed the null; whether its accounts *look* inauthentic is a separate question,
answered by the identity signals (batch creation, templated profiles, office-hours rhythm,
shared avatars) of its members compared with the whole case. An authentic community (fans
who repost their leader within minutes) is coordinated with organic-looking accounts, and
the report says so.

All SQL runs over the temporary tables of `store.py` (the members and the significant
tests) and the case's tables.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from scipy import stats

from trollscope.case import has_table
from trollscope.case.schema import NETWORKS_DDL
from trollscope.detect.store import ACCOUNTS, BURST_MEMBERS, COHORT_MEMBERS, MEMBERS, SIGNIFICANT

# Identity signals: what makes an account look inauthentic. content-mix describes
# behaviour (what share of posts are reposts or copies), which authentic fans share.
IDENTITY_SIGNALS = ("creation-burst", "profile", "rhythm", "avatar")
# A signal marks a network only if at least this share of its members carry it (and the
# excess over the case's background rate is significant): a handful of batch-created
# accounts in a large fan community does not make the community a farm.
MIN_SHARE = 0.25
TOP = 10  # hashtags, amplified and attacked accounts listed per network
# The background an identity signal is compared with is its rate among the accounts in no
# network. A case with too few of them has no organic background (a takedown archive is
# one operation; a campaign sample may hold little else): then a stated reference rate
# is used, an upper bound assumed for organic accounts. The simulator's organic
# population is flagged at 0% by each of these; real platforms have waves of sign-ups,
# organisations' templates and office workers, hence a margin.
MIN_BACKGROUND = 30  # accounts outside networks, and at least a fifth of all
REFERENCE_RATES = {"creation-burst": 0.05, "profile": 0.05, "rhythm": 0.10, "avatar": 0.05}


def _targets(kinds: str) -> str:
    """Top accounts the network's members reposted/quoted (or replied to), outside it."""
    return f"""
        WITH t AS (
            SELECT m.network, p.ref_account_id AS account_id, p.platform,
                   count(DISTINCT p.account_id) AS members, count(*) AS posts
            FROM posts p JOIN {MEMBERS} m USING (platform, account_id)
            WHERE p.kind IN ({kinds}) AND p.ref_account_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {MEMBERS} o WHERE o.platform = p.platform
                              AND o.account_id = p.ref_account_id AND o.network = m.network)
            GROUP BY ALL),
        r AS (SELECT t.*, a.handle, row_number() OVER (PARTITION BY network
                  ORDER BY members DESC, posts DESC, account_id) AS r
              FROM t LEFT JOIN accounts a USING (platform, account_id))
        SELECT network, list(struct_pack(account_id, handle, members, posts) ORDER BY r) AS v
        FROM r WHERE r <= {TOP} GROUP BY network"""


def describe(con: duckdb.DuckDBPyConnection, network_log_p: dict[int, float], alpha: float) -> None:
    """Create the case table `networks` (the caller holds the transaction)."""
    con.execute("DROP TABLE IF EXISTS networks")
    con.execute(NETWORKS_DDL)
    sizes = dict(
        con.execute(f"SELECT network, count(*) FROM {MEMBERS} GROUP BY network").fetchall()
    )
    if not sizes:
        return
    con.register("ts_det_signal_rows", _signal_shares(con, len(sizes), alpha))
    con.execute("CREATE OR REPLACE TEMP TABLE ts_det_signals AS SELECT * FROM ts_det_signal_rows")
    con.unregister("ts_det_signal_rows")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ts_det_logp AS "
        "SELECT unnest(?::BIGINT[]) AS network, unnest(?::DOUBLE[]) AS log_p",
        [list(network_log_p), list(network_log_p.values())],
    )
    con.execute(
        f"""INSERT INTO networks
        WITH sizes AS (SELECT network, count(*) AS size FROM {MEMBERS} GROUP BY network),
        inner_pairs AS (
            SELECT ma.network, s.trace, s.platform, s.account_a, s.account_b
            FROM {SIGNIFICANT} s
            JOIN {MEMBERS} ma ON ma.platform = s.platform AND ma.account_id = s.account_a
            JOIN {MEMBERS} mb ON mb.platform = s.platform AND mb.account_id = s.account_b
            WHERE ma.network = mb.network),
        pairs AS (SELECT network, count(*) AS pairs FROM
                  (SELECT DISTINCT network, platform, account_a, account_b FROM inner_pairs)
                  GROUP BY network),
        traces AS (SELECT network, list(struct_pack(trace, pairs) ORDER BY pairs DESC, trace)
                       AS traces
                   FROM (SELECT network, trace, count(*) AS pairs FROM inner_pairs GROUP BY ALL)
                   GROUP BY network),
        found AS (
            SELECT network, list(struct_pack(test, trace, found) ORDER BY test, trace)
                       AS found_by
            FROM (
                SELECT network, 'pair' AS test, trace, count(*) AS found
                FROM inner_pairs GROUP BY ALL
                UNION ALL
                SELECT m.network, 'account', a.trace, count(*)
                FROM {ACCOUNTS} a JOIN {MEMBERS} m USING (platform, account_id) GROUP BY ALL
                UNION ALL
                SELECT network, 'burst', trace, count(*) FROM (
                    SELECT m.network, b.trace, b.key, count(*) AS inside, max(b.burst) AS size
                    FROM {BURST_MEMBERS} b JOIN {MEMBERS} m USING (platform, account_id)
                    GROUP BY ALL)
                WHERE 2 * inside > size GROUP BY ALL
                UNION ALL
                SELECT network, 'cohort', trace, count(*) FROM (
                    SELECT m.network, c.trace, c.cohort, count(*) AS inside, max(c.size) AS size
                    FROM {COHORT_MEMBERS} c JOIN {MEMBERS} m USING (platform, account_id)
                    GROUP BY ALL)
                WHERE 2 * inside > size GROUP BY ALL
                UNION ALL
                SELECT network, 'join', trace, count(*) FROM join_tests
                WHERE significant GROUP BY ALL)
            GROUP BY network),
        sig AS (SELECT network,
                       list(struct_pack(signal, flagged, share, background, p_value)
                            ORDER BY signal) AS signals,
                       bool_or(marks) AS inauthentic, bool_or(reference) AS reference,
                       string_agg(CASE WHEN marks THEN signal || ' ' ||
                                  round(100 * share)::BIGINT || '%' END, ', '
                                  ORDER BY signal) AS marks
                FROM ts_det_signals GROUP BY network),
        tags AS (
            SELECT network, list(struct_pack(tag, members, posts) ORDER BY r) AS hashtags FROM (
                SELECT *, row_number() OVER (PARTITION BY network
                    ORDER BY members DESC, posts DESC, tag) AS r FROM (
                    SELECT network, tag, count(DISTINCT account_id) AS members,
                           count(*) AS posts
                    FROM (SELECT m.network, p.account_id, lower(unnest(p.hashtags)) AS tag
                          FROM posts p JOIN {MEMBERS} m USING (platform, account_id))
                    GROUP BY ALL))
            WHERE r <= {TOP} GROUP BY network),
        amp AS ({_targets("'repost', 'quote'")}),
        att AS ({_targets("'reply'")}),
        langs AS (
            SELECT network, list(struct_pack(lang, posts) ORDER BY posts DESC, lang) AS languages
            FROM (SELECT m.network, coalesce(p.lang, 'und') AS lang, count(*) AS posts
                  FROM posts p JOIN {MEMBERS} m USING (platform, account_id) GROUP BY ALL)
            GROUP BY network)
        SELECT s.network,
               row_number() OVER (ORDER BY l.log_p, s.size DESC, s.network) AS rank,
               s.size, coalesce(pairs.pairs, 0),
               coalesce(pairs.pairs, 0) / greatest(1, s.size * (s.size - 1) / 2),
               l.log_p, coalesce(traces.traces, []), coalesce(found.found_by, []),
               coalesce(sig.signals, []),
               coalesce(sig.inauthentic, false),
               CASE WHEN coalesce(sig.inauthentic, false) AND sig.reference
                    THEN 'coordinated; inauthentic signs: ' || sig.marks
                         || ' (against reference rates: the case has no organic background '
                         || 'to compare with)'
                    WHEN coalesce(sig.inauthentic, false)
                    THEN 'coordinated; inauthentic signs: ' || sig.marks
                    WHEN sig.network IS NULL
                    THEN 'coordinated; the data hold no creation dates, profiles, rhythms '
                         || 'or pictures to tell authentic from inauthentic'
                    WHEN sig.reference
                    THEN 'coordinated; no identity signal above reference rates, and no organic '
                         || 'background in this case to compare with: authentic or not cannot '
                         || 'be told from these data'
                    ELSE 'coordinated; members look organic (no identity signal above the '
                         || 'case''s background): possibly an authentic community' END,
               coalesce(tags.hashtags, []), coalesce(amp.v, []), coalesce(att.v, []),
               coalesce(langs.languages, [])
        FROM sizes s JOIN ts_det_logp l USING (network)
        LEFT JOIN pairs USING (network) LEFT JOIN traces USING (network)
        LEFT JOIN found USING (network)
        LEFT JOIN sig USING (network) LEFT JOIN tags USING (network)
        LEFT JOIN amp USING (network) LEFT JOIN att USING (network)
        LEFT JOIN langs USING (network)"""
    )
    for name in ("ts_det_signals", "ts_det_logp"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    _number_by_rank(con)


def _number_by_rank(con: duckdb.DuckDBPyConnection) -> None:
    """Give each network its rank as its id, in `networks`, `network_edges`, `join_tests`
    and the members (from which `account_scores` is written): Leiden's numbers (0 = largest) were
    the id in the exports while the report said "Network 1" for the strongest, so one
    network had two numbers (issue 22). Every UPDATE reads the old ids of `networks`,
    which is renumbered last."""
    for table in (MEMBERS, "network_edges", "join_tests"):
        con.execute(
            f"""UPDATE {table} SET network = n.rank FROM networks n
                WHERE {table}.network = n.network"""
        )
    con.execute("UPDATE networks SET network = rank")


def _signal_shares(con: duckdb.DuckDBPyConnection, networks: int, alpha: float) -> pa.Table:
    """Per network and identity signal: members flagged, their share, the background
    share (among the accounts in no network, or the reference rate where those are too
    few: `reference`), a binomial p-value of the excess, and whether it marks the network
    (Bonferroni over networks x signals, and at least MIN_SHARE of the members)."""
    has_signals = has_table(con, "account_signals")
    names = ", ".join(f"'{s}'" for s in IDENTITY_SIGNALS)
    columns = ("network", "signal", "flagged", "size", "background", "outside", "everyone")
    if has_signals:
        counts = con.sql(
            f"""WITH outside AS (
                    SELECT platform, account_id FROM accounts
                    ANTI JOIN {MEMBERS} USING (platform, account_id)),
                n AS (SELECT (SELECT count(*) FROM outside) AS outside,
                             (SELECT count(*) FROM accounts) AS everyone),
                bg AS (
                    SELECT signal, count(*) FILTER (WHERE flagged)::DOUBLE
                               / greatest(1, (SELECT outside FROM n)) AS background
                    FROM account_signals SEMI JOIN outside USING (platform, account_id)
                    WHERE signal IN ({names}) GROUP BY signal
                    UNION ALL
                    SELECT DISTINCT signal, 0.0 FROM account_signals
                    WHERE signal IN ({names}) AND signal NOT IN (
                        SELECT signal FROM account_signals
                        SEMI JOIN outside USING (platform, account_id))),
                fl AS (SELECT m.network, a.signal, count(*) FILTER (WHERE a.flagged) AS flagged
                       FROM {MEMBERS} m JOIN account_signals a USING (platform, account_id)
                       WHERE a.signal IN ({names}) GROUP BY ALL),
                sizes AS (SELECT network, count(*) AS size FROM {MEMBERS} GROUP BY network)
            SELECT sizes.network, bg.signal, coalesce(fl.flagged, 0) AS flagged, sizes.size,
                   bg.background, n.outside, n.everyone
            FROM sizes CROSS JOIN bg CROSS JOIN n LEFT JOIN fl USING (network, signal)
            ORDER BY sizes.network, bg.signal"""
        ).fetchnumpy()
    else:
        counts = {k: np.array([]) for k in columns}
    flagged = counts["flagged"].astype(np.int64)
    size = counts["size"].astype(np.int64)
    outside = counts["outside"].astype(np.int64)
    reference = (outside < MIN_BACKGROUND) | (outside * 5 < counts["everyone"].astype(np.int64))
    stated = np.array([REFERENCE_RATES.get(str(x), 0.05) for x in counts["signal"]])
    background = np.where(reference, stated, counts["background"].astype(np.float64))
    background = np.clip(background, 1e-9, 1.0)
    p = stats.binom.sf(flagged - 1, size, background) if len(size) else np.array([])
    share = flagged / np.maximum(size, 1)
    tests = max(1, networks * len(IDENTITY_SIGNALS))
    marks = (p <= alpha / tests) & (share >= MIN_SHARE)
    return pa.table(
        {
            "network": pa.array(counts["network"], pa.int64()),
            "signal": pa.array(counts["signal"], pa.string()),
            "flagged": pa.array(flagged, pa.int64()),
            "share": pa.array(share, pa.float64()),
            "background": pa.array(background, pa.float64()),
            "p_value": pa.array(p, pa.float64()),
            "marks": pa.array(marks, pa.bool_()),
            "reference": pa.array(reference, pa.bool_()),
        }
    )
