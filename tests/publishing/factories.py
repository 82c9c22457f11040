"""Analysed media for publishing tests, without running the vision pipeline (its own tests do)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from PIL import Image
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.events.models import Booking, Event
from registry.media import service as media_service
from registry.media.models import Media, MediaBadge, MediaFace, MediaStatus


def jpeg_with_gps(seed: int = 0) -> bytes:
    """A small JPEG carrying EXIF (camera, GPS): what must never be published."""
    image = Image.new("RGB", (320, 240), (seed % 256, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x010E] = uuid.uuid4().hex  # ImageDescription: every call gives distinct bytes
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def make_media(session: Session) -> Callable[..., Media]:
    """Media stored (a real JPEG with EXIF) and marked analysed with the given faces/badges.

    `faces` are (decision, booking or None); `badges` are bookings whose badge is visible.
    """

    def make(
        *,
        event: Event | None = None,
        status: MediaStatus = MediaStatus.cleared,
        faces: Sequence[tuple[str, Booking | None]] = (),
        badges: Sequence[Booking] = (),
        **fields: Any,
    ) -> Media:
        [(media, _)] = media_service.upload(
            session=session,
            actor=SYSTEM,
            files=[media_service.Upload("photo.jpg", jpeg_with_gps(uuid.uuid4().int % 250))],
            event=event,
        )
        media.status = status
        for key, value in fields.items():
            setattr(media, key, value)
        session.add(media)
        for number, (decision, booking) in enumerate(faces, start=1):
            session.add(
                MediaFace(
                    media_id=media.id,
                    number=number,
                    top=10 + number * 50,
                    right=60 + number * 50,
                    bottom=60 + number * 50,
                    left=10 + number * 50,
                    decision=decision,
                    booking_id=booking.id if booking else None,
                    via="face" if booking else None,
                    distance=0.42 if booking else None,
                )
            )
        for booking in badges:
            session.add(
                MediaBadge(
                    media_id=media.id,
                    code=booking.badge_code,
                    top=200,
                    right=230,
                    bottom=230,
                    left=200,
                    booking_id=booking.id,
                )
            )
        session.flush()
        return media

    return make
