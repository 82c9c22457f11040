"""An admin runs the website's webhook from the pages alone: registers a real receiver (events as
checkboxes, bad input refused on the form), sees an attendee's opt-out delivered in the log,
replays it, rotates the secret (shown once), disables and enables it (real server, browser)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, Server, check_accessibility, shot, sign_in, staff_api
from tests.webhooks.receiver import Receiver, receiver


def _opt_out(server: Server, name: str) -> None:
    """An attendee opts out of photos (staff API): a `booking.opted_out` event."""
    with staff_api(server) as api:
        event = api.post(
            "/api/events",
            json={
                "name": f"Webhook evening {name}",
                "starts_at": "2031-04-01T18:00:00+00:00",
                "filming_notice": "We photograph this evening for our website.",
            },
        ).json()
        booking = api.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": name, "email": f"{name.lower().replace(' ', '.')}@example.org"},
        ).json()
        api.patch(f"/api/bookings/{booking['id']}", json={"photo_opt_out": True}).raise_for_status()


def _wait_for(what: str, done: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.1)


def _refresh_until(page: Any, locator: Any, seconds: float = 15) -> None:
    """Refresh the log until `locator` shows (deliveries are sent after the request commits)."""
    deadline = time.monotonic() + seconds
    while locator.count() == 0:
        assert time.monotonic() < deadline, f"{locator} did not show within {seconds} s"
        time.sleep(0.3)
        with page.expect_navigation():
            page.get_by_role("button", name="Refresh the log").click()
        expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()


def test_an_admin_registers_watches_replays_rotates_disables_and_enables_a_webhook(
    page: Any, server: Server
) -> None:
    cms: Receiver
    with receiver() as cms:
        sign_in(page, server)
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        page.get_by_role("navigation", name="Staff").get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        check_accessibility(page, "webhooks list")

        # Bad input is refused on the form, with what was typed kept.
        page.get_by_label("The receiver's address").fill("http://10.0.0.5/hooks")
        page.get_by_label("booking.opted_out").check()
        page.get_by_role("button", name="Register the endpoint").click()
        problem = page.get_by_role("alert").filter(has_text="There is a problem")
        expect(problem).to_contain_text("resolves to 10.0.0.5")
        expect(page.get_by_label("The receiver's address")).to_have_value("http://10.0.0.5/hooks")
        expect(page.get_by_label("booking.opted_out")).to_be_checked()
        check_accessibility(page, "webhooks form error")
        shot(page, "webhooks-form-error-desktop")

        page.get_by_label("The receiver's address").fill(cms.url)
        page.get_by_label("booking.opted_out").uncheck()
        page.get_by_role("button", name="Register the endpoint").click()
        expect(page.get_by_role("alert").filter(has_text="There is a problem")).to_contain_text(
            "Choose events"
        )

        # Registered: the secret is shown once.
        page.get_by_label("The receiver's address").fill(cms.url)
        page.get_by_label("What it is (optional)").fill("Website CMS")
        page.get_by_label("booking.opted_out").check()
        page.get_by_label("publication.takedown_required").check()
        page.get_by_role("button", name="Register the endpoint").click()
        expect(page.get_by_text("Registered. Copy its signing secret now")).to_be_visible()
        secret = page.locator("#secret-value").inner_text().strip()
        assert secret.startswith("whsec_")
        cms.secret = secret
        check_accessibility(page, "webhook endpoint with its secret")
        shot(page, "webhooks-registered-desktop")
        endpoint_url = page.url.split("#")[0]

        # An attendee opts out: the receiver verifies the delivery; the log shows it.
        _opt_out(server, "Ola Outside")
        _wait_for("a verified delivery", lambda: len(cms.accepted) == 1)
        assert cms.rejected == []
        assert cms.accepted[0]["type"] == "booking.opted_out"
        page.goto(endpoint_url)
        expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()
        assert secret not in page.content(), "the secret is shown again"
        expect(page.locator("#secret-value")).to_have_count(0)
        row = page.get_by_role("row").filter(has_text="booking.opted_out")
        _refresh_until(page, row.filter(has_text="delivered"))
        expect(row).to_contain_text("HTTP 204")
        expect(row.get_by_role("cell").nth(2)).to_have_text("1")
        delivery_id = cms.accepted[0]["id"]
        expect(row).to_contain_text(delivery_id)
        check_accessibility(page, "webhook delivery log")
        shot(page, "webhooks-delivered-desktop")

        # Replayed with the same id: the receiver recognises it (and acknowledges it).
        row.get_by_role("button", name="Replay").click()
        expect(page.get_by_text(f"Sending booking.opted_out ({delivery_id}) again")).to_be_visible()
        _wait_for("the replay", lambda: cms.rejected == [f"replayed {delivery_id}"])
        _refresh_until(page, page.get_by_role("row").filter(has_text="HTTP 200"))
        assert len(cms.accepted) == 1

        # Rotated: the new secret shows once; messages verify with it.
        page.get_by_role("button", name="Rotate the signing secret").click()
        expect(page.get_by_text("New signing secret: copy it now")).to_be_visible()
        rotated = page.locator("#secret-value").inner_text().strip()
        assert rotated.startswith("whsec_")
        assert rotated != secret
        expect(page.get_by_text("Still signs beside the new one until")).to_be_visible()
        shot(page, "webhooks-rotated-desktop")
        page.reload()
        expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()
        expect(page.locator("#secret-value")).to_have_count(0)
        assert rotated not in page.content(), "the rotated secret is shown again"
        cms.secret = rotated
        _opt_out(server, "Rui Rotated")
        _wait_for("a delivery signed with the new secret", lambda: len(cms.accepted) == 2)

        # Disabled: nothing is sent and nothing can be replayed; enabled again.
        page.get_by_role("button", name="Disable").click()
        expect(page.get_by_text("Disabled: nothing is sent to it")).to_be_visible()
        expect(page.get_by_text("an administrator turned it off")).to_be_visible()
        expect(page.get_by_role("button", name="Replay")).to_have_count(0)
        shot(page, "webhooks-disabled-desktop")
        _opt_out(server, "Dee Disabled")
        page.get_by_role("button", name="Enable").click()
        expect(page.get_by_text("Enabled: new events are sent to it again")).to_be_visible()
        expect(page.get_by_role("button", name="Disable")).to_be_visible()
        assert len(cms.accepted) == 2, "an event while it was disabled was sent"
        with page.expect_navigation():
            page.get_by_role("button", name="Refresh the log").click()
        expect(page.get_by_role("row").filter(has_text="booking.opted_out")).to_have_count(2)

        page.set_viewport_size(PHONE)
        page.reload()
        expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()
        assert _page_width(page) <= PHONE["width"], "the endpoint page is wider than a phone"
        shot(page, "webhooks-endpoint-phone")
        page.get_by_role("link", name="← Webhooks").click()
        expect(page.get_by_role("heading", name="Register an endpoint")).to_be_visible()
        card = page.locator(".card").filter(has_text=cms.url)
        expect(card).to_contain_text("enabled")
        expect(page.get_by_text("No endpoints yet")).to_have_count(0)
        assert _page_width(page) <= PHONE["width"], "the webhooks page is wider than a phone"
        shot(page, "webhooks-list-phone")

        # Deleted (after a tick that says it cannot be undone): gone from the list.
        page.set_viewport_size(DESKTOP)
        card.get_by_role("link", name=cms.url).click()
        expect(page.get_by_role("heading", name="Delete this endpoint")).to_be_visible()
        page.get_by_label("Delete this endpoint; this cannot be undone").check()
        page.get_by_role("button", name="Delete the endpoint").click()
        expect(page.get_by_text(f"Deleted the endpoint {cms.url}.")).to_be_visible()
        expect(page.get_by_role("heading", name="Register an endpoint")).to_be_visible()
        expect(page.locator(".card").filter(has_text=cms.url)).to_have_count(0)


def _page_width(page: Any) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))
