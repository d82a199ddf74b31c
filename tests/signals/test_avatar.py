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
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from skimage import data

from tests.conftest import query
from trollscope.features.avatar_image import (
    GAN_LEFT_EYE,
    GAN_RIGHT_EYE,
    detect_eyes,
    gan_eye_distance,
    gan_score,
    hash_image,
)
from trollscope.features.avatar_match import (
    CROPS,
    MIRROR,
    SAME_PICTURE,
    THUMB_SIDE,
    Fingerprint,
    correlation,
    group_keys,
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
        hashes.append(found.fingerprint)
    assert (tmp_path / "small.jpg").read_bytes() != (tmp_path / "a.png").read_bytes()
    keys = group_keys(hashes)
    assert len(set(keys[:5])) == 1
    assert keys[5] != keys[0]


def hand_made(
    hashes: tuple[int, int, int, int], look: int, *, mirrored: bool = False
) -> Fingerprint:
    """A fingerprint by hand: hashes of the crops and the mirror image, and one random
    thumbnail drawn from seed `look` for every crop (one look, one picture to the
    verification), flipped when `mirrored`."""
    pixels = np.random.default_rng(look).integers(0, 256, (THUMB_SIDE, THUMB_SIDE, 3))
    if mirrored:
        pixels = pixels[:, ::-1]
    return Fingerprint(hashes, np.stack([pixels] * len(CROPS)).astype(np.uint8))


def test_group_keys_by_hand() -> None:
    # Fillers: random hashes, far (16 bits or more) from each other and from the named ones.
    far = iter(int(v) for v in np.random.default_rng(0).integers(0, 2**63, 20, dtype=np.int64))
    named = [0x0, 0x3F, 0xFF00, 0xF, 0x3, 0x3 << 32]
    pictures = [
        hand_made((0x0, next(far), next(far), next(far)), 1),  # own key phash:000...0
        hand_made((0x3F, next(far), next(far), next(far)), 1),  # 6 bits from the first: one
        hand_made((0xFF00, next(far), next(far), next(far)), 1),  # 8 bits from all: another
        hand_made((next(far), next(far), 0xF, next(far)), 1),  # crop 4 bits from the first
        hand_made((next(far), next(far), next(far), 0x3), 1, mirrored=True),  # its mirror
        hand_made((0x3 << 32, 0x0, next(far), next(far)), 2),  # near the first, another look
    ]
    fillers = [x for p in pictures for x in p.hashes if x not in named]
    for i, x in enumerate(fillers):
        assert all((x ^ y).bit_count() >= 16 for y in fillers[i + 1 :] + named)
    keys = group_keys(pictures)
    assert keys[:5] == [h(0x0), h(0x0), h(0xFF00), h(0x0), h(0x0)]
    # The last is 0 bits from the first (its crop) but its thumbnails are another
    # picture's: no group; its own key is the smaller of its whole and mirrored hashes.
    assert keys[5] == h(min(0x3 << 32, pictures[5].hashes[MIRROR]))
    twin = hand_made((0x0, next(far), next(far), 0x0), 3)  # the first's own key, another look
    assert group_keys([pictures[0], twin]) == [h(0x0), h(0x0) + "-2"]
    assert group_keys([]) == []
    with pytest.raises(ValueError, match="max_bits"):
        group_keys(pictures, max_bits=7)


def test_correlation_aligns_crops_and_mirror() -> None:
    one = hand_made((0, 0, 0, 0), 4)
    flipped = hand_made((0, 0, 0, 0), 4, mirrored=True)
    assert correlation(one, 2, one, 2) == pytest.approx(1.0)
    assert correlation(one, MIRROR, flipped, 0) == pytest.approx(1.0)
    assert correlation(one, 0, flipped, 0) < SAME_PICTURE
    brighter = Fingerprint((0, 0, 0, 0), (one.thumbs // 2 + 20).astype(np.uint8))
    assert correlation(one, 0, brighter, 0) > 0.99  # brightness and contrast do not count
    flat = Fingerprint((0, 0, 0, 0), np.full_like(one.thumbs, 90))
    assert correlation(one, 0, flat, 0) == 0.0


def h(value: int) -> str:
    return f"phash:{value:016x}"


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


def drawn_face(
    skin: tuple[int, int, int],
    hair: tuple[int, int, int],
    background: tuple[int, int, int],
    clothes: tuple[int, int, int],
    width: float,
) -> Image.Image:
    """A face framed like a StyleGAN face (eyes at its two points, 256 px): two such
    faces share their layout, as GAN faces do, and differ in colours and shape."""
    side = 256
    image = Image.new("RGB", (side, side), background)
    draw = ImageDraw.Draw(image)
    (lx, ly), (rx, _) = ((x * side, y * side) for x, y in (GAN_LEFT_EYE, GAN_RIGHT_EYE))
    cx, w = (lx + rx) / 2, (rx - lx) * width
    draw.ellipse((cx - side * 0.42, ly + side * 0.33, cx + side * 0.42, side * 1.4), clothes)
    draw.ellipse((cx - w * 1.2, ly - side * 0.3, cx + w * 1.2, ly + side * 0.3), hair)
    draw.ellipse((cx - w, ly - side * 0.24, cx + w, ly + side * 0.3), skin)
    for x in (lx, rx):
        draw.ellipse((x - 11, ly - 5, x + 11, ly + 5), (245, 245, 240))
        draw.ellipse((x - 5, ly - 5, x + 5, ly + 5), (60, 40, 30))
    draw.chord((cx - 20, ly + side * 0.17, cx + 20, ly + side * 0.23), 0, 180, (170, 70, 70))
    return image.filter(ImageFilter.GaussianBlur(1))


def keys_of(tmp_path: Path, case_path: Path, images: dict[str, Image.Image]) -> dict[str, str]:
    """The reuse key of each picture, hashed by `avatars` from files named after accounts."""
    folder = tmp_path / "avatars"
    folder.mkdir()
    for account, image in images.items():
        image.save(folder / f"{account}.png")
    ingest_accounts(tmp_path, case_path, [(account, account, "") for account in images])
    avatars(case_path, folder)
    return {
        str(a): str(k) for a, k in query(case_path, "SELECT account_id, key FROM avatar_hashes")
    }


def test_a_copy_cropped_two_and_a_half_percent_a_side_is_the_same_picture(
    tmp_path: Path, case_path: Path
) -> None:
    # Issue 20: cutting 2.5 % off each side moved the pHash 6-12 bits, past the 4 that
    # made one picture. The astronaut (a real photo) moves 8 bits.
    photo = Image.fromarray(data.astronaut())
    cropped = photo.crop((13, 13, 499, 499))  # 13 px = 2.5 % of 512
    other = astronaut_aligned()  # the same photo cropped and turned otherwise: another
    keys = keys_of(tmp_path, case_path, {"1": photo, "2": cropped, "3": other})
    assert keys["1"] == keys["2"]
    assert keys["3"] != keys["1"]


def test_two_faces_framed_alike_are_two_pictures(tmp_path: Path, case_path: Path) -> None:
    one = drawn_face((230, 190, 160), (30, 20, 15), (170, 180, 200), (150, 30, 30), 0.85)
    two = drawn_face((200, 150, 120), (110, 70, 40), (220, 220, 215), (40, 40, 60), 0.95)
    three = ImageOps.mirror(one.resize((128, 128)))  # one's copy: still one picture
    keys = keys_of(tmp_path, case_path, {"1": one, "2": two, "3": three})
    # Issue 20: GAN faces were 4 bits apart, and so one picture to the pHash alone.
    assert (int(keys["1"][6:], 16) ^ int(keys["2"][6:], 16)).bit_count() <= 4
    assert keys["1"] != keys["2"]
    assert keys["1"] == keys["3"]


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


def test_bluesky_avatars_of_one_blob_share_a_key(tmp_path: Path, case_path: Path) -> None:
    """A Bluesky avatar URL holds the uploader's DID and the blob's CID (a hash of the
    bytes): two accounts that uploaded the same file share the CID, not the URL."""
    cdn = "https://cdn.bsky.app/img/{kind}/plain/did:plc:{who}/bafkreiabc{cid}@jpeg"
    ingest_accounts(
        tmp_path,
        case_path,
        [
            ("1", "ann", cdn.format(kind="avatar", who="ann1", cid="111")),
            ("2", "ben", cdn.format(kind="avatar", who="ben2", cid="111")),
            ("3", "cat", cdn.format(kind="avatar_thumbnail", who="cat3", cid="111")),
            ("4", "dee", cdn.format(kind="avatar", who="dee4", cid="222")),
        ],
    )
    assert signals(case_path, ["avatar"]) == {"avatar": 3}
    got = flagged(case_path)
    assert {a for a, (f, _) in got.items() if f} == {"1", "2", "3"}
    reuse = query(case_path, "SELECT key, accounts FROM avatar_reuse")
    assert reuse == [("data:bsky-blob:bafkreiabc111", 3)]
