"""Email to attendees, queued: the booking confirmation (with their badge), their private link
when they ask for it, a confirmation of every change of choice, the reminder before the event.

Queued in the caller's transaction through the outbox (`registry.mail`); composed when sent
(`registry.events.letters`), so the link in the mail is the booking's current one and none is
stored.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from registry.audit.service import Actor
from registry.events.models import Booking
from registry.mail import service as mail
from registry.mail.models import OutboxMessage

CONFIRMATION = "booking.confirmation"
LINK = "booking.link"
CHOICE = "booking.choice"
REMINDER = "event.reminder"


def queue(
    session: Session, actor: Actor, kind: str, booking: Booking, key: str, **payload: object
) -> OutboxMessage:
    return mail.queue(
        session=session,
        actor=actor,
        kind=kind,
        key=key,
        entity_type="booking",
        record_id=booking.id,
        to=booking.email,
        payload=dict(payload),
    )


def confirm_booking(*, session: Session, actor: Actor, booking: Booking) -> OutboxMessage:
    return queue(session, actor, CONFIRMATION, booking, f"{CONFIRMATION}:{booking.id}")


def send_link(
    *, session: Session, actor: Actor, booking: Booking, reissued: bool = False
) -> OutboxMessage:
    """The attendee's private link: someone asked for it with their address, or staff issued a
    new one (`reissued`: the old one stopped working)."""
    return queue(
        session, actor, LINK, booking, f"{LINK}:{booking.id}:{uuid.uuid4().hex}", reissued=reissued
    )


def confirm_choice(
    *, session: Session, actor: Actor, booking: Booking, change_id: int | None
) -> OutboxMessage:
    return queue(
        session,
        actor,
        CHOICE,
        booking,
        f"{CHOICE}:{booking.id}:{change_id}",
        opted_out=booking.photo_opt_out,
        cancelled=booking.cancelled_at is not None,
    )
