"""The avatar signal: reused profile pictures and GAN-framed faces (signals/avatar.py,
features/avatars.py, features/avatar_image.py).

Pictures are drawn with Pillow (shapes: a pHash describes low frequencies) or taken from
scikit-image's bundled astronaut portrait (NASA, public domain), a real face whose eye
centres were measured by hand on the 512 x 512 picture: (203, 101) and (246, 104).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps
from skimage import data

from tests.conftest import query
from trollscope.features.avatar_image import (
    GAN_LEFT_EYE,
    GAN_RIGHT_EYE,
    detect_eyes,
    gan_eye_distance,
    gan_score,
    group_keys,
    hash_image,
)
from trollscope.features.avatars import avatars
from trollscope.features.media import phash_file
from trollscope.ingest.readers.base import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest
from trollscope.signals import SIGNALS
from trollscope.signals.run import signals
from trollscope.simulate import SimulationConfig, simulate
from trollscope.traces.avatar import avatar_trace_rows

ASTRONAUT_EYES = ((203.0, 101.0), (246.0, 104.0))  # measured by hand, pixels of 512 x 512
TWITTER_DEFAULT = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"


def picture(variant: int = 0, size: tuple[int, int] = (400, 400)) -> Image.Image:
    """A drawn, left-right asymmetric scene; another variant is another picture."""
    image = Image.new("RGB", (400, 400), "white")
    draw = ImageDraw.Draw(image)
    if variant == 0:
        draw.ellipse((30, 40, 220, 230), fill=(200, 30, 30))
        draw.rectangle((250, 180, 390, 390), fill=(20, 40, 180))
        draw.polygon([(20, 390), (180, 300), (120, 395)], fill=(30, 160, 60))
    elif variant == 1:
        draw.rectangle((30, 30, 190, 150), fill=(10, 10, 10))
        draw.ellipse((180, 200, 390, 390), fill=(240, 200, 0))
        draw.line((0, 399, 399, 0), fill=(0, 120, 200), width=20)
    else:
        draw.polygon([(200, 20), (380, 380), (20, 380)], fill=(90, 20, 120))
        draw.ellipse((150, 60, 250, 160), fill=(250, 250, 250))
    return image.resize(size, Image.Resampling.BICUBIC) if size != image.size else image


def astronaut_aligned(size: int = 256) -> Image.Image:
    """The astronaut cropped, scaled and turned so that her eyes land where StyleGAN puts
    eyes (the FFHQ framing): what a GAN face looks like geometrically."""
    (lx, ly), (rx, ry) = ASTRONAUT_EYES
    (gx, gy), (hx, hy) = ((x * size, y * size) for x, y in (GAN_LEFT_EYE, GAN_RIGHT_EYE))
    # The similarity transform output -> input (PIL's AFFINE takes the inverse map).
    scale = math.hypot(rx - lx, ry - ly) / math.hypot(hx - gx, hy - gy)
    turn = math.atan2(ry - ly, rx - lx) - math.atan2(hy - gy, hx - gx)
    a, d = scale * math.cos(turn), scale * math.sin(turn)
    matrix = (a, -d, lx - (a * gx - d * gy), d, a, ly - (d * gx + a * gy))
    source = Image.fromarray(data.astronaut())
    return source.transform((size, size), Image.Transform.AFFINE, matrix, Image.Resampling.BICUBIC)


def key(path: Path) -> str | None:
    found = hash_image(path)
    assert found is not None, path
    return found.key


# --- perceptual keys ---------------------------------------------------------------------


def test_a_mirror_image_has_the_same_key(tmp_path: Path) -> None:
    original, mirrored = tmp_path / "a.png", tmp_path / "mirrored.png"
    picture().save(original)
    ImageOps.mirror(picture()).save(mirrored)
    # The mirror really is another pHash: the canonical key is what makes them one.
    assert phash_file(mirrored) != phash_file(original)
    assert key(original) == key(mirrored)
    assert key(original) is not None


def test_reencoded_copies_share_a_key(tmp_path: Path) -> None:
    copies = {
        "a.png": picture(),
        "small.jpg": picture(size=(200, 200)),
        "tiny.jpg": picture(size=(96, 96)),
        "mirrored.png": ImageOps.mirror(picture()),
        "both.jpg": ImageOps.mirror(picture(size=(240, 240))),  # mirrored, resized, JPEG
        "other.png": picture(1),
    }
    hashes = []
    for name, image in copies.items():
        image.save(tmp_path / name, quality=40)
        found = hash_image(tmp_path / name)
        assert found is not None
        hashes.append((found.phash, found.mirrored_phash))
    assert (tmp_path / "small.jpg").read_bytes() != (tmp_path / "a.png").read_bytes()
    keys = group_keys(hashes)
    assert len(set(keys[:5])) == 1
    assert keys[5] != keys[0]


def h(value: int) -> str:
    return f"phash:{value:016x}"


def test_group_keys_by_hand() -> None:
    far = 0xFF00FF00FF00FF00
    pictures = [
        (h(0x0), h(far)),  # key phash:0000000000000000 (the smaller)
        (h(0xF), h(0x1234)),  # 4 bits from the first: one picture
        (h(0x1F000), h(0xABCDEF)),  # 5 bits from both: another picture
        (h(far ^ 0x3), h(0x5555)),  # 2 bits from the first one's mirror: the first again
        (h(0x1F000 ^ 0x1), h(0x9)),
    ]
    # The fifth links the third (1 bit) to the first (its mirror 0x9 is 2 bits from 0x0).
    assert group_keys(pictures) == [h(0x0)] * 5
    assert group_keys(pictures[:3]) == [h(0x0), h(0x0), h(0x1F000)]
    assert group_keys([]) == []
    with pytest.raises(ValueError, match="max_bits"):
        group_keys(pictures, max_bits=5)


def test_another_picture_gets_another_key(tmp_path: Path) -> None:
    keys = set()
    for variant in range(3):
        path = tmp_path / f"{variant}.png"
        picture(variant).save(path)
        keys.add(key(path))
    assert len(keys) == 3


def test_plain_hash_is_the_co_image_hash(tmp_path: Path) -> None:
    # One hash spelling across the package: co-image (media.py) and avatars agree.
    path = tmp_path / "a.jpg"
    picture(1).save(path, quality=80)
    found = hash_image(path)
    assert found is not None and found.phash == phash_file(path)
    assert found.key == min(found.phash, found.mirrored_phash)


def test_blank_picture_gives_no_key_and_junk_gives_nothing(tmp_path: Path) -> None:
    blank, junk = tmp_path / "blank.png", tmp_path / "junk.jpg"
    Image.new("RGB", (200, 200), (30, 140, 200)).save(blank)
    junk.write_text("not a picture")
    found = hash_image(blank)
    assert found is not None and found.key is None and found.gan_score == 0.0
    assert hash_image(junk) is None
    assert hash_image(tmp_path / "absent.png") is None


# --- GAN geometry ------------------------------------------------------------------------


def test_gan_geometry_by_hand() -> None:
    assert gan_eye_distance(GAN_LEFT_EYE, GAN_RIGHT_EYE) == 0.0
    assert gan_score(0.0) == 1.0
    # Both eyes 0.02 to the right: (0.02 + 0.02) / (2 sqrt 2) = 0.014142...
    left = (GAN_LEFT_EYE[0] + 0.02, GAN_LEFT_EYE[1])
    right = (GAN_RIGHT_EYE[0] + 0.02, GAN_RIGHT_EYE[1])
    assert gan_eye_distance(left, right) == pytest.approx(0.0141421356)
    assert gan_score(0.0141421356) == pytest.approx(1 - 0.0141421356 / 0.04)
    assert gan_score(0.02) == pytest.approx(0.5)  # the published threshold
    # A selfie's eyes high in the frame: far from the GAN positions.
    assert gan_score(gan_eye_distance((0.35, 0.25), (0.6, 0.25))) == 0.0
    # The farthest two points of the unit square give at most 1.
    assert gan_eye_distance((1.0, 1.0), (0.0, 0.0)) <= 1.0
    assert gan_score(None) == 0.0


def test_detector_finds_a_real_face_s_eyes() -> None:
    eyes = detect_eyes(Image.fromarray(data.astronaut()))
    assert eyes is not None
    for found, (x, y) in zip(eyes, ASTRONAUT_EYES, strict=True):
        assert found == pytest.approx((x / 512, y / 512), abs=0.012)
    assert detect_eyes(picture()) is None  # shapes are no face


def test_gan_framing_scores_high_and_ordinary_framing_low(tmp_path: Path) -> None:
    Image.fromarray(data.astronaut()).save(tmp_path / "portrait.png")
    astronaut_aligned().save(tmp_path / "aligned.png")
    ImageOps.mirror(astronaut_aligned(1024)).save(tmp_path / "aligned.jpg", quality=70)
    portrait = hash_image(tmp_path / "portrait.png")
    assert portrait is not None and portrait.eyes is not None  # a face, framed otherwise
    assert portrait.gan_score == 0.0
    for name in ("aligned.png", "aligned.jpg"):
        aligned = hash_image(tmp_path / name)
        assert aligned is not None and aligned.eye_distance is not None
        assert aligned.eye_distance < 0.02, name
        assert aligned.gan_score > 0.5, name


# --- a case ------------------------------------------------------------------------------

COLUMNS = "post_id,account_id,created_at,text,handle,avatar"
MAP = ",".join(f"{c}={c}" for c in COLUMNS.split(","))


def ingest_accounts(tmp_path: Path, case: Path, rows: list[tuple[str, str, str]]) -> None:
    """One post per (account_id, handle, avatar), ingested from a real CSV."""
    lines = [COLUMNS] + [
        f"p{i},{acc},2024-01-0{1 + i % 9}T10:00:00Z,hello,{handle},{avatar}"
        for i, (acc, handle, avatar) in enumerate(rows)
    ]
    path = tmp_path / "data" / "posts.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    options = ReadOptions(platform="forum", mapping=parse_mapping(MAP))
    ingest(case, [path], options=options)


def flagged(case: Path) -> dict[str, tuple[bool, float | None]]:
    rows = query(case, "SELECT account_id, flagged, value FROM account_signals")
    return {str(a): (bool(f), v) for a, f, v in rows}  # type: ignore[misc]


def test_reused_pictures_and_strings_are_flagged(tmp_path: Path, case_path: Path) -> None:
    folder = tmp_path / "avatars"
    folder.mkdir()
    picture(0).save(folder / "1.png")  # by account id
    ImageOps.mirror(picture(0, (200, 200))).save(folder / "@Bob.jpg", quality=60)  # handle
    picture(1).save(folder / "carol.png")  # unique
    egg = Image.new("RGB", (200, 200), (200, 200, 200))
    ImageDraw.Draw(egg).ellipse((60, 30, 140, 110), fill=(120, 120, 120))
    egg.save(folder / "4.png")  # the platform's default picture, twice
    egg.save(folder / "5.png")
    picture(2).save(folder / "nobody.png")  # no such account
    (folder / "notes.txt").write_text("not an image")
    (tmp_path / "data" / "pics").mkdir(parents=True)
    picture(0, (300, 300)).save(tmp_path / "data" / "pics" / "seven.jpg")  # the data's path
    big = "https://pbs.twimg.com/profile_images/77/face_400x400.jpg"
    ingest_accounts(
        tmp_path,
        case_path,
        [
            ("1", "alice", ""),
            ("2", "bob", ""),
            ("3", "carol", ""),
            ("4", "dan", TWITTER_DEFAULT),
            ("5", "eve", TWITTER_DEFAULT),
            ("7", "gil", "pics/seven.jpg"),  # relative to the data file: picture 0 again
            ("8", "hal", "pics/absent.png"),
            ("9", "ivy", "https://example.org/ivy.png"),  # a URL: never fetched
            ("10", "jon", "http://pbs.twimg.com/profile_images/77/face_normal.jpg"),
            ("11", "kim", big),  # the same upload as jon's, another size
            ("12", "lou", "https://pbs.twimg.com/profile_images/78/face_normal.jpg"),
        ],
    )
    run = avatars(case_path, folder)
    assert run.hashed == 6 and run.accounts == 6  # 1, bob, carol, 4, 5 and gil's path
    assert [Path(p).name for p in run.unmatched] == ["nobody.png"]
    assert [Path(p).name for p in run.missing] == ["absent.png"]
    assert run.unreadable == ()

    assert signals(case_path, ["avatar"]) == {"avatar": 5}
    got = flagged(case_path)
    assert {a for a, (f, _) in got.items() if f} == {"1", "2", "7", "10", "11"}
    assert got["1"] == (True, 3.0)  # alice, bob (mirrored) and gil wear one picture
    assert got["10"] == (True, 2.0)
    assert got["3"] == (False, 1.0) and got["12"] == (False, 1.0) and got["9"] == (False, 1.0)
    # Default avatars, as strings or as pictures, are never a reuse.
    assert got["4"] == (False, None) and got["5"] == (False, None)
    reuse = query(case_path, "SELECT key, accounts FROM avatar_reuse ORDER BY accounts DESC")
    assert [n for _, n in reuse] == [3, 2]
    assert str(reuse[0][0]).startswith("phash:")
    assert reuse[1][0] == "data:https://pbs.twimg.com/profile_images/77/face.jpg"
    evidence = query(case_path, "SELECT evidence FROM account_signals WHERE account_id = '2'")
    assert "shared with 2 other accounts" in str(evidence[0][0])


def test_trace_rows_pair_accounts_by_avatar(tmp_path: Path, case_path: Path) -> None:
    ingest_accounts(
        tmp_path,
        case_path,
        [("1", "a", "avatar:x"), ("2", "b", "avatar:x"), ("3", "c", "avatar:y")],
    )
    avatars(case_path)  # no folder, no paths: an empty avatar_hashes table
    import duckdb

    con = duckdb.connect(str(case_path), read_only=True)
    rows = avatar_trace_rows(con).to_pylist()
    con.close()
    assert [(r["account_id"], r["key"], r["post_id"]) for r in rows] == [
        ("1", "data:avatar:x", "1"),
        ("2", "data:avatar:x", "2"),
        ("3", "data:avatar:y", "3"),
    ]
    assert all(r["us"] == 0 for r in rows)  # the CSV gives no creation times


def test_signal_registered_and_empty_without_avatars(tmp_path: Path, case_path: Path) -> None:
    assert "avatar" in SIGNALS
    ingest_accounts(tmp_path, case_path, [("1", "a", ""), ("2", "b", "")])
    assert signals(case_path, ["avatar"]) == {"avatar": 0}
    assert query(case_path, "SELECT count(*) FROM account_signals") == [(0,)]


def test_simulated_farm_avatars_are_flagged_and_organic_ones_not(tmp_path: Path) -> None:
    cfg = SimulationConfig(posts=5_000, days=3, accounts_per_post=0.06)
    simulate(cfg, tmp_path / "sim", formats=("twarc2",))
    case = tmp_path / "case.duckdb"
    ingest(case, [tmp_path / "sim" / "twarc2.jsonl"])
    signals(case, ["avatar"])
    labels = dict(
        (str(a), f or None)
        for a, f in query(
            case,
            f"SELECT account_id, farm_id FROM read_csv('{tmp_path}/sim/labels.csv', "
            "all_varchar=true)",
        )
    )
    got = flagged(case)
    shared = {
        str(a)
        for (a,) in query(case, "SELECT account_id FROM accounts WHERE avatar LIKE 'avatar:farm%'")
    }
    assert len(shared) > 20
    # The twarc2 file holds the accounts that posted: every one of them is scored.
    assert set(got) == {str(a) for (a,) in query(case, "SELECT account_id FROM accounts")}
    organic = {a for a in got if labels[a] is None}
    assert len(organic) > 100
    assert {a for a, (f, _) in got.items() if f} == shared
    assert all(labels[a] is not None for a in shared)  # only farm members share avatars
    assert not any(got[a][0] for a in organic)
    assert np.mean([got[a][1] for a in organic]) == 1.0
