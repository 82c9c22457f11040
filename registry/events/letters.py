"""Composing attendees' email when it is sent (the renderers of `registry.events.mails`' kinds)
and queueing the reminders before an event."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.db import utcnow
from registry.events import notice, service
from registry.events.mails import CHOICE, CONFIRMATION, LINK, REMINDER, queue
from registry.events.models import Booking, Event, FilmingNotice
from registry.mail import service as mail
from registry.mail.models import OutboxMessage


def queue_reminders(*, session: Session, now: datetime | None = None) -> int:
    """Remind every attendee of an event starting within `REGISTRY_EVENT_REMINDER_DAYS` (once
    per booking and start time: the daily job may run any number of times)."""
    days = get_settings().event_reminder_days
    if days <= 0:
        return 0
    now = now or utcnow()
    events = session.exec(
        select(Event).where(
            col(Event.starts_at) > now, col(Event.starts_at) <= now + timedelta(days=days)
        )
    ).all()
    queued = 0
    for event in events:
        for booking in service.list_bookings(session=session, event=event):
            if booking.cancelled_at is not None:
                continue
            key = f"{REMINDER}:{booking.id}:{event.starts_at.isoformat()}"
            if session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).first():
                continue
            queue(session, SYSTEM, REMINDER, booking, key)
            queued += 1
    return queued


# --- composing (registered in registry.reactions) --------------------------------------------


def _notice(session: Session, event: Event, version: int) -> str:
    """The notice of that version as people were shown it. Versions stored before notices were
    composed hold only their introduction: the sentences every notice carries are added."""
    row = session.exec(
        select(FilmingNotice).where(
            FilmingNotice.event_id == event.id, FilmingNotice.version == version
        )
    ).first()
    if row is None:
        return event.notice.text
    if notice.COPYRIGHT in row.text:
        return row.text
    return notice.compose(introduction=row.text, channels=event.channels).text


def render(session: Session, message: OutboxMessage) -> mail.Letter | None:
    booking = session.get(Booking, message.record_id) if message.record_id else None
    if booking is None:
        return None
    event = session.get(Event, booking.event_id)
    if event is None or utcnow() > service.link_expires_at(event):
        return None
    cancelled = booking.cancelled_at is not None
    if cancelled and message.kind != CHOICE:
        return None
    if message.kind == REMINDER and event.starts_at <= utcnow():
        return None
    if message.kind == CONFIRMATION and booking.notice_version is not None:
        version = booking.notice_version
    else:
        version = event.filming_notice_version
    context: dict[str, object] = {
        "name": booking.name,
        "event": event,
        "notice": _notice(session, event, version),
        "notice_version": version,
        "opted_out": booking.photo_opt_out,
        "manage_url": service.manage_url(booking),
        "expires": service.link_expires_at(event),
    }
    attachments = []
    if message.kind == CONFIRMATION:
        subject = f"Your booking: {event.name}"
        template = "booking_confirmation"
        pdf = service.badges_pdf(session=session, event=event, layout="single", booking=booking)
        attachments.append(mail.Attachment("badge.pdf", "application/pdf", pdf))
    elif message.kind == LINK:
        subject = f"Your booking link: {event.name}"
        template = "booking_link"
        context["reissued"] = bool(message.payload.get("reissued"))
    elif message.kind == CHOICE:
        context["opted_out"] = bool(message.payload.get("opted_out"))
        context["cancelled"] = bool(message.payload.get("cancelled"))
        subject = (
            f"Booking cancelled: {event.name}"
            if context["cancelled"]
            else f"Your photo choice is recorded: {event.name}"
        )
        template = "booking_choice"
        context["new_badge"] = False
        if not context["cancelled"] and context["opted_out"] == booking.photo_opt_out:
            # The badge for the choice now (the NO PHOTOS band printed, or not): the one from
            # the confirmation shows the choice made then.
            pdf = service.badges_pdf(session=session, event=event, layout="single", booking=booking)
            attachments.append(mail.Attachment("badge.pdf", "application/pdf", pdf))
            context["new_badge"] = True
    else:
        subject = f"Reminder: {event.name}, and photos and video at it"
        template = "event_reminder"
    return mail.Letter(
        to=[booking.email],
        subject=subject,
        template=template,
        context=context,
        attachments=attachments,
    )


def delivered(session: Session, message: OutboxMessage) -> None:
    """A confirmation reached the attendee: the filming notice it carries has been shown."""
    booking = session.get(Booking, message.record_id) if message.record_id else None
    if booking is not None and message.kind == CONFIRMATION:
        event = session.get(Event, booking.event_id)
        if event is not None:
            service.notice_shown(
                session=session,
                actor=SYSTEM,
                booking=booking,
                version=event.filming_notice_version,
            )


def register() -> None:
    for kind in (CONFIRMATION, LINK, CHOICE, REMINDER):
        mail.register(kind, render, delivered)
