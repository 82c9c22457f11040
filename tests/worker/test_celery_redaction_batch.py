"""Redacted copies of every flagged photo of an event, made by real Celery workers over real
Redis: the batch's jobs leave when its unit of work commits; a worker killed (kill -9 of its
process group) while it makes one copy loses only that copy, which another worker takes up once
its lease runs out; every copy ends verified, each made once."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from registry.audit.models import AuditEntry
from registry.audit.service import CLI, Actor
from registry.db import engine_for, unit_of_work
from registry.dispatch.broker import send_clear
from registry.media import redaction_batches
from registry.media import service as media_service
from registry.media.models import Rendition
from tests.vision import compose
from tests.worker.conftest import Workers, wait_for
from tests.worker.test_celery import all_decided, obama_opted_out, statuses

pytestmark = pytest.mark.worker

PHOTOS = 6


def _photos(faces_dir: Path) -> list[bytes]:
    """Large crowd photos (3000 x 2000), each with Barack Obama beside someone else."""
    people = compose.portraits(faces_dir)
    obama, others = people["barack_obama"], people["deepface_id01"]
    out = []
    for i in range(PHOTOS):
        rng = random.Random(i)
        canvas = compose.background(faces_dir, (3000, 2000), rng)
        compose.paste_face(canvas, obama[1 + i % 3], 170, (700, 800))
        compose.paste_face(canvas, others[1 + i % 4], 170, (1900, 800))
        out.append(compose.Composed(canvas).jpeg())
    return out


def _renditions(url: str, batch_id: uuid.UUID) -> list[Rendition]:
    with unit_of_work(engine_for(url)) as session:
        return list(session.exec(select(Rendition).where(Rendition.batch_id == batch_id)).all())


def test_a_worker_killed_mid_batch_loses_only_the_copy_it_was_making(
    faces_dir: Path, shared_database: str, broker: str, workers: Workers
) -> None:
    victim = workers.start("--concurrency", "1")
    workers.wait_ready()
    with unit_of_work(engine_for(shared_database)) as session:
        event = obama_opted_out(session, faces_dir, starts_at=datetime.now(UTC))
        uploaded = media_service.upload(
            session=session,
            actor=CLI,
            files=[
                media_service.Upload(f"crowd-{i}.jpg", data)
                for i, data in enumerate(_photos(faces_dir))
            ],
            event=event,
        )
        event_id = event.id
    ids = [m.id for m, _ in uploaded]
    send_clear(ids)
    wait_for(
        lambda: all_decided(shared_database, ids),
        timeout=240,
        what="the photos to be cleared",
        logs=workers.logs,
    )
    assert set(statuses(shared_database, ids).values()) == {"flagged"}

    # The batch, as the page asks for it: its jobs go to the broker once this commits.
    with unit_of_work(engine_for(shared_database)) as session:
        started = redaction_batches.redact_flagged(
            session=session, actor=Actor.staff(1), event_id=event_id
        )
        batch_id = started.batch.id
    assert started.total == PHOTOS

    taken = re.compile(r"redaction ([0-9a-f-]{36}): photo [0-9a-f-]{36} taken")
    wait_for(
        lambda: taken.search(victim.output()) is not None,
        timeout=120,
        what="the victim to take a photo",
        logs=workers.logs,
    )
    victim.kill()
    lost = uuid.UUID(taken.findall(victim.output())[-1])
    held = next(r for r in _renditions(shared_database, batch_id) if r.id == lost)
    assert (held.status, held.sha256) == ("processing", "")  # killed while making it

    survivor = workers.start("--concurrency", "1", "--beat")
    wait_for(
        lambda: all(
            r.status in ("ready", "failed") for r in _renditions(shared_database, batch_id)
        ),
        timeout=240,
        what="every copy of the batch to be made",
        logs=workers.logs,
    )
    done = _renditions(shared_database, batch_id)
    assert {(r.status, r.verified) for r in done} == {("ready", True)}, workers.logs()
    assert {r.media_id for r in done} == set(ids)
    again = next(r for r in done if r.id == lost)
    assert again.attempts == 2  # taken up again after the dead worker's lease ran out
    assert f"redaction {lost}: photo" in survivor.output()
    with unit_of_work(engine_for(shared_database)) as session:
        made = session.exec(
            select(AuditEntry.entity_id).where(
                AuditEntry.action == "media.redacted",
                col(AuditEntry.entity_id).in_([str(i) for i in ids]),
            )
        ).all()
        assert sorted(made) == sorted(str(i) for i in ids)  # each copy made once
        progress = redaction_batches.get(session=session, event_id=event_id, batch_id=batch_id)
        assert (progress.ready, progress.verified, progress.finished) == (PHOTOS, PHOTOS, True)
