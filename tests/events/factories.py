"""Events and bookings for tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.db import utcnow
from registry.events import service
from registry.events.models import Booking, Event

NOTICE = "We photograph and film this event for our website and social media. Opt out any time."
_numbers = count(1)


@pytest.fixture
def make_event(session: Session) -> Callable[..., Event]:
    def make(**overrides: Any) -> Event:
        start = utcnow() + timedelta(days=10)
        fields: dict[str, Any] = {
            "name": f"Event {next(_numbers)}",
            "starts_at": start,
            "venue": "Hall A",
            "filming_notice": NOTICE,
        }
        fields.update(overrides)
        # Six hours long unless told otherwise (also when only the start is given).
        fields.setdefault("ends_at", fields["starts_at"] + timedelta(hours=6))
        return service.create_event(session=session, actor=SYSTEM, **fields)

    return make


@pytest.fixture
def make_booking(session: Session, make_event: Callable[..., Event]) -> Callable[..., Booking]:
    def make(
        event: Event | None = None,
        opt_out: bool = False,
        email: str | None = None,
        name: str = "Pat Attendee",
        notice_version: int | None = None,
    ) -> Booking:
        booking, _ = service.create_booking(
            notice_version=notice_version,
            session=session,
            actor=SYSTEM,
            event=event or make_event(),
            name=name,
            email=email or f"attendee{next(_numbers)}@example.org",
            photo_opt_out=opt_out,
        )
        return booking

    return make
