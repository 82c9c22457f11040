"""Decoding untrusted image bytes safely: type sniffing, size and pixel limits, EXIF orientation."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

# HEIC/HEIF (iPhone photos) through pillow-heif, registered with Pillow once.
pillow_heif.register_heif_opener()

# Formats accepted from users (Pillow names).
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF"})
MAX_PIXELS = 60_000_000  # 24 MP photos pass with room; decompression bombs do not


class ImageRejected(ValueError):
    """The bytes are not an image this service accepts; the message says why, for the user.

    `reason` is "type" (not an accepted image format), "size" (too many pixels) or "corrupt".
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, upright (EXIF orientation applied)
    format: str


def decode(data: bytes, *, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """Open JPEG/PNG/WebP/HEIC bytes as an upright 8-bit RGB image, refusing anything else or
    too large."""
    if not data:
        raise ImageRejected("The file is empty.", "corrupt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            fmt = probe.format or ""
            if fmt not in ACCEPTED_FORMATS:
                raise ImageRejected("Upload a JPEG, PNG, WebP or HEIC image.", "type")
            width, height = probe.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"The image is too large ({width}×{height} pixels); "
                    f"the limit is {max_pixels // 1_000_000} megapixels.",
                    "size",
                )
            probe.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The image has too many pixels to process safely.", "size") from None
    except UnidentifiedImageError:
        raise ImageRejected("The file is not an image this service can read.", "type") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # Truncated or corrupt data: Pillow raises OSError ("image file is truncated") and friends.
        raise ImageRejected(
            f"The image could not be read (it may be truncated): {exc}.", "corrupt"
        ) from None
    upright = ImageOps.exif_transpose(probe)
    return DecodedImage(image=to_rgb8(upright), format=fmt)


def to_rgb8(image: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: CMYK, greyscale, palette, alpha (on white), 16-bit, float."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit int) samples: scale to 0..255 instead of clipping to white.
        extrema = image.getextrema()
        top = max(1, int(extrema[1]) if isinstance(extrema[1], int | float) else 255)
        image = image.point(lambda v: v * 255 / top).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
