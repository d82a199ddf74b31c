"""Avatars: profile pictures reused across accounts, and faces framed like a GAN's.

Two fingerprints of a farm (DESIGN.md): many accounts wearing a few pictures (one stolen
photo, a handful of stock faces), and faces made by a generator (thispersondoesnotexist).
The keys (picture groups, stored files) and the hashing are `features/avatars.py`'s; the
GAN-framing score is `features/avatar_image.py`'s. This signal reads them per account.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import duckdb
import ibis
import pyarrow as pa

from trollscope.features.avatar_image import GAN_FLAG_SCORE
from trollscope.features.avatars import (
    HASHES,
    KEYS_SCHEMA,
    TABLE,
    avatar_keys,
    has_hashes,
    register_hashes,
)
from trollscope.inputs import Inputs
from trollscope.signals.base import (
    ACCOUNT_COLUMNS,
    ACCOUNT_ROWS,
    Kept,
    Signal,
    SignalParams,
    SignalResult,
    empty_accounts,
    flagged_rows,
    posts_engine,
)

if TYPE_CHECKING:
    from trollscope.inputs import Backend

NAME = "avatar"
REUSE_TABLE = "avatar_reuse"
_KEYS = "ts_avatar_signal_keys"
# One schema whatever the engine (Spark's counts are non-nullable, DuckDB's are not).
_REUSE_SCHEMA = pa.schema(
    [("platform", pa.string()), ("key", pa.string()), ("accounts", pa.int64())]
)


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
    the GAN positions. No p-value: no chance model of avatar reuse is assumed. The keys
    and their groups are made on `engine` (else the case's own DuckDB), from the accounts
    there and the picture keys of `avatar_hashes`; each account's most-shared avatar is
    read by the case's DuckDB from there (`Backend.to_case`), and only the flagged rows
    and the avatars two or more accounts wear come to Python."""
    del params  # nothing to tune: the GAN threshold is the published one
    on = posts_engine(con, engine)
    run = uuid.uuid4().hex[:12]
    best_name, gan_name, rows_name = (f"ts_avatar_{part}_{run}" for part in ("best", "gan", "rows"))
    reuse = _reuse(con, on, best_name)
    best = on.to_case(best_name)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {gan_name} AS "
            + (
                f"SELECT platform, account_id, max(gan_score) AS gan, first(eye_distance "
                f"ORDER BY gan_score DESC, file) AS distance FROM {TABLE} GROUP BY ALL"
                if has_hashes(con)
                else "SELECT NULL::VARCHAR AS platform, NULL::VARCHAR AS account_id, "
                "NULL::DOUBLE AS gan, NULL::DOUBLE AS distance WHERE false"
            )
        )
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {rows_name} AS
            SELECT platform, account_id, r.n::DOUBLE AS value,
                coalesce(r.n >= 2, false) OR coalesce(g.gan >= {GAN_FLAG_SCORE}, false)
                    AS flagged,
                NULL::DOUBLE AS p_value, nullif({_evidence_sql()}, '') AS evidence
            FROM (SELECT platform, account_id FROM {best}
                  UNION SELECT platform, account_id FROM {gan_name}) a
            LEFT JOIN {best} r USING (platform, account_id)
            LEFT JOIN {gan_name} g USING (platform, account_id)""")
    finally:
        on.drop(best_name)
        con.execute(f"DROP TABLE IF EXISTS {gan_name}")
    if not con.sql(f"SELECT count(*) FROM {rows_name}").fetchall()[0][0]:
        con.execute(f"DROP TABLE {rows_name}")
        return SignalResult(empty_accounts())
    accounts = flagged_rows(con, rows_name)
    reuse = reuse.select(_REUSE_SCHEMA.names).cast(_REUSE_SCHEMA)
    return SignalResult(
        accounts, {REUSE_TABLE: reuse}, kept={ACCOUNT_ROWS: Kept(rows_name, ACCOUNT_COLUMNS)}
    )


def _reuse(con: duckdb.DuckDBPyConnection, engine: Backend, best_name: str) -> pa.Table:
    """On the engine: `best_name`, per account with a key, its most-shared avatar
    (platform, account_id, key, n: the accounts wearing it; ties to the smaller key),
    stored there; and, fetched, every avatar two or more accounts of a platform wear
    (platform, key, accounts), most-worn first."""
    i = Inputs()
    hashes = register_hashes(con, engine)
    try:
        engine.store(_KEYS, avatar_keys(i.accounts, hashes))
    finally:
        if hashes is not None:
            engine.drop(HASHES)
    try:
        keys = ibis.table(KEYS_SCHEMA, name=_KEYS)
        groups = keys.group_by("platform", "key").aggregate(accounts=keys.count())
        j = keys.join(groups, ["platform", "key"])
        place = ibis.row_number().over(
            group_by=[j.platform, j.account_id], order_by=[ibis.desc(j.accounts), j.key]
        )
        ranked = j.mutate(place=place)
        engine.store(
            best_name,
            ranked.filter(ranked.place == 0).select("platform", "account_id", "key", n="accounts"),
        )
        reuse = engine.fetch(groups.filter(groups.accounts >= 2))
    finally:
        engine.drop(_KEYS)
    order = [("accounts", "descending"), ("platform", "ascending"), ("key", "ascending")]
    return reuse.sort_by(order)


SIGNAL = Signal(
    NAME,
    compute,
    "Accounts wearing the same avatar (the same picture, mirrored, cropped or re-encoded, "
    "or the same stored file), and faces framed the way GAN faces are (eyes at fixed places). "
    "Fans use their idol's photo and brands their logo; an aligned real photo is framed "
    "like a GAN face: evidence to look at, not proof.",
)
