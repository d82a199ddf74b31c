"""One avatar picture: its perceptual hashes, its eyes, and pictures that are one.

The picture-level half of the avatar signal (signals/avatar.py has the case-level half).

**Hashes.** The 64-bit pHash of media.py (so a picture's `phash` equals its co-image hash),
of the picture and of its mirror image, and what `avatar_match.py` needs to tell copies
of one picture (cropped, mirrored, re-encoded) from pictures framed alike: the hashes of
centre crops and colour thumbnails (`Fingerprint`). `group_keys` there gives each group
of copies one key.

**GAN-like faces.** StyleGAN (and so thispersondoesnotexist) is trained on FFHQ, whose
faces were cropped and scaled so that the eyes land at fixed places in the frame
(NVlabs/ffhq-dataset, `recreate_aligned_images`: a square of side max(4 x eye-to-eye,
3.6 x eye-to-mouth) centred a tenth of the way from the eyes to the mouth, which puts the
eyes at x = 0.375 / 0.625 and y of about 0.47-0.5 of the side for a typical face). The
generator reproduces that framing in every picture it makes. Yang, Singh & Menczer
("Characteristics and prevalence of fake social media profiles with AI-generated faces",
J. Online Trust and Safety 2024; code: osome-iu/fake_gan_accounts) measured the eye
centres of StyleGAN faces at (0.3808, 0.4771) and (0.6152, 0.4771), and define the
GANEyeDistance: the two eyes' Euclidean distances to those points, summed and divided by
2 x sqrt(2), so that it lies in [0, 1]; below 0.02 they report a recall above 99.5 % for
GAN faces. We find the eyes with MediaPipe's BlazeFace (faces.py: the model ships in the
package and OpenCV runs it; no model is downloaded) and report `gan_score` = 1 - distance /
0.04, clipped to [0, 1]: 1 for eyes exactly at the GAN positions, 0.5 at the published
0.02 threshold, 0 from twice that on, and 0 when no face with two eyes is found.

This is a heuristic of framing, not a detector of synthesis: any photo cropped the FFHQ
way (real photos aligned by face tools, many passport and ID photos, a face app's output)
scores high too, and a GAN face re-cropped or rotated by its user scores low. The face
finder misses faces under about a tenth of the picture's side. A high score says "look at
this picture", no more.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from trollscope.features.avatar_match import MIRROR, Fingerprint, fingerprint
from trollscope.features.faces import eye_centres, find_faces
from trollscope.features.media import PREFIX

# Eye centres of StyleGAN faces as fractions of width and height (Yang, Singh & Menczer
# 2024, measured; see the module docstring): (x, y), the eye on the image's left first.
GAN_LEFT_EYE = (0.3808205078125, 0.4770548828125)
GAN_RIGHT_EYE = (0.6152169921875, 0.4771314453125)
# Their GANEyeDistance threshold; gan_score is 0.5 there, so `flagged` means distance <= it.
GAN_EYE_THRESHOLD = 0.02
GAN_FLAG_SCORE = 0.5

# A picture whose grey levels vary less than this (std, 0-255) is blank: no reuse key.
BLANK_STD = 4.0

Point = tuple[float, float]


# --- the geometry ------------------------------------------------------------------------


def gan_eye_distance(left: Point, right: Point) -> float:
    """Yang et al.'s GANEyeDistance of eye centres given as fractions of width and height
    (`left`: the eye on the image's left): 0 at the StyleGAN positions, at most 1."""
    far = math.dist(left, GAN_LEFT_EYE) + math.dist(right, GAN_RIGHT_EYE)
    return far / (2 * math.sqrt(2))


def gan_score(distance: float | None) -> float:
    """1 - distance / (2 x threshold), clipped to [0, 1]; 0 when no eyes were found."""
    if distance is None:
        return 0.0
    return min(1.0, max(0.0, 1.0 - distance / (2 * GAN_EYE_THRESHOLD)))


def detect_eyes(image: Image.Image) -> tuple[Point, Point] | None:
    """Centres of the two eyes of the picture's largest face, as fractions of the width and
    height (the eye on the image's left first), or None without a face (faces.py: found
    by BlazeFace, placed by the face mesh)."""
    faces = find_faces(image)
    return eye_centres(image, faces[0]) if faces else None


# --- one picture -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AvatarImage:
    """What one picture gives: its hashes and thumbnails, and the eyes found in it."""

    fingerprint: Fingerprint
    blank: bool
    eyes: tuple[Point, Point] | None

    @property
    def phash(self) -> str:
        return f"{PREFIX}{self.fingerprint.hashes[0]:016x}"

    @property
    def mirrored_phash(self) -> str:
        return f"{PREFIX}{self.fingerprint.hashes[MIRROR]:016x}"

    @property
    def key(self) -> str | None:
        """The picture's own key, the smaller hash (one key for a picture and its mirror
        image), None for a blank picture; its group's key comes from `group_keys`."""
        return None if self.blank else self.fingerprint.key

    @property
    def eye_distance(self) -> float | None:
        return None if self.eyes is None else gan_eye_distance(*self.eyes)

    @property
    def gan_score(self) -> float:
        return gan_score(self.eye_distance)


def hash_image(path: Path) -> AvatarImage | None:
    """The hashes and eyes of the picture at `path`, or None when it is no readable image.

    The same reading policy as `media.phash_file` (so `phash` equals its hash): EXIF
    orientation applied, the first frame of an animation, and pictures past Pillow's
    decompression-bomb limit refused, since the files come from the data.
    """
    if not path.is_file():  # a FIFO or device named by hostile data would block the read
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                upright = ImageOps.exif_transpose(image)
        found = fingerprint(upright)
        thumb = np.asarray(upright.convert("L").resize((64, 64)), dtype=np.float64)
    except Exception:
        # Deliberately broad, as in media.phash_file: Pillow's decoders each fail their own
        # way on damaged or hostile bytes, and all of them mean "no picture here".
        return None
    blank = float(thumb.std()) < BLANK_STD
    eyes = None if blank else detect_eyes(upright)
    return AvatarImage(found, blank, eyes)
