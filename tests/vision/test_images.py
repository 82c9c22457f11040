"""Decoding every kind of photo users send, and refusing what is not one."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from registry.vision import images


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("image", "fmt"),
    [
        (Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"),
        (Image.new("L", (40, 30), 128), "PNG"),
        (Image.new("RGBA", (40, 30), (255, 0, 0, 0)), "PNG"),
        (Image.new("LA", (40, 30), (10, 255)), "PNG"),
        (Image.new("P", (40, 30), 3), "PNG"),
        (Image.new("RGB", (40, 30), (1, 200, 3)), "WEBP"),
        (Image.new("RGB", (40, 30), (1, 200, 3)), "HEIF"),
    ],
)
def test_modes_and_formats_become_8_bit_rgb(image: Image.Image, fmt: str) -> None:
    decoded = images.decode(encoded(image, fmt))
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (40, 30)


def test_transparent_pixels_become_white() -> None:
    decoded = images.decode(encoded(Image.new("RGBA", (8, 8), (255, 0, 0, 0)), "PNG")).image
    assert decoded.getpixel((0, 0)) == (255, 255, 255)


def test_16_bit_greyscale_keeps_its_contrast() -> None:
    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    decoded = images.decode(encoded(Image.fromarray(ramp), "PNG")).image
    values = np.asarray(decoded.convert("L"))
    assert values.min() < 10
    assert values.max() > 245
    assert len(np.unique(values)) > 100


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "corrupt"),
        (b"GIF89a" + b"\x00" * 64, "type"),
        (b"%PDF-1.7\n", "type"),
        (encoded(Image.new("RGB", (20, 20)), "BMP"), "type"),
    ],
)
def test_refusals_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(images.ImageRejected) as refused:
        images.decode(data)
    assert refused.value.reason == reason


def test_pixel_limit_is_enforced_before_decoding() -> None:
    big = encoded(Image.new("1", (9000, 9000)), "PNG")
    with pytest.raises(images.ImageRejected) as refused:
        images.decode(big, max_pixels=50_000_000)
    assert refused.value.reason == "size"
