"""The append-only record of an attendee's choices: one `booking_change` row and one audit entry
per change, whichever part of the events domain made it."""

from __future__ import annotations

from sqlmodel import Session

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.events.models import Booking, BookingAction, BookingChange


def record_change(
    session: Session, booking: Booking, action: BookingAction, actor: Actor, **after: object
) -> BookingChange:
    change = BookingChange(
        booking_id=booking.id,
        action=action,
        photo_opt_out=booking.photo_opt_out,
        notice_version=booking.notice_version,
        actor=actor.label,
    )
    session.add(change)
    audit.record(
        session=session,
        actor=actor,
        action=f"booking.{action.value}",
        entity_type="booking",
        entity_id=booking.id,
        after={"event_id": booking.event_id, "photo_opt_out": booking.photo_opt_out, **after},
    )
    session.flush()
    return change
