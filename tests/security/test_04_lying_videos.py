"""Item 4: a video cannot lie about itself. Every decoded frame is checked against what the
probe found: a picture that grows mid-way, frames past the length the header gives, or more
frames than any camera records fail the item with the reason, in analysis (whole or in parts),
in the redaction check and in redaction."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.events.models import Event
from registry.media import service as media_service
from registry.media.models import Media, MediaStatus
from registry.vision import video_probe, video_redact, video_tracks
from registry.vision.images import ImageRejected
from tests.video import dense_clip, lying_length_clip, size_switching_clip

CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "grows.mkv": (size_switching_clip, "changes its picture size mid-way"),
    "lies.mkv": (lying_length_clip, "runs past the length its header gives"),
    "dense.mp4": (dense_clip, "more frames than 240 a second"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_decoding_path_refuses_a_lying_video(name: str, tmp_path: Path) -> None:
    make, reason = CASES[name]
    data = make()
    info = video_probe.probe(data, max_seconds=1800)  # the header alone looks fine
    assert info.duration_s <= 3.5
    with pytest.raises(ImageRejected, match=reason):
        video_tracks.analyse_video(data, max_seconds=1800)
    # The last part of a video cut in parts used to have no end.
    with pytest.raises(ImageRejected, match=reason):
        video_tracks.analyse_video(
            data, max_seconds=1800, window=(min(1.0, info.duration_s / 2), math.inf)
        )
    with pytest.raises(ImageRejected, match=reason):
        video_tracks.scan(data, [(0.0, 60.0)], sample_fps=4)
    with pytest.raises(ImageRejected, match=reason):
        video_redact.redact_video(data, [], tmp_path / "out.mp4")


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_lying_video_fails_its_clearance_with_the_reason(
    name: str,
    session: Session,
    make_event: Callable[..., Event],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "video_segment_seconds", 1)
    make, reason = CASES[name]
    [(media, _)] = media_service.upload(
        session=session,
        actor=SYSTEM,
        files=[media_service.Upload(name, make())],
        event=make_event(),
    )
    assert media.status == MediaStatus.pending
    assert run_job(media.id) == MediaStatus.failed
    stored = session.get(Media, media.id)
    assert stored is not None
    assert reason in (stored.failure or "")
