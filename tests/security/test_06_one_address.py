"""Item 6: one booking, one recipient. Every form and API that takes an email address takes
exactly one; a message is only ever sent to the one address composed for it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlmodel import Session, select

from registry.audit.service import SYSTEM
from registry.errors import Invalid
from registry.events import mails, service
from registry.events.models import Booking, Event
from registry.mail.models import MailState, OutboxMessage
from tests.live import Live, csrf_of, new_event
from tests.mailbox import Inbox, deliver

MANY = [
    "victim@example.org, attacker@evil.example",
    '"x" <a@evil.example>, b@example.org',
    "victim@example.org;attacker@evil.example",
    "victim@example.org\r\nBcc: attacker@evil.example",
]


def test_the_public_forms_take_exactly_one_address(live: Live) -> None:
    assert live.inbox is not None
    with live.client("comms") as staff:
        event = new_event(staff)
    with live.client() as browser:
        for address in MANY:
            form = browser.get(f"/events/{event['id']}/book")
            answer = browser.post(
                f"/events/{event['id']}/book",
                data={
                    "name": "Eve\nBody text an attacker wrote",
                    "email": address,
                    "csrf_token": csrf_of(form.text),
                },
            )
            assert answer.status_code == 422, address
            assert "Enter one email address" in answer.text
            lost = browser.get(f"/events/{event['id']}/link")
            answer = browser.post(
                f"/events/{event['id']}/link",
                data={"email": address, "csrf_token": csrf_of(lost.text)},
            )
            assert answer.status_code == 422, address
    with live.client("comms") as staff:
        assert staff.get(f"/api/events/{event['id']}/bookings").json() == []
        for address in MANY:
            booked = staff.post(
                f"/api/events/{event['id']}/bookings", json={"name": "Eve", "email": address}
            )
            assert booked.status_code == 422, address
            asked = staff.post(
                "/api/consent-requests",
                json={
                    "subject_name": "Eve",
                    "subject_email": address,
                    "purpose": "A purpose long enough",
                    "description": "A description",
                    "channels": ["internal"],
                    "media_ids": [],
                },
            )
            assert asked.status_code == 422, address
    time.sleep(0.5)  # nothing to wait for: the time a wrongly sent mail would take to come
    # The server is shared with the other security tests, whose mail may still be arriving:
    # what must not exist is a message to any address these forms were given.
    named = {"victim@example.org", "attacker@evil.example", "a@evil.example", "b@example.org"}
    for message, envelope in zip(live.inbox.messages, live.inbox.envelopes, strict=True):
        headers = " ".join(str(message[h] or "") for h in ("To", "Cc", "Bcc"))
        assert not named & set(envelope), envelope
        assert not any(address in headers for address in named), headers
        assert "Body text an attacker wrote" not in message.as_string()


def test_a_stored_address_naming_two_recipients_is_never_sent_to_either(
    session: Session,
    make_event: Callable[..., Event],
    inbox: Inbox,
) -> None:
    """A row written before this check (or by hand): the message fails to compose, and no
    envelope goes out."""
    event = make_event()
    booking = Booking(
        event_id=event.id,
        name="Old row",
        email="victim@example.org, attacker@evil.example",
        photo_opt_out=False,
        badge_code="ABCDEFGH23",
        notice_version=1,
    )
    session.add(booking)
    session.flush()
    mails.send_link(session=session, actor=SYSTEM, booking=booking)
    deliver(session)
    assert inbox.messages == []
    [message] = session.exec(select(OutboxMessage)).all()
    assert message.state == MailState.failed


@pytest.mark.parametrize("address", MANY)
def test_the_service_refuses_several_addresses_whoever_calls_it(
    session: Session, make_event: Callable[..., Event], address: str
) -> None:
    with pytest.raises(Invalid):
        service.create_booking(
            session=session,
            actor=SYSTEM,
            event=make_event(),
            name="Eve",
            email=address,
            photo_opt_out=False,
        )
