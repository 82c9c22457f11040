"""Item 14: requests for someone's link from other networks never lock her out. Past the
per-address limit she gets the same answer (and nothing more is mailed); only the network that
asks too often is refused."""

from __future__ import annotations

from tests.live import Live, csrf_of, new_event


def test_lost_link_requests_from_elsewhere_do_not_lock_out_the_owner(live: Live) -> None:
    assert live.inbox is not None
    victim = "owner.of.the.address@example.org"
    with live.client("comms") as staff:
        event = new_event(staff, name="Lockout day")
        staff.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Owner", "email": victim, "send_confirmation": False},
        ).raise_for_status()
    with live.client() as browser:
        token = csrf_of(browser.get(f"/events/{event['id']}/link").text)
        for n in range(5):  # an attacker, from five networks
            answer = browser.post(
                f"/events/{event['id']}/link",
                data={"email": victim, "csrf_token": token},
                headers={"X-Forwarded-For": f"192.0.2.{n + 10}"},
            )
            assert answer.status_code == 200
        mine = browser.post(
            f"/events/{event['id']}/link",
            data={"email": victim, "csrf_token": token},
            headers={"X-Forwarded-For": "198.51.100.77"},
        )
        assert mine.status_code == 200
        assert "Retry-After" not in mine.headers
        assert "If that address has a booking" in mine.text
        # The booking form too: she is answered, not refused.
        form = browser.get(f"/events/{event['id']}/book")
        again = browser.post(
            f"/events/{event['id']}/book",
            data={"name": "Owner", "email": victim, "csrf_token": csrf_of(form.text)},
            headers={"X-Forwarded-For": "198.51.100.77"},
        )
        assert again.status_code == 200
    # The per-address limit went to the asking network; her own network, new in the window,
    # got one more (issue 34, item 5); her booking-form request from the same network, none.
    assert len(live.inbox.settled(victim, at_least=4)) == 4
