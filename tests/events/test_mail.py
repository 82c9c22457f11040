"""Attendees told directly, through a real SMTP server (aiosmtpd): the booking confirmation with
their badge, the neutral answer to an address already booked, the lost-link form and its rate
limits, CSV imports that confirm only when asked, choice changes, reminders and the signage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit.service import SYSTEM
from registry.auth.models import StaffUser
from registry.auth.throttle import make_throttle
from registry.config import get_settings
from registry.db import utcnow
from registry.events import letters, service
from registry.events.models import Booking, Event
from tests.auth.factories import csrf_from, login_page
from tests.mailbox import Inbox, deliver, html_of, links_in, pdf_pages, text_of
from tests.pdf import render_pdf


def book(client: TestClient, event: Event, email: str, name: str = "Alex Example", **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get(f"/events/{event.id}/book").text)
    return client.post(
        f"/events/{event.id}/book",
        data={"name": name, "email": email, "csrf_token": token, "notice_version": "1", **extra},
        follow_redirects=False,
    )


def path_of(url: str) -> str:
    return url.removeprefix(get_settings().base_url.rstrip("/"))


def test_a_booking_is_confirmed_by_email_with_link_notice_choice_and_badge(
    session: Session, client: TestClient, inbox: Inbox, make_event: Callable[..., Event]
) -> None:
    event = make_event(name="Spring Conference", channels=["public_social"])
    answer = book(client, event, "alex@example.org", photo_opt_out="yes")
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    assert "/b/" not in answer.text  # the link goes to the address, not to whoever typed it

    assert deliver(session) == 1
    [message] = inbox.to("alex@example.org")
    assert message["Subject"] == "Your booking: Spring Conference"
    body = text_of(message)
    assert event.filming_notice in body
    assert "Filming notice version 1" in body or "filming notice version 1" in body.lower()
    assert "you opted out" in body
    assert "You do not hold copyright" in body
    # The rights and how to use them, all from the same link: a copy, an objection, erasure.
    assert "download a copy of everything we hold about your booking" in body
    assert 'object to a single photo you do not want to be in ("not this photo")' in body
    assert "delete your booking and data, at any time" in body
    assert "Spring Conference" in html_of(message)
    [link] = [u for u in links_in(message) if "/b/" in u]
    assert link in html_of(message)
    page = client.get(path_of(link))
    assert page.status_code == 200
    assert "opted out" in page.text

    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "badge.pdf"
    assert attachment.get_content_type() == "application/pdf"
    [badge] = pdf_pages(attachment.get_content())
    booking = session.exec(select(Booking).where(Booking.email == "alex@example.org")).one()
    assert [r.text for r in zxingcpp.read_barcodes(badge)] == [booking.badge_code]


def test_booking_an_address_already_booked_mails_its_owner_and_shows_nothing(
    session: Session,
    client: TestClient,
    inbox: Inbox,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
) -> None:
    event = make_event()
    owner = make_booking(event=event, email="owner@example.org", opt_out=True)
    deliver(session)
    inbox.messages.clear()

    fresh = book(client, event, "someone.new@example.org")
    again = book(client, event, "Owner@Example.org", name="An Impostor")
    assert fresh.status_code == again.status_code == 200
    # The same words whether the address was new or already booked.
    assert again.text.replace("someone.new", "x") == fresh.text.replace("someone.new", "x")
    assert "/b/" not in again.text

    assert deliver(session) == 2
    [sent] = inbox.to("owner@example.org")
    assert sent["Subject"].startswith("Your booking link")
    assert "Nothing about your booking was changed" in text_of(sent)
    [link] = [u for u in links_in(sent) if "/b/" in u]
    assert path_of(link) == f"/b/{service.manage_token(owner)}"
    session.refresh(owner)
    assert owner.photo_opt_out is True  # the impostor changed nothing
    assert owner.name != "An Impostor"


def test_without_mail_an_address_already_booked_is_told_to_contact_the_organiser(
    client: TestClient,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "smtp_url", "")
    # In development (outside it both answers are alike: tests/security/test_34_11).
    monkeypatch.setattr(get_settings(), "env", "dev")
    event = make_event()
    make_booking(event=event, email="taken@example.org")
    new = book(client, event, "new@example.org")
    assert new.status_code == 303
    assert new.headers["location"].startswith("/b/")  # no mail: the new booking's own page
    existing = book(client, event, "taken@example.org")
    assert existing.status_code == 200
    assert "cannot send email" in existing.text
    assert "/b/" not in existing.text


def test_the_lost_link_form_mails_the_link_and_never_tells(
    session: Session,
    client: TestClient,
    inbox: Inbox,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
) -> None:
    event = make_event()
    booking = make_booking(event=event, email="forgetful@example.org")
    deliver(session)
    inbox.messages.clear()
    form = client.get(f"/events/{event.id}/link")
    assert "Send my link" in form.text
    token = csrf_from(form.text)

    def ask(email: str):  # type: ignore[no-untyped-def]
        return client.post(f"/events/{event.id}/link", data={"email": email, "csrf_token": token})

    known, unknown = ask("forgetful@example.org"), ask("stranger@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert "If that address has a booking for this event" in known.text
    assert ask("not-an-address").status_code == 422

    assert deliver(session) == 1
    [sent] = inbox.messages
    assert sent["To"] == "forgetful@example.org"
    [link] = [u for u in links_in(sent) if "/b/" in u]
    assert client.get(path_of(link)).status_code == 200
    assert path_of(link) == f"/b/{service.manage_token(booking)}"


def test_the_sixth_link_request_from_one_network_gets_429_with_the_same_wording(
    session: Session,
    client: TestClient,
    inbox: Inbox,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
) -> None:
    event = make_event()
    token = csrf_from(client.get(f"/events/{event.id}/link").text)
    answers = [
        client.post(
            f"/events/{event.id}/link",
            data={"email": f"person{n}@example.org", "csrf_token": token},
        )
        for n in range(6)
    ]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert "If that address has a booking for this event" in answers[-1].text
    assert "Nothing was sent or changed" in answers[-1].text

    # One address is limited too (3 per window by default), below the network's limit: past
    # it the same answer, and nothing more is sent (its owner is never refused).
    client.app.state.link_throttle = make_throttle(  # type: ignore[attr-defined]
        broker_url="", max_failures=1, window_seconds=3600
    )
    other = make_event()
    make_booking(event=other, email="same@example.org")
    deliver(session)  # the booking's confirmation
    token = csrf_from(client.get(f"/events/{other.id}/link").text)
    before = len(inbox.to("same@example.org"))
    statuses = [
        client.post(
            f"/events/{other.id}/link", data={"email": "same@example.org", "csrf_token": token}
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 200]
    deliver(session)
    assert len(inbox.to("same@example.org")) - before == 3


def test_without_mail_the_lost_link_form_points_to_the_organiser(
    client: TestClient, make_event: Callable[..., Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "smtp_url", "")
    event = make_event()
    page = client.get(f"/events/{event.id}/link")
    assert "cannot send email" in page.text
    assert "Send my link" not in page.text


def test_csv_import_confirms_only_when_staff_tick_the_box(
    session: Session,
    client: TestClient,
    inbox: Inbox,
    make_event: Callable[..., Event],
    make_staff: Callable[..., StaffUser],
) -> None:
    from registry.auth.models import Role

    login_page(client, make_staff(role=Role.comms))
    event = make_event()
    page = client.get(f"/events/{event.id}/import")
    token = csrf_from(page.text)
    csv_a = "name,email\nAna One,ana@example.org\nBen Two,ben@example.org\n"
    preview = client.post(
        f"/events/{event.id}/import",
        data={"csrf_token": token},
        files={"file": ("a.csv", csv_a.encode(), "text/csv")},
    )
    assert "Send confirmations" in preview.text
    assert "checked" not in preview.text.split('id="send_confirmations"')[1].split(">")[0]
    client.post(f"/events/{event.id}/import/confirm", data={"csrf_token": token, "csv_text": csv_a})
    assert deliver(session) == 0

    csv_b = "name,email\nCai Three,cai@example.org\n"
    done = client.post(
        f"/events/{event.id}/import/confirm",
        data={"csrf_token": token, "csv_text": csv_b, "send_confirmations": "yes"},
    )
    assert "sent their confirmation" in done.text
    assert deliver(session) == 1
    [sent] = inbox.messages
    assert sent["To"] == "cai@example.org"
    assert [a.get_filename() for a in sent.iter_attachments()] == ["badge.pdf"]
    detail = client.get(f"/events/{event.id}")
    assert "confirmation: " in detail.text
    assert "sent " in detail.text
    # The record says what happened: Cai's confirmation reached a mail server, so Cai was shown
    # the notice; Ana and Ben were imported without one and have not been.
    shown = {b.email: b.notice_version for b in service.list_bookings(session=session, event=event)}
    assert shown == {"ana@example.org": None, "ben@example.org": None, "cai@example.org": 1}
    assert "<strong>2</strong> not yet shown the filming notice" in detail.text


def test_api_bookings_are_confirmed_unless_told_not_to(
    session: Session,
    client: TestClient,
    inbox: Inbox,
    admin_headers: dict[str, str],
    make_event: Callable[..., Event],
) -> None:
    event = make_event()
    url = f"/api/events/{event.id}/bookings"
    client.post(url, json={"name": "A", "email": "a@example.org"}, headers=admin_headers)
    client.post(
        url,
        json={"name": "B", "email": "b@example.org", "send_confirmation": False},
        headers=admin_headers,
    )
    deliver(session)
    assert [m["To"] for m in inbox.messages] == ["a@example.org"]


def test_changing_the_choice_is_confirmed_by_email(
    session: Session, client: TestClient, inbox: Inbox, make_booking: Callable[..., Booking]
) -> None:
    booking = make_booking(email="chooser@example.org")
    deliver(session)
    inbox.messages.clear()
    url = f"/b/{service.manage_token(booking)}"
    token = csrf_from(client.get(url).text)
    client.post(url, data={"action": "opt_out", "csrf_token": token})
    client.post(url, data={"action": "opt_out", "csrf_token": token})  # no change: no mail
    client.post(url, data={"action": "cancel", "csrf_token": token})
    deliver(session)
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects[0].startswith("Your photo choice is recorded")
    assert "you opted out" in text_of(inbox.messages[0])
    # The badge for the new choice comes with it (the confirmation's shows the old one).
    assert "marked NO PHOTOS" in text_of(inbox.messages[0])
    [badge] = list(inbox.messages[0].iter_attachments())
    assert badge.get_filename() == "badge.pdf"
    pdf = badge.get_payload(decode=True)
    assert isinstance(pdf, bytes)
    [page] = pdf_pages(pdf)
    assert page.getpixel((page.width // 2, page.height // 2)) is not None
    assert not list(inbox.messages[1].iter_attachments())  # cancelled: no badge
    assert subjects[1].startswith("Booking cancelled")
    assert len(subjects) == 2


def test_attendees_are_reminded_once_before_the_event(
    session: Session,
    inbox: Inbox,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
) -> None:
    soon = make_event(starts_at=utcnow() + timedelta(days=1))
    later = make_event(starts_at=utcnow() + timedelta(days=20))
    reminded = make_booking(event=soon, email="soon@example.org")
    make_booking(event=later, email="later@example.org")
    cancelled = make_booking(event=soon, email="gone@example.org")
    service.cancel_booking(session=session, actor=SYSTEM, booking=cancelled)
    deliver(session)
    inbox.messages.clear()

    assert letters.queue_reminders(session=session) == 1
    assert letters.queue_reminders(session=session) == 0  # the daily job may run again
    deliver(session)
    [sent] = inbox.messages
    assert sent["To"] == "soon@example.org"
    assert sent["Subject"].startswith("Reminder:")
    assert soon.filming_notice in text_of(sent)
    assert f"/b/{service.manage_token(reminded)}" in text_of(sent)


def test_a_reissued_link_is_mailed_and_the_old_one_stops(
    session: Session, inbox: Inbox, make_booking: Callable[..., Booking]
) -> None:
    booking = make_booking(email="re@example.org")
    old = service.manage_token(booking)
    service.reissue_manage_link(session=session, actor=SYSTEM, booking=booking)
    deliver(session)
    sent = inbox.to("re@example.org")[-1]
    assert "no longer works" in text_of(sent)
    assert service.manage_token(booking) in text_of(sent)
    assert old not in text_of(sent)


def test_signage_poster_from_the_page_and_the_cli(
    session: Session,
    client: TestClient,
    make_event: Callable[..., Event],
    make_staff: Callable[..., StaffUser],
    tmp_path: Path,
) -> None:
    from registry.auth.models import Role

    event = make_event(name="Poster Event")
    login_page(client, make_staff(role=Role.comms))
    for size in ("A4", "A3"):
        response = client.get(f"/events/{event.id}/signage.pdf?size={size}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        (tmp_path / size).mkdir()
        [page] = render_pdf(response.content, tmp_path / size, dpi=100)
        [code] = zxingcpp.read_barcodes(page)
        assert path_of(code.text) == f"/events/{event.id}/notice"
        width = b"595.28" if size == "A4" else b"841.89"  # 210 mm, 297 mm in points
        assert b"/MediaBox [0 0 " + width in response.content
    assert client.get(f"/events/{event.id}/signage.pdf?size=B5").status_code == 422
    notice = client.get(f"/events/{event.id}/notice")
    assert "This event is photographed and filmed" in notice.text
    assert "You do not hold copyright" in notice.text
    assert "NO PHOTOS" in notice.text
