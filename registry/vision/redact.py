"""Redacted renditions: opted-out people obscured, every byte of metadata dropped.

A light blur leaves a face matchable, so each face is covered by a solid block 1.6x its box
(extended upward for hair), filled with the region's mean colour; the caller re-runs detection
and matching on the result to verify.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageStat

from registry.vision.faces import Box

FACTOR = 1.6


def cover_box(box: Box, size: tuple[int, int], factor: float = FACTOR) -> Box:
    """The area to obscure for a face box: factor x wider and taller, shifted up for hair."""
    top, right, bottom, left = box
    width, height = right - left, bottom - top
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half_w, half_h = width * factor / 2, height * factor / 2
    shift = height * 0.15
    return (
        max(0, round(cy - half_h - shift)),
        min(size[0], round(cx + half_w)),
        min(size[1], round(cy + half_h - shift / 2)),
        max(0, round(cx - half_w)),
    )


def obscure(image: Image.Image, boxes: list[Box], *, factor: float = FACTOR) -> Image.Image:
    """A copy with each box's cover area filled solid (the original is never altered)."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    for box in boxes:
        top, right, bottom, left = cover_box(box, out.size, factor)
        if right <= left or bottom <= top:
            continue
        region = out.crop((left, top, right, bottom))
        mean = tuple(round(v) for v in ImageStat.Stat(region).mean[:3])
        draw.rectangle((left, top, right - 1, bottom - 1), fill=mean)
    return out


def clean_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    """A fresh JPEG: no EXIF (so no GPS or embedded thumbnail), no XMP, no comments."""
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
