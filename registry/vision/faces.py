"""Face detection (dlib HOG) and 128-d encodings via face_recognition.

dlib is not thread-safe and its models take a moment to load: they load lazily, once per process,
here and nowhere else. Boxes are always (top, right, bottom, left) in full-resolution pixels.
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

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _engine() -> ModuleType:
    import face_recognition
    from PIL import ImageFile

    # face_recognition switches on Pillow's "load truncated images" for the whole process on
    # import; switch it back so a truncated upload is refused rather than half-read.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return face_recognition


@dataclass(frozen=True)
class Face:
    box: Box
    encoding: np.ndarray  # float64, 128 values

    @property
    def width(self) -> int:
        return self.box[1] - self.box[3]


def _scaled(image: Image.Image, max_side: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image), scale


def detect(image: Image.Image, *, max_side: int = 1024, upsample: int = 0) -> list[Box]:
    """Face boxes in full-resolution coordinates, found with HOG on a copy at most max_side."""
    array, scale = _scaled(image, max_side)
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
    """128-d encodings of the given faces, computed on the full-resolution image."""
    if not boxes:
        return []
    array = np.asarray(image)
    with _lock:
        return list(_engine().face_encodings(array, known_face_locations=boxes, model="small"))


def find_reference_faces(image: Image.Image) -> list[Face]:
    """Faces in a reference photo (a portrait or selfie): a quick pass, then a closer look."""
    boxes = detect(image, max_side=1024, upsample=0) or detect(image, max_side=1024, upsample=1)
    return [Face(box=b, encoding=e) for b, e in zip(boxes, encode(image, boxes), strict=True)]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))
