"""Perceptual hashes of images (media.py): from files, and as the data gives them.

The images are drawn here with Pillow: shapes, not noise, since a pHash describes the
low frequencies of a picture and noise has none worth the name.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import imagehash
import pytest
from PIL import Image, ImageDraw

from trollscope.features.media import normalise_phash, phash_file
from trollscope.ingest.readers.table import phash_sql


def picture(variant: int = 0, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A drawn scene; another variant is another picture."""
    image = Image.new("RGB", (640, 480), "white")
    draw = ImageDraw.Draw(image)
    if variant == 0:
        draw.ellipse((80, 60, 360, 340), fill=(200, 30, 30))
        draw.rectangle((380, 200, 600, 440), fill=(20, 40, 180))
        draw.polygon([(50, 460), (300, 380), (200, 470)], fill=(30, 160, 60))
    else:
        draw.rectangle((40, 40, 300, 200), fill=(10, 10, 10))
        draw.ellipse((300, 220, 620, 470), fill=(240, 200, 0))
        draw.line((0, 479, 639, 0), fill=(0, 120, 200), width=25)
    return image.resize(size, Image.Resampling.BICUBIC) if size != image.size else image


def reference(path: Path) -> str:
    """The hash as imagehash itself gives it, without trollscope."""
    with Image.open(path) as image:
        return "phash:" + str(imagehash.phash(image))


def test_hash_is_imagehash_phash(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    picture().save(path)
    got = phash_file(path)
    assert got == reference(path)
    assert got is not None and len(got) == len("phash:") + 16
    assert got == got.lower()


def test_same_picture_reencoded_gets_the_same_hash(tmp_path: Path) -> None:
    original, copy = tmp_path / "a.png", tmp_path / "a_small.jpg"
    picture().save(original)
    # Half the size, JPEG at a low quality: what a platform does to a re-upload.
    picture(size=(320, 240)).save(copy, quality=40)
    assert copy.read_bytes() != original.read_bytes()
    assert phash_file(copy) == phash_file(original)


def test_another_picture_gets_another_hash(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    picture(0).save(a)
    picture(1).save(b)
    hash_a, hash_b = phash_file(a), phash_file(b)
    assert hash_a is not None and hash_b is not None
    distance = bin(int(hash_a[6:], 16) ^ int(hash_b[6:], 16)).count("1")
    assert distance > 10  # not merely a different key: a different picture


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    upright, sideways = tmp_path / "upright.jpg", tmp_path / "sideways.jpg"
    picture().save(upright, quality=90)
    # Stored turned a quarter left, with the EXIF tag that says "turn right to show".
    exif = Image.Exif()
    exif[0x0112] = 6
    picture().rotate(90, expand=True).save(sideways, quality=90, exif=exif)
    assert reference(sideways) != reference(upright)  # the raw pixels differ
    assert phash_file(sideways) == phash_file(upright)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(200)),
        ("text.jpg", b"not an image at all\n"),
        ("empty.jpg", b""),
    ],
)
def test_a_file_that_is_not_an_image_gives_none(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert phash_file(path) is None


def test_a_cut_image_gives_none(tmp_path: Path) -> None:
    whole, cut = tmp_path / "whole.jpg", tmp_path / "cut.jpg"
    picture(size=(1280, 960)).save(whole, quality=85)
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert phash_file(whole) is not None
    assert phash_file(cut) is None


def test_a_missing_file_gives_none(tmp_path: Path) -> None:
    assert phash_file(tmp_path / "absent.jpg") is None
    assert phash_file(tmp_path) is None  # a folder


@pytest.mark.parametrize("limit", [1000, 200_000])  # over 2x the limit, and between 1x and 2x
def test_an_oversized_image_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    path = tmp_path / "big.png"
    picture().save(path)  # 307,200 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    assert phash_file(path) is None


HASH = "phash:0fab784480ec6967"
CASES = [
    ("0fab784480ec6967", HASH),
    ("0FAB784480EC6967", HASH),
    ("phash:0fab784480ec6967", HASH),
    ("PHASH:0FAB784480EC6967", HASH),
    ("0x0fab784480ec6967", HASH),
    ("0xfab784480ec6967", HASH),  # as hex() writes it: the leading zero dropped
    ("phash:0x0FAB784480EC6967", HASH),
    (" 0fab784480ec6967\t", HASH),
    ("0x1", "phash:0000000000000001"),
    ("0fab784480ec696", None),  # 15 digits without 0x: a cut hash, not a number
    ("0fab784480ec69670", None),  # 17 digits: not 64 bits
    ("0x10fab784480ec6967", None),
    ("0fab784480ec696g", None),
    ("0x", None),
    ("9280", None),  # CooRTweet's anonymised image id
    ("", None),
    ("phash:", None),
    ("0fab 784480ec6967", None),
    ("\u00a00fab784480ec6967", None),  # only ASCII blanks are stripped
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_normalise_phash(value: str, expected: str | None) -> None:
    assert normalise_phash(value) == expected


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_table_reader_sql_agrees(value: str, expected: str | None) -> None:
    con = duckdb.connect(":memory:")
    try:
        row = con.execute(f"SELECT {phash_sql('v')} FROM (SELECT ?::VARCHAR AS v)", [value])
        got = row.fetchone()
    finally:
        con.close()
    assert got is not None
    assert got[0] == expected
