"""One photo's analysis: every face (with its encoding) and every QR code, from image bytes.

This is the expensive, event-independent part of clearance; its result is stored, and the
decision (registry.vision.decision) is recomputed from it whenever opt-outs change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from registry.vision import faces, images, qr
from registry.vision.faces import Box

# Faces narrower than this are not encoded: the 128-d descriptor is unreliable below it.
MIN_ENCODE_PX = 24


@dataclass(frozen=True)
class AnalysisConfig:
    """How hard to look. scale 1.5 finds faces from 40 px (HOG's ~60 px / 1.5)."""

    scale: float = 1.5
    # Resample no further than this many pixels (a 100 MP photo is analysed at a lower scale,
    # and its smallest findable face is reported).
    max_working_pixels: int = 60_000_000


@dataclass(frozen=True)
class DetectedFace:
    box: Box
    encoding: np.ndarray | None


@dataclass(frozen=True)
class Analysis:
    width: int
    height: int
    faces: list[DetectedFace]
    codes: list[qr.QrSighting]
    min_face_px: int  # the smallest face this analysis could find


def working_scale(image: Image.Image, config: AnalysisConfig) -> float:
    pixels = image.width * image.height
    return min(config.scale, (config.max_working_pixels / pixels) ** 0.5)


def analyse_image(image: Image.Image, config: AnalysisConfig | None = None) -> Analysis:
    config = config or AnalysisConfig()
    scale = working_scale(image, config)
    boxes = faces.detect(image, scale=scale)
    encodable = [b for b in boxes if faces.box_width(b) >= MIN_ENCODE_PX]
    encodings = dict(zip(encodable, faces.encode(image, encodable), strict=True))
    return Analysis(
        width=image.width,
        height=image.height,
        faces=[DetectedFace(box=b, encoding=encodings.get(b)) for b in boxes],
        codes=qr.read_codes(image),
        min_face_px=round(faces.HOG_MIN_FACE / scale),
    )


def analyse(data: bytes, config: AnalysisConfig | None = None) -> Analysis:
    """Decode (safely, upright) and analyse; raises images.ImageRejected for unusable files."""
    return analyse_image(images.decode(data).image, config)
