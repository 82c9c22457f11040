"""Issue 34, item 5: requests for someone's link from other networks never stop her getting it.
Fifty requests for her address from ten other networks, then she asks from her own: the same
answer as everyone got, and her link arrives. Mail to the address stays bounded (a real server,
a real SMTP server)."""

from __future__ import annotations

from registry.events.service import FRESH_NETWORK_LINKS
from tests.live import Live, csrf_of, new_event

PER_ADDRESS = 3  # REGISTRY_LINK_REQUESTS_PER_ADDRESS, the default


def test_fifty_requests_from_elsewhere_then_the_owner_gets_her_link(live: Live) -> None:
    assert live.inbox is not None
    owner = "owner.34.five@example.org"
    with live.client("comms") as staff:
        event = new_event(staff, name="Owner day")
        staff.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Owner", "email": owner, "send_confirmation": False},
        ).raise_for_status()
    answers = set()
    with live.client() as browser:
        token = csrf_of(browser.get(f"/events/{event['id']}/link").text)
        for n in range(50):  # five from each of ten networks (the per-network limit)
            answer = browser.post(
                f"/events/{event['id']}/link",
                data={"email": owner, "csrf_token": token},
                headers={"X-Forwarded-For": f"203.0.{100 + n // 5}.9"},
            )
            assert answer.status_code == 200
            answers.add(answer.text.replace(token, ""))
        before = len(live.inbox.settled(owner, quiet=1.5))
        assert before <= PER_ADDRESS + FRESH_NETWORK_LINKS
        mine = browser.post(
            f"/events/{event['id']}/link",
            data={"email": owner, "csrf_token": token},
            headers={"X-Forwarded-For": "198.51.100.34"},
        )
        assert mine.status_code == 200
        answers.add(mine.text.replace(token, ""))
    assert len(answers) == 1  # nobody learns anything from the answer
    after = len(live.inbox.settled(owner, at_least=before + 1, quiet=1.5))
    assert after == before + 1, "the owner's own request sent her nothing"
    text = live.inbox.to(owner)[-1].get_body(("plain",))
    assert text is not None
    assert "/b/" in str(text.get_content())
