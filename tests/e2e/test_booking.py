"""An attendee books with an opt-out, manages the booking, and opts back in (real browser)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    E2E_ADMIN,
    Server,
    check_accessibility,
    new_server,
    shot,
    start_server,
    stop_server,
)
from tests.mailbox import Inbox, links_in, smtp_server, text_of


@pytest.fixture(scope="module")
def mailing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Inbox]]:
    """A second real server whose mail goes to a real SMTP server (aiosmtpd on loopback)."""
    with smtp_server() as inbox:
        srv, port = new_server(tmp_path_factory.mktemp("e2e-mail"))
        srv.env.update(
            {
                "REGISTRY_SMTP_URL": inbox.url,
                "REGISTRY_SMTP_ALLOW_PLAINTEXT": "true",
                "REGISTRY_WARM_WORKERS": "false",
            }
        )
        process = start_server(srv, port)
        try:
            yield srv, inbox
        finally:
            stop_server(process)


def _mail_to(inbox: Inbox, address: str, count: int) -> list[EmailMessage]:
    """The messages to `address`, once there are `count` of them (mail leaves after commit)."""
    deadline = time.monotonic() + 20
    while len(inbox.to(address)) < count:
        assert time.monotonic() < deadline, f"no mail to {address}: {inbox.messages}"
        time.sleep(0.1)
    return inbox.to(address)


def _create_event(server: Server) -> str:
    form = f"username={E2E_ADMIN[0]}&password={E2E_ADMIN[1].replace(' ', '+')}".encode()
    with urllib.request.urlopen(f"{server.url}/api/auth/token", data=form) as r:
        token = json.load(r)["access_token"]
    body = json.dumps(
        {
            "name": "E2E conference",
            "starts_at": "2030-05-01T09:00:00+00:00",
            "filming_notice": "We film and photograph this event for our website. "
            "Opt out any time.",
        }
    ).encode()
    request = urllib.request.Request(
        f"{server.url}/api/events",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as r:
        return str(json.load(r)["id"])


def test_attendee_books_with_opt_out_then_opts_back_in(page: Any, server: Server) -> None:
    event_id = _create_event(server)
    page.goto(f"{server.url}/events/{event_id}/book")
    expect(page.get_by_text("We film and photograph this event")).to_be_visible()
    page.get_by_label("Your name").fill("Jo Example")
    page.get_by_label("Email").fill("jo@example.org")
    checkbox = page.get_by_label("I do not want to appear in photos or video")
    expect(checkbox).not_to_be_checked()
    checkbox.check()
    page.get_by_role("button", name="Book my place").click()
    expect(page.get_by_text("You are booked.")).to_be_visible()
    expect(page.get_by_text("You have opted out.")).to_be_visible()
    assert "/b/" in page.url
    assert "jo@example.org" not in page.url
    assert "Jo%20Example" not in page.url
    page.get_by_role("button", name="I am happy to appear in photos and video").click()
    expect(page.get_by_text("Done: you may appear in photos and video.")).to_be_visible()
    expect(
        page.get_by_role("button", name="I do not want to appear in photos or video")
    ).to_be_visible()


def test_someone_typing_a_booked_email_sees_no_link_and_changes_nothing(
    phone: Any, server: Server
) -> None:
    """Booking again with an address that already booked (as anyone who knows it could) shows
    a neutral page: no manage link, nothing changed, the way to get a new link."""
    event_id = _create_event(server)
    phone.goto(f"{server.url}/events/{event_id}/book")
    phone.get_by_label("Your name").fill("Ada Attendee")
    phone.get_by_label("Email").fill("ada@example.org")
    phone.get_by_label("I do not want to appear in photos or video").check()
    phone.get_by_role("button", name="Book my place").click()
    expect(phone.get_by_text("You have opted out.")).to_be_visible()
    manage_url = phone.url

    phone.goto(f"{server.url}/events/{event_id}/book")
    phone.get_by_label("Your name").fill("Someone Else")
    phone.get_by_label("Email").fill("ADA@example.org")
    phone.get_by_role("button", name="Book my place").click()
    expect(phone.get_by_role("heading", name="We cannot show a booking here")).to_be_visible()
    expect(phone.get_by_text("Nothing was booked or changed.")).to_be_visible()
    assert "/b/" not in phone.url
    assert "/b/" not in phone.content()
    # The attendee's choice is untouched.
    phone.goto(manage_url)
    expect(phone.get_by_text("You have opted out.")).to_be_visible()


def test_attendee_adds_a_reference_photo_opts_back_in_and_downloads_the_badge(
    page: Any, server: Server, faces_dir: Path
) -> None:
    event_id = _create_event(server)
    page.goto(f"{server.url}/events/{event_id}/book")
    page.get_by_label("Your name").fill("Robin Example")
    page.get_by_label("Email").fill("robin@example.org")
    page.get_by_label("I do not want to appear in photos or video").check()
    page.get_by_role("button", name="Book my place").click()
    expect(page.get_by_text("You have opted out.")).to_be_visible()

    page.get_by_label("A photo with only your face in it").set_input_files(
        str(faces_dir / "people" / "barack_obama" / "facerec_1.jpg")
    )
    page.get_by_label("I agree that the service may use this photo").check()
    page.get_by_role("button", name="Upload reference photo").click()
    expect(page.get_by_text("Your reference photo is saved")).to_be_visible()
    thumbnail = page.get_by_role("img", name="Your reference photo 1")
    expect(thumbnail).to_be_visible()
    # Loaded, not merely laid out: wait for the picture itself (a check at once raced it).
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )

    page.get_by_role("button", name="I am happy to appear in photos and video").click()
    expect(page.get_by_text("Your reference photos are deleted.")).to_be_visible()
    expect(page.get_by_role("img", name="Your reference photo 1")).to_have_count(0)

    # Booked opted out, now opted in: the badge for the choice now has no NO PHOTOS band.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your new badge (PDF)").click()
    path = download.value.path()
    with open(path, "rb") as f:
        assert f.read(5) == b"%PDF-"


def test_with_mail_on_booking_twice_shows_no_link_and_the_inbox_gets_it(
    phone: Any, mailing: tuple[Server, Inbox]
) -> None:
    """With a mail server, the booking form answers every address the same way ("check your
    inbox") and the links go to the address; the lost-link form does the same."""
    server, inbox = mailing
    event_id = _create_event(server)
    phone.goto(f"{server.url}/events/{event_id}/book")
    phone.get_by_label("Your name").fill("Bea Booker")
    phone.get_by_label("Email").fill("bea@example.org")
    phone.get_by_label("I do not want to appear in photos or video").check()
    phone.get_by_role("button", name="Book my place").click()
    expect(phone.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(phone.get_by_text("We have sent your booking link to that address.")).to_be_visible()
    assert "/b/" not in phone.content()
    first_answer = phone.locator("main").inner_text()
    check_accessibility(phone, "check your inbox (booking)")
    shot(phone, "booking-check-your-inbox-phone")
    [confirmation] = _mail_to(inbox, "bea@example.org", 1)
    assert confirmation["Subject"] == "Your booking: E2E conference"
    assert [a.get_filename() for a in confirmation.iter_attachments()] == ["badge.pdf"]

    # Someone else types the same address: the same answer, nothing on screen, mail to Bea.
    phone.goto(f"{server.url}/events/{event_id}/book")
    phone.get_by_label("Your name").fill("Not Bea")
    phone.get_by_label("Email").fill("BEA@example.org")
    phone.get_by_role("button", name="Book my place").click()
    expect(phone.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert phone.locator("main").inner_text() == first_answer
    assert "/b/" not in phone.content()
    link_mail = _mail_to(inbox, "bea@example.org", 2)[-1]
    assert link_mail["Subject"] == "Your booking link: E2E conference"

    # The link in the mail opens Bea's booking, her choice untouched.
    [link] = [u for u in links_in(link_mail) if "/b/" in u]
    phone.goto(link)
    expect(phone.get_by_text("You have opted out.")).to_be_visible()

    # Lost the link: the event page's form sends it again, with the same neutral answer.
    phone.goto(f"{server.url}/events/{event_id}/book")
    phone.get_by_role("link", name="Already booked? Lost your link?").click()
    phone.get_by_label("Email you booked with").fill("bea@example.org")
    phone.get_by_role("button", name="Send my link").click()
    expect(phone.get_by_text("If that address has a booking for this event")).to_be_visible()
    check_accessibility(phone, "lost link: check your inbox")
    shot(phone, "lost-link-check-your-inbox-phone")
    again = _mail_to(inbox, "bea@example.org", 3)[-1]
    assert link in text_of(again)


def test_the_manage_page_says_which_badge_they_hold_and_offers_the_new_one(
    phone: Any, server: Server
) -> None:
    """Booked without opting out, the attendee holds a badge without the NO PHOTOS band: after
    opting out the page says so and offers the badge for the choice now (phone)."""
    event_id = _create_event(server)
    phone.goto(f"{server.url}/events/{event_id}/book")
    phone.get_by_label("Your name").fill("Bea Badge")
    phone.get_by_label("Email").fill("bea.badge@example.org")
    phone.get_by_role("button", name="Book my place").click()
    expect(phone.get_by_text("You are booked.")).to_be_visible()
    badge = phone.get_by_role("region", name="Your badge")
    expect(badge.get_by_text("This is the badge from your confirmation email")).to_be_visible()
    expect(badge.get_by_text("so you never need a new one")).to_have_count(0)
    phone.wait_for_load_state("load")

    phone.get_by_role("button", name="I do not want to appear in photos or video").click()
    expect(phone.get_by_text("Your new badge, marked NO PHOTOS, is below.")).to_be_visible()
    expect(
        badge.get_by_text("Your choice changed since your first badge was made.")
    ).to_be_visible()
    expect(badge.get_by_text("has no NO PHOTOS band", exact=False)).to_be_visible()
    expect(badge.get_by_role("img", name="marked NO PHOTOS", exact=False)).to_be_visible()
    with phone.expect_download() as download:
        badge.get_by_role("link", name="Download your new badge (PDF)").click()
    with open(download.value.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    shot(phone, "manage-new-badge-phone")
