"""One photo's analysis: every face (with its encoding, and why it cannot be trusted when it
cannot) and every QR code, from image bytes.

This is the expensive, event-independent part of clearance; its result is stored, and the
decision (registry.vision.decision) is recomputed from it whenever opt-outs change.

Faces are found by BlazeFace (`blazeface.py`: turned and partly covered faces too), encoded by
dlib's landmarks and descriptor (`faces.py`) from the same decoded pixels, and each encoding is
checked for what would make it unreliable (`faces.caution`). `stages` says where the time went.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from registry.vision import blazeface, faces, images, qr
from registry.vision.faces import Box

# Faces narrower than this are not encoded: the 128-d descriptor is unreliable below it.
MIN_ENCODE_PX = 24


@dataclass(frozen=True)
class AnalysisConfig:
    """How hard to look: faces from `min_face` px wide (full resolution)."""

    min_face: int = 40
    # Larger photos are searched on a copy of this many pixels (their smallest findable face,
    # reported as min_face_px, grows accordingly); codes and encodings still use full resolution.
    max_working_pixels: int = 40_000_000


@dataclass(frozen=True)
class DetectedFace:
    box: Box
    encoding: np.ndarray | None
    score: float | None = None  # the detector's confidence
    # Why the encoding cannot be trusted to say who this is ("turned away", "partly covered").
    caution: str | None = None


@dataclass(frozen=True)
class Analysis:
    width: int
    height: int
    faces: list[DetectedFace]
    codes: list[qr.QrSighting]
    min_face_px: int  # the smallest face this analysis could find
    stages: dict[str, float] = field(default_factory=dict)  # seconds per step


def working_scale(width: int, height: int, config: AnalysisConfig) -> float:
    return min(1.0, float((config.max_working_pixels / (width * height)) ** 0.5))


def analyse_pixels(
    pixels: np.ndarray,
    config: AnalysisConfig | None = None,
    *,
    encode_if: Callable[[Box], bool] | None = None,
    stages: dict[str, float] | None = None,
) -> Analysis:
    """Analyse decoded RGB pixels (H, W, 3); `encode_if`: which faces to encode (a video's
    tracker already knows some of them)."""
    import cv2

    config = config or AnalysisConfig()
    stages = stages if stages is not None else {}
    height, width = pixels.shape[:2]
    started = time.perf_counter()
    scale = working_scale(width, height, config)
    work = pixels
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        work = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    found = [
        blazeface.Detection(
            (
                round(d.box[0] / scale),
                round(d.box[1] / scale),
                round(d.box[2] / scale),
                round(d.box[3] / scale),
            ),
            d.score,
            tuple((x / scale, y / scale) for x, y in d.keypoints),
        )
        for d in blazeface.detect(work, min_face=max(1, round(config.min_face * scale)))
    ]
    stages["detect"] = time.perf_counter() - started
    started = time.perf_counter()
    encodable = [
        d
        for d in found
        if faces.box_width(d.box) >= MIN_ENCODE_PX and (encode_if is None or encode_if(d.box))
    ]
    encoded = faces.encode_faces(pixels, [d.box for d in encodable])
    stages["encode"] = time.perf_counter() - started
    started = time.perf_counter()
    by_box = {
        d.box: (e.encoding, faces.caution(e, d.keypoints, d.score))
        for d, e in zip(encodable, encoded, strict=True)
    }
    stages["check"] = time.perf_counter() - started
    started = time.perf_counter()
    codes = qr.read_codes(pixels)
    stages["qr"] = time.perf_counter() - started
    return Analysis(
        width=width,
        height=height,
        faces=[
            DetectedFace(
                box=d.box,
                encoding=by_box[d.box][0] if d.box in by_box else None,
                score=round(d.score, 3),
                caution=by_box[d.box][1] if d.box in by_box else None,
            )
            for d in found
        ],
        codes=codes,
        min_face_px=round(config.min_face / scale),
        stages=stages,
    )


def analyse_image(
    image: Image.Image,
    config: AnalysisConfig | None = None,
    *,
    encode_if: Callable[[Box], bool] | None = None,
) -> Analysis:
    """Analyse a decoded picture (converted to RGB pixels once)."""
    return analyse_pixels(faces.rgb_pixels(image), config, encode_if=encode_if)


def analyse(data: bytes, config: AnalysisConfig | None = None) -> Analysis:
    """Decode (safely, upright) and analyse; raises images.ImageRejected for unusable files."""
    started = time.perf_counter()
    pixels = faces.rgb_pixels(images.decode(data).image)
    stages = {"decode": time.perf_counter() - started}
    return analyse_pixels(pixels, config, stages=stages)
