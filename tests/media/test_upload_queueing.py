"""Uploading is one service call that queues each new photo's clearance with its unit of work:
sent once that commits (each new pending media once), never when it rolls back."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.dispatch import queue
from registry.media import service
from tests.media.samples import png


class Recorder:
    """A JobQueue that keeps what it was handed."""

    def __init__(self) -> None:
        self.cleared: list[uuid.UUID] = []
        self.redactions: list[uuid.UUID] = []

    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None:
        self.cleared.extend(media_ids)

    def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None:
        self.redactions.extend(rendition_ids)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    jobs = Recorder()
    queue.use(jobs)
    try:
        yield jobs
    finally:
        queue.use(None)


def test_a_committed_upload_queues_each_new_pending_media_once(
    session: Session, recorder: Recorder
) -> None:
    red, blue = png((200, 10, 10)), png((10, 10, 200))
    unit = session.begin_nested()
    uploaded = service.upload(
        session=session,
        actor=SYSTEM,
        files=[
            service.Upload("red.png", red),
            service.Upload("red-again.png", red),  # the same bytes: the same media
            service.Upload("blue.png", blue),
            service.Upload("broken.png", b"not an image at all"),  # failed: nothing to clear
        ],
        event=None,
    )
    assert recorder.cleared == []  # nothing before the commit
    unit.commit()
    assert [created for _, created in uploaded] == [True, False, True, True]
    [first, again, second, broken] = [media for media, _ in uploaded]
    assert again.id == first.id
    assert broken.status == "failed"
    assert recorder.cleared == [first.id, second.id]

    unit = session.begin_nested()
    service.upload(session=session, actor=SYSTEM, files=[service.Upload("r.png", red)], event=None)
    unit.commit()
    assert recorder.cleared == [first.id, second.id]  # a duplicate is not queued again


def test_an_upload_whose_unit_of_work_rolls_back_queues_nothing(
    session: Session, recorder: Recorder
) -> None:
    unit = session.begin_nested()
    service.upload(
        session=session,
        actor=SYSTEM,
        files=[service.Upload("green.png", png((10, 200, 10)))],
        event=None,
    )
    unit.rollback()
    session.begin_nested().commit()  # the next unit of work carries nothing of it
    assert recorder.cleared == []


def test_the_api_upload_queues_through_the_service_after_its_commit(
    client: TestClient, comms_headers: dict[str, str], recorder: Recorder
) -> None:
    response = client.post(
        "/api/media",
        files=[
            ("files", ("a.png", png((1, 2, 3)), "image/png")),
            ("files", ("b.png", png((4, 5, 6)), "image/png")),
            ("files", ("a-again.png", png((1, 2, 3)), "image/png")),
        ],
        headers=comms_headers,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert [r["duplicate"] for r in body] == [False, False, True]
    assert recorder.cleared == [uuid.UUID(body[0]["id"]), uuid.UUID(body[1]["id"])]
