"""Event photos composed from the shared face set, uploaded and cleared by the real pipeline
(for tests of work on many photos at once)."""

from __future__ import annotations

import random
from pathlib import Path

from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.events import references
from registry.events import service as events
from registry.events.models import Booking, Event
from registry.media import service
from registry.media.models import Media
from tests.vision import compose


def photo(faces_dir: Path, portraits: list[compose.Portrait], seed: int = 1) -> bytes:
    """A 2400x1600 crowd photo with these people's faces side by side (160 px wide)."""
    rng = random.Random(seed)
    canvas = compose.background(faces_dir, (2400, 1600), rng)
    for slot, portrait in enumerate(portraits):
        compose.paste_face(canvas, portrait, 160, (500 + slot * 900, 700))
    return compose.Composed(canvas).jpeg()


def upload(session: Session, event: Event, data: bytes, name: str) -> Media:
    [(media, _)] = service.upload(
        session=session, actor=SYSTEM, files=[service.Upload(name, data)], event=event
    )
    return media


def with_reference(session: Session, booking: Booking, portrait: compose.Portrait) -> None:
    """The attendee's own reference photo (given with biometric consent)."""
    references.add_reference(
        session=session,
        actor=SYSTEM,
        booking=booking,
        event=events.get_event(session=session, event_id=booking.event_id),
        data=portrait.path.read_bytes(),
        biometric_consent=True,
    )
