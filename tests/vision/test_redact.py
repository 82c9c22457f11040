"""Redaction covers faces so that dlib no longer finds or matches them; metadata is dropped."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image

from registry.vision import faces, redact
from tests.vision import compose


def test_obscured_face_is_neither_found_nor_matched_and_the_other_stays(faces_dir: Path) -> None:
    people = compose.portraits(faces_dir)
    canvas = compose.background(faces_dir, (2400, 1600), random.Random(4))
    hidden = compose.paste_face(canvas, people["barack_obama"][1], 180, (700, 700))
    kept = compose.paste_face(canvas, people["joe_biden"][0], 180, (1700, 700))
    [found_hidden] = [b for b in faces.detect(canvas) if abs(b[3] - hidden[3]) < 40]
    out = redact.obscure(canvas, [found_hidden])
    after = faces.detect(out, scale=1.5)
    assert not any(abs(b[3] - hidden[3]) < 80 for b in after)
    assert any(abs(b[3] - kept[3]) < 40 for b in after)
    reference = faces.find_reference_faces(compose.load_rgb(people["barack_obama"][0].path))[0]
    for face in faces.find_faces(out, scale=1.5):
        assert faces.distance(face.encoding, reference.encoding) > 0.6
    assert canvas.getpixel((hidden[3] + 5, hidden[0] + 5)) != out.getpixel(
        (hidden[3] + 5, hidden[0] + 5)
    )


def test_clean_jpeg_has_no_exif_gps_or_thumbnail() -> None:
    image = Image.new("RGB", (200, 100), (10, 20, 30))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS
    source = io.BytesIO()
    image.save(source, format="JPEG", exif=exif)
    assert b"CameraMaker" in source.getvalue()
    cleaned = redact.clean_jpeg(Image.open(io.BytesIO(source.getvalue())))
    assert b"Exif" not in cleaned
    assert b"CameraMaker" not in cleaned
    assert not Image.open(io.BytesIO(cleaned)).getexif()


def test_cover_box_is_bigger_than_the_face_and_shifted_up() -> None:
    top, right, bottom, left = redact.cover_box((100, 200, 200, 100), (1000, 1000))
    assert right - left >= 160
    assert bottom - top >= 160
    assert top < 100 - 30
