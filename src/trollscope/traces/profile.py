"""The profile-template trace: accounts sharing two parts of a profile template
(`features/profile.py` parses the parts: bio clusters, location keys, handle shapes)."""

from __future__ import annotations

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from trollscope.features.profile import features_on, features_table
from trollscope.inputs import PROFILE_ROWS, TRACE_ROWS_SCHEMA, Backend, CaseBackend

TRACE_SCHEMA = TRACE_ROWS_SCHEMA  # (platform, account_id, key, us, post_id)

KEY_KINDS = ("bio+location", "bio+handle", "location+handle")
_FEATURES = "ts_profile_trace_features"


def profile_keys(f: ir.Table) -> ir.Table:
    """The profile-template trace (TRACE_SCHEMA) of the accounts' parts `f`
    (`features/profile.py`'s FEATURES_SCHEMA): per account, up to three keys, made of
    two template parts each:

    - `bio+location:<bio cluster>|<location>`;
    - `bio+handle:<bio cluster>|<shape>`, for name+digits handles only;
    - `location+handle:<location>|<shape>`, for name+digits handles only.

    A part alone is not a key: half the accounts of a platform share a handle shape, a
    city is home to millions, and short bios ("student") repeat; pairs on them would be
    tens of millions, IDF or not. Times are meaningless here: every row is at 0 (so any
    window gives the same edges), and the post id is the account id.
    """
    digits = f.handle_digits > 0
    kinds = (
        ("bio+location", f.bio_cluster, f.location_key, f.bio_cluster.notnull()),
        ("bio+handle", f.bio_cluster, f.handle_shape, digits & f.bio_cluster.notnull()),
        ("location+handle", f.location_key, f.handle_shape, digits & f.location_key.notnull()),
    )
    parts = [
        f.filter(present & second.notnull()).select(
            "platform",
            "account_id",
            key=ibis.literal(f"{kind}:") + first + ibis.literal("|") + second,
            us=ibis.literal(0, "int64"),
            post_id=f.account_id,
        )
        for kind, first, second, present in kinds
    ]
    return ibis.union(*parts)


def profile_rows_on(engine: Backend, name: str = PROFILE_ROWS) -> None:
    """Materialise the trace's rows as `name` on `engine`: the parts made there
    (`features_on`), the keys made from them there."""
    features_on(engine, _FEATURES)
    try:
        engine.store(name, profile_keys(features_table(_FEATURES)))
    finally:
        engine.drop(_FEATURES)


def profile_rows(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The trace's rows of the case (TRACE_SCHEMA, see `profile_keys`), made on the
    case's own DuckDB, in (platform, account_id, key) order."""
    engine = CaseBackend(con)
    name = "ts_profile_trace_rows"
    profile_rows_on(engine, name)
    try:
        table = engine.fetch(ibis.table(TRACE_SCHEMA, name=name))
    finally:
        engine.drop(name)
    order = [(c, "ascending") for c in ("platform", "account_id", "key")]
    return table.cast(TRACE_SCHEMA).sort_by(order)
