"""Comms staff upload photos, see the flagged one's red box, redact it and download the copy."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Server, event_with_opted_out_attendee, sign_in, staff_api
from tests.vision import compose


def test_upload_flagged_red_box_redact_download(
    page: Any, server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    people = compose.portraits(faces_dir)
    obama, biden = people["barack_obama"], people["joe_biden"]
    with staff_api(server) as api:
        event, _ = event_with_opted_out_attendee(
            api,
            event_name="Photo review day",
            name="Olive Optout",
            email="olive@example.org",
            reference=obama[0].path,
        )

    rng = random.Random(21)
    paths = []
    for name, portrait in (("with-olive.jpg", obama[1]), ("others.jpg", biden[0])):
        canvas = compose.background(faces_dir, (2400, 1600), rng)
        compose.paste_face(canvas, portrait, 160, (1200, 700))
        canvas.save(tmp_path / name, quality=90)
        paths.append(str(tmp_path / name))

    sign_in(page, server)
    page.goto(f"{server.url}/events/{event['id']}")
    page.get_by_role("link", name="Photos and clearance").click()
    page.get_by_label("Choose photos").set_input_files(paths)
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#upload-progress li")).to_have_count(2)
    # Live statuses arrive without a reload; then the grid shows the flagged photo.
    expect(page.locator("[data-count=flagged]")).to_have_text("1", timeout=120_000)
    page.reload()
    page.get_by_role("link", name="with-olive.jpg").click()
    expect(page.get_by_text("strong match for an attendee who opted out")).to_be_visible()
    expect(page.locator("g.box-opted_out rect")).to_have_count(1)
    expect(page.get_by_role("cell", name="Olive Optout", exact=True)).to_be_visible()

    page.get_by_role("region", name="Redacted copy").get_by_role(
        "button", name="Make a redacted copy"
    ).click()
    expect(page.get_by_text("Redacted copy made (verified")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download redacted copy").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(2) == b"\xff\xd8"
