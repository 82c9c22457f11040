"""Comms staff try to publish a patient photo: refused without consent, published once the
patient consents, then the patient withdraws and staff take it down (browser, real server)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Server, sign_in, staff_api
from tests.vision import compose


def _cleared(api: Any, media_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        media: dict[str, Any] = api.get(f"/api/media/{media_id}").json()
        if media["status"] not in ("pending", "processing"):
            return media
        time.sleep(0.5)
    raise AssertionError("the photo was not analysed in time")


def test_refusal_then_consent_then_publication_then_withdrawal_and_takedown(
    page: Any, browser: Any, server: Server, faces_dir: Path
) -> None:
    portrait = compose.portraits(faces_dir)["joe_biden"][0]
    with staff_api(server) as api:
        [upload] = api.post(
            "/api/media",
            files=[("files", ("knee-rehab.jpg", portrait.path.read_bytes(), "image/jpeg"))],
        ).json()
        media = _cleared(api, upload["id"])
        assert media["status"] == "cleared"
        assert len(media["faces"]) == 1

    # Without consent the gate refuses, and the page says why.
    sign_in(page, server)
    page.goto(f"{server.url}/media/{upload['id']}")
    publish = page.locator("#publish-form")
    expect(publish.get_by_role("button", name="Record publication")).to_have_count(0)
    expect(publish.get_by_text("Nothing here may be published now")).to_be_visible()
    expect(page.get_by_text("needs the consent of the person in it", exact=False)).to_be_visible()

    with staff_api(server) as api:
        consent = api.post(
            "/api/consent-requests",
            json={
                "subject_name": "Robin Patient",
                "purpose": "Show knee rehabilitation on our public social media.",
                "description": "One photo of Robin doing a knee exercise.",
                "channels": ["public_social"],
                "media_ids": [upload["id"]],
            },
        ).json()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    patient = phone.new_page()
    patient.goto(consent["link"])
    patient.get_by_role("button", name="Yes, I consent").click()
    expect(patient.get_by_text("your consent is recorded", exact=False)).to_be_visible()

    # Now it may be published; the log shows it live with its certificate.
    page.goto(f"{server.url}/media/{upload['id']}")
    publish = page.locator("#publish-form")
    publish.get_by_label("Publish on").select_option(
        label="Our public social media accounts: the original"
    )
    publish.get_by_label("Where it was posted").fill("https://social.example/posts/42")
    publish.get_by_role("button", name="Record publication").click()
    expect(page.get_by_text("Recorded as published on our public social media")).to_be_visible()
    page.get_by_role("link", name="Publication log").click()
    row = page.get_by_role("row", name="knee-rehab.jpg")
    expect(row.get_by_role("cell", name="live")).to_be_visible()
    with staff_api(server) as api:
        [live] = [p for p in api.get("/api/publications").json() if p["media_id"] == upload["id"]]
    certificate = server.var_dir / "post-42.jwt"
    certificate.write_text(live["certificate"])
    checked = server.registry("verify", str(certificate))  # asks the issuer: not revoked
    assert "revocation: checked at" in checked.stdout
    assert "not revoked" in checked.stdout

    # The patient withdraws; the page says removal is requested and copies may persist.
    patient.get_by_role("button", name="Withdraw my consent").click()
    expect(
        patient.get_by_text("asked for the media to be taken down", exact=False).first
    ).to_be_visible()
    expect(
        patient.get_by_text("Copies already shared by others may persist.", exact=False).first
    ).to_be_visible()
    phone.close()

    # Anyone holding the certificate now learns it was revoked.
    revoked = subprocess.run(
        [sys.executable, "-m", "registry", "verify", str(certificate)],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert revoked.returncode == 1
    assert "revoked by the issuer (basis_withdrawn" in revoked.stderr

    page.get_by_role("link", name="Takedowns").click()
    item = page.locator("#takedown-list li").filter(has_text="knee-rehab.jpg")
    expect(item.get_by_role("link", name="https://social.example/posts/42")).to_be_visible()
    expect(item.get_by_text("Robin Patient withdrew consent", exact=False)).to_be_visible()
    item.get_by_label("What was done").fill("Deleted the post")
    item.get_by_role("button", name="Mark as taken down").click()
    expect(page.get_by_text("Marked as taken down.")).to_be_visible()
    expect(page.get_by_text("Nothing needs taking down.")).to_be_visible()
    page.get_by_role("link", name="Publication log").click()
    expect(page.get_by_role("row", name="knee-rehab.jpg").get_by_text("taken down")).to_be_visible()
