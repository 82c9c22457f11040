"""One photo's analysis: every face (with its encoding) and every QR code, from image bytes.

This is the expensive, event-independent part of clearance; its result is stored, and the
decision (registry.vision.decision) is recomputed from it whenever opt-outs change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from registry.vision import faces, images, qr
from registry.vision.faces import Box

# Faces narrower than this are not encoded: the 128-d descriptor is unreliable below it.
MIN_ENCODE_PX = 24


@dataclass(frozen=True)
class AnalysisConfig:
    """How hard to look: faces from `min_face` px wide (full resolution)."""

    min_face: int = 40
    # Faces at least this wide are found by one HOG pass; smaller ones by proposals + checks.
    handoff: int = 240
    # Larger photos are searched on a copy of this many pixels (their smallest findable face,
    # reported as min_face_px, grows accordingly); codes and encodings still use full resolution.
    max_working_pixels: int = 40_000_000


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
    return min(1.0, (config.max_working_pixels / pixels) ** 0.5)


def analyse_image(
    image: Image.Image,
    config: AnalysisConfig | None = None,
    *,
    encode_if: Callable[[Box], bool] | None = None,
) -> Analysis:
    """`encode_if`: which faces to encode (a video's tracker already knows some of them)."""
    config = config or AnalysisConfig()
    scale = working_scale(image, config)
    work = image
    if scale < 1.0:
        size = (round(image.width * scale), round(image.height * scale))
        work = image.resize(size, Image.Resampling.BILINEAR)
    boxes = [
        (round(t / scale), round(r / scale), round(b / scale), round(left / scale))
        for t, r, b, left in faces.detect_event_photo(
            work, min_face=config.min_face, handoff=config.handoff
        )
    ]
    encodable = [
        b
        for b in boxes
        if faces.box_width(b) >= MIN_ENCODE_PX and (encode_if is None or encode_if(b))
    ]
    encodings = dict(zip(encodable, faces.encode(image, encodable), strict=True))
    return Analysis(
        width=image.width,
        height=image.height,
        faces=[DetectedFace(box=b, encoding=encodings.get(b)) for b in boxes],
        codes=qr.read_codes(image),
        min_face_px=round(config.min_face / scale),
    )


def analyse(data: bytes, config: AnalysisConfig | None = None) -> Analysis:
    """Decode (safely, upright) and analyse; raises images.ImageRejected for unusable files."""
    return analyse_image(images.decode(data).image, config)
