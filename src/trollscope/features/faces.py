"""Faces and their eyes in a picture: MediaPipe's BlazeFace and face mesh, run by OpenCV.

Why this model: the GAN-framing test (avatar_image.py) needs the two eye centres of the
portrait's face, in frontal GAN faces and real profile photos alike. OpenCV's Haar
cascades, used before, found two eyes in only 84.6 % of a public set of StyleGAN faces
and 52.5 % of real photos (issue 20). BlazeFace (Bazarevsky et al., "BlazeFace:
Sub-millisecond Neural Face Detection on Mobile GPUs", 2019) is a single-shot detector
trained on selfie-distance faces that returns, for each face, a box and six keypoints:
the two eye centres, the nose tip, the mouth centre and the two ear tragions.

BlazeFace's eye keypoints come from a 128-pixel input and lean with the head's pose
(measured: up to 0.02 of the side on one of the test portraits, enough to move a GAN
face past the 0.02 GANEyeDistance threshold). So the eyes are then placed again by
MediaPipe's face mesh (Kartynnik et al., "Real-time Facial Surface Geometry from
Monocular Video on Mobile GPUs", 2019): 468 landmarks on a 192-pixel crop of the face,
turned so that the eyes are level. An eye's centre is the mean of the eight landmarks
around its opening (corners and lids), as Yang et al. took the mean of the eye's contour
landmarks; on the test portraits it is within 0.01 of the hand-measured pupils where
BlazeFace's keypoints were up to 0.03 off (benchmarks/gan_faces.py).

The model files (`models/*.tflite`, 2.6 MB together, Apache-2.0, from
google-ai-edge/mediapipe; see `models/NOTICE`) ship inside the package: nothing is
downloaded. OpenCV's DNN module reads TFLite (4.8 and later), so no TensorFlow or LiteRT
runtime is needed: opencv-python-headless, already a dependency, runs them.

Decoding follows MediaPipe's `face_detection_short_range.pbtxt` graph: a 128 x 128 RGB
input scaled to [-1, 1]; 896 SSD anchors (strides 8 and 16, 2 and 6 anchors a cell, unit
size); box and keypoint offsets in input pixels from the anchor's centre; a sigmoid score.
The picture is padded to a square first (bottom and right), so faces keep their shape and
keypoints map back by one scale.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from trollscope.errors import TrollscopeError

if TYPE_CHECKING:
    import cv2

MODELS = Path(__file__).parent / "models"
DETECTOR = MODELS / "face_detection_short_range.tflite"
MESH = MODELS / "face_landmark.tflite"
INPUT_SIDE = 128
MESH_SIDE = 192
# MediaPipe's face_landmark graph crops 1.5 times the detected face box.
MESH_MARGIN = 1.5
# Face mesh landmarks around each eye's opening: corners, then lids (the canonical
# face mesh's numbering), the subject's right eye first.
EYE_LANDMARKS = (
    (33, 133, 159, 145, 160, 144, 158, 153),
    (362, 263, 386, 374, 385, 380, 387, 373),
)
# MediaPipe's own `min_score_thresh` for this model.
MIN_SCORE = 0.5
# Detections of one face overlap heavily; MediaPipe suppresses at 0.3 IoU.
SAME_FACE_IOU = 0.3
# Relative to the padded square: a face narrower than this is a crowd, not a portrait.
MIN_FACE_SIDE = 0.08

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Face:
    """One face: its score, box and keypoints as fractions of the picture's width and
    height (the box as left, top, right, bottom)."""

    score: float
    box: tuple[float, float, float, float]
    # The eye on the picture's left first (the subject's right eye when not mirrored).
    eyes: tuple[Point, Point]
    nose: Point
    mouth: Point

    @property
    def area(self) -> float:
        left, top, right, bottom = self.box
        return max(0.0, right - left) * max(0.0, bottom - top)


def _anchors() -> np.ndarray:
    """Anchor centres (x, y) in [0, 1], in the model's output order."""
    centres: list[tuple[float, float]] = []
    for stride, per_cell in ((8, 2), (16, 6)):
        cells = INPUT_SIDE // stride
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
    return np.asarray(centres, dtype=np.float64)


def _load(path: Path) -> cv2.dnn.Net:
    # Imported here: OpenCV is only needed when pictures are hashed, not to read a case.
    import cv2

    if not path.is_file():
        raise TrollscopeError(
            f"the face model {path} is missing; reinstall trollscope (the file ships "
            "inside the package)."
        )
    return cv2.dnn.readNetFromTFLite(str(path))


@functools.cache
def _detector() -> tuple[cv2.dnn.Net, np.ndarray]:
    return _load(DETECTOR), _anchors()


@functools.cache
def _mesh() -> cv2.dnn.Net:
    return _load(MESH)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of box `a` with each box of `b` (left, top, right, bottom)."""
    width = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    height = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = width * height
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.asarray(inter / np.maximum(area, 1e-12))


def find_faces(image: Image.Image) -> list[Face]:
    """The faces in `image`, largest first (one detection per face: the best-scoring of
    those overlapping it)."""
    net, anchors = _detector()
    rgb = image.convert("RGB")
    side = max(rgb.size)
    square = Image.new("RGB", (side, side))
    square.paste(rgb, (0, 0))
    work = square.resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(work, dtype=np.float32) / 127.5 - 1.0
    net.setInput(np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis]))
    raw_scores, raw_boxes = net.forward(["classificators", "regressors"])
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -100, 100)
    scores = 1.0 / (1.0 + np.exp(-logits))
    regress = raw_boxes.reshape(-1, 16).astype(np.float64) / INPUT_SIDE
    keep = np.flatnonzero(scores >= MIN_SCORE)
    if keep.size == 0:
        return []
    centre = regress[keep, :2] + anchors[keep]
    half = regress[keep, 2:4] / 2
    boxes = np.hstack([centre - half, centre + half])
    points = regress[keep, 4:].reshape(-1, 6, 2) + anchors[keep][:, np.newaxis, :]
    order = list(np.argsort(-scores[keep], kind="stable"))
    # The square's fractions -> the picture's fractions.
    sx, sy = side / rgb.size[0], side / rgb.size[1]
    faces: list[Face] = []
    while order:
        best = order[0]
        overlap = _iou(boxes[best], boxes[order])
        order = [i for i, o in zip(order, overlap, strict=True) if o <= SAME_FACE_IOU]
        left, top, right, bottom = boxes[best]
        if right - left < MIN_FACE_SIDE:
            continue
        first, second, nose, mouth = ((float(x * sx), float(y * sy)) for x, y in points[best, :4])
        faces.append(
            Face(
                score=float(scores[keep][best]),
                box=(float(left * sx), float(top * sy), float(right * sx), float(bottom * sy)),
                eyes=(first, second) if first[0] <= second[0] else (second, first),
                nose=nose,
                mouth=mouth,
            )
        )
    return sorted(faces, key=lambda f: -f.area)


def eye_centres(image: Image.Image, face: Face) -> tuple[Point, Point]:
    """The centres of `face`'s eyes placed by the face mesh, as fractions of the width and
    height, the eye on the picture's left first."""
    import cv2

    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = rgb.shape[:2]
    (lx, ly), (rx, ry) = ((x * width, y * height) for x, y in face.eyes)
    left, top, right, bottom = face.box
    centre_x, centre_y = (left + right) / 2 * width, (top + bottom) / 2 * height
    side = max((right - left) * width, (bottom - top) * height) * MESH_MARGIN
    # Crop -> picture: turn by the eyes' angle about the face's centre, scale to its side.
    angle = np.arctan2(ry - ly, rx - lx)
    scale = side / MESH_SIDE
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    half = MESH_SIDE / 2
    to_picture = np.array(
        [
            [cos, -sin, centre_x - (cos - sin) * half],
            [sin, cos, centre_y - (sin + cos) * half],
        ]
    )
    crop = cv2.warpAffine(
        rgb,
        cv2.invertAffineTransform(to_picture),
        (MESH_SIDE, MESH_SIDE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    net = _mesh()
    # MediaPipe feeds this model RGB in [0, 1].
    net.setInput(np.ascontiguousarray((crop / 255.0).transpose(2, 0, 1)[np.newaxis]))
    landmarks = net.forward("conv2d_20").reshape(-1, 3)[:, :2].astype(np.float64)
    placed = np.hstack([landmarks, np.ones((len(landmarks), 1))]) @ to_picture.T
    first, second = (
        (float(x / width), float(y / height))
        for x, y in (placed[list(eye)].mean(axis=0) for eye in EYE_LANDMARKS)
    )
    return (first, second) if first[0] <= second[0] else (second, first)
