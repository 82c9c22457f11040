"""A video's redaction as a job in parts (`media.redactions`), with the real encoder and the real
check: parts claimed under leases and taken up again when a lease runs out, a crashed part tried
again then the redaction failed, a check that still finds someone encoding only the parts it
touches again, nothing served before it is ready, nothing left behind after."""

from __future__ import annotations

import io
import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit.models import AuditEntry
from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.db import utcnow
from registry.dispatch import compute
from registry.events.models import Booking, Event
from registry.media import leases, redactions, renditions, service
from registry.media.models import Media, MediaStatus, Rendition, RenditionPart
from registry.media.storage import get_storage
from registry.publishing import facts as gate_facts
from registry.rights import retention
from registry.vision import video_redact
from registry.worker import jobs
from tests.video import Walker, compose_clip

SECONDS = 8.0


@pytest.fixture
def flagged_video(
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    faces_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Media:
    """An 8 s video (parts of 2 s) where an attendee who opted out walks by wearing her badge
    from 1 s to 6 s, and someone else stands still throughout."""
    monkeypatch.setattr(get_settings(), "video_segment_seconds", 2.0)
    event = make_event(channels=["internal"])
    olive = make_booking(event=event, opt_out=True)
    people = faces_dir / "people"
    clip = compose_clip(
        [
            Walker(
                sorted((people / "barack_obama").glob("*.jpg"))[0].read_bytes(),
                (20, 20),
                (300, 20),
                1.0,
                6.0,
                height=220,
                badge=olive.badge_code,
            ),
            Walker(
                sorted((people / "joe_biden").glob("*.jpg"))[0].read_bytes(),
                (400, 0),
                (400, 0),
                0.0,
                SECONDS,
                height=360,
            ),
        ],
        seconds=SECONDS,
    )
    [(media, _)] = service.upload(
        session=session, actor=SYSTEM, files=[service.Upload("talk.mp4", clip)], event=event
    )
    assert run_job(media.id) == MediaStatus.flagged
    return media


@pytest.fixture
def same_session(session: Session) -> Callable[[], Any]:
    @contextmanager
    def unit() -> Iterator[Session]:
        yield session
        session.flush()
        redactions.delete_files(session)  # what a commit would delete

    return unit


def _parts(session: Session, rendition: Rendition) -> list[RenditionPart]:
    return list(
        session.exec(
            select(RenditionPart)
            .where(RenditionPart.rendition_id == rendition.id)
            .order_by(RenditionPart.number)  # type: ignore[arg-type]
        ).all()
    )


def _frames(data: bytes) -> list[float]:
    with av.open(io.BytesIO(data), mode="r") as container:
        return [float(f.time) for f in container.decode(video=0)]


def test_parts_are_leased_one_at_a_time_and_a_dead_jobs_part_is_taken_up_again(
    session: Session, flagged_video: Media
) -> None:
    rendition = renditions.redact(session=session, actor=SYSTEM, media=flagged_video)
    assert (rendition.status, rendition.progress, rendition.sha256) == ("pending", 0.0, "")
    covered = [f.number for f in service.faces_of(session=session, media=flagged_video)]
    assert rendition.obscured_faces
    assert set(rendition.obscured_faces) < set(covered)

    claims = [redactions.claim(session=session, rendition_id=rendition.id) for _ in range(4)]
    assert [c.number for c in claims if c] == [1, 2, 3, 4]
    assert [(c.start_s, c.end_s) for c in claims if c] == [
        (0.0, 2.0),
        (2.0, 4.0),
        (4.0, 6.0),
        (6.0, math.inf),
    ]
    assert [c.free for c in claims if c] == [3, 2, 1, 0]
    assert rendition.status == "processing"
    # Every part held by a live job: nothing for another, and nothing for the sweep.
    assert redactions.claim(session=session, rendition_id=rendition.id) is None
    assert redactions.sweep(session=session) == []
    # The job holding part 2 died: once its lease runs out, the sweep queues the redaction again
    # and the next job takes that part (and only it).
    later = utcnow() + leases.lease() + timedelta(seconds=1)
    assert redactions.sweep(session=session, at=later) == [rendition.id]
    part = _parts(session, rendition)[1]
    part.lease_until = utcnow() - timedelta(seconds=1)
    session.add(part)
    again = redactions.claim(session=session, rendition_id=rendition.id)
    assert again is not None
    assert (again.number, part.attempts) == (2, 2)
    # A heartbeat keeps a lease; a step no longer held is not renewed.
    assert redactions.renew(session=session, rendition_id=rendition.id, number=2)
    assert not redactions.renew(session=session, rendition_id=rendition.id, number=9)


def test_a_redaction_made_in_parts_is_the_whole_video_every_frame_in_step(
    session: Session,
    flagged_video: Media,
    same_session: Callable[[], Any],
    client: TestClient,
    comms_headers: dict[str, str],
) -> None:
    rendition = renditions.redact(session=session, actor=SYSTEM, media=flagged_video)
    url = f"/api/media/{flagged_video.id}/renditions/{rendition.id}"
    assert client.get(url, headers=comms_headers).status_code == 409
    refused = gate_facts.publishable(
        session=session, media=flagged_video, channel="internal", rendition_id=rendition.id
    )
    assert not refused.allowed
    assert "still being made (0% done)" in refused.reasons[0]

    encoded: list[tuple[float, float]] = []

    def encode(*args: Any, window: tuple[float, float], **kwargs: Any) -> int:
        encoded.append(window)
        return video_redact.redact_part(*args, window=window, **kwargs)

    jobs.redact_video(rendition.id, session_factory=same_session, heartbeat=False, encode=encode)
    session.refresh(rendition)
    assert (rendition.status, rendition.progress, rendition.verified) == ("ready", 1.0, True)
    assert rendition.passes == 1
    assert encoded == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, math.inf)]
    # Joined and checked, its parts are gone: rows and files.
    assert _parts(session, rendition) == []
    assert not any(kind == "parts" for kind, _ in get_storage().walk())

    data = client.get(url, headers=comms_headers).content
    with get_storage().local_copy(flagged_video.sha256) as original:
        source = _frames(original.read_bytes())
    copy = _frames(data)
    assert len(copy) == len(source)  # no frame lost or doubled where the parts meet
    assert copy == pytest.approx(source, abs=1e-3)  # each frame keeps its time
    with av.open(io.BytesIO(data), mode="r") as container:
        assert container.streams.audio[0].codec_context.name == "aac"  # the sound, once
        audio = container.streams.audio[0]
        assert audio.time_base is not None
        sound = sum(p.duration or 0 for p in container.demux(audio))
        assert float(sound * audio.time_base) == pytest.approx(SECONDS, abs=0.1)
    allowed = gate_facts.publishable(
        session=session, media=flagged_video, channel="internal", rendition_id=rendition.id
    )
    assert allowed.allowed, allowed.reasons
    [done] = session.exec(
        select(AuditEntry).where(
            AuditEntry.action == "media.redacted", AuditEntry.entity_id == str(flagged_video.id)
        )
    ).all()
    assert (done.after or {})["verified"] is True


def test_a_check_that_still_finds_her_encodes_again_only_the_parts_it_touches(
    session: Session, flagged_video: Media, same_session: Callable[[], Any]
) -> None:
    """Covers that miss (as a track whose boxes lag a fast walker would): the check of the
    joined copy still finds her, covers are added where, and the next pass re-encodes only the
    parts around those times; the copy is then verified."""
    rendition = renditions.redact(session=session, actor=SYSTEM, media=flagged_video)
    # Her track's covers moved to an empty corner from 3 s on: she is visible from 3 s to 6 s.
    moved = []
    for cover in rendition.covers or []:
        samples = [
            s if s[0] < 3.0 or cover["factor"] == 1.3 else [s[0], 300, 630, 350, 580]
            for s in cover["samples"]
        ]
        moved.append({**cover, "samples": samples})
    rendition.covers = moved
    session.add(rendition)
    encoded: list[tuple[float, float]] = []

    def encode(*args: Any, window: tuple[float, float], **kwargs: Any) -> int:
        encoded.append(window)
        return video_redact.redact_part(*args, window=window, **kwargs)

    jobs.redact_video(rendition.id, session_factory=same_session, heartbeat=False, encode=encode)
    session.refresh(rendition)
    assert (rendition.status, rendition.verified) == ("ready", True)
    assert rendition.passes >= 2
    first, again = encoded[:4], encoded[4:]
    assert first == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, math.inf)]
    assert again
    assert (0.0, 2.0) not in again  # far from where she was seen: kept
    assert set(again) <= {(2.0, 4.0), (4.0, 6.0), (6.0, math.inf)}
    added = [c for c in rendition.covers or [] if c.get("pass")]
    assert added
    assert all(2.5 <= c["samples"][0][0] <= 6.5 for c in added)


def test_a_part_that_keeps_crashing_fails_the_redaction_cleanly(
    session: Session,
    flagged_video: Media,
    same_session: Callable[[], Any],
    client: TestClient,
    comms_headers: dict[str, str],
) -> None:
    rendition = renditions.redact(session=session, actor=SYSTEM, media=flagged_video)
    calls: list[tuple[float, float]] = []

    def encode(*args: Any, window: tuple[float, float], **kwargs: Any) -> int:
        calls.append(window)
        if window[0] == 2.0:
            raise RuntimeError("the encoder crashed")
        return video_redact.redact_part(*args, window=window, **kwargs)

    for _ in range(leases.MAX_ATTEMPTS + 1):
        jobs.redact_video(
            rendition.id, session_factory=same_session, heartbeat=False, encode=encode
        )
    session.refresh(rendition)
    assert rendition.status == "failed"
    assert rendition.failure == "Redaction failed (RuntimeError)."
    assert calls.count((2.0, 4.0)) == leases.MAX_ATTEMPTS  # then no more tries
    assert calls.count((0.0, 2.0)) == 1  # a part done is not encoded again
    assert _parts(session, rendition) == []
    assert not any(kind == "parts" for kind, _ in get_storage().walk())
    status = client.get(
        f"/api/media/{flagged_video.id}/renditions/{rendition.id}/status", headers=comms_headers
    ).json()
    assert (status["status"], status["failure"]) == ("failed", "Redaction failed (RuntimeError).")
    download = client.get(
        f"/api/media/{flagged_video.id}/renditions/{rendition.id}", headers=comms_headers
    )
    assert download.status_code == 409
    assert "could not be made" in download.json()["detail"]
    refused = gate_facts.publishable(
        session=session, media=flagged_video, channel="internal", rendition_id=rendition.id
    )
    assert "could not be made" in refused.reasons[0]


def test_a_step_given_back_after_a_crash_is_queued_again_by_the_sweep(
    session: Session, flagged_video: Media, same_session: Callable[[], Any]
) -> None:
    """A job whose step crashed gives it back and ends: with no other job alive the sweep queues
    the redaction again at once (not only once a lease runs out), for a part and for the join."""
    rendition = renditions.redact(session=session, actor=SYSTEM, media=flagged_video)
    crashes = {"part": 1, "join": 1}

    def encode(*args: Any, window: tuple[float, float], **kwargs: Any) -> int:
        if window[0] == 2.0 and crashes["part"]:
            crashes["part"] -= 1
            raise OSError("the disk was full for a moment")
        return video_redact.redact_part(*args, window=window, **kwargs)

    def scan(*args: Any, **kwargs: Any) -> Any:
        if crashes["join"]:
            crashes["join"] -= 1
            raise OSError("storage did not answer")
        return compute.scan_video(*args, **kwargs)

    def run() -> None:
        jobs.redact_video(
            rendition.id, session_factory=same_session, heartbeat=False, encode=encode, scan=scan
        )

    run()  # part 1 done, part 2 crashed and given back: the job ended there
    session.refresh(rendition)
    assert rendition.status == "processing"
    assert [p.status for p in _parts(session, rendition)][:2] == ["done", "pending"]
    assert redactions.sweep(session=session) == [rendition.id]
    run()  # every part done, then the join crashed and was given back
    session.refresh(rendition)
    assert rendition.status == "processing"
    assert {p.status for p in _parts(session, rendition)} == {"done"}
    assert redactions.sweep(session=session) == [rendition.id]
    run()
    session.refresh(rendition)
    assert (rendition.status, rendition.verified) == ("ready", True)
    assert redactions.sweep(session=session) == []


def test_a_video_deleted_mid_redaction_takes_its_parts_with_it(
    session: Session, flagged_video: Media, same_session: Callable[[], Any]
) -> None:
    rendition = renditions.redact(session=session, actor=SYSTEM, media=flagged_video)
    rendition_id = rendition.id
    step = redactions.claim(session=session, rendition_id=rendition_id)
    assert step is not None
    with get_storage().local_copy(flagged_video.sha256) as original:
        out = original.parent / "part-test.mp4"
        video_redact.redact_part(
            original, redactions.to_covers(step.covers), out, window=(step.start_s, step.end_s)
        )
        key = get_storage().put_file(out, kind="parts")
        out.unlink()
    redactions.finish_part(session=session, rendition_id=rendition_id, number=1, key=key)
    assert get_storage().exists(key, kind="parts")
    retention.delete_media(session=session, media=flagged_video)
    session.flush()
    retention.delete_pending_files(session)
    assert not get_storage().exists(key, kind="parts")
    assert session.get(Rendition, rendition_id) is None
    # The job holding another part finds nothing to go on with.
    assert redactions.claim(session=session, rendition_id=rendition_id) is None
    redactions.finish_part(session=session, rendition_id=rendition_id, number=2, key="f" * 64)


def test_a_video_not_cleared_yet_is_not_redacted(
    session: Session,
    make_event: Callable[..., Event],
    client: TestClient,
    comms_headers: dict[str, str],
) -> None:
    clip = compose_clip([], seconds=2.0, audio=False)
    [(pending, _)] = service.upload(
        session=session, actor=SYSTEM, files=[service.Upload("a.mp4", clip)], event=make_event()
    )
    refused = client.post(f"/api/media/{pending.id}/redact", headers=comms_headers)
    assert refused.status_code == 409
    assert session.exec(select(Rendition).where(Rendition.media_id == pending.id)).all() == []
    photo = Media(
        kind="photo",
        sha256="x",
        filename="a.jpg",
        content_type="image/jpeg",
        size_bytes=1,
        uploaded_by="system",
    )
    with pytest.raises(ValueError, match="photos are redacted at once"):
        redactions.start(session=session, actor=SYSTEM, media=photo)
