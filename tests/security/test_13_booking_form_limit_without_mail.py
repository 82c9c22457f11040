"""Item 13: with no mail server the public booking form is rate-limited too: every submission
counts against the client network's limit (20 an hour at the defaults), new address or booked."""

from __future__ import annotations

from tests.live import Live, csrf_of, new_event


def test_one_network_books_at_most_its_limit_then_gets_429(live_mail_off: Live) -> None:
    live = live_mail_off
    with live.client("comms") as staff:
        event = new_event(staff, name="No-mail day")
        staff.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Already Booked", "email": "booked@example.org"},
        ).raise_for_status()
    statuses = []
    with live.client() as browser:
        token = csrf_of(browser.get(f"/events/{event['id']}/book").text)
        for n in range(25):
            email = "booked@example.org" if n % 5 == 0 else f"new{n}@example.org"
            answer = browser.post(
                f"/events/{event['id']}/book",
                data={"name": f"Person {n}", "email": email, "csrf_token": token},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
            statuses.append(answer.status_code)
        limited = statuses[20:]
        assert set(statuses[:20]) <= {200, 303}
        assert limited == [429] * 5
        # Another network is not affected.
        other = browser.post(
            f"/events/{event['id']}/book",
            data={"name": "Elsewhere", "email": "elsewhere@example.org", "csrf_token": token},
            headers={"X-Forwarded-For": "198.51.100.4"},
        )
        assert other.status_code == 200  # answered alike, booked or not (issue 34, item 11)
    with live.client("comms") as staff:
        booked = staff.get(f"/api/events/{event['id']}/bookings").json()
        assert len(booked) == 1 + 16 + 1  # the staff's, 16 new ones before the limit, elsewhere
