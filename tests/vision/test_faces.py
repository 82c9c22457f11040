"""Face detection and encodings with the real dlib model on the shared labelled photos."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from registry.vision import faces
from tests.vision import compose


def load(path: Path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


@pytest.fixture(scope="module")
def people(faces_dir: Path) -> dict[str, list[compose.Portrait]]:
    return compose.portraits(faces_dir)


def one_encoding(path: Path) -> np.ndarray:
    [face] = faces.find_reference_faces(load(path))
    return face.encoding


def test_same_person_is_close_and_another_person_is_far(
    people: dict[str, list[compose.Portrait]],
) -> None:
    obama = [p.path for p in people["barack_obama"]]
    biden = [p.path for p in people["joe_biden"]]
    reference = one_encoding(obama[0])
    assert faces.distance(reference, one_encoding(obama[1])) < 0.5
    assert faces.distance(reference, one_encoding(biden[0])) > 0.6


def test_crop_encoding_equals_whole_image_encoding(
    people: dict[str, list[compose.Portrait]],
) -> None:
    import face_recognition

    source = people["kit_harington"][0]
    image = load(source.path)
    [from_crop] = faces.encode(image, [source.box])
    [from_whole] = face_recognition.face_encodings(np.asarray(image), [source.box])
    assert faces.distance(from_crop, from_whole) < 0.02


def test_small_faces_need_the_resampled_pass(
    faces_dir: Path, people: dict[str, list[compose.Portrait]]
) -> None:
    rng = random.Random(7)
    canvas = compose.background(faces_dir, (3000, 2000), rng)
    placed = compose.paste_face(canvas, people["barack_obama"][0], 44, (1500, 1000))
    found_at_1 = faces.detect(canvas, scale=1.0)
    found_at_15 = faces.detect(canvas, scale=1.5)
    assert not any(abs(b[3] - placed[3]) < 20 for b in found_at_1)
    [box] = [b for b in found_at_15 if abs(b[3] - placed[3]) < 20 and abs(b[0] - placed[0]) < 20]
    assert 30 <= faces.box_width(box) <= 70


def test_boxes_come_back_in_full_resolution_coordinates(
    faces_dir: Path, people: dict[str, list[compose.Portrait]]
) -> None:
    canvas = compose.background(faces_dir, (2400, 1600), random.Random(3))
    placed = compose.paste_face(canvas, people["joe_biden"][0], 160, (600, 500))
    [box] = faces.detect(canvas, scale=0.5)
    assert all(abs(a - b) < 25 for a, b in zip(box, placed, strict=True))


def test_event_photo_detection_finds_40px_faces_without_a_2x_pass(
    faces_dir: Path, people: dict[str, list[compose.Portrait]]
) -> None:
    rng = random.Random(11)
    canvas = compose.background(faces_dir, (4000, 2700), rng)
    sources = [p for group in people.values() for p in group]
    placed = [
        compose.paste_face(
            canvas, sources[i % len(sources)], size, (300 + i * 480, 900 + (i % 2) * 900)
        )
        for i, size in enumerate([40, 42, 46, 55, 70, 95, 140, 220])
    ]
    found = faces.detect_event_photo(compose.add_noise(canvas, 3.0, rng))
    for box in placed:
        cx, cy = (box[1] + box[3]) / 2, (box[0] + box[2]) / 2
        assert any(
            abs((b[1] + b[3]) / 2 - cx) < 0.4 * faces.box_width(box)
            and abs((b[0] + b[2]) / 2 - cy) < 0.4 * faces.box_width(box)
            for b in found
        ), f"face of {faces.box_width(box)} px at {box} not found"
    assert len(found) == len(placed)


def test_a_photo_with_200_faces_is_analysed(
    faces_dir: Path, people: dict[str, list[compose.Portrait]]
) -> None:
    from registry.vision import analysis

    rng = random.Random(200)
    canvas = compose.background(faces_dir, (4400, 3000), rng)
    sources = [p for group in people.values() for p in group]
    for i in range(200):
        row, column = divmod(i, 20)
        compose.paste_face(
            canvas, sources[i % len(sources)], 80, (110 + column * 220, 150 + row * 290)
        )
    data = compose.Composed(canvas).jpeg()
    result = analysis.analyse(data)
    assert len(result.faces) >= 195
    assert sum(1 for f in result.faces if f.encoding is not None) == len(result.faces)


def test_encodings_are_dlibs_own_descriptors(faces_dir: Path) -> None:
    """The descriptor network runs in OpenCV (vision/resnet.py) but must give what dlib gives:
    stored encodings, thresholds and reference photos depend on it."""
    import dlib
    import face_recognition_models as files

    image = compose.load_rgb(faces_dir / "groups" / "dlib_bald_guys.jpg")
    boxes = faces.detect(image, upsample=1)
    assert len(boxes) >= 20
    ours = faces.encode(image, boxes)
    array = np.asarray(image)
    landmarks = dlib.shape_predictor(files.pose_predictor_five_point_model_location())
    network = dlib.face_recognition_model_v1(files.face_recognition_model_location())
    for (top, right, bottom, left), encoding in zip(boxes, ours, strict=True):
        shape = landmarks(array, dlib.rectangle(left, top, right, bottom))
        expected = np.array(network.compute_face_descriptor(array, shape, 1))
        assert np.abs(encoding - expected).max() < 1e-5
