"""Issue 34, item 9: a comms user cannot mint an attendee's link. Re-issuing a manage link
through the API mails the new link to the attendee and answers that it was sent, never the
link; the old link stops working and only the attendee's inbox holds the new one (a real
server, a real SMTP server)."""

from __future__ import annotations

import time

import httpx

from tests.live import Live, new_event
from tests.mailbox import links_in


def test_a_reissued_link_goes_to_the_attendee_and_never_to_staff(live: Live) -> None:
    assert live.inbox is not None
    with live.client("comms") as comms:
        event = new_event(comms)
        created = comms.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Ravi Key", "email": "ravi.key@example.org", "send_confirmation": False},
        ).json()
        old = created["manage_url"]
        answer = comms.post(f"/api/bookings/{created['id']}/manage-link")
        assert answer.status_code == 200, answer.text
        assert "/b/" not in answer.text
        assert answer.json()["sent"] is True
        assert "on its way" in answer.json()["detail"]
        # Nothing else staff can read carries it either.
        for read in (
            comms.get(f"/api/bookings/{created['id']}").text,
            comms.get(f"/api/events/{event['id']}/bookings").text,
        ):
            assert "/b/" not in read
    deadline = time.monotonic() + 30
    mailed: list[str] = []
    while not mailed and time.monotonic() < deadline:
        mailed = [
            link
            for message in live.inbox.messages
            if message["To"] == "ravi.key@example.org"
            for link in links_in(message)
            if "/b/" in link
        ]
        time.sleep(0.2)
    assert mailed, "the new link never reached the attendee"
    new = mailed[-1]
    assert new != old
    with httpx.Client(timeout=30) as browser:
        assert browser.get(old).status_code == 404
        assert browser.get(new).status_code == 200
