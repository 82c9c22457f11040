"""The seeded event the rights tests share (`tests.rights.scene`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.events.models import Booking, Event
from registry.media.models import MediaStatus
from tests.rights.scene import Scene, seed


@pytest.fixture
def scene(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    session: Session,
    run_job: Callable[..., MediaStatus | None],  # noqa: F811
    faces_dir: Path,
) -> Scene:
    return seed(
        session=session,
        client=client,
        comms_headers=comms_headers,
        make_event=make_event,
        make_booking=make_booking,
        run_job=run_job,
        faces_dir=faces_dir,
    )
