"""An attendee downloads their data from their phone: the manage page's link gives a ZIP with
their booking and the photo they were found in, everyone else in it covered (real browser,
real clearance in the server's pool)."""

from __future__ import annotations

import io
import json
import random
import time
import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Server, check_accessibility, shot, staff_api
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
