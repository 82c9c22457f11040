from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.audit.service import CLI
from registry.auth.models import StaffUser
from registry.config import get_settings
from registry.events import service
from registry.events.models import Booking, Event
from tests.auth.factories import csrf_from


def test_booking_page_shows_the_notice_and_an_unticked_opt_out(
    client: TestClient, make_event: Callable[..., Event]
) -> None:
    event = make_event()
    page = client.get(f"/events/{event.id}/book")
    assert page.status_code == 200
    assert event.filming_notice in page.text
    assert "I do not want to appear in photos or video" in page.text
    checkbox = page.text[page.text.index('id="photo_opt_out"') :].split(">", 1)[0]
    assert "checked" not in checkbox


@pytest.fixture
def development(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """REGISTRY_ENV=dev (as `serve --demo`): without mail, a new booking lands on its page."""
    monkeypatch.setenv("REGISTRY_ENV", "dev")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_booking_with_opt_out_lands_on_the_manage_page(
    client: TestClient, make_event: Callable[..., Event], development: None
) -> None:
    event = make_event()
    token = csrf_from(client.get(f"/events/{event.id}/book").text)
    response = client.post(
        f"/events/{event.id}/book",
        data={
            "name": "Kim",
            "email": "kim@example.org",
            "photo_opt_out": "yes",
            "notice_version": "1",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/b/")
    assert "kim@example.org" not in location
    manage = client.get(location)
    assert "You are booked." in manage.text
    assert "You have opted out." in manage.text


def test_booking_form_errors_are_shown_and_nothing_is_stored(
    client: TestClient, make_event: Callable[..., Event], session: Session
) -> None:
    event = make_event()
    token = csrf_from(client.get(f"/events/{event.id}/book").text)
    response = client.post(
        f"/events/{event.id}/book", data={"name": "", "email": "nope", "csrf_token": token}
    )
    assert response.status_code == 422
    assert "Enter your name." in response.text
    assert service.list_bookings(session=session, event=event) == []


def test_unknown_event_and_forged_manage_link_get_friendly_404_pages(client: TestClient) -> None:
    for path in (
        "/events/not-a-uuid/book",
        "/events/00000000-0000-4000-8000-000000000000/book",
        "/b/forged-token",
        "/b/" + "a" * 40 + ".bad",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "Traceback" not in response.text


def test_manage_page_opts_out_and_back_in(
    client: TestClient, make_booking: Callable[..., Booking], session: Session
) -> None:
    booking = make_booking()
    url = f"/b/{service.manage_token(booking)}"
    token = csrf_from(client.get(url).text)
    out = client.post(url, data={"action": "opt_out", "csrf_token": token})
    assert "you have opted out" in out.text
    back = client.post(url, data={"action": "opt_in", "csrf_token": token})
    assert "you may appear" in back.text
    assert client.post(url, data={"action": "explode", "csrf_token": token}).status_code == 422
    assert client.post(url, data={"action": "opt_out"}).status_code == 403  # no CSRF token
    actions = [str(h.action) for h in service.history(session=session, booking=booking)]
    # Staff booked them: opening the page showed them the filming notice, recorded once.
    assert actions == ["booked", "notice_shown", "opted_out", "opted_in"]
    session.refresh(booking)
    assert booking.notice_version == 1


def test_staff_edit_an_event_and_the_notice_gets_a_new_version(
    client: TestClient,
    make_event: Callable[..., Event],
    make_staff: Callable[..., StaffUser],
    session: Session,
) -> None:
    from registry.auth.models import Role
    from tests.auth.factories import login_page

    event = make_event()
    login_page(client, make_staff(Role.comms))
    form = client.get(f"/events/{event.id}/edit")
    assert form.status_code == 200
    data = {
        "name": "Renamed event",
        "starts_at": "2031-03-01T09:00",
        "ends_at": "2031-03-01T17:00",
        "venue": "Hall C",
        "filming_notice": "A new filming notice: we film everything, opt out any time.",
        "biometric_retention_days": "10",
        "csrf_token": csrf_from(form.text),
    }
    saved = client.post(f"/events/{event.id}/edit", data=data, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    session.refresh(event)
    assert event.name == "Renamed event"
    assert event.filming_notice_version == 2
    assert event.bookings_open is False  # the box was not ticked
    assert event.biometric_retention_days == 10

    bad = client.post(
        f"/events/{event.id}/edit",
        data={**data, "name": "Broken", "ends_at": "2031-02-01T09:00"},
    )
    assert bad.status_code == 422
    assert "must not be before the start" in bad.text
    session.refresh(event)
    assert event.name == "Renamed event"


def test_booking_with_an_email_that_already_booked_shows_no_link_and_changes_nothing(
    client: TestClient, make_event: Callable[..., Event], session: Session, development: None
) -> None:
    event = make_event()
    booking, _ = service.create_booking(
        session=session,
        actor=CLI,
        event=event,
        name="Kim",
        email="kim@example.org",
        photo_opt_out=True,
    )
    session.commit()
    token = csrf_from(client.get(f"/events/{event.id}/book").text)
    response = client.post(
        f"/events/{event.id}/book",
        data={
            "name": "Not Kim",
            "email": "Kim@Example.org",
            "notice_version": "1",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert "We cannot show a booking here" in response.text
    assert service.manage_token(booking) not in response.text
    assert "/b/" not in response.text
    session.refresh(booking)
    assert booking.photo_opt_out is True
    assert booking.name == "Kim"
    assert len(service.list_bookings(session=session, event=event)) == 1
