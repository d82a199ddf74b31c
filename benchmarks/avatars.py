"""Avatar reuse matching: copies found, distinct pictures kept apart (issue 20).

    .venv/bin/python benchmarks/avatars.py [--pictures 1000] [--copies 200]

Makes N distinct pictures, all generated here or shipped in an installed package (nothing
is downloaded): drawn scenes (gradients, shapes, text, noise textures), synthetic faces
all framed the same way (eyes at StyleGAN's positions, like GAN faces: the hard case for
a perceptual hash), scikit-image's sample photos (public domain or CC0) and the 100 real
faces of its LFW subset (25 x 25 crops, aligned; used here, not redistributed). Then, for
`--copies` of them (faces and scenes alike), the copies a farm makes of one picture:
resized, JPEG quality 40, mirrored, brighter and darker, cropped 2.5 %, 5 % and 7.5 % per
side, and combinations. Every picture goes through `fingerprint` (what `trollscope
avatars` computes per file, face detection aside) and is grouped by `group_keys`: each
way of copying alone (the distinct pictures and those copies), then everything at once.
"Before" is the matching this replaced: the whole picture's pHash or its mirror's within
4 bits, nothing verified.

Reports, in markdown for docs/benchmarks.md: per way of copying, the share of copies given
their original's key; false matches: distinct pictures given one key (among the N alone,
and with the copies in); and the time per picture and for the grouping.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from trollscope.features.avatar_match import MIRROR, Fingerprint, fingerprint, group_keys

SIDE = 256
# StyleGAN's eye centres, as fractions of the side (features/avatar_image.py).
EYES = ((0.3808, 0.4771), (0.6152, 0.4771))

Rng = np.random.Generator
SKIN = ((250, 220, 195), (90, 56, 38))  # from light to dark, interpolated
HAIR = [(20, 15, 10), (70, 45, 25), (120, 80, 40), (200, 170, 110), (150, 150, 150), (150, 60, 30)]


def _colour(rng: Rng, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(low, high, 3))
    return r, g, b


def _texture(rng: Rng, side: int = SIDE, octaves: int = 4) -> np.ndarray:
    """Smooth random noise (a sum of upsampled noise grids), 0-1, side x side x 3."""
    out = np.zeros((side, side, 3))
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = rng.random((cells, cells, 3))
        layer = Image.fromarray((grid * 255).astype(np.uint8)).resize(
            (side, side), Image.Resampling.BICUBIC
        )
        out += np.asarray(layer, dtype=np.float64) / 255 / 2**octave
    out -= out.min()
    return out / max(out.max(), 1e-9)


def _gradient(rng: Rng, side: int = SIDE) -> np.ndarray:
    angle = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:side, 0:side] / side
    t = (np.cos(angle) * x + np.sin(angle) * y + 1.5) / 3
    a, b = (np.array(_colour(rng), dtype=np.float64) for _ in range(2))
    return (a[None, None] * (1 - t[..., None]) + b[None, None] * t[..., None]) / 255


def background(rng: Rng, side: int = SIDE) -> Image.Image:
    """A flat colour, a gradient, a noise texture or a blend: what lies behind."""
    kind = rng.integers(0, 4)
    if kind == 0:
        return Image.new("RGB", (side, side), _colour(rng))
    layer = _gradient(rng, side) if kind == 1 else _texture(rng, side)
    if kind == 3:
        layer = 0.5 * _gradient(rng, side) + 0.5 * _texture(rng, side) * _gradient(rng, side)
    return Image.fromarray((np.clip(layer, 0, 1) * 255).astype(np.uint8))


def scene(rng: Rng) -> Image.Image:
    """A natural-ish picture: a background, random shapes, perhaps text, a little blur."""
    image = background(rng)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(2, 9)):
        x0, y0 = (int(v) for v in rng.integers(-40, SIDE, 2))
        w, h = (int(v) for v in rng.integers(20, 160, 2))
        box = (x0, y0, x0 + w, y0 + h)
        shape = rng.integers(0, 4)
        if shape == 0:
            draw.ellipse(box, fill=_colour(rng))
        elif shape == 1:
            draw.rectangle(box, fill=_colour(rng))
        elif shape == 2:
            points = [(int(a), int(b)) for a, b in rng.integers(-20, SIDE + 20, (3, 2))]
            draw.polygon(points, fill=_colour(rng))
        else:
            draw.line(box, fill=_colour(rng), width=int(rng.integers(3, 25)))
    if rng.random() < 0.4:
        words = "".join(chr(int(c)) for c in rng.integers(65, 91, int(rng.integers(3, 9))))
        font = ImageFont.load_default(size=int(rng.integers(24, 60)))
        draw.text(tuple(int(v) for v in rng.integers(0, SIDE // 2, 2)), words, _colour(rng), font)
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.5))))


def face(rng: Rng) -> Image.Image:
    """A drawn face framed like a StyleGAN face: the eyes at the same two points in every
    picture, the oval, nose and mouth roughly below, varied in colours, shapes, hair,
    clothes and background. Different faces share their layout, as GAN faces do."""
    image = background(rng)
    draw = ImageDraw.Draw(image)
    s = SIDE
    (lx, ly), (rx, ry) = ((x * s, y * s) for x, y in EYES)
    cx = (lx + rx) / 2
    half_w = (rx - lx) * rng.uniform(0.85, 1.05)
    top, chin = ly - s * rng.uniform(0.2, 0.27), ly + s * rng.uniform(0.27, 0.34)
    # Natural skin and hair colours mostly: faces alike in colour are the harder case.
    skin = tuple(int(c) for c in np.array(SKIN[0]) + rng.random() * np.subtract(SKIN[1], SKIN[0]))
    hair = HAIR[int(rng.integers(0, len(HAIR)))] if rng.random() < 0.8 else _colour(rng)
    clothes = _colour(rng)
    # Shoulders and neck, then hair behind the head, then the face.
    draw.ellipse((cx - s * 0.45, chin + s * 0.04, cx + s * 0.45, s * 1.4), fill=clothes)
    draw.rectangle((cx - half_w * 0.4, ly, cx + half_w * 0.4, chin + s * 0.08), fill=skin)
    length = rng.uniform(0.0, 0.45)
    hair_w = half_w * rng.uniform(1.05, 1.35)
    draw.ellipse((cx - hair_w, top - s * 0.05, cx + hair_w, chin + s * length), fill=hair)
    draw.ellipse((cx - half_w, top, cx + half_w, chin), fill=skin)
    fringe = rng.uniform(0.02, 0.12) * s
    draw.chord((cx - hair_w, top - s * 0.06, cx + hair_w, top + 2 * fringe), 180, 360, hair)
    iris = _colour(rng, 20, 160)
    eye_w, eye_h = s * rng.uniform(0.035, 0.05), s * rng.uniform(0.015, 0.025)
    brow = s * rng.uniform(0.04, 0.07)
    for x, y in ((lx, ly), (rx, ry)):
        draw.ellipse((x - eye_w, y - eye_h, x + eye_w, y + eye_h), fill=(240, 240, 235))
        draw.ellipse((x - eye_h, y - eye_h, x + eye_h, y + eye_h), fill=iris)
        draw.line((x - eye_w * 1.2, y - brow, x + eye_w * 1.2, y - brow), fill=hair, width=4)
    nose = ly + s * rng.uniform(0.1, 0.14)
    shade = tuple(max(0, c - 40) for c in skin)
    draw.line((cx, ly + s * 0.03, cx - s * 0.015, nose), fill=shade, width=3)
    mouth_y, mouth_w = ly + s * rng.uniform(0.18, 0.22), s * rng.uniform(0.05, 0.09)
    lips = _colour(rng, 100, 220)
    draw.chord((cx - mouth_w, mouth_y - s * 0.03, cx + mouth_w, mouth_y + s * 0.03), 0, 180, lips)
    if rng.random() < 0.3:  # glasses
        for x, y in ((lx, ly), (rx, ry)):
            draw.ellipse(
                (x - eye_w * 1.6, y - eye_w, x + eye_w * 1.6, y + eye_w), outline=0, width=3
            )
    noise = rng.normal(0, 4, (s, s, 3))
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float64) + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def samples() -> Iterator[Image.Image]:
    """scikit-image's bundled sample pictures (colour and grey), then its LFW faces."""
    from skimage import data

    # Those whose docstrings say public domain, CC0 or "no copyright restrictions".
    names = [
        "astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel",
        "horse", "hubble_deep_field", "immunohistochemistry", "microaneurysms", "retina",
        "rocket", "text", "cell",
    ]  # fmt: skip
    for name in names:
        array = np.asarray(getattr(data, name)())
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        image = Image.fromarray(array)
        yield image.convert("RGB" if image.mode in ("RGBA", "P") else image.mode)
    for array in data.lfw_subset()[:100]:
        small = Image.fromarray((array * 255).round().astype(np.uint8))
        yield small.resize((100, 100), Image.Resampling.BICUBIC)


@dataclass(frozen=True, slots=True)
class Picture:
    label: str  # "scene 12", "face 3", "sample 4"
    image: Image.Image


def pictures(n: int, seed: int = 20) -> list[Picture]:
    """N distinct pictures: all the packaged samples, then drawn faces and scenes alternately."""
    rng = np.random.default_rng(seed)
    found = [Picture(f"sample {i}", image) for i, image in enumerate(samples())]
    i = 0
    while len(found) < n:
        kind = "face" if i % 2 == 0 else "scene"
        drawn = face(rng) if kind == "face" else scene(rng)
        found.append(Picture(f"{kind} {i // 2}", drawn))
        i += 1
    return found[:n]


# --- what a farm does to one picture --------------------------------------------------------


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).copy()


def _resize(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _crop(image: Image.Image, share: float) -> Image.Image:
    dx, dy = round(image.width * share), round(image.height * share)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resized to 200 px": lambda im: _resize(im, 200),
    "resized to 96 px": lambda im: _resize(im, 96),
    "resized to 48 px": lambda im: _resize(im, 48),
    "JPEG quality 40": lambda im: _jpeg(im, 40),
    "mirrored": ImageOps.mirror,
    "brightness +15 %": lambda im: ImageEnhance.Brightness(im).enhance(1.15),
    "brightness +30 %": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
    "brightness -30 %": lambda im: ImageEnhance.Brightness(im).enhance(0.7),
    "cropped 2.5 % per side": lambda im: _crop(im, 0.025),
    "cropped 5 % per side": lambda im: _crop(im, 0.05),
    "cropped 7.5 % per side (beyond the crops hashed)": lambda im: _crop(im, 0.075),
    "cropped 2.5 %, 96 px, JPEG 40": lambda im: _jpeg(_resize(_crop(im, 0.025), 96), 40),
    "mirrored, cropped 2.5 %, JPEG 40": lambda im: _jpeg(ImageOps.mirror(_crop(im, 0.025)), 40),
}


# --- the run ------------------------------------------------------------------------------


def _bit_counts(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (np.bitwise_count needs numpy 2)."""
    return np.unpackbits(values.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def _before(prints: list[Fingerprint]) -> list[int]:
    """Groups as the matching before issue 20 made them: the whole picture's pHash or its
    mirror's within 4 bits, nothing verified (connected components, as ids)."""
    plain = np.array([p.hashes[0] for p in prints], dtype=np.uint64)
    mirrored = np.array([p.hashes[MIRROR] for p in prints], dtype=np.uint64)
    parent = list(range(len(prints)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(prints)):
        near = np.zeros(len(prints), dtype=bool)
        for mine, theirs in ((plain[i], plain), (plain[i], mirrored), (mirrored[i], plain)):
            near |= _bit_counts(theirs ^ mine) <= 4
        for j in np.flatnonzero(near[i + 1 :]) + i + 1:
            parent[root(int(j))] = root(i)
    return [root(i) for i in range(len(prints))]


@dataclass(frozen=True, slots=True)
class Scores:
    found: dict[str, float]  # transform: share of copies in their original's group
    false_distinct: int  # distinct pictures grouped with another distinct picture
    false_any: int  # groups holding copies of two or more distinct pictures


def _score(groups: list[object], origin: list[int], transform: list[str | None]) -> Scores:
    """`origin[i]`: the distinct picture item i is (a copy of); `transform[i]`: None for
    the distinct picture itself."""
    group_of_original = {origin[i]: groups[i] for i in range(len(groups)) if transform[i] is None}
    found: dict[str, list[bool]] = {}
    for i, name in enumerate(transform):
        if name is not None:
            found.setdefault(name, []).append(groups[i] == group_of_original[origin[i]])
    originals: dict[object, set[int]] = {}
    members: dict[object, set[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, set()).add(origin[i])
        if transform[i] is None:
            originals.setdefault(group, set()).add(origin[i])
    false_distinct = sum(len(o) for o in originals.values() if len(o) > 1)
    false_any = sum(1 for m in members.values() if len(m) > 1)
    return Scores({k: float(np.mean(v)) for k, v in found.items()}, false_distinct, false_any)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=1000, help="distinct pictures")
    parser.add_argument("--copies", type=int, default=200, help="pictures copied")
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    distinct = pictures(args.pictures, args.seed)
    images: list[Image.Image] = [p.image for p in distinct]
    origin = list(range(len(distinct)))
    transform: list[str | None] = [None] * len(distinct)
    step = max(1, len(distinct) // args.copies)
    for i in range(0, len(distinct), step)[: args.copies]:
        for name, make in TRANSFORMS.items():
            images.append(make(distinct[i].image))
            origin.append(i)
            transform.append(name)
    start = time.perf_counter()
    prints = [fingerprint(image) for image in images]
    hashing = (time.perf_counter() - start) / len(images)
    start = time.perf_counter()
    keys = group_keys(prints)
    grouping = time.perf_counter() - start
    together = (
        _score(list(_before(prints)), origin, transform),
        _score(list(keys), origin, transform),
    )
    # Each transform on its own (the distinct pictures and that transform's copies): all
    # copies at once would also link through each other (a 7.5 % crop to a 5 % one).
    alone: dict[str, tuple[float, float]] = {}
    for name in TRANSFORMS:
        chosen = [i for i, t in enumerate(transform) if t in (None, name)]
        some = [prints[i] for i in chosen]
        args_ = ([origin[i] for i in chosen], [transform[i] for i in chosen])
        alone[name] = (
            _score(list(_before(some)), *args_).found[name],
            _score(list(group_keys(some)), *args_).found[name],
        )
    copied = len(range(0, len(distinct), step)[: args.copies])
    faces = sum(p.label.startswith("face") for p in distinct)
    samples_ = sum(p.label.startswith("sample") for p in distinct)
    print(f"### Avatar matching: {len(distinct):,} distinct pictures, {len(images):,} in all\n")
    print(f"`python benchmarks/avatars.py --pictures {args.pictures} --copies {args.copies}`\n")
    print(
        f"{len(distinct):,} distinct pictures ({faces} drawn aligned faces, {samples_} "
        "scikit-image samples and LFW faces, the rest drawn scenes); "
        f"{copied} of them copied each way. Each way alone: the distinct pictures and those "
        "copies grouped together.\n"
    )
    print("| copies given their original's key | before (pHash, 4 bits) | now |")
    print("|---|---:|---:|")
    for name in TRANSFORMS:
        print(f"| {name} | {alone[name][0]:.1%} | {alone[name][1]:.1%} |")
    before, after = together
    print(
        f"\nAll {len(images):,} pictures grouped at once: false matches (distinct pictures "
        f"given another's key) {before.false_distinct} before, **{after.false_distinct}** now; "
        f"groups mixing copies of distinct pictures {before.false_any} before, "
        f"**{after.false_any}** now; copies found, all ways together: "
        f"{np.mean(list(before.found.values())):.1%} before, "
        f"{np.mean(list(after.found.values())):.1%} now."
    )
    print(
        f"\nFingerprint: {hashing * 1000:.1f} ms a picture (no face detection); grouping all "
        f"{len(images):,}: {grouping:.2f} s. {os.cpu_count()} logical CPUs, "
        f"{platform.machine()}, Python {platform.python_version()}, load average "
        f"{os.getloadavg()[0]:.1f} at the end."
    )


if __name__ == "__main__":
    main()
