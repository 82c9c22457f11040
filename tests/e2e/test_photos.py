"""Comms staff upload photos, see the flagged one's red box, redact it and download the copy."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import E2E_ADMIN, Server, sign_in
from tests.vision import compose


def test_upload_flagged_red_box_redact_download(
    page: Any, server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    people = compose.portraits(faces_dir)
    obama, biden = people["barack_obama"], people["joe_biden"]
    with httpx.Client(base_url=server.url, timeout=60) as api:
        token = api.post(
            "/api/auth/token", data={"username": E2E_ADMIN[0], "password": E2E_ADMIN[1]}
        ).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        event = api.post(
            "/api/events",
            json={
                "name": "Photo review day",
                "starts_at": "2031-02-01T09:00:00+00:00",
                "filming_notice": "We photograph this event; opt out any time.",
            },
        ).json()
        booking = api.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Olive Optout", "email": "olive@example.org", "photo_opt_out": True},
        ).json()
        api.put(
            f"/api/bookings/{booking['id']}/reference-photo",
            files={"file": ("me.jpg", obama[0].path.read_bytes(), "image/jpeg")},
            data={"biometric_consent": "true"},
        ).raise_for_status()

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
    expect(page.get_by_text("matches an attendee who opted out")).to_be_visible()
    expect(page.locator("g.box-opted_out rect")).to_have_count(1)
    expect(page.get_by_role("cell", name="Olive Optout")).to_be_visible()

    page.get_by_role("button", name="Make a redacted copy").click()
    expect(page.get_by_text("Redacted copy made (verified")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download redacted copy").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(2) == b"\xff\xd8"
