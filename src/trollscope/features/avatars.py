"""Avatars of a case: pictures hashed into `avatar_hashes`, and each account's avatar keys.

Two fingerprints of a farm (DESIGN.md): many accounts wearing a few pictures (one stolen
photo, a handful of stock faces), and faces made by a generator (thispersondoesnotexist).

**Reuse.** An account's avatar gives keys; accounts of one platform sharing a key wear the
same avatar. Two kinds of key:

- `phash:<16 hex>`, from the picture itself (`hash_avatars`): the key of its group of
  copies (avatar_match.py, `group_keys`), so a re-encoded, resized, flipped or slightly
  cropped copy is the same picture, and a face merely framed like another is not.
- `data:<string>`, the avatar as the data names it (`accounts.avatar`: a URL, a path, an
  id). Equal strings mean one stored file: on Twitter each upload is stored under its own
  media id (`pbs.twimg.com/profile_images/<id>/<name>`), so two accounts with one URL were
  served the very same file. The converse fails: the same picture uploaded again gets a
  new URL, so URL keys miss re-uploads, which only `phash:` keys catch. Twitter's size
  variants of one upload (`_normal`, `_400x400`, ...) are one key; a Bluesky CDN URL is
  keyed by its blob's CID (a hash of the file's bytes), whoever uploaded it. Default avatars (the
  platform's blank silhouette) are never keys, nor are blank one-colour pictures: sharing
  them is what every account that never chose a picture does.

**GAN-like faces.** Each hashed picture also gets a `gan_score` (avatar_image.py): 1 when
its eyes sit where StyleGAN puts eyes, 0.5 at the published GANEyeDistance threshold of
Yang, Singh & Menczer (2024), 0 far from there or without a face. A heuristic of framing,
not of synthesis: real photos cropped the same way score high too.

Flow: `avatars(case, folder)` (the `trollscope avatars` command) hashes what it can find
into the case table `avatar_hashes`, on the machine where the files are. The keys are one
Ibis expression (`avatar_keys`) over the accounts' avatar strings and that table's picture
keys, run on the engine (`register_hashes` sends the picture keys there) or compiled for
the case's DuckDB (`keys_sql`, for the identity cohorts). The signal is signals/avatar.py;
the avatar-reuse trace (traces/avatar.py) gives the same keys as trace rows, for pairs
(window 0).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from PIL import Image

from trollscope.case import Case, transaction
from trollscope.errors import TrollscopeError
from trollscope.features.avatar_image import AvatarImage, hash_image
from trollscope.features.avatar_match import group_keys

if TYPE_CHECKING:
    from trollscope.inputs import Backend

TABLE = "avatar_hashes"

# The platforms' own "no picture chosen" avatars (Twitter's egg/silhouette, Mastodon's).
DEFAULT_AVATARS = r"(default_profile_images/|/avatars/original/missing\.png$)"

AVATAR_HASHES_SCHEMA = pa.schema(
    [
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("phash", pa.string(), nullable=False),
        pa.field("mirrored_phash", pa.string(), nullable=False),
        pa.field("key", pa.string()),  # the picture group's key (group_keys); None if blank
        pa.field("left_eye_x", pa.float64()),
        pa.field("left_eye_y", pa.float64()),
        pa.field("right_eye_x", pa.float64()),
        pa.field("right_eye_y", pa.float64()),
        pa.field("eye_distance", pa.float64()),  # GANEyeDistance; None without two eyes
        pa.field("gan_score", pa.float64(), nullable=False),
    ]
)

# --- a case's pictures -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AvatarRun:
    """What `avatars` did: rows stored, and the files it could not use, by reason."""

    hashed: int
    accounts: int
    unreadable: tuple[str, ...]  # found, but not a picture Pillow reads
    unmatched: tuple[str, ...]  # in the folder, named after no account
    missing: tuple[str, ...]  # named by the data as a local path, not there


@functools.cache
def _image_suffixes() -> frozenset[str]:
    Image.init()
    return frozenset(Image.registered_extensions())


def local_path(avatar: str, source: str | None) -> Path | None:
    """The file an avatar string names, if it names a local one: `file://` URLs, absolute
    paths, and relative paths (taken from the folder of the file the account came from).
    Other URLs are never fetched; a bare id (`avatar:1f3a`) names no file."""
    text = avatar.strip()
    if text.startswith("file://"):
        return Path(unquote(urlparse(text).path))
    if "://" in text or not text:
        return None
    path = Path(text)
    if path.suffix.lower() not in _image_suffixes() and len(path.parts) < 2:
        return None
    if not path.is_absolute() and source:
        path = Path(source).parent / path
    return path


def _folder_files(folder: Path) -> Iterator[Path]:
    suffixes = _image_suffixes()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            yield path


def _wanted(
    con: duckdb.DuckDBPyConnection, folder: Path | None
) -> tuple[list[tuple[str, str, Path]], list[str], list[str]]:
    """(platform, account_id, file) to hash, the folder's files matching no account and the
    data's paths that are missing. A folder file is matched by its name (without the
    extension) to an account id, else to a handle (case and a leading '@' ignored); it
    takes the place of a path the data gives for that account."""
    rows = con.execute(
        "SELECT a.platform, a.account_id, a.handle, a.avatar, s.path "
        "FROM accounts a LEFT JOIN sources s USING (source_id) "
        "ORDER BY a.platform, a.account_id"
    ).fetchall()
    by_id: dict[str, list[tuple[str, str]]] = {}
    by_handle: dict[str, list[tuple[str, str]]] = {}
    for platform, account_id, handle, _, _ in rows:
        by_id.setdefault(account_id, []).append((platform, account_id))
        if handle:
            by_handle.setdefault(handle.lstrip("@").lower(), []).append((platform, account_id))
    wanted: list[tuple[str, str, Path]] = []
    covered: set[tuple[str, str]] = set()
    unmatched: list[str] = []
    for path in _folder_files(folder) if folder else ():
        owners = by_id.get(path.stem) or by_handle.get(path.stem.lstrip("@").lower(), [])
        if not owners:
            unmatched.append(str(path))
        for owner in owners:
            wanted.append((*owner, path))
            covered.add(owner)
    missing: list[str] = []
    for platform, account_id, _, avatar, source in rows:
        local = local_path(avatar, source) if avatar else None
        if local is None or (platform, account_id) in covered:
            continue
        if local.is_file():
            wanted.append((platform, account_id, local))
        else:
            missing.append(str(local))
    return wanted, unmatched, missing


Progress = Callable[[int, int], None]
"""Called with (pictures hashed so far, pictures to hash)."""


def hash_avatars(
    con: duckdb.DuckDBPyConnection, folder: Path | None, *, progress: Progress | None = None
) -> pa.Table:
    """Hash the avatars of the case's accounts, from `folder` (files named after account ids
    or handles) and from local paths in `accounts.avatar`; URLs are never fetched.
    Rows of AVATAR_HASHES_SCHEMA, one per account and file."""
    return _hash(con, folder, progress)[0]


def _hash(
    con: duckdb.DuckDBPyConnection, folder: Path | None, progress: Progress | None
) -> tuple[pa.Table, AvatarRun]:
    wanted, unmatched, missing = _wanted(con, folder)
    total = len({path for _, _, path in wanted})
    seen: dict[Path, AvatarImage | None] = {}  # one picture may be several accounts'
    columns: dict[str, list[object]] = {name: [] for name in AVATAR_HASHES_SCHEMA.names}
    unreadable: list[str] = []
    for platform, account_id, path in wanted:
        if path not in seen:
            seen[path] = hash_image(path)
            if seen[path] is None:
                unreadable.append(str(path))
            if progress:
                progress(len(seen), total)
        found = seen[path]
        if found is None:
            continue
        left, right = found.eyes or ((None, None), (None, None))
        values: list[object] = [platform, account_id, str(path), found.phash]
        values += [found.mirrored_phash, found.key, *left, *right]
        values += [found.eye_distance, found.gan_score]
        for name, value in zip(AVATAR_HASHES_SCHEMA.names, values, strict=True):
            columns[name].append(value)
    # The key of a picture is its group's: copies of one picture (re-encoded, cropped,
    # mirrored) are grouped across all the case's files, in the order of their paths.
    files = sorted((str(p), f) for p, f in seen.items() if f is not None and not f.blank)
    grouped = dict(
        zip((p for p, _ in files), group_keys([f.fingerprint for _, f in files]), strict=True)
    )
    columns["key"] = [grouped.get(str(p)) for p in columns["file"]]
    table = pa.table(columns, schema=AVATAR_HASHES_SCHEMA)
    accounts = len(set(zip(columns["platform"], columns["account_id"], strict=True)))
    run = AvatarRun(table.num_rows, accounts, tuple(unreadable), tuple(unmatched), tuple(missing))
    return table, run


def avatars(
    case_path: Path | str, folder: Path | str | None = None, *, progress: Progress | None = None
) -> AvatarRun:
    """Hash the case's avatars into its table `avatar_hashes` (replaced whole: hash every
    folder in one run), in one transaction; a failure leaves the case as it was."""
    folder = Path(folder) if folder is not None else None
    if folder is not None and not folder.is_dir():
        raise TrollscopeError(f"{folder}: no such folder of avatar images.")
    with Case.open(case_path) as case:
        table, run = _hash(case.con, folder, progress)
        with transaction(case.con, case.path):
            case.con.register("ts_avatar_rows", table)
            case.con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM ts_avatar_rows")
            case.con.unregister("ts_avatar_rows")
    return run


# --- keys ------------------------------------------------------

# The engine's name of the picture keys (`register_hashes`): the case's `avatar_hashes`,
# made on one machine by `trollscope avatars`, one row per picture file.
HASHES = "ts_avatar_hashes"
_HASH_COLUMNS = {"platform": "string", "account_id": "string", "key": "string"}
KEYS_SCHEMA = ibis.schema(_HASH_COLUMNS)  # (platform, account_id, key)

# An avatar string as a key: Twitter's size variants of one upload made one, and
# http/https made one; default avatars and empty strings give none. A Bluesky CDN URL
# (`cdn.bsky.app/img/avatar[_thumbnail]/plain/<did>/<cid>@jpeg`) names the picture by its
# blob's CID, a hash of its bytes: the key is the CID alone, so two accounts (two DIDs)
# that uploaded the very same file share it, at any size. Written with extracts, not
# back-references, whose syntax differs between RE2 (DuckDB) and Java (Spark); spaces
# trimmed by a class both read alike (Java's \s is not RE2's).
_SPACES = r"^[ \t\r\n]+|[ \t\r\n]+$"
_TWITTER = (
    r"^(.*twimg\.com/profile_images/.*)_(normal|bigger|mini|200x200|400x400)"
    r"(\.[A-Za-z0-9]+)?$"
)
_BLUESKY = r"^https://cdn\.bsky\.app/img/avatar(_thumbnail)?/plain/[^/]+/([A-Za-z0-9]+)(@[a-z]+)?$"


def _data_keys(accounts: ir.Table) -> ir.Table:
    a = accounts.mutate(text=accounts.avatar.re_replace(_SPACES, ""))
    a = a.filter(a.avatar.notnull() & (a.text != "") & ~a.avatar.re_search(DEFAULT_AVATARS))
    text = a.text.re_replace("^http://", "https://")
    text = ibis.ifelse(
        text.re_search(_TWITTER), text.re_extract(_TWITTER, 1) + text.re_extract(_TWITTER, 3), text
    )
    text = ibis.ifelse(text.re_search(_BLUESKY), "bsky-blob:" + text.re_extract(_BLUESKY, 2), text)
    return a.select("platform", "account_id", key="data:" + text)


def _image_keys(accounts: ir.Table, hashes: ir.Table) -> ir.Table:
    # Picture keys, but not those of pictures that accounts with a default avatar wear: a
    # folder scraped from a platform holds its default silhouette many times over.
    h = hashes.filter(hashes.key.notnull())
    blank = accounts.filter(accounts.avatar.re_search(DEFAULT_AVATARS))
    j = h.join(blank, [h.platform == blank.platform, h.account_id == blank.account_id])
    defaults = j.select(key=h.key)
    kept = h.anti_join(defaults, h.key == defaults.key)
    return kept.select("platform", "account_id", "key")


def avatar_keys(accounts: ir.Table, hashes: ir.Table | None) -> ir.Table:
    """The avatar keys (KEYS_SCHEMA), one row per account and key, of `accounts` (platform,
    account_id, avatar) and, if given, the picture keys `hashes` (platform, account_id,
    key): an expression for any engine."""
    keys = _data_keys(accounts)
    if hashes is not None:
        keys = ibis.union(keys, _image_keys(accounts, hashes), distinct=True)
    return keys.distinct()


def has_hashes(con: duckdb.DuckDBPyConnection) -> bool:
    # fetchall, not fetchone: a result left half-read keeps the connection busy.
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = ? AND table_schema = current_schema()",
        [TABLE],
    ).fetchall()
    return bool(rows[0][0])


def register_hashes(con: duckdb.DuckDBPyConnection, engine: Backend) -> ir.Table | None:
    """The case's picture keys registered on `engine` as HASHES (None when the case has no
    `avatar_hashes`): the engine drops them with `engine.drop(HASHES)`."""
    if not has_hashes(con):
        return None
    engine.from_case(HASHES, f"SELECT platform, account_id, key FROM {TABLE}")
    return ibis.table(KEYS_SCHEMA, name=HASHES)


def keys_sql(con: duckdb.DuckDBPyConnection) -> str:
    """DuckDB SQL for the avatar keys (KEYS_SCHEMA) over the case's own tables: the same
    expression as on the engines (`avatar_keys`)."""
    columns = {"platform": "string", "account_id": "string", "avatar": "string"}
    accounts = ibis.table(columns, name="accounts")  # the case's table: these columns read
    hashes = ibis.table(KEYS_SCHEMA, name=TABLE) if has_hashes(con) else None
    return str(ibis.to_sql(avatar_keys(accounts, hashes), dialect="duckdb"))
