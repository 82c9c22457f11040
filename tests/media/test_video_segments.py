"""A long video is cleared in parts (separate jobs, real PyAV decoding and the real face models):
the parts stitch into the same tracks a single pass finds, each part is analysed once, and a
worker that dies holding a part loses only that part."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.config import get_settings
from registry.db import utcnow
from registry.events.models import Booking, Event
from registry.media import segments
from registry.media.models import Media, MediaStatus, VideoSegment
from registry.vision import analysis, video_tracks
from registry.worker import jobs
from tests.video import Walker, compose_clip

pytestmark = pytest.mark.usefixtures("faces_dir")


def _portrait(faces_dir: Path, person: str) -> bytes:
    return sorted((faces_dir / "people" / person).glob("*.jpg"))[0].read_bytes()


def test_a_video_in_parts_gives_one_pass_tracks_and_a_dead_worker_loses_only_its_part(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    session: Session,
    faces_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = make_event(channels=["internal"])
    olive = make_booking(event=event, opt_out=True)
    clip = compose_clip(
        [
            # She walks through both cuts wearing her badge; he stands through them.
            Walker(
                _portrait(faces_dir, "barack_obama"),
                (20, 20),
                (260, 20),
                0.0,
                6.5,
                height=200,
                badge=olive.badge_code,
            ),
            Walker(_portrait(faces_dir, "joe_biden"), (430, 10), (430, 10), 1.0, 7.5, height=340),
        ],
        seconds=8.0,
    )
    monkeypatch.setattr(get_settings(), "video_segment_seconds", 2.5)
    answer = client.post(
        "/api/media",
        files=[("files", ("talk.mp4", clip, "video/mp4"))],
        data={"event_id": str(event.id)},
        headers=comms_headers,
    )
    assert answer.status_code == 202, answer.text
    media_id = uuid.UUID(answer.json()[0]["id"])

    @contextmanager
    def same_session() -> Iterator[Session]:
        yield session
        session.flush()

    windows: list[tuple[float, float] | None] = []

    def counted(
        data: bytes | Path, window: tuple[float, float] | None = None
    ) -> analysis.Analysis | video_tracks.VideoAnalysis:
        windows.append(window)
        return jobs.analyse_bytes(data, window)  # the real analysis, counted

    more: list[int] = []
    # A worker claims the first part and dies with it (never finishes, its lease stands).
    held = segments.claim(session=session, media_id=media_id)
    assert held is not None
    assert (held.number, held.start_s, held.free) == (1, 0.0, 2)
    # Another job takes every other part, and asks for help with them (none came here).
    status = jobs.clear_media(
        media_id,
        analyse=counted,
        session_factory=same_session,
        heartbeat=False,
        fan_out=more.append,
    )
    assert status == MediaStatus.processing
    assert more == [1]
    assert [w[0] for w in windows if w] == pytest.approx([8 / 3, 16 / 3], abs=1e-3)
    media = session.get(Media, media_id)
    assert media is not None
    assert media.status == MediaStatus.processing
    # Nothing is taken while the dead worker's lease stands ...
    assert jobs.clear_media(media_id, analyse=counted, session_factory=same_session) is None
    # ... and when it runs out, only its part is analysed again.
    part = session.exec(select(VideoSegment).where(VideoSegment.number == 1)).one()
    part.lease_until = utcnow() - timedelta(seconds=1)
    session.add(part)
    status = jobs.clear_media(
        media_id, analyse=counted, session_factory=same_session, heartbeat=False
    )
    assert status == MediaStatus.flagged
    assert len(windows) == 3
    last = windows[-1]
    assert last is not None
    assert last[0] == 0.0
    assert last[1] == pytest.approx(8 / 3, abs=1e-3)
    assert session.exec(select(VideoSegment).where(VideoSegment.media_id == media_id)).all() == []

    # The stitched tracks are one per person, across both cuts, as one pass finds them.
    body = client.get(f"/api/media/{media_id}", headers=comms_headers).json()
    one_pass = video_tracks.analyse_video(clip)
    assert len(body["tracks"]) == len(one_pass.tracks) == 2, body["tracks"]
    olive_track, other = body["tracks"]
    assert (olive_track["decision"], olive_track["via"]) == ("opted_out", "badge")
    assert olive_track["booking_id"] == str(olive.id)
    assert olive_track["start_s"] == 0.0
    assert 6.0 <= olive_track["end_s"] <= 6.5
    assert other["decision"] == "clear"
    assert 1.0 <= other["start_s"] <= 1.5
    assert 7.0 <= other["end_s"] <= 7.5
    single = sorted((t.samples[0].t_s, t.samples[-1].t_s) for t in one_pass.tracks)
    stitched = [(t["start_s"], t["end_s"]) for t in body["tracks"]]
    for (start, end), (one_start, one_end) in zip(stitched, single, strict=True):
        assert start == pytest.approx(one_start, abs=0.1)
        assert end == pytest.approx(one_end, abs=0.6)  # samples fall on other frames in parts
