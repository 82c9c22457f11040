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
    people: dict[str, list[compose.Portrait]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import ImageFile

    # Importing face_recognition makes Pillow accept truncated images, for the whole process.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    import face_recognition

    ImageFile.LOAD_TRUNCATED_IMAGES = False

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


def test_event_photos_find_faces_from_40_px_turned_and_partly_covered(
    faces_dir: Path, people: dict[str, list[compose.Portrait]]
) -> None:
    """BlazeFace over the whole photo (tiles at two scales): whole faces from 40 to 400 px,
    heads rolled 30 degrees, faces with a third behind a flat patch; nothing else."""
    from registry.vision import blazeface

    rng = random.Random(11)
    canvas = compose.background(faces_dir, (4000, 2700), rng)
    sources = [p for group in people.values() for p in group]
    placed = []
    for i, size in enumerate([40, 42, 46, 55, 70, 95, 140, 220, 400]):
        placed.append(
            compose.paste_face(canvas, sources[i % len(sources)], size, (300 + i * 420, 700))
        )
    for i, roll in enumerate([-30, -20, 20, 30]):
        placed.append(
            compose.paste_face(canvas, sources[i + 9], 90, (500 + i * 800, 1500), roll=roll)
        )
    for i, side in enumerate(compose.COVER_SIDES):
        placed.append(
            compose.paste_face(canvas, sources[i + 13], 110, (700 + i * 800, 2200), cover=side)
        )
    found = blazeface.detect(np.asarray(compose.add_noise(canvas, 3.0, rng)))
    boxes = [d.box for d in found]
    for box in placed:
        assert any(faces._iou(box, b) > 0.3 for b in boxes), f"face at {box} not found"
    assert len(found) == len(placed)  # each once
    for d in found:
        assert len(d.keypoints) == 6
        assert d.score >= blazeface.MIN_SCORE


def test_a_face_in_a_tile_corner_is_found_once(
    faces_dir: Path, people: dict[str, list[compose.Portrait]]
) -> None:
    """Tiles overlap: a face straddling tile edges is found (whole, in one tile) exactly once."""
    from registry.vision import blazeface

    passes = blazeface.passes(3000, 2000)
    step = blazeface.TILE - passes[0].overlap
    assert passes[0].overlap / passes[0].scale >= 64  # at least 64 px of the photo
    edge = round(step / passes[0].scale)  # where the first tiles meet, in the photo
    canvas = compose.background(faces_dir, (3000, 2000), random.Random(2))
    box = compose.paste_face(canvas, people["joe_biden"][0], 110, (edge, edge))
    found = blazeface.detect(np.asarray(canvas))
    assert [faces._iou(box, d.box) > 0.3 for d in found] == [True]


def test_rotated_and_covered_faces_carry_a_caution(
    faces_dir: Path, people: dict[str, list[compose.Portrait]]
) -> None:
    """A face with a third behind a flat patch is said to be partly covered: its encoding is
    then trusted less (decided against a wider review band)."""
    from registry.vision import analysis

    covered, whole = [], []
    for n, portrait in enumerate(p[1] for p in people.values() if len(p) > 1):
        canvas = compose.background(faces_dir, (1200, 900), random.Random(n))
        side = compose.COVER_SIDES[n % 4]
        box = compose.paste_face(canvas, portrait, 120, (600, 450), cover=side)
        [face] = [f for f in analysis.analyse_image(canvas).faces if faces._iou(f.box, box) > 0.3]
        covered.append(face.caution)
        canvas = compose.background(faces_dir, (1200, 900), random.Random(n))
        box = compose.paste_face(canvas, portrait, 120, (600, 450))
        [face] = [f for f in analysis.analyse_image(canvas).faces if faces._iou(f.box, box) > 0.3]
        whole.append(face.caution)
    assert sum(c == faces.COVERED for c in covered) >= len(covered) // 2
    assert sum(c is not None for c in whole) <= len(whole) // 5


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
