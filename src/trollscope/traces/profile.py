"""The profile-template trace: accounts sharing two parts of a profile template
(`features/profile.py` parses the parts: bio clusters, location keys, handle shapes)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from trollscope.features.profile import profile_features
from trollscope.inputs import TRACE_ROWS_SCHEMA

TRACE_SCHEMA = TRACE_ROWS_SCHEMA  # (platform, account_id, key, us, post_id)

KEY_KINDS = ("bio+location", "bio+handle", "location+handle")


def profile_rows(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The profile-template trace (TRACE_SCHEMA): per account, up to three keys, made of
    two template parts each:

    - `bio+location:<bio cluster>|<location>`;
    - `bio+handle:<bio cluster>|<shape>`, for name+digits handles only;
    - `location+handle:<location>|<shape>`, for name+digits handles only.

    A part alone is not a key: half the accounts of a platform share a handle shape, a
    city is home to millions, and short bios ("student") repeat; pairs on them would be
    tens of millions, IDF or not. Times are meaningless here: every row is at 0 (so any
    window gives the same edges), and the post id is the account id.
    """
    f = profile_features(con)
    con.register("ts_profile_features", f)
    try:
        table = con.sql(
            """SELECT platform, account_id, key, 0::BIGINT AS us, account_id AS post_id
            FROM ts_profile_features, LATERAL (SELECT unnest([
                'bio+location:' || bio_cluster || '|' || location_key,
                CASE WHEN handle_digits > 0
                     THEN 'bio+handle:' || bio_cluster || '|' || handle_shape END,
                CASE WHEN handle_digits > 0
                     THEN 'location+handle:' || location_key || '|' || handle_shape END
            ]) AS key)
            WHERE key IS NOT NULL
            ORDER BY platform, account_id, key"""
        ).to_arrow_table()
    finally:
        con.unregister("ts_profile_features")
    return table.cast(TRACE_SCHEMA)
