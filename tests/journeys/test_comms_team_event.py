"""One event, as a comms team lives it, across every feature it meets (issue 33): staff on a
desktop, attendees and a patient on their phones, a real server on the suite's database (SQLite,
or PostgreSQL in CI's second run), a real SMTP server, a real webhook receiver verifying every
signature, real clearance of real faces.

CSV import with confirmations -> an opt-out (with a reference selfie) by link -> photos and a
video uploaded -> an objection -> review by person -> every flagged photo redacted in one go ->
Ready to publish, select all, one ZIP -> "I have posted these" with a caption -> a patient's and
an attendee's withdrawal -> the takedowns reach the CMS, verified -> the attendee's export opens.
"""

from __future__ import annotations

import io
import json
import random
import re
import time
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.live import ADMIN, Live, live_server
from tests.mailbox import Inbox, links_in
from tests.video import Walker, compose_clip
from tests.vision import compose
from tests.webhooks.receiver import Receiver, receiver

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
EVENT = "Spring physiotherapy conference"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """The service with mail on, webhooks to loopback allowed, and thresholds that leave every
    face match to a reviewer (so review by person has work), one clearance worker."""
    with live_server(
        tmp_path / "server",
        "journey",
        mail=True,
        REGISTRY_WEBHOOK_ALLOW_LOOPBACK="true",
        REGISTRY_MATCH_THRESHOLD="0.05",
        REGISTRY_REVIEW_THRESHOLD="0.62",
        REGISTRY_CAUTION_THRESHOLD="0.64",
    ) as server:
        yield server


def _mail_to(inbox: Inbox, address: str, count: int = 1) -> list[EmailMessage]:
    deadline = time.monotonic() + 60
    while len(inbox.to(address)) < count:
        assert time.monotonic() < deadline, f"no mail reached {address}"
        time.sleep(0.2)
    return inbox.to(address)


def _manage_link(inbox: Inbox, address: str) -> str:
    [message] = _mail_to(inbox, address)[:1]
    [link] = [u for u in links_in(message) if "/b/" in u]
    return link


def _settled(api: Any, ids: list[str]) -> dict[str, str]:
    deadline = time.monotonic() + 300
    while True:
        states = {i: api.get(f"/api/media/{i}").json()["status"] for i in ids}
        if not {"pending", "processing"} & set(states.values()):
            return states
        assert time.monotonic() < deadline, states
        time.sleep(0.5)


def _photo(faces_dir: Path, seed: int, people: list[tuple[compose.Portrait, str | None]]) -> bytes:
    """A 2000x1200 photo in front of a real crowd: each person's face, with their badge under
    it when given."""
    canvas = compose.background(faces_dir, (2000, 1200), random.Random(seed))
    for slot, (portrait, badge_code) in enumerate(people):
        x = 550 + slot * 900
        box = compose.paste_face(canvas, portrait, 170, (x, 520))
        if badge_code:
            badge = compose.badge_image(badge_code, 5)
            canvas.paste(badge, (x - badge.width // 2, box[2] + 150))
    return compose.Composed(canvas).jpeg()


def _takedowns(cms: Receiver, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        found = [m for m in cms.accepted if m.get("type") == "publication.takedown_required"]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, (cms.accepted, cms.rejected)
        time.sleep(0.2)


def test_one_event_from_import_to_takedown(
    browser: Any, live: Live, faces_dir: Path, tmp_path: Path
) -> None:
    assert live.inbox is not None
    people = compose.portraits(faces_dir)
    barack, joe, ann, dana = (
        people["barack_obama"],
        people["joe_biden"],
        people["kit_harington"],
        people["deepface_id10"],
    )
    staff = browser.new_context(viewport=DESKTOP)
    page = staff.new_page()
    page.set_default_timeout(20_000)
    phones = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = phones.new_page()
    phone.set_default_timeout(20_000)
    try:
        with receiver() as cms:
            _walk(page, phone, live, cms, faces_dir, tmp_path, barack, joe, ann, dana)
    finally:
        staff.close()
        phones.close()


def _walk(
    page: Any,
    phone: Any,
    live: Live,
    cms: Receiver,
    faces_dir: Path,
    tmp_path: Path,
    barack: list[compose.Portrait],
    joe: list[compose.Portrait],
    ann: list[compose.Portrait],
    dana: list[compose.Portrait],
) -> None:
    assert live.inbox is not None
    inbox = live.inbox
    # --- the admin signs in, registers the CMS's webhook and creates the event -----------------
    page.goto(f"{live.url}/login")
    page.get_by_label("Email").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live.url}/webhooks")
    page.get_by_label("The receiver's address").fill(cms.url)
    page.get_by_label("publication.takedown_required").check()
    page.get_by_role("button", name="Register the endpoint").click()
    expect(page.get_by_text("Registered. Copy its signing secret now")).to_be_visible()
    cms.secret = page.locator("#secret-value").inner_text().strip()

    page.goto(f"{live.url}/events")
    form = page.locator("form[action='/events']")
    form.get_by_label("Name").fill(EVENT)
    form.get_by_label("Starts (venue's local time)").fill("2031-04-20T09:00")
    form.get_by_label("Ends (venue's local time, optional)").fill("2031-04-20T17:00")
    form.get_by_label("Filming notice").fill("Our photographers and a film crew cover the day.")
    form.get_by_role("button", name="Create event").click()
    expect(page.get_by_text(f"Created {EVENT}.")).to_be_visible()
    match = re.search(r"/events/([0-9a-f-]{36})$", page.url)
    assert match, page.url
    event_id = match.group(1)
    page.wait_for_load_state("load")

    # --- CSV import, with confirmations -----------------------------------------------------------
    csv = tmp_path / "delegates.csv"
    csv.write_text(
        "First name,Last name,Email\n"
        "Barack,Obama,barack.journey@example.org\n"
        "Joe,Biden,joe.journey@example.org\n"
        "Ann,Harington,ann.journey@example.org\n"
    )
    page.get_by_role("link", name="Import bookings from CSV").click()
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Preview").click()
    page.get_by_label("Send confirmations", exact=False).check()
    page.get_by_role("button", name="Import 3 bookings").click()
    expect(page.get_by_text("Imported 3 bookings", exact=False)).to_be_visible()
    links = {
        who: _manage_link(inbox, f"{who}.journey@example.org") for who in ("barack", "joe", "ann")
    }
    # The confirmations were delivered: everyone has been shown the notice. (The mail server has
    # them a moment before the sender records the delivery: the page is read again until then.)
    deadline = time.monotonic() + 15
    while True:
        page.reload()
        if page.get_by_text("not yet shown").count() == 0 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    expect(page.get_by_text("not yet shown")).to_have_count(0)

    # --- Barack opts out by his link and gives a reference selfie (phone) -------------------------
    phone.goto(links["barack"])
    phone.get_by_role("button", name="I do not want to appear in photos or video").click()
    expect(phone.get_by_text("Your new badge, marked NO PHOTOS, is below.")).to_be_visible()
    phone.wait_for_load_state("load")
    phone.get_by_label("A photo with only your face in it").set_input_files(str(barack[0].path))
    phone.get_by_label("I agree that the service may use this photo").check()
    phone.get_by_role("button", name="Upload reference photo").click()
    expect(phone.get_by_text("Your reference photo is saved")).to_be_visible()

    # --- photos and a video of the day (desktop) --------------------------------------------------
    with live.client("admin") as api:
        codes = {
            b["email"].split(".")[0]: b["badge_code"]
            for b in api.get(f"/api/events/{event_id}/bookings").json()
        }
    shots = {
        "stage-1.jpg": _photo(faces_dir, 1, [(barack[1], None), (dana[2], None)]),
        "stage-2.jpg": _photo(faces_dir, 2, [(barack[2], None)]),
        "hall-3.jpg": _photo(faces_dir, 3, [(joe[0], codes["joe"]), (dana[3], None)]),
        "clinic-4.jpg": _photo(faces_dir, 4, [(dana[1], None)]),
        "hall-5.jpg": _photo(faces_dir, 5, [(ann[0], codes["ann"])]),
    }
    for name, data in shots.items():
        (tmp_path / name).write_bytes(data)
    clip = compose_clip(
        [Walker(barack[3].path.read_bytes(), (60, 40), (300, 40), 0.0, 3.0, height=220)],
        seconds=3.0,
    )
    (tmp_path / "talk.mp4").write_bytes(clip)
    page.goto(f"{live.url}/events/{event_id}/photos")
    page.get_by_label("Choose photos").set_input_files(
        [str(tmp_path / n) for n in (*shots, "talk.mp4")]
    )
    page.get_by_role("button", name="Upload and check").click()
    # The page uploads each file and lists it as it goes.
    expect(page.get_by_role("link", name=re.compile(r"^talk\.mp4"))).to_be_visible()
    with live.client("admin") as api:
        media = {m["filename"]: m["id"] for m in api.get(f"/api/media?event_id={event_id}").json()}
        assert len(media) == 6, media
        states = _settled(api, list(media.values()))
        # A patient in the clinic photo is asked for consent on the public channel.
        consent = api.post(
            "/api/consent-requests",
            json={
                "subject_name": "Dana Patient",
                "purpose": "Show our clinic's work on our public social media.",
                "description": "One photo of you in the clinic.",
                "channels": ["public_social"],
                "media_ids": [media["clinic-4.jpg"]],
            },
        ).json()
    assert states[media["stage-1.jpg"]] == "needs_review", states  # grey zone: a reviewer
    assert states[media["clinic-4.jpg"]] == "cleared", states
    assert states[media["hall-5.jpg"]] == "cleared", states

    # --- Joe objects to the hall photo he is in (phone) ------------------------------------------
    phone.goto(links["joe"])
    phone.get_by_role("link", name="See the photos you were found in, or object to one").click()
    expect(phone.get_by_role("img", name="hall-3.jpg", exact=False)).to_be_visible()
    phone.get_by_role("button", name=re.compile(r"Not this photo\s*: hall-3\.jpg")).click()
    expect(phone.get_by_text("hall-3.jpg will not be published with you in it")).to_be_visible()

    # --- Dana grants consent (phone) --------------------------------------------------------------
    phone.goto(consent["link"])
    phone.get_by_role("button", name="Yes, I consent").click()
    expect(phone.get_by_text("your consent is recorded", exact=False)).to_be_visible()

    # --- review by person: Barack, across his photos, in one decision ----------------------------
    page.goto(f"{live.url}/events/{event_id}/photos")
    page.get_by_role("link", name=re.compile(r"Review by person \(\d+ faces?\)")).click()
    group = page.locator("[data-group]").filter(has_text="Probably Barack Obama").first
    expect(group.get_by_role("img", name="Barack Obama's own face", exact=False)).to_be_visible()
    group.get_by_role("button", name="This is Barack Obama").click()
    expect(page.get_by_text("this is Barack Obama", exact=False)).to_be_visible()
    page.wait_for_load_state("load")
    with live.client("admin") as api:
        for name in ("stage-1.jpg", "stage-2.jpg", "hall-3.jpg"):
            assert api.get(f"/api/media/{media[name]}").json()["status"] == "flagged", name

    # --- every flagged photo redacted in one go ---------------------------------------------------
    page.goto(f"{live.url}/events/{event_id}/photos")
    bulk = page.get_by_role("region", name="Redacted copies of flagged photos")
    bulk.get_by_role("button", name="Make redacted copies of every flagged photo").click()
    expect(page.get_by_text("redacted copies in the background", exact=False)).to_be_visible()
    bulk = page.get_by_role("region", name="Redacted copies of flagged photos")
    expect(bulk.get_by_text("all verified", exact=False)).to_be_visible(timeout=180_000)

    # --- Ready to publish: select all, one ZIP, then "I have posted these" ------------------------
    page.goto(f"{live.url}/publishing?channel=public_social&event_id={event_id}")
    page.wait_for_load_state("load")
    cleared_set = page.locator("#cleared-set")
    picks = cleared_set.get_by_role("checkbox")
    expect(picks).to_have_count(5)  # the five photos (the video still waits for a word)
    page.get_by_role("checkbox", name="Select all 5").check()
    with page.expect_download() as waiting:
        cleared_set.get_by_role("button", name="Download the picked files (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(waiting.value.path()).read_bytes()))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["refused"] == []
    packed = {f["media_id"]: f["kind"] for f in manifest["files"]}
    assert sorted(packed) == sorted(media[n] for n in shots)
    for name in ("stage-1.jpg", "stage-2.jpg", "hall-3.jpg"):
        assert packed[media[name]] == "redacted", (name, packed)
    assert [n for n in archive.namelist() if n.endswith(".pdf")], "no readable certificate"
    page.reload()
    page.wait_for_load_state("load")
    page.get_by_role("checkbox", name="Select all 5").check()
    for i, name in enumerate(shots):
        cleared_set.get_by_label(f"Where {name} was posted").fill(f"https://social.example/p/{i}")
    page.get_by_label("The posts' text and alt text (optional)").fill(
        "Highlights from our spring conference: thank you all for coming!"
    )
    page.get_by_role("button", name="I have posted these").click()
    expect(page.get_by_text("Recorded 5 publications on", exact=False)).to_be_visible()

    # --- withdrawals: the patient revokes, and Ann opts out after publication (phones) ----------
    phone.goto(consent["link"])
    phone.get_by_role("button", name="Withdraw my consent").click()
    expect(
        phone.get_by_text("asked for the media to be taken down", exact=False).first
    ).to_be_visible()
    phone.goto(links["ann"])
    phone.get_by_role("button", name="I do not want to appear in photos or video").click()
    expect(phone.get_by_text("Your new badge, marked NO PHOTOS, is below.")).to_be_visible()

    # --- the CMS is told, verified, for both posts (never a name) --------------------------------
    taken = _takedowns(cms, 2)
    assert cms.rejected == []
    told = {m["data"]["media_id"] for m in taken}
    assert {media["clinic-4.jpg"], media["hall-5.jpg"]} <= told, taken
    assert "Dana" not in json.dumps(taken)
    assert "Harington" not in json.dumps(taken)

    # --- Joe's export opens (phone) ---------------------------------------------------------------
    phone.goto(links["joe"])
    section = phone.get_by_role("region", name="Your data")
    with phone.expect_download() as download:
        section.get_by_role("link", name="Download my data (ZIP)").click()
    export = zipfile.ZipFile(download.value.path())
    document = json.loads(export.read("my-data.json"))
    assert [o["file_name"] for o in document["objections"]] == ["hall-3.jpg"]
    assert export.read("my-data.pdf")[:5] == b"%PDF-"
