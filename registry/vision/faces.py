"""Face encodings (dlib's 5-point landmarks and aligned chips, dlib's ResNet weights run by
OpenCV: `resnet.py`), how far an encoding can be trusted (`caution`), and dlib's HOG detector for
portraits (reference photos). Event photos are searched by BlazeFace (`blazeface.py`).

dlib is not thread-safe and its models take a moment to load: they load lazily, once per process,
here and nowhere else. Boxes are always (top, right, bottom, left) in full-resolution pixels.

Speed choices (measured on composed 24 MP photos, see bench/clearance.py):
- encodings are computed on a crop around each face of the decoded pixels (shared with the
  detector: no second conversion), not the whole photo (face_recognition copies the full image
  into dlib for every face, ~100 ms per face on 24 MP), and the descriptor network runs batched
  in OpenCV (~15-20 ms a face, against 70-200 ms in the BLAS-less dlib wheel), with the same
  results;
- HOG runs on a greyscale copy: dlib's HOG takes the strongest gradient over the colour
  channels, and a single channel costs about half as much for the same faces found.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from registry.vision import blazeface, resnet

Box = tuple[int, int, int, int]
ENCODING_SIZE = 128
HOG_MIN_FACE = 60  # px: the smallest face dlib's HOG finds reliably at upsample 0

_lock = threading.Lock()


@dataclass(frozen=True)
class _Models:
    detector: Any  # dlib's HOG frontal face detector
    landmarks: Any  # dlib's 5-point shape predictor (what face_recognition uses for encodings)
    encoder: resnet.Encoder


@lru_cache(maxsize=1)
def _models() -> _Models:
    import warnings

    import cv2
    import dlib

    with warnings.catch_warnings():
        # face_recognition_models imports pkg_resources (pinned setuptools<81 keeps it working).
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import face_recognition_models as files

    cv2.setNumThreads(1)  # one core per worker process; the pool uses the others
    return _Models(
        detector=dlib.get_frontal_face_detector(),
        landmarks=dlib.shape_predictor(files.pose_predictor_five_point_model_location()),
        encoder=resnet.Encoder(Path(files.face_recognition_model_location())),
    )


def load_models() -> None:
    """Load the models now (once per process), e.g. when a worker starts: dlib's and the
    event-photo detector's."""
    _models()
    blazeface.load()


def _hog(array: np.ndarray, upsample: int) -> list[Box]:
    """dlib's HOG detector: boxes (top, right, bottom, left) within the array."""
    height, width = array.shape[:2]
    with _lock:
        found = _models().detector(array, upsample)
    return [
        (max(r.top(), 0), min(r.right(), width), min(r.bottom(), height), max(r.left(), 0))
        for r in found
    ]


@dataclass(frozen=True)
class Face:
    box: Box
    encoding: np.ndarray  # float64, 128 values

    @property
    def width(self) -> int:
        return self.box[1] - self.box[3]


def box_width(box: Box) -> int:
    return box[1] - box[3]


def detect(
    image: Image.Image, *, scale: float = 1.0, upsample: int = 0, max_side: int | None = None
) -> list[Box]:
    """Face boxes in full-resolution coordinates.

    HOG runs on a greyscale copy resized by `scale` (or to at most `max_side` pixels on its
    longer side); the smallest face found is about HOG_MIN_FACE / scale / 2**upsample pixels.
    """
    if max_side is not None:
        scale = min(scale, max_side / max(image.size))
    gray = image.convert("L")
    if scale != 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        gray = gray.resize(size, Image.Resampling.BILINEAR)
    found = _hog(np.asarray(gray), upsample)
    return [
        (
            max(0, round(t / scale)),
            min(image.width, round(r / scale)),
            min(image.height, round(b / scale)),
            max(0, round(left / scale)),
        )
        for t, r, b, left in found
    ]


Pixels = Image.Image | np.ndarray  # an RGB picture, or its pixels (H, W, 3, uint8)


def rgb_pixels(image: Pixels) -> np.ndarray:
    """An RGB picture's pixels (a decoded photo is converted once and shared by every step)."""
    if isinstance(image, np.ndarray):
        return image
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


@dataclass(frozen=True)
class Encoded:
    """A face's 128-d encoding with what aligning it found: dlib's 5 landmarks (x, y, in the
    photo's pixels) and the aligned 150 px chip the encoding was computed from."""

    encoding: np.ndarray
    landmarks: np.ndarray  # (5, 2): two points per eye, then the base of the nose
    chip: np.ndarray  # (150, 150, 3) uint8


def encode_faces(image: Pixels, boxes: list[Box]) -> list[Encoded]:
    """128-d encodings of the given faces, from full-resolution pixels around each face: dlib's
    5-point landmarks and its aligned 150 px chip (padding 0.25, as face_recognition and dlib's
    compute_face_descriptor use), then the descriptor network on every chip in one batch."""
    if not boxes:
        return []
    import dlib

    pixels = rgb_pixels(image)
    height, width = pixels.shape[:2]
    models = _models()
    chips, shapes = [], []
    for top, right, bottom, left in boxes:
        pad = max(right - left, bottom - top)
        x0, y0 = max(0, left - pad), max(0, top - pad)
        x1, y1 = min(width, right + pad), min(height, bottom + pad)
        crop = np.ascontiguousarray(pixels[y0:y1, x0:x1])
        rect = dlib.rectangle(left - x0, top - y0, right - x0, bottom - y0)
        with _lock:
            shape = models.landmarks(crop, rect)
            chips.append(dlib.get_face_chip(crop, shape, size=150, padding=0.25))
        shapes.append(
            np.array([(shape.part(i).x + x0, shape.part(i).y + y0) for i in range(5)], float)
        )
    with _lock:
        encodings = models.encoder(chips)
    return [
        Encoded(e, s, np.asarray(c, np.uint8))
        for e, s, c in zip(encodings, shapes, chips, strict=True)
    ]


def encode(image: Pixels, boxes: list[Box]) -> list[np.ndarray]:
    """The 128-d encodings alone (see `encode_faces`)."""
    return [face.encoding for face in encode_faces(image, boxes)]


# --- how well a face can be verified ---------------------------------------------------------

TURNED = "turned away"
COVERED = "partly covered"
# Measured on the shared face set (whole faces, heads rolled 30 degrees, a third covered from
# each side; faces 45 and 120 px wide), whole faces' 90th percentile against covered ones':
# - eyes where the detector saw them and where dlib's landmarks put them this far apart, in
#   inter-eye distances (whole 0.08-0.18, covered 0.13-0.22 at the median) or at least 3 px:
#   the alignment, and so the encoding, cannot be trusted;
LANDMARK_DRIFT, DRIFT_PX = 0.15, 3.0
# - the nose tip this far from the middle of the eyes, sideways (whole faces up to 0.13):
#   turned away;
YAW = 0.3
# - the least varied third of the aligned face this much less varied than the most varied
#   (whole faces 0.8-0.9; covered by something flat 0-0.7);
FLAT_RATIO = 0.5
# - the detector unsure (whole faces 0.91-0.98 at the 10th percentile, covered 0.71-0.93).
LOW_SCORE = 0.88


def caution(
    encoded: Encoded, keypoints: tuple[tuple[float, float], ...] | None, score: float = 1.0
) -> str | None:
    """Why this face's encoding cannot be trusted to say who it is (None: it can): turned away
    (the detector's nose far to one side of its eyes), or partly covered (dlib's landmarks far
    from the detector's eyes, a third of the aligned face flat, or the detector unsure)."""
    chip = encoded.chip.astype(np.float32).mean(axis=2)
    face = chip[25:125, 25:125]  # the chip's face, without its padding
    spread = [float(band.std()) for band in (face[:33], face[-33:], face[:, :33], face[:, -33:])]
    if min(spread) < FLAT_RATIO * max(max(spread), 1.0) or score < LOW_SCORE:
        return COVERED
    if not keypoints or len(keypoints) < 3:
        return None
    eye_a, eye_b, nose = (np.array(p) for p in keypoints[:3])
    span = float(np.linalg.norm(eye_a - eye_b))
    if span < 1:
        return TURNED
    marks = encoded.landmarks
    eyes = [marks[0:2].mean(axis=0), marks[2:4].mean(axis=0)]
    drift = min(
        max(float(np.linalg.norm(eyes[0] - eye_a)), float(np.linalg.norm(eyes[1] - eye_b))),
        max(float(np.linalg.norm(eyes[0] - eye_b)), float(np.linalg.norm(eyes[1] - eye_a))),
    )
    if drift > max(LANDMARK_DRIFT * span, DRIFT_PX):
        return COVERED
    axis = (eye_b - eye_a) / span
    sideways = abs(float(np.dot(nose - (eye_a + eye_b) / 2, axis))) / span
    return TURNED if sideways > YAW else None


def _iou(a: Box, b: Box) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = (a[1] - a[3]) * (a[2] - a[0]) + (b[1] - b[3]) * (b[2] - b[0])
    return inter / max(1, area - inter)


def find_faces(image: Image.Image, *, scale: float = 1.0, upsample: int = 0) -> list[Face]:
    boxes = detect(image, scale=scale, upsample=upsample)
    return [Face(box=b, encoding=e) for b, e in zip(boxes, encode(image, boxes), strict=True)]


def find_reference_faces(image: Image.Image) -> list[Face]:
    """Faces in a reference photo (a portrait or selfie): a quick pass, then a closer look, then
    the CNN detector (a tilted head in a selfie)."""
    boxes = detect(image, max_side=1024) or detect(image, max_side=1024, upsample=1)
    if not boxes:
        pixels = rgb_pixels(image)  # a tilted head
        boxes = [d.box for d in blazeface.detect(pixels, min_face=max(40, min(image.size) // 8))]
    return [Face(box=b, encoding=e) for b, e in zip(boxes, encode(image, boxes), strict=True)]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))
