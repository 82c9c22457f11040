"""Staff ask a patient for consent; the patient grants then withdraws it on a phone (browser)."""

from __future__ import annotations

import zipfile
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Server, sign_in


def test_consent_journey_request_grant_revoke_history(
    page: Any, browser: Any, server: Server
) -> None:
    sign_in(page, server)
    page.get_by_role("link", name="Consents").click()
    page.get_by_role("link", name="New consent request").click()
    page.get_by_label("Patient's name").fill("Morgan Patient")
    page.get_by_label("Purpose, in plain words").fill("Show hydrotherapy in our members' magazine.")
    page.get_by_label("What the media show").fill("Two photos of Morgan in the hydrotherapy pool.")
    page.get_by_label("Printed material", exact=False).check()
    page.get_by_role("button", name="Create request").click()
    expect(page.get_by_text("Request created.")).to_be_visible()
    link = page.locator("#patient-link").inner_text().strip()
    assert "/c/" in link
    assert "Morgan" not in link
    expect(page.get_by_role("img", name="QR code of the patient's consent link")).to_be_visible()
    staff_url = page.url

    # The patient opens the link on a phone, with no account and no JavaScript.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, is_mobile=True
    )
    patient = phone.new_page()
    patient.goto(link)
    expect(patient.get_by_text("Show hydrotherapy in our members' magazine.")).to_be_visible()
    expect(patient.get_by_text("printed material").first).to_be_visible()
    expect(patient.get_by_text("no effect on your care", exact=False).first).to_be_visible()
    patient.get_by_role("button", name="Yes, I consent").click()
    expect(patient.get_by_text("your consent is recorded", exact=False)).to_be_visible()
    patient.get_by_role("button", name="Withdraw my consent").click()
    expect(patient.get_by_text("Your consent is withdrawn.", exact=False).first).to_be_visible()
    expect(
        patient.get_by_text("Copies already shared by others may persist.", exact=False).first
    ).to_be_visible()
    with patient.expect_download() as download:
        patient.get_by_role("link", name="download it as a PDF").click()
    assert download.value.suggested_filename.startswith("consent-receipt-")
    with patient.expect_download() as record:
        patient.get_by_role("link", name="download my record (ZIP)").click()
    assert record.value.suggested_filename == "my-consent-record.zip"
    with zipfile.ZipFile(record.value.path()) as archive:
        assert {"receipt.json", "receipt.pdf"} <= set(archive.namelist())
        assert "Morgan Patient" in archive.read("receipt.json").decode()
    phone.close()

    page.goto(staff_url)
    expect(page.get_by_text("revoked").first).to_be_visible()
    history = page.get_by_role("table")
    for action in ("requested", "viewed", "granted", "revoked"):
        expect(history.get_by_role("cell", name=action, exact=True)).to_be_visible()
