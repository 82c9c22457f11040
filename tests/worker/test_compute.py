"""Face detection a request waits for runs on a worker when a broker is configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from registry.dispatch import compute
from registry.media.storage import get_storage
from registry.vision import analysis, faces, images, video_tracks
from tests.video import Walker, compose_clip
from tests.worker.conftest import Workers, wait_for

pytestmark = pytest.mark.worker


def test_answers_survive_the_wire(group_photo: bytes) -> None:
    local = analysis.analyse(group_photo)
    again = compute.analysis_from_json(compute.analysis_to_json(local))
    assert (again.width, again.height, again.min_face_px) == (
        local.width,
        local.height,
        local.min_face_px,
    )
    assert [f.box for f in again.faces] == [f.box for f in local.faces]
    for a, b in zip(again.faces, local.faces, strict=True):
        assert a.encoding is not None
        assert b.encoding is not None
        assert np.array_equal(a.encoding, b.encoding)
    assert again.codes == local.codes


def test_with_a_broker_a_worker_finds_the_faces(
    face_photo: bytes,
    group_photo: bytes,
    broker: str,
    workers: Workers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected_reference = faces.find_reference_faces(images.decode(face_photo).image)
    expected_group = analysis.analyse(group_photo)
    worker = workers.start("--concurrency", "1")
    workers.wait_ready()
    wait_for(lambda: "ready." in worker.output(), timeout=60, what="the worker", logs=workers.logs)

    def not_here(*_: Any, **__: Any) -> Any:
        raise AssertionError("face detection ran in the web process")

    monkeypatch.setattr(faces, "find_reference_faces", not_here)
    monkeypatch.setattr(analysis, "analyse", not_here)
    [found] = compute.reference_faces(face_photo)
    assert found.box == expected_reference[0].box
    assert np.allclose(found.encoding, expected_reference[0].encoding)
    result = compute.analyse(group_photo)
    assert [f.box for f in result.faces] == [f.box for f in expected_group.faces]
    assert "registry.reference_faces" in worker.output()


def test_without_a_worker_the_request_is_told_to_try_again(
    face_photo: bytes, broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.errors import Unavailable

    monkeypatch.setattr("registry.dispatch.broker.WAIT_SECONDS", 0.5)
    with pytest.raises(Unavailable, match="try again"):
        compute.reference_faces(face_photo)


def test_photos_and_answers_rest_in_redis_sealed(
    face_photo: bytes, broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What sits in Redis while no worker is free is the sealed photo, never the photo; a job
    whose caller gave up is done by nobody."""
    import base64
    import json

    import redis

    from registry.dispatch import broker as brokers
    from registry.errors import Unavailable

    monkeypatch.setattr("registry.dispatch.broker.WAIT_SECONDS", 0.3)
    with pytest.raises(Unavailable):
        compute.reference_faces(face_photo)
    queued = redis.Redis.from_url(broker).lrange(brokers.INTERACTIVE, 0, -1)
    assert queued
    message = json.loads(queued[-1])
    args = json.loads(base64.b64decode(message["body"]))[0]
    sealed, label, deadline = args
    raw = base64.b64decode(sealed)
    assert face_photo[:64] not in raw
    assert b"JFIF" not in raw
    assert brokers.unseal(sealed, label) == face_photo  # only the key opens it
    # A worker that takes it up after the caller stopped waiting does nothing.
    assert compute.reference_faces_task(sealed, label, deadline) is None
    redis.Redis.from_url(broker).delete(brokers.INTERACTIVE)


def test_with_a_broker_workers_check_a_redacted_video_in_parts(
    faces_dir: Path, broker: str, workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redacted video's check is shared out: its time ranges in parts, each read from storage
    by a worker; the web process never runs face detection."""
    portrait = sorted((faces_dir / "people" / "joe_biden").glob("*.jpg"))[0].read_bytes()
    clip = compose_clip(
        [Walker(portrait, (40, 20), (300, 20), 0.0, 10.0, height=220)], seconds=10.0, audio=False
    )
    expected = video_tracks.scan(clip, [(0.0, 10.0)], sample_fps=4)
    key = get_storage().put(clip, kind="renditions")
    first = workers.start("--concurrency", "1")
    second = workers.start("--concurrency", "1")
    workers.wait_ready()

    def not_here(*_: Any, **__: Any) -> Any:
        raise AssertionError("face detection ran in the web process")

    monkeypatch.setattr(video_tracks, "scan", not_here)
    monkeypatch.setattr(analysis, "analyse_image", not_here)
    with get_storage().local_copy(key, kind="renditions") as path:
        found = compute.scan_video(path, key, [(0.0, 10.0)], sample_fps=4)
    assert abs(len(found) - len(expected)) <= 2
    assert [t for t, _ in found] == sorted(t for t, _ in found)
    assert found[0][0] == 0.0
    assert found[-1][0] >= 9.5
    assert sum(len(a.faces) for _, a in found) >= sum(len(a.faces) for _, a in expected) - 2
    assert max(len(a.faces) for _, a in found) == 1
    encoded = [f for _, a in found for f in a.faces if f.encoding is not None]
    assert len(encoded) >= 2  # encodings travel too
    runs = first.output().count("registry.scan_video") + second.output().count(
        "registry.scan_video"
    )
    assert runs >= 2, workers.logs()  # received (and succeeded): one task per part


def test_a_check_is_cut_into_even_parts_in_time_order() -> None:
    assert compute.split([(0.0, 3.0)], 4) == [[(0.0, 3.0)]]  # too short to share
    halves = compute.split([(0.0, 6.0), (5.0, 10.0), (20.0, 22.0)], 2)
    assert halves == [[(0.0, 6.0)], [(6.0, 10.0), (20.0, 22.0)]]
    parts = compute.split([(float(i), i + 0.5) for i in range(0, 60, 2)], 3)
    assert len(parts) == 3
    assert [sum(b - a for a, b in p) for p in parts] == pytest.approx([5.0, 5.0, 5.0])
