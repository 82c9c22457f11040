"""The journeys as people live them, through the pages alone, in a real Chromium.

Staff on a desktop, attendees and patients on a 390 × 844 phone. At each step the test asserts
what the person sees: the message about what they just did is on screen (not at the top of a
long page), links lead where they say, and axe-core finds no serious accessibility problem.
Screenshots of every page land in artifacts/screenshots/.
"""

from __future__ import annotations

import random
import re
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import (
    Server,
    check_accessibility,
    in_view,
    shot,
    sign_in,
)
from tests.vision import compose

NOTICE = (
    "We photograph and film this conference for our website and social media. Attendees do "
    "not hold copyright in the images. Opt out when you book or any time later."
)


def _create_event_on_pages(page: Any, server: Server, name: str, tz: str = "Europe/Paris") -> str:
    """Staff create an event through the Events page; its id."""
    page.goto(f"{server.url}/events")
    form = page.locator("form[action='/events']")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Time zone of the venue").fill(tz)
    form.get_by_label("Starts (venue's local time)").fill("2031-03-14T09:30")
    form.get_by_label("Ends (venue's local time, optional)").fill("2031-03-14T17:00")
    form.get_by_label("Venue (optional)").fill("Grand Hall")
    form.get_by_label("Filming notice").fill(NOTICE)
    # Every configured channel is offered, and ticked for a new event.
    channels = form.get_by_role("group", name="Where the notice says images will be used")
    for words in ("Our public social media accounts", "Printed material"):
        expect(channels.get_by_label(words, exact=False)).to_be_checked()
    channels.get_by_label("Printed material", exact=False).uncheck()
    form.get_by_role("button", name="Create event").click()
    expect(page.get_by_text(f"Created {name}.")).to_be_visible()
    match = re.search(r"/events/([0-9a-f-]{36})$", page.url)
    assert match, page.url
    return match.group(1)


def _photo(faces_dir: Path, tmp_path: Path, name: str, who: str, index: int = 0) -> str:
    rng = random.Random(hash(name) & 0xFFFF)
    canvas = compose.background(faces_dir, (2400, 1600), rng)
    compose.paste_face(canvas, compose.portraits(faces_dir)[who][index], 170, (1200, 700))
    path = tmp_path / name
    canvas.save(path, quality=90)
    return str(path)


def _book_on_phone(phone: Any, server: Server, event_id: str, name: str, opt_out: bool) -> None:
    """An attendee books on the public page (a fresh email each time)."""
    phone.goto(f"{server.url}/events/{event_id}/book")
    phone.get_by_label("Your name").fill(name)
    phone.get_by_label("Email").fill(
        f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.org"
    )
    if opt_out:
        phone.get_by_label("I do not want to appear in photos or video").check()
    phone.get_by_role("button", name="Book my place").click()
    expect(phone.get_by_text("You are booked.")).to_be_visible()


def _upload_on_photos_page(page: Any, server: Server, event_id: str, paths: list[str]) -> None:
    page.goto(f"{server.url}/events/{event_id}/photos")
    page.get_by_label("Choose photos").set_input_files(paths)
    page.get_by_role("button", name="Upload and check").click()


def test_staff_create_and_edit_an_event_and_publish_a_cleared_photo_of_it(
    page: Any, phone: Any, server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    name = f"Spring conference {uuid.uuid4().hex[:6]}"
    sign_in(page, server)
    shot(page, "staff-dashboard")
    event_id = _create_event_on_pages(page, server, name)
    # 09:30 on the venue's clocks in Paris, shown as such (not converted to UTC).
    expect(page.get_by_text("Friday 14 March 2031, 09:30 CET")).to_be_visible()
    shot(page, "staff-event")

    page.get_by_role("link", name="Edit the event, its filming notice or retention").click()
    channels = page.get_by_role("group", name="Where the notice says images will be used")
    expect(channels.get_by_label("Our public social media accounts", exact=False)).to_be_checked()
    expect(channels.get_by_label("Printed material", exact=False)).not_to_be_checked()
    expect(page.get_by_label("Starts (venue's local time)")).to_have_value("2031-03-14T09:30")
    channels.get_by_label("Internal staff communications", exact=False).uncheck()
    shot(page, "staff-event-edit")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()

    # The attendee sees the same channels the event was saved with, on a phone.
    phone.goto(f"{server.url}/events/{event_id}/book")
    where = phone.get_by_role("list", name="Photos and video from this event may be used on:")
    expect(where.get_by_role("listitem")).to_have_count(2)
    expect(where).to_contain_text("our public social media accounts")
    expect(where).not_to_contain_text("printed material")
    expect(phone.get_by_text("Friday 14 March 2031, 09:30 CET")).to_be_visible()
    check_accessibility(phone, "booking page")
    shot(phone, "public-booking")

    # A photo of nobody who opted out: the progress row links to it; the grid fills in.
    _upload_on_photos_page(
        page, server, event_id, [_photo(faces_dir, tmp_path, "crowd.jpg", "joe_biden")]
    )
    expect(page.locator("#no-photos")).to_be_visible()
    row = page.locator("#upload-progress li").filter(has_text="crowd.jpg")
    open_link = row.get_by_role("link", name="Open crowd.jpg")
    expect(open_link).to_be_visible(timeout=180_000)
    expect(row).to_contain_text("cleared")
    expect(page.locator("#photo-grid").get_by_role("link", name="crowd.jpg")).to_be_visible()
    expect(page.locator("#no-photos")).to_have_count(0)
    shot(page, "staff-photos")
    open_link.click()

    # Publish on a channel the notice names.
    publish = page.locator("#publish-form")
    publish.get_by_label("Publish on").select_option(
        label="Our public social media accounts: the original"
    )
    publish.get_by_label("Where it was posted").fill("https://social.example/p/1")
    publish.get_by_role("button", name="Record publication").click()
    message = page.get_by_text("Recorded as published on our public social media accounts")
    in_view(message)
    shot(page, "staff-photo-published")


def test_attendee_on_a_phone_books_changes_their_mind_and_gives_a_reference_photo(
    page: Any, phone: Any, server: Server, faces_dir: Path
) -> None:
    sign_in(page, server)
    event_id = _create_event_on_pages(page, server, f"Workshop {uuid.uuid4().hex[:6]}")

    _book_on_phone(phone, server, event_id, "Robin Attendee", opt_out=True)
    # The choice, the button to change it and the badge come first, on the first screen.
    in_view(phone.get_by_text("You have opted out."))
    in_view(phone.get_by_role("button", name="I am happy to appear in photos and video"))
    expect(phone.get_by_role("img", name=re.compile("Your badge"))).to_be_visible()
    badge_top = phone.get_by_role("heading", name="Your badge").bounding_box()
    reference_top = phone.get_by_role("heading", name="Help us recognise you").bounding_box()
    assert badge_top["y"] < reference_top["y"]
    check_accessibility(phone, "manage page, opted out")
    shot(phone, "public-manage-opted-out")

    phone.get_by_role("button", name="I am happy to appear in photos and video").click()
    in_view(phone.get_by_text("Done: you may appear in photos and video."))
    check_accessibility(phone, "manage page, may appear")
    shot(phone, "public-manage-may-appear")
    phone.get_by_role("button", name="I do not want to appear in photos or video").click()
    in_view(phone.get_by_text("Done: you have opted out of photos and video."))

    # A photo with two faces is refused: the reason is beside the form, the box stays ticked.
    consent = phone.get_by_label("I agree that the service may use this photo")
    phone.get_by_label("A photo with only your face in it").set_input_files(
        str(faces_dir / "groups" / "deepface_couple.jpg")
    )
    consent.check()
    phone.get_by_role("button", name="Upload reference photo").click()
    error = phone.locator("[data-place=reference].flash-error")
    in_view(error)
    expect(error).to_contain_text("face")
    # The message has the focus (so a screen reader reads it out).
    phone.wait_for_function("el => document.activeElement === el", arg=error.element_handle())
    expect(consent).to_be_checked()
    check_accessibility(phone, "manage page, reference refused")
    shot(phone, "public-manage-reference-refused")

    phone.get_by_label("A photo with only your face in it").set_input_files(
        str(faces_dir / "people" / "barack_obama" / "facerec_1.jpg")
    )
    phone.get_by_role("button", name="Upload reference photo").click()
    in_view(phone.get_by_text("Your reference photo is saved"))
    expect(phone.get_by_role("img", name="Your reference photo 1")).to_be_visible()
    check_accessibility(phone, "manage page, reference saved")
    shot(phone, "public-manage-reference-saved")


def test_flagged_photo_offers_a_redacted_copy_instead_of_publication(
    page: Any, phone: Any, server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    sign_in(page, server)
    event_id = _create_event_on_pages(page, server, f"Gala {uuid.uuid4().hex[:6]}")
    # Olive books on her phone, opts out and gives a reference photo.
    _book_on_phone(phone, server, event_id, "Olive Optout", opt_out=True)
    phone.get_by_label("A photo with only your face in it").set_input_files(
        str(faces_dir / "people" / "barack_obama" / "facerec_1.jpg")
    )
    phone.get_by_label("I agree that the service may use this photo").check()
    phone.get_by_role("button", name="Upload reference photo").click()
    expect(phone.get_by_text("Your reference photo is saved")).to_be_visible()

    _upload_on_photos_page(
        page, server, event_id, [_photo(faces_dir, tmp_path, "olive.jpg", "barack_obama", 1)]
    )
    row = page.locator("#upload-progress li").filter(has_text="olive.jpg")
    expect(row.get_by_role("link", name="Open olive.jpg")).to_be_visible(timeout=180_000)
    expect(row).to_contain_text("flagged")
    row.get_by_role("link", name="Open olive.jpg").click()
    expect(page.get_by_role("cell", name="Olive Optout", exact=True)).to_be_visible()
    expect(page.get_by_text("strong match with their reference photo")).to_be_visible()
    shot(page, "staff-photo-flagged")

    # Nothing may be published, so nothing is offered but the way forward.
    publish = page.locator("section[aria-labelledby=publish-h]")
    expect(publish.get_by_role("button", name="Record publication")).to_have_count(0)
    expect(publish.get_by_text("Nothing here may be published now")).to_be_visible()
    publish.get_by_role("button", name="Make a redacted copy").click()
    made = page.locator("[data-place=publish]")
    in_view(made)
    expect(made).to_contain_text("Redacted copy made (verified")

    publish = page.locator("#publish-form")
    publish.get_by_label("Publish on").select_option(
        label="Our public social media accounts: the redacted copy"
    )
    publish.get_by_role("button", name="Record publication").click()
    in_view(page.get_by_text("Recorded as published on our public social media accounts"))
    shot(page, "staff-photo-redacted-published")


def test_patient_on_a_phone_answers_first_then_reads_and_withdraws(
    page: Any, phone: Any, server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    sign_in(page, server)
    # A clinical photo (not from an event), uploaded on the Media page.
    page.goto(f"{server.url}/media")
    photo = _photo(faces_dir, tmp_path, f"knee-{uuid.uuid4().hex[:6]}.jpg", "joe_biden", 1)
    page.get_by_label("Choose files").set_input_files(photo)
    page.get_by_role("button", name="Upload and check").click()
    filename = Path(photo).name
    expect(page.get_by_role("link", name=re.compile(filename))).to_be_visible()
    shot(page, "staff-media")

    # Staff start the request from the photo's page; it is already chosen, shown as a picture.
    page.get_by_role("link", name=re.compile(filename)).first.click()
    page.get_by_role("link", name="Ask this person for consent").click()
    chosen = page.get_by_role("list", name="Chosen (1)")
    expect(chosen.get_by_role("checkbox", name=filename)).to_be_checked()
    page.get_by_label("Patient's name").fill("Morgan Patient")
    page.get_by_label("Purpose, in plain words").fill("Show knee rehabilitation in our magazine.")
    page.get_by_label("What the media show").fill("One photo of Morgan doing a knee exercise.")
    page.get_by_label("Printed material", exact=False).check()
    page.get_by_label("Consent ends on").fill("2031-01-31")
    shot(page, "staff-consent-new")
    page.get_by_role("button", name="Create request").click()
    expect(page.get_by_text("Request created.")).to_be_visible()
    link = page.locator("#patient-link").inner_text().strip()
    assert "/c/" in link
    assert "Morgan" not in link
    expect(page.get_by_role("button", name="Copy the link")).to_be_visible()
    expect(page.get_by_text("Status: pending: the patient has not answered")).to_be_visible()
    shot(page, "staff-consent-detail")

    # The patient reads who asks, what, where and until when, and can answer on the first screen.
    phone.goto(link)
    expect(phone.get_by_text("You have not answered yet.")).to_be_visible()
    shot(phone, "public-consent-unanswered")
    in_view(phone.get_by_role("button", name="Yes, I consent"))
    in_view(phone.get_by_role("button", name="No, I do not consent"))
    expect(phone.get_by_text("the end of 31 January 2031, or until you withdraw")).to_be_visible()
    expect(phone.get_by_role("img", name="Media item 1 this request covers")).to_be_visible()
    check_accessibility(phone, "consent page, unanswered")
    shot(phone, "public-consent-unanswered")
    phone.get_by_role("button", name="Yes, I consent").click()
    in_view(phone.get_by_text("Thank you: your consent is recorded."))
    expect(phone.get_by_text(re.compile(r"You said yes on \d+ \w+ 20\d\d\."))).to_be_visible()
    check_accessibility(phone, "consent page, granted")
    shot(phone, "public-consent-granted")

    phone.get_by_role("link", name="read your receipt").click()
    expect(phone.get_by_role("heading", name="Consent receipt")).to_be_visible()
    expect(phone.get_by_text("Gave consent — Morgan Patient", exact=False)).to_be_visible()
    check_accessibility(phone, "receipt page")
    shot(phone, "public-receipt")
    with phone.expect_download() as download:
        phone.get_by_role("link", name="Download as PDF").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(5) == b"%PDF-"
    phone.get_by_role("link", name="Back to your consent page").click()

    phone.get_by_role("button", name="Withdraw my consent").click()
    in_view(phone.get_by_text("Your consent is withdrawn.", exact=False).first)
    expect(
        phone.get_by_text(re.compile(r"You withdrew your consent on \d+ \w+ 20\d\d\."))
    ).to_be_visible()
    check_accessibility(phone, "consent page, withdrawn")
    shot(phone, "public-consent-withdrawn")

    page.reload()
    expect(page.get_by_text(re.compile(r"Status: \W*revoked on \w+"))).to_be_visible()
    expect(page.get_by_text("until withdrawn")).to_have_count(0)
    history = page.get_by_role("table")
    expect(history.get_by_role("cell", name="e2e-admin@example.org").first).to_be_visible()
    expect(history.get_by_role("cell", name="the patient").first).to_be_visible()
    expect(history.get_by_text("staff:")).to_have_count(0)


def test_staff_see_times_in_their_own_zone_and_are_asked_for_the_organisation(
    browser: Any, server: Server
) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="America/New_York"
    )
    page = context.new_page()
    try:
        sign_in(page, server)
        banner = page.get_by_role("region", name="Your organisation's details are not set")
        if banner.count():
            shot(page, "staff-dashboard-organisation-unset")
            banner.get_by_role("link", name="Set your organisation's details").click()
            page.get_by_label("Organisation's name").fill("North Physio Society")
            page.get_by_label("Privacy contact email").fill("privacy@northphysio.example")
            shot(page, "staff-organisation")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_text("Saved: pages, receipts and emails now name")).to_be_visible()
        expect(
            page.get_by_role("region", name="Your organisation's details are not set")
        ).to_have_count(0)
        # Activity times are shown in the browser's zone, with UTC on hover.
        stamp = page.get_by_role("region", name="Recent activity").locator("time[data-local]").first
        expect(stamp).to_contain_text(re.compile(r"E[SD]T|GMT-[45]"))
        assert "UTC" in (stamp.get_attribute("title") or "")
        page.goto(f"{server.url}/audit")
        shot(page, "staff-audit")
    finally:
        context.close()


def test_every_public_page_state_and_staff_page_is_accessible(
    page: Any, phone: Any, server: Server
) -> None:
    """axe on the states the journeys above do not reach, and a screenshot of every staff page."""
    sign_in(page, server)
    event_id = _create_event_on_pages(page, server, f"Open day {uuid.uuid4().hex[:6]}")

    # Booking with mistakes: the errors are listed first and each field says what is wrong.
    phone.goto(f"{server.url}/events/{event_id}/book")
    phone.get_by_label("Email").fill("not-an-email")
    phone.get_by_label("Your name").fill(" ")
    phone.evaluate("document.querySelector('form.stack').noValidate = true")
    phone.get_by_role("button", name="Book my place").click()
    in_view(phone.get_by_role("alert").filter(has_text="There is a problem"))
    check_accessibility(phone, "booking page with errors")
    shot(phone, "public-booking-errors")

    _book_on_phone(phone, server, event_id, "Casey Cancel", opt_out=False)
    manage_url = phone.url
    phone.get_by_role("button", name="Cancel my booking").click()
    expect(phone.get_by_text("This booking is cancelled.")).to_be_visible()
    check_accessibility(phone, "manage page, cancelled")
    shot(phone, "public-manage-cancelled")

    phone.goto(manage_url.split("/b/")[0] + "/b/" + "0" * 33 + ".forged")
    expect(phone.get_by_text("This link is not valid.")).to_be_visible()
    check_accessibility(phone, "invalid link page")
    shot(phone, "public-link-invalid")

    # A patient who says no.
    page.goto(f"{server.url}/consents/new")
    page.get_by_label("Patient's name").fill("Dana Decline")
    page.get_by_label("Purpose, in plain words").fill("Show a shoulder exercise in print.")
    page.get_by_label("What the media show").fill("A video still of Dana's shoulder exercise.")
    page.get_by_label("Printed material", exact=False).check()
    page.get_by_role("button", name="Create request").click()
    phone.goto(page.locator("#patient-link").inner_text().strip())
    phone.get_by_role("button", name="No, I do not consent").click()
    in_view(phone.get_by_text("Your answer is recorded: we will not use these media."))
    expect(phone.get_by_text(re.compile(r"You said no on \d+ \w+ 20\d\d\."))).to_be_visible()
    check_accessibility(phone, "consent page, declined")
    shot(phone, "public-consent-declined")

    staff_pages = {
        "staff-events": "/events",
        "staff-event-import": f"/events/{event_id}/import",
        "staff-consents": "/consents",
        "staff-consent-notice": "/consents/notice",
        "staff-publishing-ready": "/publishing",
        "staff-publication-log": "/publications",
        "staff-takedowns": "/takedowns",
        "staff-accounts": "/staff",
    }
    for name, path in staff_pages.items():
        page.goto(server.url + path)
        check_accessibility(page, path)
        shot(page, name)
