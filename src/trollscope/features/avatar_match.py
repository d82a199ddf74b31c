"""Pictures that are one: a copy found through a crop, a mirror or a re-encoding, and two
faces framed alike kept apart (issue 20).

The picture-matching half of the avatar signal (`avatar_image.py` reads a picture and
finds its eyes; `avatars.py` hashes a case's pictures and stores each group's key).

**Candidates: pHashes of centre crops.** A 64-bit pHash (media.py) survives resizing and
recompression within a few bits, but a crop of 2.5 % a side moves it 4-12 bits, and
cropping away a watermark or a border is what people do to a stolen photo. So each
picture is hashed whole, after cutting `CROPS` of its side off every edge, and mirrored:
a copy cropped by c has, whole, about the hash of its original cropped by c, and a
mirrored copy has the hash of the original's mirror image. Two pictures are candidates
when any of their hashes lie within `CANDIDATE_BITS` bits of each other; a pigeonhole
index (equal blocks of bits) finds those pairs without comparing every pair.

**Verification: the colours where they lie.** Hashes of grey low frequencies are the
layout of a picture, and some pictures share their layout without being one: faces made
by StyleGAN have eyes, nose and mouth at the same places (avatar_image.py), and two of
them can be 4 bits apart. So every candidate pair is checked on colour thumbnails of the
two aligned crops (`THUMB_SIDE` px square, the mirror image flipped): the normalised
correlation of the thumbnails, each channel's mean removed (brightness, contrast and
JPEG leave it near 1; hair, skin, clothes and background of another face pull it down)
must be at least `SAME_PICTURE`. The hashes propose, the colours confirm: two
independent looks at the picture agree, or the pair is two pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import imagehash
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from PIL import Image, ImageOps

from trollscope.features.media import PREFIX

# Share of the side cut off each edge before hashing (0 = the whole picture, whose hash
# is the co-image trace's). A copy cropped between the steps lands within half a step
# (1.25 % a side) of one; past 6 % a side the crop is another picture to the hashes.
CROPS = (0.0, 0.025, 0.05)
MIRROR = len(CROPS)  # the slot of the mirror image's hash, after the crops'
# Candidate pairs: hashes within this many of 64 bits. pHash sets exactly 32 bits of 64
# (the 64 coefficients against their median), so distances are even: 6 allows 3 bits
# moved. On benchmarks/avatars.py's pictures, 4 (the old one-step threshold) missed
# 5-8 % of copies resized, cropped and recompressed at once; 6 misses 2-4 %.
CANDIDATE_BITS = 6
# Pigeonhole: two hashes within CANDIDATE_BITS bits agree exactly on at least one of
# CANDIDATE_BITS + 1 disjoint blocks of bits; only entries sharing a block are compared.
_BLOCKS = [(0, 10), *((start, 9) for start in range(10, 64, 9))]
# The thumbnails compared: 16 px square, colour. Measured on benchmarks/avatars.py's
# pictures: nearly all copies correlate at 0.99 or more with their original, 1 % of those
# brightened 30 % (highlights clip) or cropped, shrunk to 96 px and recompressed at once
# fall to 0.93-0.96; drawn faces of one layout reach 0.93 among 1,000 pictures (a few
# pairs of look-alikes pass 0.96 among 3,000) and LFW's real faces 0.90. 0.96 leaves a
# margin above most faces at no loss of copies (0.97 loses some, and keeps those pairs).
# 32 px separates less (small copies lose the detail), 8 px less too (faces blur alike).
THUMB_SIDE = 16
SAME_PICTURE = 0.96

Thumbs = npt.NDArray[np.uint8]  # (len(CROPS), THUMB_SIDE, THUMB_SIDE, 3) per picture
Rows = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Fingerprint:
    """What matching needs of one picture: the pHashes of its centre crops (`CROPS`
    order) and of its mirror image, as 64-bit integers, and a colour thumbnail of each
    crop."""

    hashes: tuple[int, ...]  # len(CROPS) + 1
    thumbs: Thumbs

    @property
    def key(self) -> str:
        """The picture's own key: its smaller hash of the whole, plain or mirrored, so
        that a picture and its mirror image give one key."""
        return f"{PREFIX}{min(self.hashes[0], self.hashes[MIRROR]):016x}"


def _phash(image: Image.Image) -> int:
    return int(str(imagehash.phash(image)), 16)


def fingerprint(image: Image.Image) -> Fingerprint:
    """The hashes and thumbnails of a picture (any mode Pillow reads; taken upright)."""
    grey = image.convert("L")
    try:
        colour = image.convert("RGB")
    except ValueError:  # a mode Pillow cannot turn into RGB (LAB): its grey levels
        colour = grey.convert("RGB")
    width, height = image.size
    hashes: list[int] = []
    thumbs: list[Thumbs] = []
    for share in CROPS:
        box = (width * share, height * share, width * (1 - share), height * (1 - share))
        # Resized with the box, not cropped: sub-pixel exact on small pictures. At share 0
        # imagehash's own resize of a 32 x 32 picture is a copy: the hash is media.py's.
        small = grey.resize((32, 32), Image.Resampling.LANCZOS, box=box) if share else grey
        hashes.append(_phash(small))
        side = (THUMB_SIDE, THUMB_SIDE)
        thumbs.append(np.asarray(colour.resize(side, Image.Resampling.BOX, box=box)))
    hashes.append(_phash(ImageOps.mirror(grey)))
    return Fingerprint(tuple(hashes), np.stack(thumbs))


# --- one picture among many ---------------------------------------------------------------


def _candidates(pictures: Sequence[Fingerprint], max_bits: int) -> npt.NDArray[np.int64]:
    """(p, slot of p, q, slot of q) with p < q whose hashes lie within max_bits bits."""
    slots = len(CROPS) + 1
    hashes = np.array([h for p in pictures for h in p.hashes], dtype=np.uint64)
    blocks = _BLOCKS[: max_bits + 1]
    entries = pa.table(
        {
            "pid": pa.array(np.repeat(np.arange(len(pictures)), slots), pa.int64()),
            "slot": pa.array(np.tile(np.arange(slots), len(pictures)), pa.int64()),
            "h": pa.array(hashes, pa.uint64()),
            **{
                f"b{n}": pa.array((hashes >> np.uint64(start)) & np.uint64((1 << width) - 1))
                for n, (start, width) in enumerate(blocks)
            },
        }
    )
    # Mirror against mirror is plain against plain again: left out.
    same_block = " UNION ".join(
        "SELECT a.pid AS p, a.slot AS i, b.pid AS q, b.slot AS j FROM e a JOIN e b "
        f"ON a.b{n} = b.b{n} AND a.pid < b.pid WHERE bit_count(xor(a.h, b.h)) <= {max_bits} "
        f"AND NOT (a.slot = {MIRROR} AND b.slot = {MIRROR})"
        for n in range(len(blocks))
    )
    con = duckdb.connect()
    try:
        con.register("e", entries)
        rows = con.sql(same_block).fetchnumpy()
    finally:
        con.close()
    return np.stack([np.asarray(column, dtype=np.int64) for column in rows.values()], axis=1)


def _aligned(thumbs: Thumbs, ids: npt.NDArray[np.int64], slots: npt.NDArray[np.int64]) -> Rows:
    """The thumbnails of (picture, slot) as rows, from all pictures' thumbnails stacked:
    the crop's, or for the mirror slot the whole picture's flipped; each channel's mean
    removed, then scaled to unit length."""
    flip = slots == MIRROR
    chosen = thumbs[ids, np.where(flip, 0, slots)].astype(np.float64)
    chosen[flip] = chosen[flip][:, :, ::-1]  # (n, rows, columns, channels)
    chosen -= chosen.mean(axis=(1, 2), keepdims=True)
    flat = chosen.reshape(len(chosen), -1)
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    # A flat thumbnail (one colour) correlates with nothing: 0, not a division by zero.
    unit: Rows = np.divide(flat, norms, out=np.zeros_like(flat), where=norms > 0)
    return unit


def correlation(a: Fingerprint, slot_a: int, b: Fingerprint, slot_b: int) -> float:
    """The correlation of a's and b's thumbnails aligned by their slots (a crop of
    `CROPS`, or `MIRROR`): what `group_keys` compares with `SAME_PICTURE`."""
    rows = _aligned(np.stack([a.thumbs, b.thumbs]), np.array([0, 1]), np.array([slot_a, slot_b]))
    return float(rows[0] @ rows[1])


_CHUNK = 20_000  # candidate rows verified at once: two rows of 768 float32 each, 120 MB


def _verified(
    pictures: Sequence[Fingerprint], candidates: npt.NDArray[np.int64], threshold: float
) -> list[tuple[int, int]]:
    """The candidate pairs (p, q) whose thumbnails, in some alignment, correlate enough."""
    thumbs = np.stack([p.thumbs for p in pictures])
    slots = MIRROR + 1
    linked: set[tuple[int, int]] = set()
    for start in range(0, len(candidates), _CHUNK):
        part = candidates[start : start + _CHUNK]
        # Each (picture, slot) normalised once, however many pairs it is in.
        codes = np.concatenate([part[:, 0] * slots + part[:, 1], part[:, 2] * slots + part[:, 3]])
        unique, index = np.unique(codes, return_inverse=True)
        rows = _aligned(thumbs, unique // slots, unique % slots).astype(np.float32)
        left, right = rows[index[: len(part)]], rows[index[len(part) :]]
        agree = np.einsum("ij,ij->i", left, right) >= threshold
        linked.update((int(p), int(q)) for p, q in part[agree][:, [0, 2]])
    return sorted(linked)


def group_keys(
    pictures: Sequence[Fingerprint],
    max_bits: int = CANDIDATE_BITS,
    threshold: float = SAME_PICTURE,
) -> list[str]:
    """The reuse key of each picture. Two pictures are linked when some hash of one lies
    within `max_bits` bits of some hash of the other and their thumbnails, so aligned,
    correlate at `threshold` or more; each linked group (transitively) takes the smallest
    of its members' own keys (`Fingerprint.key`). Groups are never merged by their keys:
    when two different pictures have one key, the group with the later first member (in
    the order given) gets `-2` after it, the next `-3`, and so on."""
    if len(_BLOCKS) < max_bits + 1:
        raise ValueError(f"max_bits must be at most {len(_BLOCKS) - 1}, not {max_bits}")
    own = [p.key for p in pictures]
    parent = list(range(len(pictures)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    links = _verified(pictures, _candidates(pictures, max_bits), threshold) if pictures else []
    for p, q in links:
        a, b = root(p), root(q)
        if a != b:  # the root with the smaller key (then the earlier) stays the root
            a, b = (a, b) if (own[a], a) <= (own[b], b) else (b, a)
            parent[b] = a
    roots = [root(i) for i in range(len(pictures))]
    named: dict[int, str] = {}
    taken: dict[str, int] = {}
    for r in roots:  # in input order, so a group's first member fixes its place
        if r not in named:
            taken[own[r]] = taken.get(own[r], 0) + 1
            named[r] = own[r] if taken[own[r]] == 1 else f"{own[r]}-{taken[own[r]]}"
    return [named[r] for r in roots]
