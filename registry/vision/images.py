"""Decoding untrusted image bytes safely: type sniffing, size and pixel limits, EXIF orientation."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# HEIC/HEIF (iPhone photos) through pillow-heif, registered with Pillow once.
pillow_heif.register_heif_opener()

# Formats accepted from users (Pillow names).
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF"})
SELFIE_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})  # reference photos (what phones share)
SELFIE_PIXELS = 12_000_000
MAX_PIXELS = 60_000_000  # 24 MP photos pass with room; decompression bombs do not


class ImageRejected(ValueError):
    """The bytes are not an image this service accepts; the message says why, for the user.

    `reason` is "type" (not an accepted image format), "size" (too many pixels) or "corrupt".
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[ImageRejected], tuple[str, str]]:
        # Raised in a worker process, it reaches the pool's parent whole: every constructor
        # argument, not only `args` (a failed unpickle there broke the pool for every job).
        return (type(self), (str(self), self.reason))


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, upright (EXIF orientation applied)
    format: str


def _open(
    data: bytes, max_pixels: int, formats: frozenset[str] = ACCEPTED_FORMATS
) -> ImageFile.ImageFile:
    """Open from the header only (no pixels decoded yet), refusing what we do not accept."""
    if not data:
        raise ImageRejected("The file is empty.", "corrupt")
    try:
        with warnings.catch_warnings():
            # Pillow's own warning threshold is not ours: the pixel limit is checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageRejected(
            "The image has far too many pixels to process safely.", "size"
        ) from None
    except (UnidentifiedImageError, OSError):
        raise ImageRejected("The file is not an image this service can read.", "type") from None
    if (image.format or "") not in formats:
        named = "JPEG, PNG, WebP or HEIC" if "HEIF" in formats else "JPEG, PNG or WebP"
        raise ImageRejected(f"Upload {named} photos.", "type")
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            f"The photo is {width}×{height} ({width * height / 1e6:.0f} MP); the limit is "
            f"{max_pixels / 1e6:.0f} MP.",
            "size",
        )
    return image


def probe(data: bytes, *, max_pixels: int = MAX_PIXELS) -> tuple[str, int, int]:
    """Format, width and height from the header: a cheap check at upload time."""
    image = _open(data, max_pixels)
    return image.format or "", image.width, image.height


def decode(
    data: bytes, *, max_pixels: int = MAX_PIXELS, formats: frozenset[str] = ACCEPTED_FORMATS
) -> DecodedImage:
    """Open JPEG/PNG/WebP/HEIC bytes (or only `formats`) as an upright 8-bit RGB image,
    refusing anything else or too large. Messages never carry the decoder's own words."""
    image = _open(data, max_pixels, formats)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError):
        # Truncated or corrupt data: Pillow raises OSError ("image file is truncated") and friends.
        raise ImageRejected(
            "The image could not be read: it may be truncated or damaged.", "corrupt"
        ) from None
    upright = ImageOps.exif_transpose(image)
    return DecodedImage(image=to_rgb8(upright), format=image.format or "")


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
