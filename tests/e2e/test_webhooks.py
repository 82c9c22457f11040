"""The system that holds a post is told at once: a patient withdraws on her phone, and a
signed `publication.takedown_required` reaches the CMS's receiver (verified with the
`standardwebhooks` package) within seconds, without her name (real server, browser)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Server, staff_api
from tests.vision import compose
from tests.webhooks.receiver import receiver


def test_a_withdrawal_reaches_the_cms_signed_within_seconds(
    browser: Any, server: Server, faces_dir: Path
) -> None:
    portrait = compose.portraits(faces_dir)["barack_obama"][0]
    with receiver() as cms, staff_api(server) as api:
        endpoint = api.post(
            "/api/webhooks",
            json={"url": cms.url, "events": ["publication.takedown_required"]},
        )
        assert endpoint.status_code == 201, endpoint.text
        cms.secret = endpoint.json()["secret"]
        [upload] = api.post(
            "/api/media",
            files=[("files", ("rehab-2.jpg", portrait.path.read_bytes(), "image/jpeg"))],
        ).json()
        deadline = time.monotonic() + 120
        while api.get(f"/api/media/{upload['id']}").json()["status"] in ("pending", "processing"):
            assert time.monotonic() < deadline, "the photo was not analysed in time"
            time.sleep(0.3)
        consent = api.post(
            "/api/consent-requests",
            json={
                "subject_name": "Dana Withdrawn",
                "purpose": "Show shoulder rehabilitation on our public social media.",
                "description": "One photo of Dana doing a shoulder exercise.",
                "channels": ["public_social"],
                "media_ids": [upload["id"]],
            },
        ).json()
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        patient = phone.new_page()
        patient.goto(consent["link"])
        patient.get_by_role("button", name="Yes, I consent").click()
        expect(patient.get_by_text("your consent is recorded", exact=False)).to_be_visible()
        publication = api.post(
            f"/api/media/{upload['id']}/publications",
            json={"channel": "public_social", "url": "https://cms.example/posts/88"},
        ).json()

        patient.get_by_role("button", name="Withdraw my consent").click()
        withdrawn = time.monotonic()
        expect(
            patient.get_by_text("asked for the media to be taken down", exact=False).first
        ).to_be_visible()
        phone.close()
        while not cms.accepted and time.monotonic() - withdrawn < 15:
            time.sleep(0.05)
        assert cms.accepted, "no webhook within 15 s of the withdrawal"
        assert cms.rejected == []
        [message] = cms.accepted
        assert message["type"] == "publication.takedown_required"
        assert message["data"]["publication_id"] == publication["id"]
        assert message["data"]["url"] == "https://cms.example/posts/88"
        assert message["data"]["reason_class"] == "consent_withdrawn"
        assert "Dana" not in str(message)
