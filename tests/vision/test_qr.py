"""Badge QR codes read by zxing-cpp from composed photos, and linked to the face above them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from registry.vision import badge_links, decision, faces, qr
from tests.vision import compose


@pytest.mark.parametrize("module_px", [3, 4, 6])
def test_badges_are_read_in_a_24mp_photo(faces_dir: Path, module_px: int) -> None:
    canvas = compose.background(faces_dir, (6000, 4000), random.Random(module_px))
    badge = compose.badge_image("ABCDE23456", module_px)
    canvas.paste(badge, (2500, 2200))
    found = qr.read_codes(canvas)
    assert [s.text for s in found] == ["ABCDE23456"]
    [sighting] = found
    assert abs(sighting.box[3] - (2500 + 2 * module_px)) <= module_px


def test_badge_below_a_face_is_linked_to_it(faces_dir: Path) -> None:
    people = compose.portraits(faces_dir)
    canvas = compose.background(faces_dir, (3000, 2000), random.Random(1))
    left_face = compose.paste_face(canvas, people["barack_obama"][0], 120, (900, 700))
    right_face = compose.paste_face(canvas, people["joe_biden"][0], 120, (2000, 700))
    badge = compose.badge_image("QRSTU23456", 4)
    canvas.paste(badge, (2000 - badge.width // 2, right_face[2] + 150))
    [sighting] = qr.read_codes(canvas)
    boxes = faces.detect(canvas, scale=1.0)
    inputs = [decision.FaceInput(id=i + 1, box=b, encoding=None) for i, b in enumerate(boxes)]
    links, ambiguous = badge_links.link_badges(
        inputs, [decision.BadgeInput(code=sighting.text, box=sighting.box, booking_id=None)]
    )
    assert ambiguous == {}
    [face_id] = links.values()
    linked = next(f for f in inputs if f.id == face_id)
    assert abs(linked.box[3] - right_face[3]) < 30
    assert abs(linked.box[3] - left_face[3]) > 500
