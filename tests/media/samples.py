"""Small made-up images for media tests that need a valid file, not faces."""

from __future__ import annotations

import io

from PIL import Image


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(out, format="PNG")
    return out.getvalue()
