"""The GAN-framing test's face finder, before (OpenCV's Haar cascades) and now (BlazeFace),
on pictures framed the StyleGAN way and otherwise (tests/signals/face_variants.py says
what they are and what they do not cover).

    .venv/bin/python -m benchmarks.gan_faces [--count 400] [--seed 1]

Prints a markdown table, per finder: how often two eyes were found, how far they were
from the true eye centres (the mean of the two eyes' distances, as a fraction of the
picture's larger side: median and 95th percentile), the ROC AUC of `gan_score` between
GAN-framed and otherwise-framed pictures (ties count half), the share of each flagged at
the published threshold (GANEyeDistance <= 0.02), the share of GAN-framed pictures flagged
at a threshold that flags no otherwise-framed one, and milliseconds a picture.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from tests.signals.face_variants import Variant, variants

from trollscope.features.avatar_image import GAN_EYE_THRESHOLD, detect_eyes, gan_eye_distance

Point = tuple[float, float]
Finder = Callable[[Image.Image], tuple[Point, Point] | None]


def haar_eyes(image: Image.Image) -> tuple[Point, Point] | None:
    """The finder trollscope used before BlazeFace (features/avatar_image.py up to
    ef0a4c9): the largest Haar face with one eye found in each upper half."""
    import cv2

    folder = Path(cv2.__file__).parent / "data"
    face_cascade = cv2.CascadeClassifier(str(folder / "haarcascade_frontalface_default.xml"))
    eye_cascade = cv2.CascadeClassifier(str(folder / "haarcascade_eye.xml"))
    grey = np.asarray(image.convert("L"))
    height, width = grey.shape
    scale = 320 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    work = cv2.equalizeHist(cv2.resize(grey, size, interpolation=shrink))
    side = min(work.shape) // 8
    faces = face_cascade.detectMultiScale(work, 1.15, 5, minSize=(side, side))
    for x, y, w, h in sorted((tuple(int(v) for v in f) for f in faces), key=lambda f: -f[2] * f[3]):
        upper = work[y : y + h * 3 // 5, x : x + w]
        least = max(1, w // 10)
        halves: list[list[tuple[int, int, int, int]]] = [[], []]
        for ex, ey, ew, eh in eye_cascade.detectMultiScale(upper, 1.1, 4, minSize=(least, least)):
            halves[int(ex + ew / 2 >= w / 2)].append((int(ex), int(ey), int(ew), int(eh)))
        if halves[0] and halves[1]:
            left, right = (max(half, key=lambda e: e[2] * e[3]) for half in halves)
            return (
                ((x + left[0] + left[2] / 2) / size[0], (y + left[1] + left[3] / 2) / size[1]),
                ((x + right[0] + right[2] / 2) / size[0], (y + right[1] + right[3] / 2) / size[1]),
            )
    return None


def auc(positive: list[float], negative: list[float]) -> float:
    """P(a positive scores above a negative), ties counted half (Mann-Whitney)."""
    above = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return above / (len(positive) * len(negative))


def placement_error(found: tuple[Point, Point], variant: Variant) -> float:
    width, height = variant.image.size
    side = max(width, height)
    return (
        sum(
            math.dist((fx * width, fy * height), (tx * width, ty * height)) / side
            for (fx, fy), (tx, ty) in zip(found, variant.eyes, strict=True)
        )
        / 2
    )


def measure(name: str, finder: Finder, pictures: list[Variant]) -> str:
    scores: dict[bool, list[float]] = {True: [], False: []}
    found_count = {True: 0, False: 0}
    errors: list[float] = []
    started = time.perf_counter()
    for variant in pictures:
        found = finder(variant.image)
        # The score is the distance's complement, so that "no face" (0) ranks lowest.
        distance = None if found is None else gan_eye_distance(*found)
        scores[variant.gan_framed].append(0.0 if distance is None else 1.0 - distance)
        if found is not None:
            found_count[variant.gan_framed] += 1
            errors.append(placement_error(found, variant))
    per_picture_ms = (time.perf_counter() - started) * 1000 / len(pictures)
    gan, other = scores[True], scores[False]
    flag = 1.0 - GAN_EYE_THRESHOLD
    strictest = max(other)
    ranked = sorted(errors)
    p95 = ranked[min(len(ranked) - 1, int(0.95 * len(ranked)))] if ranked else math.nan
    return (
        f"| {name} | {found_count[True] / len(gan):.1%} | {found_count[False] / len(other):.1%} "
        f"| {statistics.median(errors) if errors else math.nan:.4f} | {p95:.4f} "
        f"| {auc(gan, other):.3f} | {sum(s >= flag for s in gan) / len(gan):.1%} "
        f"| {sum(s >= flag for s in other) / len(other):.1%} "
        f"| {sum(s > strictest for s in gan) / len(gan):.1%} | {per_picture_ms:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400, help="pictures of each framing")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    pictures = variants(args.count, args.seed)
    print(f"{args.count} GAN-framed and {args.count} otherwise-framed pictures, seed {args.seed}\n")
    print(
        "| finder | eyes found, GAN-framed | eyes found, otherwise | eye error, median "
        "| eye error, p95 | AUC | GAN-framed flagged (0.02) | otherwise flagged (0.02) "
        "| GAN-framed flagged at 0 otherwise | ms a picture |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(measure("Haar cascades (before)", haar_eyes, pictures))
    print(measure("BlazeFace + face mesh (now)", detect_eyes, pictures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
