from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import Session

from registry import links
from registry.audit import service as audit
from registry.audit.service import SYSTEM
from registry.errors import Conflict, Gone, NotFound
from registry.events import service
from registry.events.models import Booking, BookingAction, Event


def test_booking_gets_an_opaque_qr_friendly_badge_code(
    make_booking: Callable[..., Booking],
) -> None:
    codes = {make_booking().badge_code for _ in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert len(code) == service.BADGE_LENGTH
        assert set(code) <= set(service.BADGE_ALPHABET)


def test_same_email_same_event_returns_the_existing_booking(
    session: Session, make_event: Callable[..., Event]
) -> None:
    event = make_event()
    first, created = service.create_booking(
        session=session,
        actor=SYSTEM,
        event=event,
        name="A",
        email="a@example.org",
        photo_opt_out=False,
    )
    again, created_again = service.create_booking(
        session=session,
        actor=SYSTEM,
        event=event,
        name="A",
        email=" A@Example.org ",
        photo_opt_out=True,
    )
    assert created
    assert not created_again
    assert again.id == first.id
    assert again.photo_opt_out is False
    assert len(service.list_bookings(session=session, event=event)) == 1


def test_closed_event_refuses_bookings(session: Session, make_event: Callable[..., Event]) -> None:
    event = make_event()
    service.update_event(session=session, actor=SYSTEM, event=event, bookings_open=False)
    with pytest.raises(Conflict, match="closed"):
        service.create_booking(
            session=session,
            actor=SYSTEM,
            event=event,
            name="B",
            email="b@example.org",
            photo_opt_out=False,
        )


def test_opt_out_and_back_in_is_an_append_only_history(
    session: Session, make_booking: Callable[..., Booking]
) -> None:
    booking = make_booking()
    service.set_opt_out(session=session, actor=SYSTEM, booking=booking, opt_out=True)
    service.set_opt_out(session=session, actor=SYSTEM, booking=booking, opt_out=True)  # no-op
    service.set_opt_out(session=session, actor=SYSTEM, booking=booking, opt_out=False)
    actions = [h.action for h in service.history(session=session, booking=booking)]
    assert actions == [BookingAction.booked, BookingAction.opted_out, BookingAction.opted_in]
    logged = [e.action for e in audit.list_entries(session=session, entity_id=str(booking.id))]
    assert [a for a in logged if not a.startswith("mail.")] == [
        "booking.opted_in",
        "booking.opted_out",
        "booking.booked",
    ]
    assert logged.count("mail.queued") == 3  # the confirmation and two changes of choice
    assert audit.verify(session=session).ok


def test_changed_notice_is_a_new_version_and_bookings_keep_theirs(
    session: Session, make_event: Callable[..., Event], make_booking: Callable[..., Booking]
) -> None:
    event = make_event()
    early = make_booking(event=event, notice_version=1)
    service.update_event(
        session=session, actor=SYSTEM, event=event, filming_notice="A new notice text, long enough."
    )
    late = make_booking(event=event, notice_version=2)
    assert event.filming_notice_version == 2
    assert (early.notice_version, late.notice_version) == (1, 2)
    texts = [n.text for n in service.notice_versions(session=session, event=event)]
    assert len(texts) == 2
    # Each version is the whole notice people were shown: the introduction, then the rest.
    assert texts[1].startswith("A new notice text, long enough.\n\nPhotos and video of this")
    assert "You do not hold copyright" in texts[1]


def test_manage_link_resolves_and_forgeries_do_not(
    session: Session, make_booking: Callable[..., Booking]
) -> None:
    booking = make_booking()
    token = service.manage_token(booking)
    assert service.booking_for_token(session=session, token=token)[0].id == booking.id
    body, _, mac = token.partition(".")
    assert len(mac) >= 43  # 256-bit MAC, base64url
    assert booking.email not in token
    for forged in (
        body + "." + "A" * len(mac),
        token[:-2],
        "x",
        body,
        links.make_token("consent", booking.id, 1),
    ):
        with pytest.raises(NotFound):
            service.booking_for_token(session=session, token=forged)


def test_reissued_manage_link_revokes_the_old_one(
    session: Session, make_booking: Callable[..., Booking]
) -> None:
    booking = make_booking()
    old = service.manage_token(booking)
    service.reissue_manage_link(session=session, actor=SYSTEM, booking=booking)
    with pytest.raises(NotFound):
        service.booking_for_token(session=session, token=old)
    assert service.booking_for_token(session=session, token=service.manage_token(booking))


def test_manage_link_expires_after_the_retention_period(
    session: Session, make_event: Callable[..., Event], make_booking: Callable[..., Booking]
) -> None:
    from registry.db import utcnow

    past = utcnow() - timedelta(days=90)
    event = make_event(starts_at=past, ends_at=past + timedelta(hours=2))
    booking = make_booking(event=event)
    with pytest.raises(Gone):
        service.booking_for_token(session=session, token=service.manage_token(booking))


def test_cancelled_booking_cannot_change_its_choice(
    session: Session, make_booking: Callable[..., Booking]
) -> None:
    booking = make_booking()
    service.cancel_booking(session=session, actor=SYSTEM, booking=booking)
    with pytest.raises(Conflict):
        service.set_opt_out(session=session, actor=SYSTEM, booking=booking, opt_out=True)
