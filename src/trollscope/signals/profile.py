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
import operator
import uuid
from functools import partial, reduce
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trollscope.features.profile import features_on, features_table
from trollscope.signals.base import (
    ACCOUNT_COLUMNS,
    ACCOUNT_ROW_SCHEMA,
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


def _combinations(features: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Every combination of parts one account or more has, per kind and platform: its
    accounts and its mean under independence; and per kind and platform, the number of
    combinations the kind could form (the product of its parts' distinct values)."""
    shared, sizes = [], []
    for kind, parts in KINDS.items():
        base = features.filter(*(features[p].notnull() for p in parts))
        size = base.group_by("platform").aggregate(
            n=base.count().cast("float64"),
            cells=reduce(operator.mul, [base[p].nunique().cast("float64") for p in parts]),
        )
        counted = base.group_by("platform", *parts).aggregate(accounts=base.count())
        joined = counted.join(size, "platform")
        for part in parts:
            marginal = base.group_by("platform", part).aggregate(**{f"c_{part}": base.count()})
            joined = joined.join(marginal, ["platform", part])
        # n * (c_a / n) * (c_b / n)..., in that order (the figures stored before).
        expected = joined.n
        for part in parts:
            expected = expected * (joined[f"c_{part}"] / joined.n)
        shared.append(
            joined.select(
                kind=ibis.literal(kind),
                platform=joined.platform,
                **{p: joined[p] if p in parts else ibis.null("string") for p in PARTS},
                accounts=joined.accounts,
                expected=expected,
            )
        )
        sizes.append(size.select(kind=ibis.literal(kind), cells=size.cells))
    return ibis.union(*shared, distinct=False), ibis.union(*sizes, distinct=False)


def tail_batch(tests: float, batch: pa.RecordBatch) -> pa.RecordBatch:
    """The shared combinations of the batch with their tails: `score` (-log10 of the
    Poisson tail) and `p_value` (Bonferroni over `tests` combinations, capped at 1)."""
    k = batch.column("accounts").to_numpy().astype(np.float64)
    lam = batch.column("expected").to_numpy(zero_copy_only=False).astype(np.float64)
    log_p = log_poisson_tail(k, lam) if len(k) else np.zeros(0)
    adjusted = np.minimum(1.0, np.exp(np.minimum(log_p + math.log(max(tests, 1.0)), 0.0)))
    columns = [batch.column(name) for name in _SHARED_SCHEMA.names]
    score = pa.array(-log_p / math.log(10), pa.float64())
    return pa.RecordBatch.from_arrays(
        [*columns, score, pa.array(adjusted, pa.float64())], schema=_CELLS_SCHEMA
    )


_SHARED_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("platform", pa.string()),
        *((p, pa.string()) for p in PARTS),
        ("accounts", pa.int64()),
        ("expected", pa.float64()),
    ]
)
_CELLS_SCHEMA = pa.schema([*_SHARED_SCHEMA, ("score", pa.float64()), ("p_value", pa.float64())])

# RE2's \s (DuckDB), spelt out: Java's \s (Spark) also takes a vertical tab. Regex escapes,
# not the characters: Spark SQL reads '\f' in a literal as a plain 'f'.
SPACES = r"[\t\n\f\r ]+"


def _examples(features: ir.Table, normalise: bool) -> ir.Table:
    """Per bio cluster, its commonest bio as `example` (spaces made one if `normalise`),
    ties broken by the text: the same example whatever order the accounts come in."""
    f = features.filter(features.bio_cluster.notnull())
    bio = f.bio.re_replace(SPACES, " ") if normalise else f.bio
    counted = f.group_by("platform", "bio_cluster", bio=bio).aggregate(n=f.count())
    place = ibis.row_number().over(
        group_by=[counted.platform, counted.bio_cluster],
        order_by=[ibis.desc(counted.n), counted.bio],
    )
    ranked = counted.mutate(place=place)
    return ranked.filter(ranked.place == 0).select("platform", "bio_cluster", example=ranked.bio)


def _best(features: ir.Table, cells: ir.Table) -> ir.Table:
    """Each account's most surprising template (ties: the kind's name), one equality
    join per kind. Its p-value is the account's smallest: Bonferroni keeps the order."""
    candidates = []
    for kind, parts in KINDS.items():
        of_kind = cells.filter(cells.kind == kind)
        j = features.join(of_kind, ["platform", *parts])
        candidates.append(
            j.select("platform", "account_id", "kind", "accounts", "expected", "score", "p_value")
        )
    every = ibis.union(*candidates, distinct=False)
    place = ibis.row_number().over(
        group_by=[every.platform, every.account_id],
        order_by=[ibis.desc(every.score), every.kind],
    )
    ranked = every.mutate(place=place)
    return ranked.filter(ranked.place == 0).drop("place")


def _parts(features: ir.Table, cells: ir.Table) -> ir.Table:
    """Every account's parts with its best template, its cluster's example bio and the
    number of accounts with its handle shape: what `evidence_batch` words."""
    best = _best(features, cells)
    example = _examples(features, normalise=True)
    shape = features.group_by("platform", "handle_shape").aggregate(n=features.count())
    j = (
        features.left_join(best, ["platform", "account_id"])
        .left_join(example, ["platform", "bio_cluster"])
        .left_join(shape, ["platform", "handle_shape"])
    )
    return j.select(
        "platform", "account_id", "handle", "display_name", "handle_shape", "handle_digits",
        "name_mismatch", "empty_profile", "location_key", "bio_cluster", "kind", "accounts",
        "expected", score=j.score.coalesce(0.0), p_value=j.p_value.coalesce(1.0),
        example=j.example, shape_accounts=j.n,
    )  # fmt: skip


# The stored `profile_features`: the columns of the rows `evidence_batch` makes.
_FEATURE_COLUMNS = (
    "platform", "account_id", "handle_shape", "name_digits", "name_mismatch", "empty_profile",
    "location", "bio_cluster", "template_kind", "template_accounts", "template_expected",
    "template_score", "p_value",
)  # fmt: skip
_ROWS_SCHEMA = pa.schema(
    [
        *ACCOUNT_ROW_SCHEMA,
        ("handle_shape", pa.string()),
        ("name_digits", pa.int64()),
        ("name_mismatch", pa.bool_()),
        ("empty_profile", pa.bool_()),
        ("location", pa.string()),
        ("bio_cluster", pa.string()),
        ("template_kind", pa.string()),
        ("template_accounts", pa.int64()),
        ("template_expected", pa.float64()),
        ("template_score", pa.float64()),
    ]
)


def evidence_batch(tests: int, alpha: float, batch: pa.RecordBatch) -> pa.RecordBatch:
    """The account rows and stored features of the batch's accounts (`_parts`): flagged
    where the best template's p-value is at most `alpha`, and the evidence in words."""
    rows = batch.to_pylist()
    evidence = [_said(row, tests, alpha) for row in rows]
    p_value = batch.column("p_value")
    columns = {
        "platform": batch.column("platform"),
        "account_id": batch.column("account_id"),
        "value": batch.column("score"),
        "flagged": pa.array([row["p_value"] <= alpha for row in rows], pa.bool_()),
        "p_value": p_value,
        "evidence": pa.array(evidence, pa.string()),
        "handle_shape": batch.column("handle_shape"),
        "name_digits": batch.column("handle_digits"),
        "name_mismatch": batch.column("name_mismatch"),
        "empty_profile": batch.column("empty_profile"),
        "location": batch.column("location_key"),
        "bio_cluster": batch.column("bio_cluster"),
        "template_kind": batch.column("kind"),
        "template_accounts": batch.column("accounts"),
        "template_expected": batch.column("expected"),
        "template_score": batch.column("score"),
    }
    return pa.RecordBatch.from_arrays(
        [columns[f.name].cast(f.type) for f in _ROWS_SCHEMA],
        schema=_ROWS_SCHEMA,
    )


def _said(row: dict[str, Any], tests: int, alpha: float) -> str | None:
    """One account's evidence: its template (if significant), its name+digits handle,
    a display name unlike the handle, an empty profile; None if none holds."""
    sentences = []
    if row["p_value"] <= alpha:
        sentences.append(_template_words(row, tests))
    digits, shape, n = row["handle_digits"], row["handle_shape"], row["shape_accounts"]
    if digits is not None and digits > 0:
        sentences.append(
            f"handle shaped like name+{digits} digits ({shape}), as {n:,} account"
            + ("" if n == 1 else "s")
            + " here"
        )
    if row["name_mismatch"]:
        sentences.append(
            f"display name '{row['display_name']}' shares no word with the handle '{row['handle']}'"
        )
    if row["empty_profile"]:
        sentences.append("empty profile (no bio, no location, no or the default avatar)")
    return "; ".join(sentences) if sentences else None


def _template_words(row: dict[str, Any], tests: int) -> str:
    """The sentence of a significant template: who shares what, and what chance gives."""
    accounts, kind, place = row["accounts"], row["kind"], row["location_key"]
    shape = row["handle_shape"]
    verb = "has" if accounts == 2 else "have"
    said = f"{accounts - 1:,} other account{'' if accounts == 2 else 's'} "
    if kind == "bio+location":
        said += f"with the location '{place}'"
    elif kind == "bio+handle":
        said += f"with handles shaped {shape}"
    elif kind == "bio+location+handle":
        said += f"with the location '{place}' and handles shaped {shape}"
    else:
        said += f"also {verb} the location '{place}' and a handle shaped {shape}"
    if kind.startswith("bio"):
        example = row["example"]
        if example is not None and len(example) > 50:
            example = example[:50] + "..."
        said += f" {verb} a nearly identical bio ('{example}')"
    expected = row["expected"]
    # DuckDB's round, which these figures were first made with: half away from zero.
    chance = f"{math.floor(expected + 0.5):,}" if expected >= 10 else f"{expected:.2g}"
    return said + (
        f" (chance alone: {chance} account{'' if expected == 1 else 's'}; "
        f"p = {row['p_value']:.1e} after Bonferroni over {tests:,} combinations)"
    )


def compute(
    con: duckdb.DuckDBPyConnection, params: SignalParams, engine: Backend | None = None
) -> SignalResult:
    """Profile templates of every account of the case (see the module docstring).
    The accounts' parts are made on `engine` (see `base.posts_engine`), the templates
    counted, tested and worded there: one number per kind and platform (Bonferroni's)
    and the flagged rows come to Python; the rows and templates reach the case's DuckDB
    as `Backend.to_case` reads them."""
    on = posts_engine(con, engine)
    run = uuid.uuid4().hex[:12]
    made, shared_name = f"ts_profile_features_{run}", f"ts_profile_shared_{run}"
    cells_name, rows_name = f"ts_profile_cells_{run}", f"ts_profile_rows_{run}"
    templates_name = f"ts_profile_templates_{run}"
    features_on(on, made)
    try:
        features = features_table(made)
        shared, sizes = _combinations(features)
        on.store(shared_name, shared)
        total = on.fetch(sizes.aggregate(total=sizes.cells.sum())).column("total")[0]
        tests = float(total.as_py() or 0.0)
        stored = ibis.table(ibis.Schema.from_pyarrow(_SHARED_SCHEMA), name=shared_name)
        on.map_batches(
            cells_name, stored.filter(stored.accounts >= 2), partial(tail_batch, tests),
            _CELLS_SCHEMA,
        )  # fmt: skip
        cells = ibis.table(ibis.Schema.from_pyarrow(_CELLS_SCHEMA), name=cells_name)
        example = _examples(features, normalise=False)
        j = cells.left_join(example, ["platform", "bio_cluster"])
        on.store(
            templates_name,
            j.select(
                "kind", "platform", "bio_cluster", "handle_shape", "accounts", "expected",
                "score", "p_value", location=j.location_key, example_bio=j.example,
            ),
        )  # fmt: skip
        check = partial(evidence_batch, round(tests), float(params.alpha))
        on.map_batches(rows_name, _parts(features, cells), check, _ROWS_SCHEMA)
        rows = on.to_case(rows_name)
        templates = on.to_case(templates_name)
    finally:
        on.drop(made, shared_name, cells_name)
    accounts = flagged_rows(con, rows)
    return SignalResult(
        accounts,
        kept={
            ACCOUNT_ROWS: Kept(rows, ACCOUNT_COLUMNS),
            "profile_features": Kept(rows, _FEATURE_COLUMNS),
            "profile_templates": Kept(templates, _TEMPLATE_COLUMNS, _TEMPLATE_ORDER),
        },
    )


_TEMPLATE_COLUMNS = (
    "kind", "platform", "bio_cluster", "location", "handle_shape", "accounts", "expected",
    "score", "p_value", "example_bio",
)  # fmt: skip
# Most significant first, as the table was always stored.
_TEMPLATE_ORDER = "score DESC, kind, platform, bio_cluster, location, handle_shape"


SIGNAL = Signal(
    "profile",
    compute,
    "Profile parts (a near-identical bio, a location, a handle shape such as name+8 "
    "digits) that occur together in more accounts than their own frequencies allow: a "
    "template. Accounts of one organisation, or one person's accounts, share templates too.",
)
