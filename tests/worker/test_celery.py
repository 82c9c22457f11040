"""Clearance on real Celery workers over real Redis (and PostgreSQL in CI's second run).

Two `registry worker` processes clear a batch; another test kills one with SIGKILL mid-batch
and checks every photo still reaches a final status exactly once.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.audit import service as audit
from registry.audit.models import AuditEntry
from registry.audit.service import CLI
from registry.config import Settings
from registry.db import engine_for, unit_of_work
from registry.events import references
from registry.events import service as events
from registry.events.models import Event, ReferencePhoto
from registry.media import redactions
from registry.media import service as media_service
from registry.media.models import (
    FINAL,
    Media,
    MediaFace,
    Rendition,
    RenditionPart,
    VideoSegment,
)
from registry.media.storage import LocalStorage
from tests.s3 import S3
from tests.video import Walker, compose_clip
from tests.worker.conftest import Workers, wait_for

pytestmark = pytest.mark.worker

OBAMA_GROUP = "facerec_obama_and_biden.jpg"


def obama_opted_out(session: Session, faces_dir: Path, **event: Any) -> Event:
    """An event where Barack Obama booked, opted out and gave a reference photo."""
    made = events.create_event(
        session=session, actor=CLI, name="Annual conference", filming_notice="We film.", **event
    )
    booking, _ = events.create_booking(
        session=session,
        actor=CLI,
        event=made,
        name="Barack Obama",
        email="obama@example.org",
        photo_opt_out=True,
    )
    references.add_reference(
        session=session,
        actor=CLI,
        booking=booking,
        event=made,
        data=(faces_dir / "people" / "barack_obama" / "facerec_1.jpg").read_bytes(),
        biometric_consent=True,
    )
    return made


def seed(url: str, faces_dir: Path, count: int) -> tuple[list[uuid.UUID], uuid.UUID]:
    """An event where Barack Obama opted out (with a reference photo) and `count` group photos
    uploaded; returns the photo ids and the id of the one he is in."""
    photos = sorted((faces_dir / "groups").glob("*.jpg"))
    chosen = [p for p in photos if p.name == OBAMA_GROUP] + [
        p for p in photos if p.name != OBAMA_GROUP
    ][: count - 1]
    with unit_of_work(engine_for(url)) as session:
        event = obama_opted_out(session, faces_dir, starts_at=datetime.now(UTC))
        uploaded = media_service.upload(
            session=session,
            actor=CLI,
            files=[media_service.Upload(p.name, p.read_bytes()) for p in chosen],
            event=event,
        )
    ids = [m.id for m, _ in uploaded]
    return ids, ids[0]


def statuses(url: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    with unit_of_work(engine_for(url)) as session:
        return {
            m.id: str(m.status)
            for m in session.exec(select(Media).where(col(Media.id).in_(ids))).all()
        }


def all_decided(url: str, ids: list[uuid.UUID]) -> bool:
    return all(s not in ("pending", "processing") for s in statuses(url, ids).values())


def assert_final_exactly_once(url: str, ids: list[uuid.UUID], flagged: uuid.UUID) -> None:
    final = {s.value for s in FINAL}
    found = statuses(url, ids)
    assert set(found.values()) <= final, found
    assert found[flagged] == "flagged"
    with unit_of_work(engine_for(url)) as session:
        decided = session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "media.cleared",
                col(AuditEntry.entity_id).in_([str(i) for i in ids]),
            )
        ).all()
        first = [e.entity_id for e in decided if (e.before or {}).get("status") == "processing"]
        assert sorted(first) == sorted(str(i) for i in ids)  # one first decision each
        duplicates = session.exec(
            select(MediaFace.media_id, MediaFace.number, func.count())
            .where(col(MediaFace.media_id).in_(ids))
            .group_by(col(MediaFace.media_id), col(MediaFace.number))
            .having(func.count() > 1)
        ).all()
        assert duplicates == []
        faces = session.exec(
            select(func.count()).select_from(MediaFace).where(col(MediaFace.media_id).in_(ids))
        ).one()
        assert faces >= len(ids)  # every group photo has faces
        report = audit.verify(session=session)
        assert report.ok, report


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_two_workers_clear_a_batch(
    storage: str,
    request: pytest.FixtureRequest,
    faces_dir: Path,
    shared_database: str,
    broker: str,
    workers: Workers,
) -> None:
    """With s3, photos reach the workers only through the bucket (as on other machines)."""
    from registry.dispatch.broker import send_clear

    if storage == "s3":
        s3: S3 = request.getfixturevalue("s3")
        workers.env.update(s3.env)
        workers.env["REGISTRY_MEDIA_DIR"] = str(Path(workers.env["REGISTRY_VAR_DIR"]) / "none")
    workers.start("--concurrency", "1", "--beat")
    workers.start("--concurrency", "1")
    workers.wait_ready()
    ids, obama = seed(shared_database, faces_dir, 10)  # the reference photo: found on a worker
    if storage == "s3":
        assert len([k for k in s3.keys() if "/originals/" in k]) == len(ids)
    assert send_clear(ids) == len(ids)
    wait_for(
        lambda: all_decided(shared_database, ids),
        timeout=240,
        what="every photo to be cleared",
        logs=workers.logs,
    )
    assert_final_exactly_once(shared_database, ids, obama)
    # Both workers took jobs.
    for worker in workers.started:
        assert "succeeded" in worker.output(), workers.logs()


def test_a_worker_killed_mid_batch_loses_nothing(
    faces_dir: Path, shared_database: str, broker: str, workers: Workers
) -> None:
    """kill -9 of a worker's whole process group, with the default lease, heartbeat and sweep:
    the photo it held is taken up again and final within 90 s, and decided exactly once."""
    from registry.dispatch.broker import send_clear

    for setting in ("REGISTRY_JOB_LEASE_SECONDS", "REGISTRY_SWEEP_SECONDS"):
        workers.env.pop(setting, None)
    workers.env.pop("REGISTRY_HEARTBEAT_SECONDS", None)
    survivor = workers.start("--concurrency", "1", "--beat")
    victim = workers.start("--concurrency", "1")
    workers.wait_ready()
    ids, obama = seed(shared_database, faces_dir, 23)
    send_clear(ids)
    # Kill the victim while both workers hold a photo: one of the two is the victim's.
    wait_for(
        lambda: list(statuses(shared_database, ids).values()).count("processing") == 2,
        timeout=120,
        what="both workers to be busy",
        logs=workers.logs,
    )
    held = [m for m, s in statuses(shared_database, ids).items() if s == "processing"]
    victim.kill()
    killed_at = time.monotonic()
    assert survivor.process.poll() is None
    wait_for(
        lambda: all(
            s not in ("pending", "processing")
            for m, s in statuses(shared_database, ids).items()
            if m in held
        ),
        timeout=90,
        what="the photos the dead worker held to be final",
        logs=workers.logs,
    )
    recovered_in = time.monotonic() - killed_at
    wait_for(
        lambda: all_decided(shared_database, ids),
        timeout=300,
        what="the survivor to finish every photo",
        logs=workers.logs,
    )
    assert_final_exactly_once(shared_database, ids, obama)
    with unit_of_work(engine_for(shared_database)) as session:
        attempts = session.exec(select(Media.attempts).where(col(Media.id).in_(ids))).all()
    assert max(attempts) >= 2, attempts  # the photo the victim held was taken up again
    print(f"recovered the dead worker's photos in {recovered_in:.0f} s")  # noqa: T201


def test_two_workers_share_one_video_in_parts(
    faces_dir: Path, shared_database: str, broker: str, workers: Workers
) -> None:
    """One job for a video in three parts: the first worker to take it queues more jobs, the
    other worker analyses a part, and the parts are stitched into one decision."""
    from registry.dispatch.broker import send_clear

    workers.env["REGISTRY_VIDEO_SEGMENT_SECONDS"] = "3"
    workers.start("--concurrency", "1")
    workers.start("--concurrency", "1")
    workers.wait_ready()
    obama = (faces_dir / "people" / "barack_obama" / "facerec_1.jpg").read_bytes()
    clip = compose_clip(
        [Walker(obama, (40, 20), (300, 20), 0.0, 8.5, height=200)], seconds=9.0, audio=False
    )
    with unit_of_work(engine_for(shared_database)) as session:
        event = obama_opted_out(session, faces_dir, starts_at=datetime.now(UTC))
        [(media, _)] = media_service.upload(
            session=session, actor=CLI, files=[media_service.Upload("talk.mp4", clip)], event=event
        )
    assert send_clear([media.id]) == 1
    wait_for(
        lambda: all_decided(shared_database, [media.id]),
        timeout=240,
        what="the video to be cleared",
        logs=workers.logs,
    )
    assert statuses(shared_database, [media.id]) == {media.id: "flagged"}
    with unit_of_work(engine_for(shared_database)) as session:
        tracks = session.exec(select(MediaFace).where(MediaFace.media_id == media.id)).all()
        assert [(t.decision, t.start_s) for t in tracks] == [("opted_out", 0.0)]
        assert tracks[0].end_s is not None
        assert tracks[0].end_s >= 8.0
        assert session.exec(select(VideoSegment)).all() == []
    parts = [w.output().count(f"video {media.id}: part") for w in workers.started]
    assert sum(parts) == 3, workers.logs()
    assert 0 not in parts, workers.logs()  # both workers analysed parts


def test_beat_schedules_the_sweep_and_housekeeping(settings: Settings) -> None:
    from registry.dispatch.broker import CHECKPOINT, HOUSEKEEPING, SWEEP, make_app

    app = make_app(settings.model_copy(update={"broker_url": "redis://x", "sweep_seconds": 7}))
    schedule = app.conf.beat_schedule
    assert schedule["sweep"] == {"task": SWEEP, "schedule": 7.0}
    assert schedule["housekeeping"]["task"] == HOUSEKEEPING
    assert schedule["housekeeping"]["schedule"] == settings.housekeeping_hours * 3600
    hourly = make_app(
        settings.model_copy(update={"broker_url": "redis://x", "checkpoint_minutes": 60})
    )
    assert hourly.conf.beat_schedule["audit-checkpoint"] == {
        "task": CHECKPOINT,
        "schedule": 3600.0,
    }
    off = make_app(settings.model_copy(update={"broker_url": "redis://x", "housekeeping_hours": 0}))
    assert "housekeeping" not in off.conf.beat_schedule
    assert app.conf.task_acks_late
    assert app.conf.task_reject_on_worker_lost
    assert app.conf.broker_transport_options["visibility_timeout"] == (
        settings.broker_visibility_seconds
    )


def test_housekeeping_runs_on_a_worker(
    faces_dir: Path, shared_database: str, broker: str, workers: Workers
) -> None:
    """The daily job, sent as beat sends it: an event's biometric data past retention goes."""
    from registry.dispatch.broker import HOUSEKEEPING, get_app

    workers.start("--concurrency", "1")
    workers.wait_ready()
    with unit_of_work(engine_for(shared_database)) as session:
        obama_opted_out(
            session,
            faces_dir,
            starts_at=datetime.now(UTC) - timedelta(days=60),
            biometric_retention_days=30,
        )

    def references_left() -> int:
        with unit_of_work(engine_for(shared_database)) as session:
            return len(session.exec(select(ReferencePhoto)).all())

    assert references_left() == 1
    get_app().send_task(HOUSEKEEPING)
    wait_for(
        lambda: references_left() == 0,
        timeout=120,
        what="housekeeping to purge the reference",
        logs=workers.logs,
    )


def _rendition(url: str, rendition_id: uuid.UUID) -> Rendition:
    with unit_of_work(engine_for(url)) as session:
        found = session.get(Rendition, rendition_id)
        assert found is not None
        session.expunge(found)
        return found


def test_a_worker_killed_mid_redaction_loses_only_its_part(
    faces_dir: Path, shared_database: str, broker: str, workers: Workers
) -> None:
    """A 720p video's redaction in four parts shared by two workers; one is killed (kill -9 of
    its process group) while it encodes a part. The other takes that part up once its lease
    runs out, joins and checks the copy: ready, verified, every frame there; nothing before."""
    from registry.dispatch.broker import send_clear, send_redact

    workers.env["REGISTRY_VIDEO_SEGMENT_SECONDS"] = "4"
    survivor = workers.start("--concurrency", "1", "--beat")
    victim = workers.start("--concurrency", "1")
    workers.wait_ready()
    obama = (faces_dir / "people" / "barack_obama" / "facerec_1.jpg").read_bytes()
    clip = compose_clip(
        [Walker(obama, (40, 40), (900, 80), 1.0, 14.0, height=420)],
        seconds=16.0,
        size=(1280, 720),
        fps=25,
    )
    with unit_of_work(engine_for(shared_database)) as session:
        event = obama_opted_out(session, faces_dir, starts_at=datetime.now(UTC))
        [(media, _)] = media_service.upload(
            session=session, actor=CLI, files=[media_service.Upload("talk.mp4", clip)], event=event
        )
    send_clear([media.id])
    wait_for(
        lambda: all_decided(shared_database, [media.id]),
        timeout=240,
        what="the video to be cleared",
        logs=workers.logs,
    )
    assert statuses(shared_database, [media.id]) == {media.id: "flagged"}
    with unit_of_work(engine_for(shared_database)) as session:
        flagged = media_service.get_media(session=session, media_id=media.id)
        rendition_id = redactions.start(session=session, actor=CLI, media=flagged).id
    send_redact([rendition_id])

    taken = re.compile(rf"redaction {rendition_id}: part (\d) taken")
    wait_for(
        lambda: taken.search(victim.output()) is not None,
        timeout=120,
        what="the victim to take a part",
        logs=workers.logs,
    )
    victim.kill()
    match = taken.search(victim.output())
    assert match is not None
    lost = int(match.group(1))
    with unit_of_work(engine_for(shared_database)) as session:
        held = session.exec(
            select(RenditionPart).where(
                RenditionPart.rendition_id == rendition_id, RenditionPart.number == lost
            )
        ).one()
        assert held.status == "processing"  # killed mid-part
    # Until it is ready, there is no file to serve.
    assert _rendition(shared_database, rendition_id).sha256 == ""

    wait_for(
        lambda: _rendition(shared_database, rendition_id).status in ("ready", "failed"),
        timeout=180,
        what="the redaction to finish",
        logs=workers.logs,
    )
    done = _rendition(shared_database, rendition_id)
    assert (done.status, done.verified, done.progress) == ("ready", True, 1.0), workers.logs()
    assert f"redaction {rendition_id}: part {lost} taken (pass 1, try 2)" in survivor.output()
    with unit_of_work(engine_for(shared_database)) as session:
        assert session.exec(select(RenditionPart)).all() == []
    storage = LocalStorage(Path(workers.env["REGISTRY_MEDIA_DIR"]))
    assert not any(kind == "parts" for kind, _ in storage.walk())
    copy = storage.get(done.sha256, kind="renditions")
    source = [float(f.time) for f in av.open(io.BytesIO(clip), mode="r").decode(video=0)]
    frames = [float(f.time) for f in av.open(io.BytesIO(copy), mode="r").decode(video=0)]
    assert len(frames) == len(source)
    assert frames == pytest.approx(source, abs=1e-3)
