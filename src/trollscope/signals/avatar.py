"""Avatars: profile pictures reused across accounts, and faces framed like a GAN's.

Two fingerprints of a farm (DESIGN.md): many accounts wearing a few pictures (one stolen
photo, a handful of stock faces), and faces made by a generator (thispersondoesnotexist).
The keys (picture groups, stored files) and the hashing are `features/avatars.py`'s; the
GAN-framing score is `features/avatar_image.py`'s. This signal reads them per account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from trollscope.features.avatar_image import GAN_FLAG_SCORE
from trollscope.features.avatars import TABLE, has_hashes, keys_sql
from trollscope.signals.base import Signal, SignalParams, SignalResult, empty_accounts

if TYPE_CHECKING:
    from trollscope.inputs import Backend

NAME = "avatar"
REUSE_TABLE = "avatar_reuse"


def _evidence_sql() -> str:
    shared = (
        "CASE WHEN r.n >= 2 THEN format('avatar shared with {} other account{} ({})', r.n - 1, "
        "CASE WHEN r.n = 2 THEN '' ELSE 's' END, CASE WHEN r.key LIKE 'phash:%' "
        "THEN 'the same picture, ' || r.key ELSE 'the same avatar ' || "
        "left(substr(r.key, 6), 100) END) "
        "WHEN r.n = 1 THEN 'avatar worn by no other account' END"
    )
    gan = (
        f"CASE WHEN g.gan >= {GAN_FLAG_SCORE} THEN format('eyes where StyleGAN faces have "
        "them (GANEyeDistance {:.3f}): the picture may be generated, or a photo cropped the "
        "same way', g.distance) END"
    )
    return f"concat_ws('; ', {shared}, {gan})"


def compute(
    con: duckdb.DuckDBPyConnection, params: SignalParams, engine: Backend | None = None
) -> SignalResult:
    """Per account with an avatar key or a hashed picture: `value` is the number of accounts
    of its platform wearing its most-shared avatar (itself included; None when its picture
    gives no key), flagged when another account wears it too or the picture's eyes sit at
    the GAN positions. No p-value: no chance model of avatar reuse is assumed. It reads the
    accounts, not the posts: `engine` is not used."""
    del params  # nothing to tune: the GAN threshold is the published one
    # A cursor: the caller's connection may hold an open result, and names registered
    # here stay local to it.
    cur = con.cursor()
    try:
        return _compute(cur)
    finally:
        cur.close()


def _compute(cur: duckdb.DuckDBPyConnection) -> SignalResult:
    found = has_hashes(cur)
    keys = cur.sql(keys_sql(cur)).to_arrow_table()
    gan = cur.sql(
        f"SELECT platform, account_id, max(gan_score) AS gan, "
        f"first(eye_distance ORDER BY gan_score DESC, file) AS distance FROM {TABLE} GROUP BY ALL"
        if found
        else "SELECT NULL::VARCHAR AS platform, NULL::VARCHAR AS account_id, "
        "NULL::DOUBLE AS gan, NULL::DOUBLE AS distance WHERE false"
    ).to_arrow_table()
    if keys.num_rows == 0 and gan.num_rows == 0:
        return SignalResult(empty_accounts())
    cur.register("ts_avatar_keys", keys)
    cur.register("ts_avatar_gan", gan)
    groups = "SELECT platform, key, count(*) AS accounts FROM ts_avatar_keys GROUP BY ALL"
    accounts = cur.sql(f"""
    WITH g AS ({groups}),
    r AS (
        SELECT k.platform, k.account_id, max(g.accounts) AS n,
               first(k.key ORDER BY g.accounts DESC, k.key) AS key
        FROM ts_avatar_keys k JOIN g USING (platform, key) GROUP BY ALL)
    SELECT platform, account_id, r.n::DOUBLE AS value,
           coalesce(r.n >= 2, false) OR coalesce(g.gan >= {GAN_FLAG_SCORE}, false) AS flagged,
           NULL::DOUBLE AS p_value, nullif({_evidence_sql()}, '') AS evidence
    FROM (SELECT platform, account_id FROM r
          UNION SELECT platform, account_id FROM ts_avatar_gan) a
    LEFT JOIN r USING (platform, account_id)
    LEFT JOIN ts_avatar_gan g USING (platform, account_id)
    ORDER BY platform, account_id""").to_arrow_table()
    reuse = cur.sql(
        f"SELECT platform, key, accounts FROM ({groups}) WHERE accounts >= 2 "
        "ORDER BY accounts DESC, platform, key"
    ).to_arrow_table()
    return SignalResult(accounts, {REUSE_TABLE: reuse})


SIGNAL = Signal(
    NAME,
    compute,
    "Accounts wearing the same avatar (the same picture, mirrored, cropped or re-encoded, "
    "or the same stored file), and faces framed the way GAN faces are (eyes at fixed places). "
    "Fans use their idol's photo and brands their logo; an aligned real photo is framed "
    "like a GAN face: evidence to look at, not proof.",
)
