"""An attendee downloads their data from their phone: the manage page's link gives a ZIP with
their booking and the photo they were found in, everyone else in it covered (real browser,
real clearance in the server's pool)."""

from __future__ import annotations

import io
import json
import random
import re
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from registry.rights.requests import one_month_after
from tests.e2e.conftest import Server, check_accessibility, shot, sign_in, staff_api
from tests.pdf import pdf_text
from tests.vision import compose


def test_an_attendee_downloads_her_data_on_her_phone(
    phone: Any, server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    people = compose.portraits(faces_dir)
    with staff_api(server) as api:
        event = api.post(
            "/api/events",
            json={
                "name": "Rights day",
                "starts_at": "2031-03-01T09:00:00+00:00",
                "filming_notice": "We photograph this event; opt out any time.",
            },
        ).json()

    phone.goto(f"{server.url}/events/{event['id']}/book")
    phone.get_by_label("Your name").fill("Rita Rights")
    phone.get_by_label("Email").fill("rita@example.org")
    phone.get_by_label("I do not want to appear in photos or video").check()
    phone.get_by_role("button", name="Book my place").click()
    expect(phone.get_by_text("You have opted out.")).to_be_visible()
    phone.get_by_label("A photo with only your face in it").set_input_files(
        str(people["barack_obama"][0].path)
    )
    phone.get_by_label("I agree that the service may use this photo").check()
    phone.get_by_role("button", name="Upload reference photo").click()
    expect(phone.get_by_text("Your reference photo is saved")).to_be_visible()

    # The event's photographer uploads a photo of her beside a stranger.
    canvas = compose.background(faces_dir, (2000, 1200), random.Random(11))
    compose.paste_face(canvas, people["barack_obama"][1], 170, (600, 520))
    compose.paste_face(canvas, people["joe_biden"][0], 170, (1400, 520))
    photo = io.BytesIO()
    canvas.save(photo, format="JPEG", quality=90)
    with staff_api(server) as api:
        [uploaded] = api.post(
            "/api/media",
            files=[("files", ("foyer.jpg", photo.getvalue(), "image/jpeg"))],
            data={"event_id": event["id"]},
        ).json()
        deadline = time.monotonic() + 120
        while api.get(f"/api/media/{uploaded['id']}").json()["status"] in ("pending", "processing"):
            assert time.monotonic() < deadline, "the photo was not cleared"
            time.sleep(0.5)

    phone.reload()
    section = phone.get_by_role("region", name="Your data")
    expect(section.get_by_text("everyone else's face is covered")).to_be_visible()
    check_accessibility(phone, "manage page with its data section")
    shot(phone, "manage-your-data-phone")
    with phone.expect_download() as download:
        section.get_by_role("link", name="Download my data (ZIP)").click()
    assert download.value.suggested_filename == "my-data.zip"
    archive = zipfile.ZipFile(download.value.path())
    document = json.loads(archive.read("my-data.json"))
    assert document["booking"]["email"] == "rita@example.org"
    assert document["event"]["name"] == "Rights day"
    [found] = document["media"]
    assert found["file_name"] == "foyer.jpg"
    assert [f["decision"] for f in found["found"]] == ["opted_out"]
    copy = archive.read(found["copy"])
    assert copy[:2] == b"\xff\xd8"
    assert len(document["reference_photos"]) == 1


def test_an_attendee_objects_to_a_photo_then_erases_her_booking_on_her_phone(
    phone: Any, server: Server, faces_dir: Path
) -> None:
    """Olive did not opt out. She says "not this photo" about the published photo she was found
    in (it is taken down), then deletes her booking and data. Afterwards her name and address
    are nowhere in the server's database file (freed pages and log included), its media folder
    or its log."""
    name, email = "Olive Quarrington", "olive.quarrington@example.org"
    people = compose.portraits(faces_dir)
    with staff_api(server) as api:
        event = api.post(
            "/api/events",
            json={
                "name": "Objection day",
                "starts_at": "2031-04-01T09:00:00+00:00",
                "filming_notice": "We photograph this event; opt out any time.",
                "channels": ["internal"],
            },
        ).json()

    phone.goto(f"{server.url}/events/{event['id']}/book")
    phone.get_by_label("Your name").fill(name)
    phone.get_by_label("Email").fill(email)
    phone.get_by_role("button", name="Book my place").click()
    expect(phone.get_by_text("You may appear")).to_be_visible()
    manage_url = phone.url
    code = phone.locator("strong.mono").first.inner_text()

    # The photographer's photo of her wearing her badge, cleared and published.
    canvas = compose.background(faces_dir, (2400, 1600), random.Random(21))
    box = compose.paste_face(canvas, people["joe_biden"][0], 170, (800, 700))
    badge = compose.badge_image(code, 4)
    canvas.paste(badge, (800 - badge.width // 2, box[2] + 170))
    compose.paste_face(canvas, people["kit_harington"][0], 170, (1700, 700))
    with staff_api(server) as api:
        [uploaded] = api.post(
            "/api/media",
            files=[("files", ("DSC_0101.jpg", compose.Composed(canvas).jpeg(), "image/jpeg"))],
            data={"event_id": event["id"]},
        ).json()
        deadline = time.monotonic() + 120
        while api.get(f"/api/media/{uploaded['id']}").json()["status"] in ("pending", "processing"):
            assert time.monotonic() < deadline, "the photo was not cleared"
            time.sleep(0.5)
        assert api.get(f"/api/media/{uploaded['id']}").json()["status"] == "cleared"
        published = api.post(
            f"/api/media/{uploaded['id']}/publications",
            json={"channel": "internal", "url": "https://intranet.example/gallery/101"},
        )
        assert published.status_code == 201, published.text

    phone.goto(manage_url)
    phone.get_by_role("link", name="See the photos you were found in, or object to one").click()
    expect(phone.get_by_role("heading", name="A photo you do not want to be in")).to_be_visible()
    expect(phone.get_by_text("DSC_0101.jpg", exact=True)).to_be_visible()
    check_accessibility(phone, "photos an attendee was found in")
    phone.get_by_role("button", name=re.compile(r"Not this photo\s*: DSC_0101\.jpg")).click()
    expect(phone.get_by_text("DSC_0101.jpg will not be published with you in it")).to_be_visible()
    expect(phone.get_by_text("you objected")).to_be_visible()
    shot(phone, "objection-phone")
    with staff_api(server) as api:
        media = api.get(f"/api/media/{uploaded['id']}").json()
        assert media["status"] == "flagged"
        takedown = api.get("/api/takedowns").json()
        assert any(t["media_id"] == uploaded["id"] for t in takedown), takedown

    # She deletes her booking; without the box ticked the browser does not let her.
    phone.goto(manage_url)
    section = phone.get_by_role("region", name="Delete my booking and data")
    section.get_by_role("button", name="Delete my booking and data").click()
    expect(phone).to_have_url(manage_url)  # the required box stopped it
    section.get_by_label("I understand that my booking and data will be deleted for good").check()
    section.scroll_into_view_if_needed()
    shot(phone, "manage-erase-phone")
    stored = b"".join(p.read_bytes() for p in server.var_dir.glob("e2e.db*"))
    assert email.encode() in stored  # the scan below would see her
    log = server.var_dir / "server.log"
    logged_before = log.stat().st_size  # (without a mail server, mail is written to the log)
    section.get_by_role("button", name="Delete my booking and data").click()
    expect(phone.get_by_role("heading", name="Your booking and data are deleted")).to_be_visible()
    check_accessibility(phone, "erasure done")
    shot(phone, "erased-phone")
    phone.goto(manage_url)
    expect(phone.get_by_text("deleted at your request")).to_be_visible()

    # Nothing of her is left in the files the server keeps, or in its log after the erasure.
    with staff_api(server) as api:
        assert api.get(f"/api/media/{uploaded['id']}").json()["status"] == "flagged"
        assert api.get("/api/audit/verify").json()["ok"]
    needles = [name.lower().encode(), email.encode(), b"quarrington"]
    checked = 0
    for path in server.var_dir.rglob("*"):
        if not path.is_file() or path.suffix in (".jpg", ".png", ".mp4"):
            continue
        content = path.read_bytes().lower()
        if path == log:
            content = content[logged_before:]
        checked += 1
        for needle in needles:
            assert needle not in content, f"{needle!r} left in {path.relative_to(server.var_dir)}"
    assert (server.var_dir / "e2e.db").exists()
    assert checked >= 3


def test_an_admin_answers_a_subject_request_through_the_pages(page: Any, server: Server) -> None:
    """A person writes in: the admin records the request, sees what is held and when it is due,
    downloads it, and erases it."""
    email = "theo.vantongeren@example.org"
    with staff_api(server) as api:
        event = api.post(
            "/api/events",
            json={
                "name": "Request day",
                "starts_at": "2031-05-01T09:00:00+00:00",
                "filming_notice": "We photograph this event; opt out any time.",
            },
        ).json()
        booked = api.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Theo van Tongeren", "email": email, "photo_opt_out": True},
        )
        assert booked.status_code == 201, booked.text

    sign_in(page, server)
    page.get_by_role("link", name="Subject requests").click()
    page.get_by_label("The person's email address").fill("not-an-address")
    page.get_by_label("The person's email address").evaluate("e => e.type = 'text'")
    page.get_by_role("button", name="Record and look up").click()
    expect(page.get_by_text("Enter the person's email address")).to_be_visible()
    page.get_by_label("The person's email address").fill(email.upper())
    page.get_by_role("button", name="Record and look up").click()
    expect(page.get_by_text("Request recorded.")).to_be_visible()
    expect(page.get_by_text("Theo van Tongeren — Request day")).to_be_visible()
    due = page.locator("strong", has_text="due").locator("time")
    expect(due).to_be_visible()
    received = page.locator("p.lead time").first.get_attribute("datetime")
    assert received is not None
    assert (
        due.get_attribute("datetime")
        == one_month_after(datetime.fromisoformat(received)).isoformat()
    )
    check_accessibility(page, "subject request")
    shot(page, "subject-request")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download everything (ZIP)").click()
    archive = zipfile.ZipFile(download.value.path())
    [document] = [n for n in archive.namelist() if n.endswith("my-data.json")]
    assert json.loads(archive.read(document))["booking"]["email"] == email

    page.get_by_label("Erase everything listed above; this cannot be undone").check()
    page.get_by_role("button", name="Erase", exact=True).click()
    expect(page.get_by_text("Erased: 1 booking,")).to_be_visible()
    expect(page.get_by_text("The address is no longer held.")).to_be_visible()
    assert email not in page.content().lower()
    page.get_by_role("link", name="← All subject requests").click()
    expect(page.get_by_role("cell", name="erased").first).to_be_visible()


def test_an_objection_to_a_photo_she_was_not_found_in_is_explained_then_dismissed(
    phone: Any, page: Any, server: Server, faces_dir: Path
) -> None:
    """Nia was not found in a photo: to object she says where she is in it (her phone); a comms
    officer reads that on the photo's page, checks, and dismisses it with a reason (desktop)."""
    people = compose.portraits(faces_dir)
    with staff_api(server) as api:
        event = api.post(
            "/api/events",
            json={
                "name": "Explained objection day",
                "starts_at": "2031-05-01T09:00:00+00:00",
                "filming_notice": "We photograph this event; opt out any time.",
                "channels": ["internal"],
            },
        ).json()
        booking = api.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Nia Okonkwo", "email": "nia@example.org"},
        ).json()
        canvas = compose.background(faces_dir, (2000, 1200), random.Random(31))
        compose.paste_face(canvas, people["joe_biden"][1], 170, (700, 520))
        [uploaded] = api.post(
            "/api/media",
            files=[("files", ("IMG_2044.jpg", compose.Composed(canvas).jpeg(), "image/jpeg"))],
            data={"event_id": event["id"]},
        ).json()
        deadline = time.monotonic() + 120
        while api.get(f"/api/media/{uploaded['id']}").json()["status"] in ("pending", "processing"):
            assert time.monotonic() < deadline, "the photo was not cleared"
            time.sleep(0.5)
        assert api.get(f"/api/media/{uploaded['id']}").json()["status"] == "cleared"

    phone.goto(booking["manage_url"] + "/photos")
    expect(phone.get_by_text("We have not found you in any photo")).to_be_visible()
    phone.get_by_label("The address where you saw the photo, or its number").fill("img_2044")
    phone.get_by_role("button", name="Object to this photo").click()
    # The browser asks for where she is before anything is sent.
    expect(phone.get_by_text("IMG_2044.jpg will not be published")).to_have_count(0)
    phone.get_by_label("Where you are in it").fill("At the back on the right, green scarf")
    phone.get_by_role("button", name="Object to this photo").click()
    done = phone.get_by_text("IMG_2044.jpg will not be published with you in it")
    expect(done).to_be_visible()
    shot(phone, "objection-explained-phone")
    with staff_api(server) as api:
        assert api.get(f"/api/media/{uploaded['id']}").json()["status"] == "needs_review"

    sign_in(page, server)
    page.goto(f"{server.url}/media/{uploaded['id']}")
    section = page.get_by_role("region", name="Objections")
    expect(section.get_by_text("At the back on the right, green scarf")).to_be_visible()
    expect(section.get_by_text("Not decided yet")).to_be_visible()
    check_accessibility(page, "a photo with an objection to decide")
    section.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(page.get_by_text("Say why the objection is dismissed")).to_be_visible()
    section = page.get_by_role("region", name="Objections")
    section.get_by_label("Why dismiss it").fill("Nobody at the back right: checked with her")
    section.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(page.get_by_text("Objection dismissed.")).to_be_visible()
    expect(section.get_by_text("It no longer counts")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("who objected"))).to_have_count(0)
    shot(page, "objection-dismissed-desktop")
    with staff_api(server) as api:
        assert api.get(f"/api/media/{uploaded['id']}").json()["status"] == "cleared"


def test_an_attendee_who_objected_sees_her_photos_and_downloads_her_data_on_her_phone(
    phone: Any, server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    """Pia did not opt out. Her "photos I am in" page shows the photo she was found in (the
    stranger beside her covered), she objects to it, and her data still downloads: with her
    objection, a readable page and the covered copy."""
    people = compose.portraits(faces_dir)
    with staff_api(server) as api:
        event = api.post(
            "/api/events",
            json={
                "name": "Gallery day",
                "starts_at": "2031-06-01T09:00:00+00:00",
                "filming_notice": "We photograph this event; opt out any time.",
                "channels": ["internal"],
            },
        ).json()
        booking = api.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Pia Lindqvist", "email": "pia.lindqvist@example.org"},
        ).json()
        canvas = compose.background(faces_dir, (2400, 1600), random.Random(41))
        box = compose.paste_face(canvas, people["joe_biden"][0], 170, (800, 700))
        badge = compose.badge_image(booking["badge_code"], 4)
        canvas.paste(badge, (800 - badge.width // 2, box[2] + 170))
        compose.paste_face(canvas, people["kit_harington"][0], 170, (1700, 700))
        [uploaded] = api.post(
            "/api/media",
            files=[("files", ("DSC_0201.jpg", compose.Composed(canvas).jpeg(), "image/jpeg"))],
            data={"event_id": event["id"]},
        ).json()
        deadline = time.monotonic() + 120
        while api.get(f"/api/media/{uploaded['id']}").json()["status"] in ("pending", "processing"):
            assert time.monotonic() < deadline, "the photo was not cleared"
            time.sleep(0.5)

    phone.goto(booking["manage_url"])
    phone.get_by_role("link", name="See the photos you were found in, or object to one").click()
    expect(phone.get_by_role("heading", name="A photo you do not want to be in")).to_be_visible()
    photo = phone.get_by_role("img", name="DSC_0201.jpg, with everyone else's face covered")
    expect(photo).to_be_visible()
    photo.scroll_into_view_if_needed()
    phone.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
    )
    src = photo.get_attribute("src")
    assert src == f"/b/{booking['manage_url'].rsplit('/', 1)[1]}/photos/{uploaded['id']}"
    image = phone.request.get(f"{server.url}{src}")
    assert image.status == 200
    assert image.headers["cache-control"] == "no-store"
    assert image.headers["content-type"] == "image/jpeg"
    box_on_screen = photo.bounding_box()
    assert box_on_screen is not None
    assert box_on_screen["width"] >= 300  # the phone's width, not a thumbnail
    check_accessibility(phone, "photos I am in, with the photo")
    shot(phone, "photos-i-am-in-phone")

    phone.get_by_role("button", name=re.compile(r"Not this photo\s*: DSC_0201\.jpg")).click()
    expect(phone.get_by_text("DSC_0201.jpg will not be published with you in it")).to_be_visible()
    expect(phone.get_by_text("you objected; staff will check")).to_be_visible()
    expect(photo).to_be_visible()
    shot(phone, "photos-i-am-in-objected-phone")

    phone.get_by_role("link", name="← Your booking").click()
    section = phone.get_by_role("region", name="Your data")
    with phone.expect_download() as download:
        section.get_by_role("link", name="Download my data (ZIP)").click()
    assert download.value.suggested_filename == "my-data.zip"
    archive = zipfile.ZipFile(download.value.path())
    document = json.loads(archive.read("my-data.json"))
    [objection] = document["objections"]
    assert (objection["file_name"], objection["decision"]) == ("DSC_0201.jpg", "pending")
    [found] = document["media"]
    assert archive.read(found["copy"])[:2] == b"\xff\xd8"
    text = " ".join(pdf_text(archive.read("my-data.pdf"), tmp_path).split())
    assert "DSC_0201.jpg" in text
    assert "Not decided yet" in text
