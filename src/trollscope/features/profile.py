"""Profile features: handle shapes, location keys, near-identical bio clusters.

A farm fills in its profiles from a template: one location ("Iran"), the same words in
every bio ("human rights | freedom", a name swapped in), handles the platform suggested or
a script generated (a first name and 8 digits). This module turns each account's profile
into the parts such a template is made of; the `profile-template` trace (pairs of
accounts sharing parts) and the `profile` signal (templates shared by more accounts than
chance allows) both read them.

**Handle shape.** A handle (without a leading '@') written as character classes: a run of
letters (any script, any case, with their combining marks) is `L+`, a run of n digits
(any script) is `D<n>`, '_' stays '_', any other character is '.'. So `name84736251` and
`Sara12345678` are `L+D8`, `ali_smith` is `L+_L+`, `J.Doe-3` is `L+.L+.D1`. Letter runs
lose their length (names differ in length; a script's template does not), digit runs keep
it (a platform suggests a fixed number of digits).

**Name+digits handle.** A shape `L+D<n>` with n >= 5: letters then five or more digits, the
form Twitter suggests to new users (8 digits) and account-creation scripts use. A birth
year (`ali1987`, 4 digits) is not counted; organic accounts accept the suggestion too, so
this is a feature, not a verdict.

**Location key.** The location normalised as texts are for near-duplicates (case folded,
punctuation and symbols dropped, spacing collapsed: "Iran!" and "  iran" are one key);
empty is missing.

**Bio cluster.** Bios normalised the same way (equal normalised bios are one bio), then
grouped around centres (`star_clusters`): the bio of the most accounts becomes a centre
and takes every bio that shares one of its twenty LSH bands (`neardup.py`'s MinHash over
5-code-point shingles, 20 bands of 5 rows: Jaccard similarity 0.75 shares a band 99.6% of
the time, 0.6 80%, 0.5 47%, 0.3 5%), then the most common bio not yet taken, and so on.
A farm's "{name} | human rights | freedom" bios, names swapped, are about 0.75 alike and
fall around one centre;
organic bios sharing a word or two do not. Bios under 5 code points after normalisation
have no band: only equal bios join them. A cluster's id is its centre, cut to 24 code
points, '~' and 6 hex digits of the centre's md5.

**Display name versus handle.** Judged only when the display name has a word of at least 3
Latin letters (accents stripped, case folded) and the handle has a Latin letter; then a
mismatch is no such word appearing anywhere in the handle's letters ("Sara Karimi" /
`sara84736251` match; "Sara Karimi" / `jd_1990` do not). No transliteration: a display
name in Persian and a Latin handle are not judged (NULL), rather than called a mismatch.

**Empty profile.** No bio, no location, and no avatar or the platform's default one
(Twitter's `default_profile_images/`, Mastodon's `missing.png`).
"""

from __future__ import annotations

import hashlib
import re

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from trollscope.features.neardup import lsh_keys, normalise
from trollscope.inputs import Backend, CaseBackend, Inputs, one_batch

NAME_DIGITS_MIN = 5
"""Digits after the letters for a handle to count as name+digits."""

BIO_BANDS = 20
BIO_ROWS = 5
"""LSH for bios: 20 bands of 5 MinHash rows (near-dup-text has 10), so that a bio shares a
band with its centre with probability 1 - (1 - s**5)**20 at Jaccard similarity s: 0.996 at
0.75 (a name swapped in a 25-character bio), 0.80 at 0.6, 0.47 at 0.5, 0.05 at 0.3. With
10 bands, 0.93 at 0.75 split a ten-member template into clusters of 7 and 3."""

DEFAULT_AVATAR = r"(default_profile_images/|/avatars/original/missing\.png$)"

_PROFILE = ("platform", "account_id", "handle", "display_name", "bio", "location", "avatar")

FEATURES_SCHEMA = pa.schema(
    [
        ("platform", pa.string()),
        ("account_id", pa.string()),
        ("handle", pa.string()),
        ("display_name", pa.string()),
        ("bio", pa.string()),
        ("location", pa.string()),
        ("avatar", pa.string()),
        ("handle_shape", pa.string()),
        ("handle_digits", pa.int64()),  # n of a name+digits handle, else 0
        ("name_mismatch", pa.bool_()),  # NULL: not judged
        ("empty_profile", pa.bool_()),
        ("location_key", pa.string()),
        ("bio_cluster", pa.string()),
    ]
)

_LETTER_RUN = "\x01"  # stands for a run of letters while digits are marked


def handle_shapes(handles: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The shape of each handle (see the module docstring); NULL for a missing handle."""
    arr = _plain(handles)
    s = pc.replace_substring_regex(arr, r"^@", "")
    s = pc.replace_substring_regex(s, r"[\p{L}\p{M}]+", _LETTER_RUN)
    s = pc.replace_substring_regex(s, r"\p{Nd}", "#")
    s = pc.replace_substring_regex(s, r"[^\x01#_]", ".")
    # Digit runs keep their length: done in Python over the distinct coarse shapes (few).
    coded = pc.dictionary_encode(s)
    shapes = [_shape(x) for x in coded.dictionary.to_pylist()]
    return pa.array(shapes, pa.string()).take(coded.indices)


def _shape(coarse: str) -> str | None:
    s = re.sub("#+", lambda m: f"D{len(m.group())}", coarse)
    return s.replace(_LETTER_RUN, "L+") or None  # an empty handle has no shape


def name_digits(shapes: pa.Array) -> pa.Array:
    """n for a name+digits shape `L+D<n>` (n >= NAME_DIGITS_MIN), else 0."""
    coded = pc.dictionary_encode(_plain(shapes))
    values = [_digits(x) for x in coded.dictionary.to_pylist()]
    return pc.fill_null(pa.array(values, pa.int64()).take(coded.indices), 0)


def _digits(shape: str | None) -> int:
    m = re.fullmatch(r"L\+D(\d+)", shape or "")
    n = int(m.group(1)) if m else 0
    return n if n >= NAME_DIGITS_MIN else 0


def location_keys(locations: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Normalised locations; NULL when missing or nothing is left."""
    return _distinct_normalised(locations)


def _distinct_normalised(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`normalise`d texts, NULL where nothing is left; each distinct text done once."""
    coded = pc.dictionary_encode(_plain(texts))
    return _nonempty(normalise(coded.dictionary)).take(coded.indices)


def _nonempty(arr: pa.Array) -> pa.Array:
    empty = pc.fill_null(pc.equal(pc.utf8_length(arr), 0), True)
    return pc.if_else(empty, pa.scalar(None, arr.type), arr).cast(pa.string())


# Whether no word of the display name is in the handle (NULL: not judged); DuckDB SQL over
# columns display_name and handle (strip_accents: NFD without the combining marks).
NAME_MISMATCH_SQL = """CASE
    WHEN len(regexp_extract_all(lower(strip_accents(display_name)), '[a-z]{3,}')) = 0
      OR regexp_replace(lower(strip_accents(handle)), '[^a-z]', '', 'g') = '' THEN NULL
    ELSE len(list_filter(
        regexp_extract_all(lower(strip_accents(display_name)), '[a-z]{3,}'),
        lambda w: contains(regexp_replace(lower(strip_accents(handle)), '[^a-z]', '', 'g'), w)
    )) = 0 END"""


# --- bio clusters ----------------------------------------------------------------------

I64 = npt.NDArray[np.int64]


def bio_clusters(bios: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The near-identical-bio cluster id of each bio (NULL when there is no bio left after
    normalisation): `bio_cluster_table` over the distinct normalised bios, each weighted
    by the bios that have it."""
    keys = _distinct_normalised(bios)
    counted = pa.table({"bio_key": keys}).group_by("bio_key").aggregate([("bio_key", "count")])
    kept = counted.filter(pc.is_valid(counted.column("bio_key")))
    table = bio_cluster_table(
        pa.table({"bio_key": kept.column("bio_key"), "accounts": kept.column("bio_key_count")})
    )
    which = pc.index_in(keys, value_set=table.column("bio_key"))
    return table.column("bio_cluster").combine_chunks().take(which)


def star_clusters(texts: pa.Array, weight: I64) -> I64:
    """The centre (an index into `texts`) of each text's cluster.

    Greedy star clustering: in order of weight (most accounts first; ties by text), each
    text not yet taken becomes a centre and takes every text not yet taken that shares
    one of its LSH bands (`BIO_BANDS`: Jaccard 0.75 99.6% of the time, 0.5 47%, 0.3 5%).
    Every member is
    near-identical to its centre; unlike connected components, no chain of near-copies
    joins unlike texts (on the simulator's bios, made of 20 stock phrases, components
    joined 4,000 distinct bios into one). Each band is visited once: linear time.
    """
    n = len(texts)
    ids = pa.array(np.arange(n, dtype=np.int64)).cast(pa.string())
    keys = lsh_keys(ids, texts, bands=BIO_BANDS, rows=BIO_ROWS)
    if keys.num_rows == 0:
        return np.arange(n, dtype=np.int64)
    owner = pc.cast(keys.column("post_id"), pa.int64()).to_numpy()
    _, band = np.unique(keys.column("key").to_numpy(zero_copy_only=False), return_inverse=True)
    return _greedy(texts, weight, owner, band.astype(np.int64))


def _greedy(texts: pa.Array, weight: I64, owner: I64, band: I64) -> I64:
    """`star_clusters`' greedy pass, given each LSH band row's text (`owner`, an index into
    `texts`) and band (an index of the distinct band keys)."""
    n = len(texts)
    centre = np.arange(n, dtype=np.int64)
    # Bands (and texts) only matter where a band holds two texts or more.
    shared = np.bincount(band)[band] > 1
    owner, band = owner[shared], band[shared]
    if owner.size == 0:
        return centre
    by_band = np.lexsort((owner, band))
    band_members, band_starts = owner[by_band], _starts(band[by_band])
    by_owner = np.lexsort((band, owner))
    owner_bands, owner_starts = band[by_owner], _starts(owner[by_owner])
    owners = np.unique(owner)
    text_rank = np.empty(n, np.int64)
    text_rank[pc.sort_indices(texts).to_numpy()] = np.arange(n)
    order = owners[np.lexsort((text_rank[owners], -weight[owners]))]
    taken = np.zeros(n, np.bool_)
    for c in order.tolist():
        if taken[c]:
            continue
        taken[c] = True
        for b in owner_bands[owner_starts[c] : owner_starts[c + 1]].tolist():
            members = band_members[band_starts[b] : band_starts[b + 1]]
            free = members[~taken[members]]
            taken[free] = True
            centre[free] = c
    return centre


def _starts(sorted_ids: I64) -> I64:
    """CSR offsets of a sorted id array: rows of id k are [starts[k], starts[k + 1])."""
    values, counts = np.unique(sorted_ids, return_counts=True)
    starts = np.zeros(int(values.max()) + 2 if values.size else 1, np.int64)
    np.add.at(starts, values + 1, counts)
    return np.cumsum(starts)


def _cluster_ids(texts: pa.Array, centre: I64) -> pa.Array:
    """One id per text (indexed like `texts`): its centre, cut to 24 code points, '~' and
    6 hex digits of the centre's md5 (the cut alone could name two clusters alike)."""
    names = {}
    roots = np.unique(centre)
    for c, text in zip(roots.tolist(), texts.take(pa.array(roots)).to_pylist(), strict=True):
        names[c] = _cluster_name(text)
    return pa.array([names[c] for c in centre.tolist()], pa.string())


def _cluster_name(centre: str) -> str:
    digest = hashlib.md5(centre.encode("utf-8"), usedforsecurity=False).hexdigest()[:6]
    return f"{centre[:24].rstrip()}~{digest}"


# --- the case, on the engine ------------------------------------------------------------

# Each account's parts but its bio cluster, and its normalised bio, as `row_features` gives
# them batch by batch; then the bio clusters, made here from the distinct normalised bios.
ROW_SCHEMA = pa.schema(
    [f for f in FEATURES_SCHEMA if f.name != "bio_cluster"] + [pa.field("bio_key", pa.string())]
)
_ROWS = "ts_profile_row_parts"
_BIOS = "ts_profile_bio_clusters"
_BIOS_SCHEMA = pa.schema([("bio_key", pa.string()), ("bio_cluster", pa.string())])


def row_features(acc: pa.RecordBatch) -> pa.RecordBatch:
    """The parts of each account of a batch (`_PROFILE` columns) that need no other
    account: all but the bio cluster, and the normalised bio it is made from. Python, run
    where the accounts are (`Backend.map_batches`); the display-name test is DuckDB SQL in
    a database of its own, so it runs on any engine's workers."""
    shapes = handle_shapes(acc.column("handle"))
    no_avatar = pc.fill_null(
        pc.or_(
            pc.equal(pc.utf8_trim_whitespace(acc.column("avatar")), ""),
            pc.match_substring_regex(acc.column("avatar"), DEFAULT_AVATAR),
        ),
        True,
    )
    blank_bio = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(acc.column("bio")), ""), True)
    blank_loc = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(acc.column("location")), ""), True)
    names = pa.table({"display_name": acc.column("display_name"), "handle": acc.column("handle")})
    with duckdb.connect() as own:
        own.register("ts_profile_names", names)
        mismatch = own.sql(
            f"SELECT {NAME_MISMATCH_SQL} AS m FROM ts_profile_names"
        ).to_arrow_table()
    columns = {
        **{name: acc.column(name) for name in _PROFILE},
        "handle_shape": shapes,
        "handle_digits": name_digits(shapes),
        "name_mismatch": mismatch.column("m").combine_chunks(),
        "empty_profile": pc.and_(pc.and_(blank_bio, blank_loc), no_avatar),
        "location_key": location_keys(acc.column("location")),
        "bio_key": _distinct_normalised(acc.column("bio")),
    }
    return pa.record_batch([columns[f.name] for f in ROW_SCHEMA], schema=ROW_SCHEMA)


def bio_cluster_table(bios: pa.Table) -> pa.Table:
    """(bio_key, bio_cluster) for distinct normalised bios with the accounts that have
    each (`bio_key`, `accounts`): `star_clusters` weighted by the accounts."""
    if bios.num_rows == 0:
        return _BIOS_SCHEMA.empty_table()
    distinct = bios.column("bio_key").combine_chunks().cast(pa.string())
    weight = bios.column("accounts").to_numpy().astype(np.int64)
    ids = _cluster_ids(distinct, star_clusters(distinct, weight))
    return pa.table({"bio_key": distinct, "bio_cluster": ids}, schema=_BIOS_SCHEMA)


_COUNTED = "ts_profile_bio_counts"
_BANDS = "ts_profile_bio_bands"
_CENTRES = "ts_profile_bio_centres"
_COUNTED_SCHEMA = ibis.schema({"bio_key": "string", "accounts": "int64"})
_BANDS_SCHEMA = pa.schema([("bio_key", pa.string()), ("band", pa.string())])
_CENTRES_SCHEMA = pa.schema([("bio_key", pa.string()), ("centre", pa.string())])


def bio_band_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """(bio_key, band) of a batch of distinct normalised bios: their LSH bands, as
    `star_clusters` makes them."""
    keys = lsh_keys(
        batch.column("bio_key"), batch.column("bio_key"), bands=BIO_BANDS, rows=BIO_ROWS
    )
    return one_batch(
        pa.table(
            {"bio_key": keys.column("post_id"), "band": keys.column("key")}, schema=_BANDS_SCHEMA
        )
    )


def cluster_name_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """(bio_key, bio_cluster) of a batch of (bio_key, centre): the cluster's name."""
    names = [_cluster_name(c) for c in batch.column("centre").to_pylist()]
    return pa.record_batch(
        [batch.column("bio_key"), pa.array(names, pa.string())], schema=_BIOS_SCHEMA
    )


def bio_centres(owners: pa.Table, bands: pa.Table) -> pa.Table:
    """(bio_key, centre) of the bios that share an LSH band with another (`owners`:
    bio_key, accounts; `bands`: their shared bands, bio_key, band): `star_clusters` over
    them alone, which is `star_clusters` over every bio, since a bio that shares no band
    is its own cluster's centre and takes no other."""
    if owners.num_rows == 0:
        return _CENTRES_SCHEMA.empty_table()
    texts = owners.column("bio_key").combine_chunks().cast(pa.string())
    weight = owners.column("accounts").to_numpy().astype(np.int64)
    owner = pc.index_in(bands.column("bio_key"), value_set=texts).to_numpy().astype(np.int64)
    _, band = np.unique(bands.column("band").to_numpy(zero_copy_only=False), return_inverse=True)
    centre = _greedy(texts, weight, owner, band.astype(np.int64))
    return pa.table(
        {"bio_key": texts, "centre": texts.take(pa.array(centre))}, schema=_CENTRES_SCHEMA
    )


def features_on(engine: Backend, name: str) -> None:
    """Materialise `name` on `engine`: every account's profile parts (FEATURES_SCHEMA).
    The per-account parts are `row_features` on the engine, and so are the distinct
    normalised bios' LSH bands (`bio_band_batch`). The bio clusters are greedy over the
    whole data (`star_clusters`), so they are made here, but only over the bios that
    share a band with another (`bio_centres`): those, their accounts and their shared
    bands come here, and their centres go back; every bio's cluster is named on the
    engine (`cluster_name_batch`)."""
    accounts = Inputs().accounts.select(*_PROFILE)
    engine.map_batches(_ROWS, accounts, row_features, ROW_SCHEMA)
    try:
        rows = ibis.table(ROW_SCHEMA, name=_ROWS)
        kept = rows.filter(rows.bio_key.notnull())
        engine.store(_COUNTED, kept.group_by("bio_key").aggregate(accounts=kept.count()))
        counted = ibis.table(_COUNTED_SCHEMA, name=_COUNTED)
        engine.map_batches(_BANDS, counted.select("bio_key"), bio_band_batch, _BANDS_SCHEMA)
        bands = ibis.table(ibis.Schema.from_pyarrow(_BANDS_SCHEMA), name=_BANDS)
        sizes = bands.group_by("band").aggregate(texts=bands.count())
        shared = bands.semi_join(sizes.filter(sizes.texts >= 2), "band")
        owners = engine.fetch(counted.semi_join(shared, "bio_key"))
        engine.register(_CENTRES, bio_centres(owners, engine.fetch(shared)))
        centres = ibis.table(ibis.Schema.from_pyarrow(_CENTRES_SCHEMA), name=_CENTRES)
        named = counted.left_join(centres, "bio_key").select(
            bio_key=counted.bio_key, centre=centres.centre.coalesce(counted.bio_key)
        )
        engine.map_batches(_BIOS, named, cluster_name_batch, _BIOS_SCHEMA)
        joined = rows.left_join(ibis.table(_BIOS_SCHEMA, name=_BIOS), "bio_key")
        engine.store(name, joined.select(*FEATURES_SCHEMA.names))
    finally:
        engine.drop(_ROWS, _COUNTED, _BANDS, _CENTRES, _BIOS)


def features_table(name: str) -> ir.Table:
    """The table `features_on` materialised, as an Ibis table."""
    return ibis.table(FEATURES_SCHEMA, name=name)


def profile_features(con: duckdb.DuckDBPyConnection, engine: Backend | None = None) -> pa.Table:
    """Every account's profile parts (FEATURES_SCHEMA), made on `engine` (default: the
    case's own DuckDB) and fetched, in (platform, account_id) order."""
    on = engine if engine is not None else CaseBackend(con)
    name = "ts_profile_features_made"
    features_on(on, name)
    try:
        table = on.fetch(features_table(name))
    finally:
        on.drop(name)
    return table.sort_by([("platform", "ascending"), ("account_id", "ascending")])


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    out = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return out.cast(pa.string())
