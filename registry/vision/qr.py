"""Badge QR codes read with zxing-cpp on the full-resolution image (downscaling first loses most
small codes; measured ≈0.1–0.25 s on 24 MP)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import zxingcpp
from PIL import Image

from registry.vision.faces import Box


@dataclass(frozen=True)
class QrSighting:
    text: str
    box: Box  # (top, right, bottom, left), full-resolution pixels

    @property
    def width(self) -> int:
        return self.box[1] - self.box[3]


def read_codes(image: Image.Image | np.ndarray) -> list[QrSighting]:
    """Every QR code in the picture (or its RGB pixels) with its bounding box; duplicates of
    one code are kept once."""
    gray: Image.Image | np.ndarray
    if isinstance(image, np.ndarray):
        import cv2

        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        height, width = int(gray.shape[0]), int(gray.shape[1])
    else:
        gray = image if image.mode == "L" else image.convert("L")
        width, height = image.width, image.height
    found = zxingcpp.read_barcodes(
        gray, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    out: dict[tuple[str, Box], QrSighting] = {}
    for code in found:
        if not code.valid or not code.text:
            continue
        p = code.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        box = (max(0, min(ys)), min(width, max(xs)), min(height, max(ys)), max(0, min(xs)))
        out[(code.text, box)] = QrSighting(text=code.text, box=box)
    return list(out.values())
