"""Issue 34, item 11: with no mail server outside development, the booking form answered a
booked address (200 "contact the organiser") differently from a new one (303 to its private
page), so anyone could tell who had booked. Both now get the same page, and only the new
address is booked (a real server over HTTP, REGISTRY_ENV=test, no mail)."""

from __future__ import annotations

from tests.live import Live, csrf_of, new_event


def test_a_booked_and_a_new_address_get_the_same_answer(live_mail_off: Live) -> None:
    live = live_mail_off
    with live.client("comms") as staff:
        event = new_event(staff, name="Same answer day")
        staff.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Already Here", "email": "here@example.org"},
        ).raise_for_status()
    answers = []
    with live.client() as browser:
        token = csrf_of(browser.get(f"/events/{event['id']}/book").text)
        for email in ("here@example.org", "new.person@example.org"):
            answer = browser.post(
                f"/events/{event['id']}/book",
                data={"name": "Someone", "email": email, "csrf_token": token},
                headers={"X-Forwarded-For": "192.0.2.200"},
            )
            answers.append(answer)
    booked, new = answers
    assert (booked.status_code, new.status_code) == (200, 200)
    assert "location" not in new.headers
    assert booked.text == new.text
    assert "/b/" not in new.text
    with live.client("comms") as staff:
        emails = sorted(b["email"] for b in staff.get(f"/api/events/{event['id']}/bookings").json())
    assert emails == ["here@example.org", "new.person@example.org"]
