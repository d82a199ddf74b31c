"""Profile pictures made from two real, public-domain portraits, framed the StyleGAN way
or any other way, with the true eye centres of each (for tests/signals/test_faces.py and
benchmarks/gan_faces.py).

What this covers and what it does not: the two portraits are real photos (scikit-image's
astronaut, Eileen Collins, NASA; matplotlib's Grace Hopper, U.S. Navy; both public
domain). A "GAN-framed" picture is one of them cut and scaled the FFHQ way, so that its
eyes land where StyleGAN puts eyes, with the generator's own small spread: it is what a
StyleGAN face looks like *geometrically* (the only thing the GAN-framing test looks at),
not a generated face. An "otherwise framed" picture is one of them cut, scaled and turned
at random, as profile photos are. Both then go through what uploads do to pictures: size,
JPEG, brightness, contrast, blur, grey. Two faces (and their mirror images) are few: the
figures say how well eyes are found and placed across framings and damage, not across
the variety of faces, ages, skins, glasses and lighting of real data.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter, ImageOps
from skimage import data

from trollscope.features.avatar_image import GAN_LEFT_EYE, GAN_RIGHT_EYE, gan_eye_distance

Point = tuple[float, float]

FACES = Path(__file__).parent.parent / "data" / "faces"


@dataclass(frozen=True)
class Portrait:
    name: str
    image: Image.Image
    # Eye centres in pixels, measured by hand, the eye on the picture's left first.
    eyes: tuple[Point, Point]

    def mirrored(self) -> Portrait:
        width = self.image.width
        (lx, ly), (rx, ry) = self.eyes
        return Portrait(
            f"{self.name}-mirrored",
            ImageOps.mirror(self.image),
            ((width - 1 - rx, ry), (width - 1 - lx, ly)),
        )


def portraits() -> list[Portrait]:
    """The two portraits and their mirror images."""
    astronaut = Portrait(
        "astronaut", Image.fromarray(data.astronaut()), ((203.0, 101.0), (246.0, 104.0))
    )
    with Image.open(FACES / "grace_hopper.jpg") as opened:
        hopper = Portrait("hopper", opened.convert("RGB"), ((221.0, 189.0), (305.0, 186.0)))
    return [astronaut, astronaut.mirrored(), hopper, hopper.mirrored()]


@dataclass(frozen=True)
class Variant:
    portrait: str
    gan_framed: bool
    image: Image.Image
    # True eye centres as fractions of width and height, the picture's left eye first.
    eyes: tuple[Point, Point]

    @property
    def true_distance(self) -> float:
        return gan_eye_distance(*self.eyes)


def frame(
    portrait: Portrait, size: tuple[int, int], eyes: tuple[Point, Point], fill: int
) -> Image.Image:
    """`portrait` cut, scaled and turned (a similarity transform) so that its eyes land at
    `eyes` (fractions of `size`)."""
    (lx, ly), (rx, ry) = portrait.eyes
    width, height = size
    (gx, gy), (hx, hy) = ((x * width, y * height) for x, y in eyes)
    # PIL's AFFINE takes the inverse map: output pixel -> input pixel.
    scale = math.hypot(rx - lx, ry - ly) / math.hypot(hx - gx, hy - gy)
    turn = math.atan2(ry - ly, rx - lx) - math.atan2(hy - gy, hx - gx)
    a, d = scale * math.cos(turn), scale * math.sin(turn)
    matrix = (a, -d, lx - (a * gx - d * gy), d, a, ly - (d * gx + a * gy))
    return portrait.image.transform(
        size, Image.Transform.AFFINE, matrix, Image.Resampling.BICUBIC, fillcolor=(fill,) * 3
    )


def damage(image: Image.Image, rng: random.Random) -> Image.Image:
    """What uploading does: brightness, contrast, blur, grey, JPEG."""
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.3))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.7, 1.3))
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.15:
        image = image.convert("L").convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=rng.randint(40, 95))
    buffer.seek(0)
    with Image.open(buffer) as reread:
        return reread.convert("RGB")


def gan_framed(portrait: Portrait, rng: random.Random, spread: float = 0.003) -> Variant:
    """The FFHQ framing; each eye coordinate moved by N(0, spread) of the side, the
    generator's own variation."""
    side = rng.choice((128, 256, 300, 512, 1024))
    eyes = (
        (rng.gauss(GAN_LEFT_EYE[0], spread), rng.gauss(GAN_LEFT_EYE[1], spread)),
        (rng.gauss(GAN_RIGHT_EYE[0], spread), rng.gauss(GAN_RIGHT_EYE[1], spread)),
    )
    image = frame(portrait, (side, side), eyes, rng.randint(0, 255))
    return Variant(portrait.name, True, damage(image, rng), eyes)


# Otherwise-framed pictures whose eyes fall this close to the StyleGAN positions are
# redrawn: such a real photo is framed the FFHQ way, which the test cannot tell from a GAN
# face by design (docs/signals.md, "What it does not prove").
FFHQ_LIKE = 0.04


def otherwise_framed(portrait: Portrait, rng: random.Random) -> Variant:
    """A profile-photo framing: eyes 12-40 % of the width apart, anywhere in the upper
    two thirds, the head turned up to 20 degrees; square or 4:5."""
    while True:
        width = rng.choice((128, 200, 400, 512, 800))
        height = width if rng.random() < 0.7 else width * 5 // 4
        apart = rng.uniform(0.12, 0.40)
        turn = math.radians(rng.uniform(-20, 20))
        cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.62)
        dx, dy = apart / 2 * math.cos(turn), apart / 2 * math.sin(turn) * width / height
        eyes = ((cx - dx, cy - dy), (cx + dx, cy + dy))
        if gan_eye_distance(*eyes) >= FFHQ_LIKE:
            break
    image = frame(portrait, (width, height), eyes, rng.randint(0, 255))
    return Variant(portrait.name, False, damage(image, rng), eyes)


def variants(count: int, seed: int) -> list[Variant]:
    """`count` GAN-framed and `count` otherwise-framed pictures, the portraits in turn."""
    rng = random.Random(seed)
    sources = portraits()
    made: list[Variant] = []
    for i in range(count):
        made.append(gan_framed(sources[i % len(sources)], rng))
        made.append(otherwise_framed(sources[i % len(sources)], rng))
    return made
