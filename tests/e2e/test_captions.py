"""A comms officer writes a post's text on a photo's publish panel: the gate's findings appear
as she types (a name of someone who opted out, a phone number), a refused post comes back with
her text to fix, and the publication is recorded with the caption (browser, real server)."""

from __future__ import annotations

import io
import time
from typing import Any

from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests.e2e.conftest import Server, check_accessibility, shot, sign_in, staff_api


def _room_photo() -> bytes:
    """A photo of an empty room (no one in it)."""
    image = Image.new("RGB", (1200, 800), (214, 206, 190))
    draw = ImageDraw.Draw(image)
    for x in range(0, 1200, 150):
        draw.rectangle((x + 20, 420, x + 110, 560), fill=(120, 84, 60))  # chairs
    draw.rectangle((0, 600, 1200, 800), fill=(150, 140, 128))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_the_caption_is_checked_as_it_is_typed_and_kept_with_the_publication(
    page: Any, server: Server
) -> None:
    with staff_api(server) as api:
        event = api.post(
            "/api/events",
            json={
                "name": "Spring rehab workshop",
                "starts_at": "2031-03-01T09:00:00+00:00",
                "filming_notice": "We photograph this event; opt out any time.",
            },
        ).json()
        api.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Priya Shah", "email": "priya@example.org", "photo_opt_out": True},
        ).raise_for_status()
        [upload] = api.post(
            "/api/media",
            files=[("files", ("room.jpg", _room_photo(), "image/jpeg"))],
            data={"event_id": event["id"]},
        ).json()
        deadline = time.monotonic() + 120
        while api.get(f"/api/media/{upload['id']}").json()["status"] in ("pending", "processing"):
            assert time.monotonic() < deadline, "the photo was not analysed in time"
            time.sleep(0.3)
        assert api.get(f"/api/media/{upload['id']}").json()["status"] == "cleared"

    sign_in(page, server)
    page.goto(f"{server.url}/media/{upload['id']}")
    form = page.locator("#publish-form")
    caption = form.get_by_label("The post's text and alt text")
    findings = page.locator("#caption-findings")

    caption.fill("Priya Shah's warm-up was the highlight of the day")
    expect(findings.get_by_text("This text cannot be published with it")).to_be_visible()
    expect(findings.get_by_text("The caption names Priya Shah", exact=False)).to_be_visible()
    expect(findings.get_by_text("characters 1–12", exact=False)).to_be_visible()
    expect(caption).to_have_attribute("aria-invalid", "true")
    shot(page, "publish-caption-finding")
    check_accessibility(page, "the publish panel with a caption finding")

    caption.fill("Thanks to everyone! Questions: call 07911 123456")
    expect(
        findings.get_by_text("contains a phone number (“07911 123456”", exact=False)
    ).to_be_visible()
    expect(findings.get_by_text("Priya Shah")).to_have_count(0)

    # Recorded anyway: refused, and the text comes back to be fixed (nothing recorded).
    form.get_by_role("button", name="Record publication").click()
    expect(page.get_by_role("heading", name="Not published on", exact=False)).to_be_visible()
    expect(page.get_by_text("contains a phone number", exact=False).first).to_be_visible()
    kept = page.get_by_label("The post's text and alt text")
    expect(kept).to_have_value("Thanks to everyone! Questions: call 07911 123456")
    with staff_api(server) as api:
        assert api.get(f"/api/publications?media_id={upload['id']}").json() == []

    kept.fill("Thanks to everyone who came to the spring workshop!")
    expect(
        page.locator("#caption-findings").get_by_text("names no one it may not", exact=False)
    ).to_be_visible()
    page.get_by_role("button", name="Check and record the publication").click()
    expect(page.get_by_text("Recorded as published on", exact=False)).to_be_visible()
    with staff_api(server) as api:
        [publication] = api.get(f"/api/publications?media_id={upload['id']}").json()
    assert publication["caption"] == "Thanks to everyone who came to the spring workshop!"
