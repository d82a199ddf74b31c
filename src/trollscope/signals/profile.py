"""Profile templates: parts of a profile that more accounts share than chance allows.

A farm fills its profiles from a template: one location, one bio with a name swapped in,
name+digits handles (DESIGN.md). Each part alone is common (many people live in Tehran,
many bios say "student", a twentieth of handles are name+8 digits); what betrays the
template is the parts occurring *together* far more often than their own frequencies
allow. The parts (`traces/profile.py`): the near-identical-bio cluster, the location
(normalised) and the handle shape.

**The test.** A template is a combination of parts of one kind: bio+location,
bio+handle shape, location+handle shape, or all three. Among the N accounts of a platform
that have every part of the kind, the null model says the parts are independent, each
drawn with its frequency in the data: the number of accounts with the combination
(a, b[, c]) is then Binomial(N, p_a p_b [p_c]), p_x = (accounts with x) / N. Its upper
tail is bounded above by the Poisson tail with the same mean lambda = N p_a p_b [p_c]
(Anderson & Samuels 1967, for k >= lambda + 1), which we use: p = P(Poisson(lambda) >= k)
for a combination that k >= 2 accounts share (one account shares nothing). The marginal
frequencies include the farm itself, which only makes the test conservative. Bonferroni:
p is multiplied by the number of combinations that could have been tested (per kind and
platform, the product of the numbers of distinct values of its parts), capped at 1. An
account's p-value is the smallest over the templates it belongs to; it is flagged when
that is at most `alpha`. (A p-value below 1e-308 is stored as 0; the score keeps its
size.)

`value` is the template score: -log10 of the account's most surprising template's tail
probability, before Bonferroni (0 when it shares no template).

Alongside, as evidence and in the table `profile_features`: the handle shape, name+digits
handles (letters then 5 or more digits), display names that share no word with the handle,
empty profiles (no bio, no location, no or the default avatar). They are features, not
tests: organic accounts accept the handle a platform suggests and leave profiles empty.

**What it does not prove.** Independence is the null, so any reason for parts to go
together makes a template: accounts of one organisation (one bio, one city, handles like
`bbcnews`/`bbcsport`), one person's sockpuppets or backup accounts, or a community whose
bio language and location go together (a Persian bio and "Tehran"). A flagged template
says "these profiles were filled in alike", not who filled them in or why. A farm that
varies every part (distinct bios, scattered locations, human-looking handles) passes.

Tables: `profile_templates` (every combination at least two accounts share: kind,
platform, parts, accounts, expected, p_value after Bonferroni, an example bio) and
`profile_features` (per account: the parts, the features above, its best template).
"""

from __future__ import annotations

import math
import uuid
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trollscope.features.profile import FEATURES_SCHEMA, features_on
from trollscope.signals.base import (
    ACCOUNT_COLUMNS,
    ACCOUNT_ROWS,
    Kept,
    Signal,
    SignalParams,
    SignalResult,
    flagged_rows,
    posts_engine,
)

if TYPE_CHECKING:
    from trollscope.inputs import Backend

Floats = npt.NDArray[np.float64]

PARTS = ("bio_cluster", "location_key", "handle_shape")
KINDS: dict[str, tuple[str, ...]] = {
    "bio+location": ("bio_cluster", "location_key"),
    "bio+handle": ("bio_cluster", "handle_shape"),
    "location+handle": ("location_key", "handle_shape"),
    "bio+location+handle": PARTS,
}
_FEATURES = "ts_profile_features"
_CELLS = "ts_profile_cells"
_ALL_CELLS = "ts_profile_all_cells"


def log_poisson_tail(k: npt.ArrayLike, lam: npt.ArrayLike) -> Floats:
    """ln P(X >= k) for X ~ Poisson(lam), elementwise (k >= 1 integers, lam > 0), exact to
    rounding and without underflow (a farm's template has tails far below 1e-300).

    k > lam: P = e^-lam lam^k / k! * sum_i prod_{j=1..i} lam / (k + j), a series whose
    terms fall at least geometrically. k <= lam: P = 1 - P(X <= k - 1), whose terms
    (read downwards from k - 1) fall likewise; such tails are above 0.3, never tiny.
    """
    kk = np.asarray(k, np.float64)
    ll = np.asarray(lam, np.float64)
    kk, ll = np.broadcast_arrays(kk, ll)
    out = np.zeros(kk.shape, np.float64)
    upper = kk > ll
    if upper.any():
        ku, lu = kk[upper], ll[upper]
        total = _series(lu, ku, step=+1)
        out[upper] = -lu + ku * np.log(lu) - _lgamma(ku + 1) + np.log(total)
    lower = ~upper
    if lower.any():
        kl, lo = kk[lower], ll[lower]
        # ln P(X <= k-1) = -lam + (k-1) ln lam - lgamma(k) + ln sum_i prod_{j<i} (k-1-j)/lam
        total = _series(lo, kl, step=-1)
        log_cdf = -lo + (kl - 1) * np.log(lo) - _lgamma(kl) + np.log(total)
        out[lower] = np.log(-np.expm1(np.minimum(log_cdf, 0.0)))
    return out


def _series(lam: Floats, k: Floats, step: int) -> Floats:
    """Sum of the products: step +1: prod_{j=1..i} lam/(k+j); step -1: prod_{j=0..i-1}
    (k-1-j)/lam (finite: it stops at zero)."""
    term = np.ones_like(lam)
    total = np.ones_like(lam)
    active = np.ones(lam.shape, np.bool_)
    i = 0
    while active.any():
        i += 1
        if step > 0:
            term[active] *= lam[active] / (k[active] + i)
        else:
            term[active] *= np.maximum(k[active] - i, 0.0) / lam[active]
        total[active] += term[active]
        active &= term > total * 1e-17
    return total


def _lgamma(x: Floats) -> Floats:
    return np.array([math.lgamma(v) for v in x.tolist()], np.float64)


def _cells_sql(kind: str, parts: tuple[str, ...]) -> str:
    """Per platform and combination shared by two accounts or more: accounts, the mean
    under independence, and the number of combinations the kind could form."""
    cols = ", ".join(parts)
    present = " AND ".join(f"{p} IS NOT NULL" for p in parts)
    marginals = "\n".join(
        f"JOIN (SELECT platform, {p}, count(*) AS c_{p} FROM base GROUP BY ALL) USING "
        f"(platform, {p})"
        for p in parts
    )
    expected = " * ".join(f"(c_{p} / n)" for p in parts)
    distinct = " * ".join(f"count(DISTINCT {p})::DOUBLE" for p in parts)
    return f"""
        WITH base AS (SELECT platform, {cols} FROM {_FEATURES} WHERE {present}),
        sizes AS (SELECT platform, count(*)::DOUBLE AS n, {distinct} AS cells
                  FROM base GROUP BY platform),
        shared AS (SELECT platform, {cols}, count(*) AS accounts FROM base GROUP BY ALL)
        SELECT '{kind}' AS kind, platform,
            {", ".join(p if p in parts else f"NULL::VARCHAR AS {p}" for p in PARTS)},
            accounts, n * {expected} AS expected, cells
        FROM shared JOIN sizes USING (platform)
        {marginals}"""


def _templates(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, float]:
    """Every shared combination with its tail probability, and the number of
    combinations tested (Bonferroni's factor). Only the combinations two accounts or
    more share come to Python, for the tails."""
    sql = " UNION ALL ".join(
        f"SELECT * FROM ({_cells_sql(kind, parts)})" for kind, parts in KINDS.items()
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_ALL_CELLS} AS {sql}")
    try:
        # One count of combinations per kind and platform (the cells column repeats it).
        counted = con.sql(
            f"SELECT sum(cells) FROM (SELECT max(cells) AS cells FROM {_ALL_CELLS} "
            "GROUP BY kind, platform)"
        ).fetchall()
        cells = con.sql(f"SELECT * FROM {_ALL_CELLS} WHERE accounts >= 2").to_arrow_table()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_ALL_CELLS}")
    tests = float(counted[0][0] or 0.0)
    k = cells.column("accounts").to_numpy().astype(np.float64)
    lam = cells.column("expected").to_numpy().astype(np.float64)
    log_p = log_poisson_tail(k, lam) if len(k) else np.zeros(0)
    adjusted = np.minimum(1.0, np.exp(np.minimum(log_p + math.log(max(tests, 1.0)), 0.0)))
    cells = cells.drop_columns(["cells"])
    cells = cells.append_column("score", pa.array(-log_p / math.log(10), pa.float64()))
    cells = cells.append_column("p_value", pa.array(adjusted, pa.float64()))
    return cells, tests


_EVIDENCE = """
WITH best AS (
    SELECT c.platform, c.account_id,
        arg_min(c.kind, (-c.score, c.kind)) AS kind,
        arg_min(c.accounts, (-c.score, c.kind)) AS accounts,
        arg_min(c.expected, (-c.score, c.kind)) AS expected,
        max(c.score) AS score, min(c.p_value) AS p_value
    FROM ({candidates}) c
    GROUP BY ALL),
example AS ({example}),
shape AS (SELECT platform, handle_shape, count(*) AS n FROM {features} GROUP BY ALL),
parts AS (
    SELECT f.*, b.kind, b.accounts, b.expected, coalesce(b.score, 0.0) AS value,
        coalesce(b.p_value, 1.0) AS p_value, s.n AS shape_accounts,
        CASE WHEN length(e.bio) > 50 THEN left(e.bio, 50) || '...' ELSE e.bio END AS example
    FROM {features} f
    LEFT JOIN best b USING (platform, account_id)
    LEFT JOIN example e USING (platform, bio_cluster)
    LEFT JOIN shape s USING (platform, handle_shape)),
said AS (
    SELECT *, list_filter([
        CASE WHEN p_value <= {alpha} THEN format('{{:,}} other account{{}} ', accounts - 1,
                CASE WHEN accounts = 2 THEN '' ELSE 's' END)
            || CASE kind
                WHEN 'bio+location' THEN format('with the location ''{{}}''', location_key)
                WHEN 'bio+handle' THEN format('with handles shaped {{}}', handle_shape)
                WHEN 'bio+location+handle' THEN format(
                    'with the location ''{{}}'' and handles shaped {{}}', location_key,
                    handle_shape)
                ELSE format('also {{}} the location ''{{}}'' and a handle shaped {{}}',
                    CASE WHEN accounts = 2 THEN 'has' ELSE 'have' END, location_key,
                    handle_shape) END
            || CASE WHEN kind LIKE 'bio%' THEN format(' {{}} a nearly identical bio (''{{}}'')',
                CASE WHEN accounts = 2 THEN 'has' ELSE 'have' END, example) ELSE '' END
            || format(' (chance alone: {{}} account{{}}; p = {{:.1e}} after Bonferroni over '
                '{{:,}} combinations)',
                CASE WHEN expected >= 10 THEN format('{{:,}}', round(expected)::BIGINT)
                    ELSE format('{{:.2g}}', expected) END,
                CASE WHEN expected = 1 THEN '' ELSE 's' END, p_value, {tests}::BIGINT)
        END,
        CASE WHEN handle_digits > 0 THEN format(
            'handle shaped like name+{{}} digits ({{}}), as {{:,}} account{{}} here',
            handle_digits, handle_shape, shape_accounts,
            CASE WHEN shape_accounts = 1 THEN '' ELSE 's' END) END,
        CASE WHEN name_mismatch THEN format('display name ''{{}}'' shares no word with the '
            'handle ''{{}}''', display_name, handle) END,
        CASE WHEN empty_profile THEN 'empty profile (no bio, no location, no or the default '
            'avatar)' END
    ], lambda x: x IS NOT NULL) AS sentences
    FROM parts)
SELECT * EXCLUDE (sentences),
    CASE WHEN len(sentences) > 0 THEN array_to_string(sentences, '; ') END AS evidence
FROM said ORDER BY platform, account_id
"""


def _example(bio: str) -> str:
    """Per bio cluster, its commonest `bio` (an SQL expression), ties broken by the text:
    `mode` breaks them by the order rows come in, and the same case gave another example
    from run to run."""
    return f"""SELECT platform, bio_cluster, arg_min(bio, (-n, bio)) AS bio FROM (
            SELECT platform, bio_cluster, {bio} AS bio, count(*) AS n FROM {_FEATURES}
            WHERE bio_cluster IS NOT NULL GROUP BY ALL)
        GROUP BY ALL"""


def _candidates() -> str:
    """Each account's templates (one equality join per kind)."""
    return " UNION ALL ".join(
        f"""SELECT f.platform, f.account_id, c.kind, c.accounts, c.expected, c.score,
            c.p_value FROM {_FEATURES} f JOIN {_CELLS} c ON c.kind = '{kind}'
            AND f.platform = c.platform AND """
        + " AND ".join(f"f.{p} = c.{p}" for p in parts)
        for kind, parts in KINDS.items()
    )


# The stored `profile_features`: columns of the evidence query's rows, renamed.
_FEATURE_COLUMNS = {
    "platform": "platform",
    "account_id": "account_id",
    "handle_shape": "handle_shape",
    "handle_digits": "name_digits",
    "name_mismatch": "name_mismatch",
    "empty_profile": "empty_profile",
    "location_key": "location",
    "bio_cluster": "bio_cluster",
    "kind": "template_kind",
    "accounts": "template_accounts",
    "expected": "template_expected",
    "value": "template_score",
    "p_value": "p_value",
}


def compute(
    con: duckdb.DuckDBPyConnection, params: SignalParams, engine: Backend | None = None
) -> SignalResult:
    """Profile templates of every account of the case (see the module docstring).
    The accounts' parts are made on `engine` (see `base.posts_engine`) and read by the
    case's DuckDB from there (`Backend.to_case`), where the templates are counted; only
    the shared combinations (for their tails) and the flagged rows come to Python."""
    on = posts_engine(con, engine)
    run = uuid.uuid4().hex[:12]
    made, rows_name = f"ts_profile_features_{run}", f"ts_profile_rows_{run}"
    accounts_name, features_name = f"ts_profile_accounts_{run}", f"ts_profile_kept_{run}"
    features_on(on, made)
    try:
        local = on.to_case(made)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {_FEATURES} AS "
            f"SELECT {', '.join(FEATURES_SCHEMA.names)} FROM {local}"
        )
        cells, tests = _templates(con)
        con.register(_CELLS, cells)
        try:
            evidence = _EVIDENCE.format(
                features=_FEATURES,
                example=_example("regexp_replace(bio, '\\s+', ' ', 'g')"),
                candidates=_candidates(),
                tests=round(tests),
                alpha=float(params.alpha),
            )
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rows_name} AS {evidence}")
            templates = _with_examples(con)
        finally:
            con.unregister(_CELLS)
            con.execute(f"DROP VIEW IF EXISTS {_FEATURES}")
    finally:
        on.drop(made)
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {accounts_name} AS
                SELECT platform, account_id, value, p_value <= {float(params.alpha)} AS flagged,
                    p_value, evidence FROM {rows_name}"""
        )
        renamed = ", ".join(f"{a} AS {b}" for a, b in _FEATURE_COLUMNS.items())
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {features_name} AS SELECT {renamed} FROM {rows_name}"
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rows_name}")
    accounts = flagged_rows(con, accounts_name)
    return SignalResult(
        accounts,
        {"profile_templates": templates},
        kept={
            ACCOUNT_ROWS: Kept(accounts_name, ACCOUNT_COLUMNS),
            "profile_features": Kept(features_name, tuple(_FEATURE_COLUMNS.values())),
        },
    )


def _with_examples(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The template table, most significant first, with the commonest bio of the cluster."""
    return con.sql(
        f"""SELECT c.kind, c.platform, c.bio_cluster, c.location_key AS location,
            c.handle_shape, c.accounts, c.expected, c.score, c.p_value, e.bio AS example_bio
        FROM {_CELLS} c LEFT JOIN ({_example("bio")}) e USING (platform, bio_cluster)
        ORDER BY c.score DESC, c.kind, c.platform, c.bio_cluster, location, c.handle_shape"""
    ).to_arrow_table()


SIGNAL = Signal(
    "profile",
    compute,
    "Profile parts (a near-identical bio, a location, a handle shape such as name+8 "
    "digits) that occur together in more accounts than their own frequencies allow: a "
    "template. Accounts of one organisation, or one person's accounts, share templates too.",
)
