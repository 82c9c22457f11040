"""Running a clearance job inside the test's transaction (real analysis, no worker processes)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlmodel import Session

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
