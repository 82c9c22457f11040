"""Redacted copies of every flagged photo of an event at once (`media.redaction_batches`): a batch
of jobs, one per photo, each under its own lease, made and checked by the real pipeline on real
faces; a job killed mid-way loses only its photo; jobs leave once the unit of work commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from registry.audit.models import AuditEntry
from registry.audit.service import Actor
from registry.db import utcnow
from registry.dispatch import queue
from registry.errors import Conflict
from registry.events.models import Booking, Event
from registry.media import leases, photo_redactions, redaction_batches, redactions, renditions
from registry.media.models import Media, MediaStatus, Rendition
from registry.media.redaction_batches import CopyState
from registry.media.storage import get_storage
from registry.publishing import service as publishing
from registry.rights import retention
from registry.vision import analysis
from registry.worker import jobs
from tests.media.scenes import photo, upload, with_reference
from tests.vision import compose

STAFF = Actor.staff(1)


@pytest.fixture(scope="module")
def portraits(faces_dir: Path) -> dict[str, list[compose.Portrait]]:
    return compose.portraits(faces_dir)


@dataclass
class Scene:
    event: Event
    alice: Booking  # opted out, with her reference photo (Barack Obama's face)
    flagged: list[Media]  # three photos of her beside someone else
    cleared: Media  # nobody who opted out in it


@pytest.fixture
def scene(
    session: Session,
    faces_dir: Path,
    portraits: dict[str, list[compose.Portrait]],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> Scene:
    event = make_event(channels=["public_social"])
    alice = make_booking(event=event, opt_out=True, name="Alice Opted-Out")
    obama, others = portraits["barack_obama"], portraits["deepface_id01"]
    with_reference(session, alice, obama[0])
    flagged = [
        upload(session, event, photo(faces_dir, [obama[i], others[i]], seed=i), f"hall-{i}.jpg")
        for i in (1, 2, 3)
    ]
    cleared = upload(session, event, photo(faces_dir, [others[4]], seed=9), "stage.jpg")
    assert [run_job(m.id) for m in flagged] == [MediaStatus.flagged] * 3
    assert run_job(cleared.id) == MediaStatus.cleared
    return Scene(event, alice, flagged, cleared)


@pytest.fixture
def same_session(session: Session) -> jobs.SessionFactory:
    @contextmanager
    def unit() -> Iterator[Session]:
        yield session
        session.flush()

    return unit


def run(session_factory: jobs.SessionFactory, rendition_id: uuid.UUID) -> None:
    """One job of the batch, as the pool or a Celery worker runs it (the check analysed here)."""
    jobs.redact(
        rendition_id,
        session_factory=session_factory,
        heartbeat=False,
        check=analysis.analyse,
    )


def batch_renditions(session: Session, progress: redaction_batches.Progress) -> list[Rendition]:
    return redaction_batches.renditions_of(session=session, batch=progress.batch)


def test_every_flagged_photo_is_its_own_job_and_gets_a_verified_copy(
    session: Session, scene: Scene, same_session: jobs.SessionFactory
) -> None:
    before = redaction_batches.overview(session=session, event_id=scene.event.id)
    assert (before.flagged, before.needed, before.latest) == (3, 3, None)

    started = redaction_batches.redact_flagged(
        session=session, actor=STAFF, event_id=scene.event.id
    )
    # The request answers at once: nothing is made yet, one pending rendition per photo.
    assert (started.total, started.ready, started.fraction, started.finished) == (3, 0, 0.0, False)
    queued = batch_renditions(session, started)
    assert sorted(r.media_id for r in queued) == sorted(m.id for m in scene.flagged)
    assert {(r.status, r.sha256, r.kind) for r in queued} == {("pending", "", "redacted")}
    states = redaction_batches.copy_states(session=session, media=scene.flagged)
    assert set(states.values()) == {CopyState.being_made}
    # Nothing to queue twice: a second click finds every copy being made.
    with pytest.raises(Conflict):
        redaction_batches.redact_flagged(session=session, actor=STAFF, event_id=scene.event.id)

    for rendition in queued[:2]:
        run(same_session, rendition.id)
    halfway = redaction_batches.get(
        session=session, event_id=scene.event.id, batch_id=started.batch.id
    )
    assert (halfway.ready, halfway.fraction, halfway.finished) == (2, 0.667, False)
    run(same_session, queued[2].id)
    done = redaction_batches.latest(session=session, event_id=scene.event.id)
    assert done is not None
    assert (done.total, done.ready, done.verified, done.failed, done.finished) == (3, 3, 3, 0, True)

    for rendition in batch_renditions(session, started):
        session.refresh(rendition)
        assert (rendition.status, rendition.verified, len(rendition.obscured_faces)) == (
            "ready",
            True,
            1,
        )
        copy = get_storage().get(rendition.sha256, kind="renditions")
        assert b"Exif" not in copy
        # The other person (the second face, centred at x = 1400) is left as they were.
        found = analysis.analyse(copy).faces
        assert any(f.box[3] < 1400 < f.box[1] for f in found), found
    # Every flagged photo may now go out as its copy; the cleared one as it is.
    rows = publishing.readiness(
        session=session, media=[*scene.flagged, scene.cleared], channel="public_social"
    )
    assert [r.allowed for r in rows] == [True] * 4
    assert [r.rendition is not None for r in rows] == [True, True, True, False]
    assert redaction_batches.overview(session=session, event_id=scene.event.id).needed == 0
    with pytest.raises(Conflict, match="Nothing to redact"):
        redaction_batches.redact_flagged(session=session, actor=STAFF, event_id=scene.event.id)
    actions = session.exec(
        select(AuditEntry.action).where(AuditEntry.entity_id == str(scene.event.id))
    ).all()
    assert "media.redaction_batch_queued" in actions


def test_a_later_opt_out_makes_the_copies_it_misses_needed_again(
    session: Session,
    scene: Scene,
    portraits: dict[str, list[compose.Portrait]],
    make_booking: Callable[..., Booking],
    same_session: jobs.SessionFactory,
) -> None:
    started = redaction_batches.redact_flagged(
        session=session, actor=STAFF, event_id=scene.event.id
    )
    for rendition in batch_renditions(session, started):
        run(same_session, rendition.id)
    # The man beside her in every photo opts out too: each copy still shows him.
    bob = make_booking(event=scene.event, name="Bob Later", opt_out=True)
    with_reference(session, bob, portraits["deepface_id01"][0])
    states = redaction_batches.copy_states(session=session, media=scene.flagged)
    assert set(states.values()) == {CopyState.outdated}
    session.refresh(scene.cleared)
    assert scene.cleared.status == MediaStatus.flagged  # he is on stage too: no copy yet
    again = redaction_batches.redact_flagged(session=session, actor=STAFF, event_id=scene.event.id)
    assert again.total == 4
    for rendition in batch_renditions(session, again):
        run(same_session, rendition.id)
        session.refresh(rendition)
        expected = 1 if rendition.media_id == scene.cleared.id else 2
        assert (rendition.verified, len(rendition.obscured_faces)) == (True, expected)


def test_a_job_killed_mid_batch_loses_only_its_own_photo(
    session: Session, scene: Scene, same_session: jobs.SessionFactory
) -> None:
    started = redaction_batches.redact_flagged(
        session=session, actor=STAFF, event_id=scene.event.id
    )
    first, *rest = batch_renditions(session, started)
    # A worker takes the first photo, then dies (its process killed) before it is made.
    assert photo_redactions.claim(session=session, rendition_id=first.id) is not None
    for rendition in rest:
        run(same_session, rendition.id)
    run(same_session, first.id)  # another job finds it held by a live lease: left alone
    session.refresh(first)
    assert (first.status, first.attempts) == ("processing", 1)
    progress = redaction_batches.get(
        session=session, event_id=scene.event.id, batch_id=started.batch.id
    )
    assert (progress.ready, progress.finished) == (2, False)

    # Its lease runs out: the sweep queues that photo (and nothing else) again.
    later = utcnow() + leases.lease() + timedelta(seconds=1)
    assert redactions.sweep(session=session, at=later) == [first.id]
    first.lease_until = utcnow() - timedelta(seconds=1)  # the time the sweep saw
    session.add(first)
    run(same_session, first.id)
    session.refresh(first)
    assert (first.status, first.verified, first.attempts) == ("ready", True, 2)
    assert redaction_batches.progress(session=session, batch=started.batch).finished


def test_a_photo_whose_job_keeps_crashing_fails_with_the_reason_and_is_needed_again(
    session: Session, scene: Scene, same_session: jobs.SessionFactory
) -> None:
    started = redaction_batches.redact_flagged(
        session=session, actor=STAFF, event_id=scene.event.id
    )
    first = batch_renditions(session, started)[0]

    def crash(_data: bytes) -> analysis.Analysis:
        raise MemoryError("out of memory")

    def crashing_job() -> None:
        jobs.redact(first.id, session_factory=same_session, heartbeat=False, check=crash)
        session.refresh(first)

    for attempt in range(1, leases.MAX_ATTEMPTS):
        crashing_job()
        assert (first.status, first.attempts, first.lease_until) == ("processing", attempt, None)
        # Given back: the sweep queues it again at once.
        assert first.id in redactions.sweep(session=session)
    crashing_job()
    assert (first.status, first.failure) == ("failed", "Redaction failed (MemoryError).")
    progress = redaction_batches.progress(session=session, batch=started.batch)
    assert (progress.failed, progress.ready) == (1, 0)
    media = session.get(Media, first.media_id)
    assert media is not None
    assert redaction_batches.copy_states(session=session, media=[media])[media.id] == "failed"


def test_jobs_leave_once_the_unit_of_work_commits_and_never_after_a_rollback() -> None:
    sent: list[uuid.UUID] = []

    class Recorder:
        def enqueue(self, media_ids: object) -> None:
            raise AssertionError("no clearance here")

        def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None:
            sent.extend(rendition_ids)

    engine = create_engine("sqlite://")
    queue.use(Recorder())
    try:
        kept, dropped = uuid.uuid4(), uuid.uuid4()
        with Session(engine) as unit:
            unit.execute(text("SELECT 1"))  # the work that made the redactions
            queue.redact_after_commit(unit, [kept])
            assert sent == []  # not before the commit
            unit.commit()
        assert sent == [kept]
        with Session(engine) as unit:
            unit.execute(text("SELECT 1"))
            queue.redact_after_commit(unit, [dropped])
            unit.rollback()  # a refusal: the rows are gone, and so are their jobs
            unit.execute(text("SELECT 1"))
            unit.commit()
        assert sent == [kept]
    finally:
        queue.use(None)
        engine.dispose()


def test_the_api_answers_at_once_with_the_batch_to_poll(
    client: TestClient,
    comms_headers: dict[str, str],
    session: Session,
    scene: Scene,
    same_session: jobs.SessionFactory,
) -> None:
    url = f"/api/events/{scene.event.id}/redactions"
    queued = client.post(url, headers=comms_headers)
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert (body["total"], body["ready"], body["finished"], body["booking_id"]) == (
        3,
        0,
        False,
        None,
    )
    assert {r["status"] for r in body["renditions"]} == {"pending"}
    assert client.post(url, headers=comms_headers).status_code == 409  # being made already
    for rendition in body["renditions"]:
        run(same_session, uuid.UUID(rendition["id"]))
    done = client.get(body["status_url"], headers=comms_headers).json()
    assert (done["ready"], done["verified"], done["progress"], done["finished"]) == (
        3,
        3,
        1.0,
        True,
    )
    assert (
        client.get(
            f"/api/events/{uuid.uuid4()}/redactions/{body['id']}", headers=comms_headers
        ).status_code
        == 404
    )
    assert client.post(url).status_code == 401


def test_a_copy_whose_photo_was_deleted_meanwhile_does_not_outlive_it(
    session: Session, scene: Scene
) -> None:
    started = redaction_batches.redact_flagged(
        session=session, actor=STAFF, event_id=scene.event.id
    )
    rendition = batch_renditions(session, started)[0]
    covers = photo_redactions.claim(session=session, rendition_id=rendition.id)
    assert covers is not None
    made = renditions.redact_photo(covers, analyse=analysis.analyse)  # the job, mid-way
    assert get_storage().exists(made.key, kind="renditions")
    media = session.get(Media, rendition.media_id)
    assert media is not None
    retention.delete_media(session=session, media=media)  # erased meanwhile
    assert photo_redactions.finish(session=session, rendition_id=rendition.id, made=made) is None
    redactions.delete_files(session)  # what the commit does
    assert not get_storage().exists(made.key, kind="renditions")
