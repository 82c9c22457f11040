"""Staff see what the service sent people, and what it could not send (real browser)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Server, check_accessibility, shot, sign_in, staff_api


def test_the_outbox_shows_each_message_without_its_link_and_retries(
    page: Any, server: Server
) -> None:
    with staff_api(server) as api:
        event = api.post(
            "/api/events",
            json={
                "name": "Outbox evening",
                "starts_at": "2031-03-01T18:00:00+00:00",
                "filming_notice": "We photograph this evening for our newsletter.",
            },
        ).json()
        api.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Kim Mailless", "email": "kim.mailless@example.org"},
        ).raise_for_status()

    sign_in(page, server)
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Outbox").click()
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()
    expect(page.get_by_text("No mail server is configured")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="k•••@example.org")
    expect(row.get_by_text("Booking confirmation (with badge)")).to_be_visible()
    expect(row.get_by_text("not sent: no mail server configured")).to_be_visible()
    assert "/b/" not in page.content()
    assert "kim.mailless@example.org" not in page.content()
    check_accessibility(page, "outbox")
    shot(page, "outbox-desktop")
    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_text("is queued again")).to_be_visible()

    # The event page shows the booking's delivery.
    page.goto(f"{server.url}/events/{event['id']}")
    booking_row = page.get_by_role("row").filter(has_text="Kim Mailless")
    expect(booking_row.get_by_text("confirmation:")).to_be_visible()
