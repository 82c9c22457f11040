"""Face detection (dlib HOG) and 128-d encodings via face_recognition.

dlib is not thread-safe and its models take a moment to load: they load lazily, once per process,
here and nowhere else. Boxes are always (top, right, bottom, left) in full-resolution pixels.

Speed choices (measured on a composed 24 MP photo, see bench/clearance.py):
- detection runs on a greyscale copy: dlib's HOG takes the strongest gradient over the colour
  channels, and a single channel costs about half as much for the same faces found;
- dlib's HOG window finds faces from about 60 px at upsample 0, so small faces are reached by
  resampling the image once (scale 1.5 finds 40 px faces) instead of upsample 1 (2×, 4× the pixels);
- encodings are computed on a crop around each face, not the whole photo: face_recognition
  copies the full image into dlib for every face, which costs ~100 ms per face on 24 MP.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]
ENCODING_SIZE = 128
HOG_MIN_FACE = 60  # px: the smallest face dlib's HOG finds reliably at upsample 0

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _engine() -> ModuleType:
    import face_recognition
    from PIL import ImageFile

    # face_recognition switches on Pillow's "load truncated images" for the whole process on
    # import; switch it back so a truncated upload is refused rather than half-read.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return face_recognition


def load_models() -> None:
    """Load dlib's models now (once per process), e.g. when a worker starts."""
    _engine()


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
    array = np.asarray(gray)
    with _lock:
        found = _engine().face_locations(array, number_of_times_to_upsample=upsample, model="hog")
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
    """128-d encodings of the given faces, from full-resolution pixels around each face."""
    if not boxes:
        return []
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    out = []
    for top, right, bottom, left in boxes:
        pad = max(right - left, bottom - top)
        x0, y0 = max(0, left - pad), max(0, top - pad)
        x1, y1 = min(rgb.width, right + pad), min(rgb.height, bottom + pad)
        crop = np.asarray(rgb.crop((x0, y0, x1, y1)))
        local = (top - y0, right - x0, bottom - y0, left - x0)
        with _lock:
            [encoding] = _engine().face_encodings(crop, known_face_locations=[local])
        out.append(encoding)
    return out


def find_faces(image: Image.Image, *, scale: float = 1.0, upsample: int = 0) -> list[Face]:
    boxes = detect(image, scale=scale, upsample=upsample)
    return [Face(box=b, encoding=e) for b, e in zip(boxes, encode(image, boxes), strict=True)]


def find_reference_faces(image: Image.Image) -> list[Face]:
    """Faces in a reference photo (a portrait or selfie): a quick pass, then a closer look."""
    boxes = detect(image, max_side=1024) or detect(image, max_side=1024, upsample=1)
    return [Face(box=b, encoding=e) for b, e in zip(boxes, encode(image, boxes), strict=True)]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))
