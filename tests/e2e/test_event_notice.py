"""The event form and the notice people are shown, where they meet the booking page and a CSV
import (issue 33, items 5 and 6), through the pages alone: staff on a desktop, the attendee on a
phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Server, check_accessibility, shot, sign_in


def _event_form(page: Any, server: Server, *, name: str, starts: str, ends: str) -> Any:
    page.goto(f"{server.url}/events")
    form = page.locator("form[action='/events']")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Starts (venue's local time)").fill(starts)
    form.get_by_label("Ends (venue's local time, optional)").fill(ends)
    form.get_by_label("Filming notice").fill("We will take photos.")
    channels = form.get_by_role("group", name="Where the notice says images will be used")
    channels.get_by_label("Printed material", exact=False).uncheck()
    return form


def test_an_event_that_ends_before_it_starts_is_refused_and_a_short_notice_is_made_whole(
    page: Any, phone: Any, server: Server, tmp_path: Path
) -> None:
    sign_in(page, server)
    form = _event_form(
        page, server, name="Backwards day", starts="2031-05-02T17:00", ends="2031-05-02T09:00"
    )
    form.get_by_role("button", name="Create event").click()
    expect(page.get_by_text("The end must not be before the start.")).to_be_visible()
    shot(page, "event-form-end-before-start")
    # Nothing was saved, and what was typed is still there to correct.
    page.goto(f"{server.url}/events")
    expect(page.get_by_role("link", name="Backwards day")).to_have_count(0)

    form = _event_form(
        page, server, name="Short notice day", starts="2031-05-02T09:00", ends="2031-05-02T17:00"
    )
    form.get_by_role("button", name="Create event").click()
    expect(page.get_by_text("Created Short notice day.")).to_be_visible()
    match = re.search(r"/events/([0-9a-f-]{36})$", page.url)
    assert match, page.url
    event_id = match.group(1)
    page.wait_for_load_state("load")

    # The attendee's phone: the notice says how images are used, copyright, and how to opt out
    # and change their mind, though the introduction said none of it.
    phone.goto(f"{server.url}/events/{event_id}/book")
    notice = phone.get_by_role("region", name="This event is filmed and photographed")
    expect(notice.get_by_text("We will take photos.")).to_be_visible()
    expect(notice.get_by_role("listitem")).to_have_count(3)  # every channel but print
    expect(notice.get_by_text("our public social media accounts")).to_be_visible()
    expect(notice.get_by_text("You do not hold copyright")).to_be_visible()
    expect(notice.get_by_text("opt out or back in at any time")).to_be_visible()
    shot(phone, "booking-short-notice-phone")
    check_accessibility(phone, "booking page with a short notice")

    # Staff import two people without confirmations: the preview warns, the event page counts
    # them as not yet shown the notice, and their rows say so (not "v1").
    csv = tmp_path / "people.csv"
    csv.write_text("name,email\nIna Imported,ina@example.org\nOla Imported,ola@example.org\n")
    page.goto(f"{server.url}/events/{event_id}/import")
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("Without confirmations, nobody imported is told")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Send confirmations", exact=False)).not_to_be_checked()
    shot(page, "import-preview-no-confirmations")
    page.get_by_role("button", name="Import 2 bookings").click()
    expect(page.get_by_text("2 not yet shown the filming notice", exact=False)).to_be_visible()
    for who in ("Ina Imported", "Ola Imported"):
        row = page.get_by_role("row").filter(has_text=who)
        expect(row.get_by_text("not yet shown")).to_be_visible()
    shot(page, "event-page-notice-not-yet-shown")
    check_accessibility(page, "event page with bookings not yet shown the notice")
