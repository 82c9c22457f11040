"""Running a clearance job inside the test's transaction (real analysis, no worker processes)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.media import redactions
from registry.media.models import MediaStatus
from registry.worker import jobs


@pytest.fixture
def run_job(session: Session) -> Callable[[uuid.UUID], MediaStatus | None]:
    @contextmanager
    def same_session() -> Iterator[Session]:
        yield session
        session.flush()

    def run(media_id: uuid.UUID) -> MediaStatus | None:
        return jobs.clear_media(media_id, session_factory=same_session, heartbeat=False)

    return run


@pytest.fixture
def run_redaction(session: Session) -> Callable[[uuid.UUID], None]:
    """Make a video's redaction (every part, the join and its check) in the test's transaction,
    as one job would when no other takes a part."""

    @contextmanager
    def same_session() -> Iterator[Session]:
        yield session
        session.flush()
        redactions.delete_files(session)  # what a commit would delete

    def run(rendition_id: uuid.UUID) -> None:
        jobs.redact_video(rendition_id, session_factory=same_session, heartbeat=False)

    return run


@pytest.fixture
def redact_video(run_redaction: Callable[[uuid.UUID], None]) -> Callable[..., dict[str, Any]]:
    """`POST /api/media/{id}/redact` on a video: 202 with a pending rendition; its job run; the
    finished rendition as its status URL answers it."""

    def redact(client: TestClient, headers: dict[str, str], media_id: object) -> dict[str, Any]:
        queued = client.post(f"/api/media/{media_id}/redact", headers=headers)
        assert queued.status_code == 202, queued.text
        body = queued.json()
        assert (body["status"], body["progress"]) == ("pending", 0.0)
        assert client.get(body["url"], headers=headers).status_code == 409  # nothing yet
        run_redaction(uuid.UUID(body["id"]))
        done = client.get(body["status_url"], headers=headers)
        assert done.status_code == 200, done.text
        finished: dict[str, Any] = done.json()
        assert (finished["status"], finished["progress"]) == ("ready", 1.0), finished
        return finished

    return redact
