"""QR codes are made here and nowhere else: a badge's code, a consent link, the signage's link.
(Reading them from photos is `vision/qr.py`.)"""

from __future__ import annotations

import io
from typing import Literal

import qrcode
import qrcode.constants
from PIL import Image

# How much of the symbol may be covered and still read: M 15%, H 30%.
_LEVELS = {"M": qrcode.constants.ERROR_CORRECT_M, "H": qrcode.constants.ERROR_CORRECT_H}


def matrix(text: str, *, level: Literal["M", "H"], border: int = 4) -> list[list[bool]]:
    """The code's modules, row by row (True is dark), with a quiet zone of `border` modules."""
    code = qrcode.QRCode(error_correction=_LEVELS[level], border=border, box_size=1)
    code.add_data(text)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


def image(
    text: str, *, level: Literal["M", "H"], module_px: int = 1, border: int = 4
) -> Image.Image:
    """The code as a greyscale picture, `module_px` whole pixels a module."""
    rows = matrix(text, level=level, border=border)
    side = len(rows)
    picture = Image.new("L", (side, side), 255)
    picture.putdata([0 if dark else 255 for row in rows for dark in row])
    if module_px > 1:
        picture = picture.resize((side * module_px,) * 2, Image.Resampling.NEAREST)
    return picture


def png(text: str, *, level: Literal["M", "H"], module_px: int = 10, border: int = 4) -> bytes:
    """The code as PNG bytes (a printable link: ECC M, 10 px modules, quiet zone of 4)."""
    buffer = io.BytesIO()
    image(text, level=level, module_px=module_px, border=border).save(buffer, format="PNG")
    return buffer.getvalue()
