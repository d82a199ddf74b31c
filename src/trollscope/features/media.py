"""Perceptual hashes of attached images: the keys of the co-image trace.

A post's `media` list holds what the data says about its attachments (paths, URLs, ids)
and, where the picture itself is known, one entry `phash:<16 hex digits>`: the 64-bit
pHash of imagehash (DCT of a 32x32 grey thumbnail, 8x8 low frequencies against their
median). Re-encoding, resizing and mild recompression leave it equal or a few bits away,
so two accounts posting the same picture share the key even when their files differ
byte for byte. A crop, a mirror or an overlay changes it: the trace compares keys
exactly, so it finds the same picture re-posted, not every edited copy.

Two ways in: `phash_file` hashes an image file a reader found (a Telegram export's
photos), `normalise_phash` checks a hash the data already gives (a table's column). Both
yield the one canonical spelling, so hashes from either source compare equal.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import imagehash
from PIL import Image, ImageOps

PREFIX = "phash:"
HEX_DIGITS = 16  # 64 bits: imagehash.phash with its default hash_size of 8
# ASCII blanks only: the table reader does the same in SQL (readers/table.py, phash_sql).
BLANKS = " \t\n\r\f\v"
_HEX = re.compile(r"[0-9a-f]{16}")
_NUMBER = re.compile(r"0x([0-9a-f]{1,16})")


def phash_file(path: Path) -> str | None:
    """`phash:<16 hex>` of the image at `path`, or None when it is not a readable image.

    None, not an error, because a hash is an extra on a post, never the post itself:
    a reader calls this on whatever files an export names (a video, a sticker format
    Pillow lacks, a photo cut short by an interrupted download), and losing the hash
    must not lose the post. So is a file too large to decode safely: Pillow's
    decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`) is applied as a refusal, since
    the files come from the data, which may be hostile.

    The EXIF orientation is applied first: a photo stored sideways with an "rotate"
    tag and a copy whose pixels were rotated show the same picture, and get one hash.
    Animated images are hashed by their first frame.
    """
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x the limit Pillow only warns; refuse those images too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                upright = ImageOps.exif_transpose(image)
                return PREFIX + str(imagehash.phash(upright))
    except Exception:
        # Deliberately broad: Pillow's many decoders each fail in their own way on
        # damaged or hostile bytes (OSError, SyntaxError, struct.error, IndexError,
        # ValueError, DecompressionBombError, ...), and every one of them means the
        # same thing here: this file gives no hash (see the docstring).
        return None


def normalise_phash(value: str) -> str | None:
    """The canonical `phash:<16 lower-case hex>` of a hash as data gives it, or None.

    Accepted: 16 hex digits in any case, optionally after `phash:`, or a hexadecimal
    number written `0x...` (as Python's `hex()` writes an integer, which drops leading
    zeros: 1 to 16 digits, zero-padded back to 16). ASCII blanks around it are ignored.
    Anything else (another hash size, a decimal integer, an anonymised image id) is
    not a 64-bit pHash and gives None, so that the caller can say so.
    """
    text = value.strip(BLANKS).lower()
    text = text.removeprefix(PREFIX)
    if number := _NUMBER.fullmatch(text):
        return PREFIX + number.group(1).zfill(HEX_DIGITS)
    if _HEX.fullmatch(text):
        return PREFIX + text
    return None
