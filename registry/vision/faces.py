"""Face detection (dlib HOG) and 128-d encodings (dlib's landmarks and face chips, dlib's ResNet
weights run by OpenCV: `resnet.py`).

dlib is not thread-safe and its models take a moment to load: they load lazily, once per process,
here and nowhere else. Boxes are always (top, right, bottom, left) in full-resolution pixels.

Speed choices (measured on composed 24 MP photos, see bench/clearance.py):
- detection runs on a greyscale copy: dlib's HOG takes the strongest gradient over the colour
  channels, and a single channel costs about half as much for the same faces found;
- dlib's HOG window finds faces from about 60 px at upsample 0. Finding 40 px faces that way
  needs the image at 2x everywhere (4.2 s on 24 MP greyscale, 7+ s in RGB as the baseline does);
  at 1.5x it already misses 1 in 10. So `detect_event_photo` runs HOG once at a small scale for
  faces from ~240 px, and for smaller ones asks OpenCV's Haar cascade for candidates on a copy
  where a 40 px face fills its 24 px window (false alarms included: in a crowd, hundreds) and
  confirms each with HOG on a crop enlarged to ~100 px;
- encodings are computed on a crop around each face, not the whole photo (face_recognition
  copies the full image into dlib for every face, ~100 ms per face on 24 MP), and the descriptor
  network runs batched in OpenCV (~15-20 ms a face, against 70-200 ms in the BLAS-less dlib
  wheel), with the same results.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from registry.vision import resnet

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
    """Load the models now (once per process), e.g. when a worker starts."""
    _models()


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


def encode(image: Image.Image, boxes: list[Box]) -> list[np.ndarray]:
    """128-d encodings of the given faces, from full-resolution pixels around each face: dlib's
    5-point landmarks and its aligned 150 px chip (padding 0.25, as face_recognition and dlib's
    compute_face_descriptor use), then the descriptor network on every chip in one batch."""
    if not boxes:
        return []
    import dlib

    rgb = image if image.mode == "RGB" else image.convert("RGB")
    models = _models()
    chips = []
    for top, right, bottom, left in boxes:
        pad = max(right - left, bottom - top)
        x0, y0 = max(0, left - pad), max(0, top - pad)
        x1, y1 = min(rgb.width, right + pad), min(rgb.height, bottom + pad)
        crop = np.asarray(rgb.crop((x0, y0, x1, y1)))
        rect = dlib.rectangle(left - x0, top - y0, right - x0, bottom - y0)
        with _lock:
            shape = models.landmarks(crop, rect)
            chips.append(dlib.get_face_chip(crop, shape, size=150, padding=0.25))
    with _lock:
        encodings = models.encoder(chips)
    return list(encodings)


@lru_cache(maxsize=1)
def _cascade() -> object:
    import cv2

    cv2.setNumThreads(1)  # one core per worker process; the pool uses the others
    cascades = cv2.data.haarcascades  # type: ignore[attr-defined]
    return cv2.CascadeClassifier(cascades + "haarcascade_frontalface_default.xml")


def _iou(a: Box, b: Box) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = (a[1] - a[3]) * (a[2] - a[0]) + (b[1] - b[3]) * (b[2] - b[0])
    return inter / max(1, area - inter)


HAAR_WINDOW = 24  # px: the Haar cascade's native (smallest) window


def propose_small(gray: Image.Image, *, min_px: int, max_px: int) -> list[Box]:
    """Cheap candidates for small faces: OpenCV's Haar cascade, tuned for recall (it is fast,
    finds nearly every small frontal face, and its false alarms are rejected by HOG later).

    It runs on a copy scaled so the smallest face wanted fills the cascade's native 24 px window:
    the cascade's cost is in its smallest windows, so at 40 px faces that is 0.36x the pixels
    of the full image (measured: 2.3 s instead of 9.6 s on a 24 MP crowd scene)."""
    import cv2

    scale = min(1.0, HAAR_WINDOW / min_px)
    small = np.asarray(gray)
    if scale < 1.0:
        size = (round(gray.width * scale), round(gray.height * scale))
        small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
    rects = _cascade().detectMultiScale(  # type: ignore[attr-defined]
        small,
        # 1.3 between scales: every size is still covered by the HOG check's margin, and the
        # same faces were found as at 1.2 in 20-30% less time (most of it in the smallest
        # windows, whose share a coarser step does not change, but fewer levels above them).
        scaleFactor=1.3,
        minNeighbors=1,
        minSize=(HAAR_WINDOW, HAAR_WINDOW),
        maxSize=(round(max_px * 1.3 * scale), round(max_px * 1.3 * scale)),
    )
    return [
        (round(y / scale), round((x + w) / scale), round((y + h) / scale), round(x / scale))
        for x, y, w, h in rects
    ]


def verify(gray: Image.Image, candidates: list[Box], *, target: int = 100) -> list[Box]:
    """HOG on a small crop around each candidate, enlarged so the face is about `target` px
    (comfortably above HOG's 60-80 px window): the detector the baseline runs at 2x everywhere,
    run only where a face may be."""
    found: list[Box] = []
    for top, right, bottom, left in candidates:
        size = max(right - left, bottom - top)
        margin = size // 2 + 8
        x0, y0 = max(0, left - margin), max(0, top - margin)
        x1, y1 = min(gray.width, right + margin), min(gray.height, bottom + margin)
        crop = gray.crop((x0, y0, x1, y1))
        upscale = max(1.0, target / max(1, size))
        if upscale != 1.0:
            crop = crop.resize(
                (round(crop.width * upscale), round(crop.height * upscale)),
                Image.Resampling.BILINEAR,
            )
        for t, r, b, lft in _hog(np.asarray(crop), 0):
            box = (
                y0 + round(t / upscale),
                x0 + round(r / upscale),
                y0 + round(b / upscale),
                x0 + round(lft / upscale),
            )
            if all(_iou(box, other) < 0.3 for other in found):
                found.append(box)
    return found


def detect_event_photo(image: Image.Image, *, min_face: int = 40, handoff: int = 240) -> list[Box]:
    """Every face from `min_face` px wide, without HOG on every upsampled pixel.

    Faces from `handoff` px up: one HOG pass on a greyscale copy scaled so they are HOG-sized
    (0.3 s on 24 MP). Smaller faces: Haar-cascade candidates on a copy where `min_face` is the
    cascade's window, each confirmed by HOG on a crop around it. Measured in bench/clearance.py
    against face_recognition at upsample 1 (plain and crowd scenes).
    """
    gray = image.convert("L")
    large = detect(gray, scale=min(1.0, HOG_MIN_FACE * 1.15 / handoff))
    candidates = [
        c
        for c in propose_small(gray, min_px=min_face, max_px=handoff)
        if all(_iou(c, box) < 0.3 for box in large)
    ]
    small = verify(gray, candidates)
    return large + [b for b in small if all(_iou(b, box) < 0.3 for box in large)]


def find_faces(image: Image.Image, *, scale: float = 1.0, upsample: int = 0) -> list[Face]:
    boxes = detect(image, scale=scale, upsample=upsample)
    return [Face(box=b, encoding=e) for b, e in zip(boxes, encode(image, boxes), strict=True)]


def find_reference_faces(image: Image.Image) -> list[Face]:
    """Faces in a reference photo (a portrait or selfie): a quick pass, then a closer look."""
    boxes = detect(image, max_side=1024) or detect(image, max_side=1024, upsample=1)
    return [Face(box=b, encoding=e) for b, e in zip(boxes, encode(image, boxes), strict=True)]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))
