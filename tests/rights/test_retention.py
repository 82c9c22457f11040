"""Retention runs itself: with the clock moved on, the daily run deletes exactly what the
settings say is due (and the files of deleted media), keeps what still proves a live
publication, writes one audit entry per run with its counts, and the dashboard says what goes
next. Runs on SQLite and PostgreSQL (the suite runs once on each)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit import service as audit
from registry.audit.models import AuditEntry
from registry.audit.service import SYSTEM
from registry.auth.models import StaffUser
from registry.config import get_settings
from registry.consent.models import ConsentRequest
from registry.db import utcnow
from registry.events.models import Booking, Event
from registry.mail.models import MailState, OutboxMessage
from registry.media import service as media_service
from registry.media.models import Media, MediaStatus
from registry.media.storage import get_storage
from registry.publishing import takedowns
from registry.publishing.models import Publication
from registry.rights import erasure, retention
from tests.auth.factories import login_page
from tests.consent.factories import grant
from tests.media.samples import png


def _upload(
    session: Session, name: str, colour: tuple[int, int, int], event: Event | None
) -> Media:
    [(media, _)] = media_service.upload(
        session=session,
        actor=SYSTEM,
        files=[media_service.Upload(name, png(colour))],
        event=event,
    )
    media.status = MediaStatus.cleared  # no faces: as clearance would decide
    session.add(media)
    session.flush()
    return media


def test_a_clock_moved_forward_deletes_exactly_what_the_settings_say(
    session: Session,
    client: TestClient,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_consent: Callable[..., ConsentRequest],
    make_staff: Callable[..., StaffUser],
    comms_headers: dict[str, str],
) -> None:
    settings = get_settings()
    now = utcnow()
    event = make_event(
        starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1), channels=["internal"]
    )
    opted_out = make_booking(event=event, opt_out=True)
    staying = make_booking(event=event)
    unpublished = _upload(session, "IMG_1.jpg", (200, 10, 10), event)
    published = _upload(session, "IMG_2.jpg", (10, 200, 10), event)
    up = client.post(
        f"/api/media/{published.id}/publications",
        json={"channel": "internal", "url": "https://intranet.example/p/2"},
        headers=comms_headers,
    )
    assert up.status_code == 201, up.text
    declined = make_consent(subject_email="lee@example.org")
    grant(session, declined, "decline")
    message = session.exec(
        select(OutboxMessage).where(OutboxMessage.record_id == staying.id)
    ).first()
    if message is None:  # bookings queue a confirmation when mail is on; make one either way
        message = OutboxMessage(
            key="test-retention",
            kind="booking.confirmation",
            entity_type="booking",
            record_id=staying.id,
            recipient="s•••@example.org",
        )
    message.state = MailState.sent
    session.add(message)
    session.flush()
    entries_before = len(session.exec(select(AuditEntry.seq)).all())

    # Today: nothing is due, and a run that deletes nothing writes nothing.
    counts = retention.run(session=session, at=now)
    assert not any(counts.values()), counts
    assert len(session.exec(select(AuditEntry.seq)).all()) == entries_before

    # The dashboard says what goes next: the unpublished upload first.
    login_page(client, make_staff())
    board = client.get("/")
    assert "Uploads never published" in board.text
    upcoming = {u.kind: u for u in retention.upcoming(session=session, at=now)}
    assert upcoming["unpublished_media"].next_at == unpublished.created_at + timedelta(
        days=settings.retention_unpublished_days
    )
    assert upcoming["bookings"].next_at == event.ends_at + timedelta(  # type: ignore[operator]
        days=settings.retention_booking_days
    )
    assert upcoming["unpublished_media"].within_30_days == 0

    # Past the unpublished-upload and mail periods: the upload (and its files) and the mail
    # record go; the published photo, the bookings and the declined consent stay.
    later = now + timedelta(days=settings.retention_unpublished_days + 1)
    sha = unpublished.sha256
    assert get_storage().exists(sha)
    counts = retention.run(session=session, at=later)
    assert counts["unpublished_media"] == 1
    assert counts["event_media"] == 0
    assert counts["bookings"] == 0
    assert counts["declined_consents"] == 0
    assert session.get(Media, unpublished.id) is None
    assert session.get(Media, published.id) is not None
    retention.delete_pending_files(session)  # what the commit does (tests never commit)
    assert not get_storage().exists(sha)
    assert get_storage().exists(published.sha256)
    [run] = session.exec(select(AuditEntry).where(AuditEntry.action == "retention.run")).all()
    assert run.after is not None
    assert run.after["unpublished_media"] == 1

    # Past the bookings' and declined consents' periods: bookings erased (the opted-out one
    # stays as an anonymous marker), the declined consent deleted.
    later = now + timedelta(
        days=max(settings.retention_booking_days, settings.retention_declined_consent_days) + 2
    )
    counts = retention.run(session=session, at=later)
    assert counts["bookings"] == 2
    assert counts["declined_consents"] == 1
    session.refresh(opted_out)
    assert opted_out.name == erasure.ERASED_NAME
    assert opted_out.photo_opt_out
    assert session.get(ConsentRequest, declined.id) is None

    # Past the event media period: the published photo is kept while its publication is up,
    # then goes once it comes down.
    later = now + timedelta(days=settings.retention_event_media_days + 2)
    counts = retention.run(session=session, at=later)
    assert counts["event_media"] == 0
    assert session.get(Media, published.id) is not None
    publication = session.exec(
        select(Publication).where(Publication.media_id == published.id)
    ).one()
    takedowns.mark_taken_down(session=session, actor=SYSTEM, publication=publication, note=None)
    counts = retention.run(session=session, at=later)
    assert counts["event_media"] == 1
    assert session.get(Media, published.id) is None
    assert (
        len(session.exec(select(AuditEntry).where(AuditEntry.action == "retention.run")).all()) == 3
    )
    assert audit.verify(session=session).ok
