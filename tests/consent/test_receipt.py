"""The receipt people read: the same facts on the page and in the PDF, in their own names."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from registry.audit.service import Actor
from registry.consent import decisions, receipt
from registry.organisation import service as organisation
from registry.origin import Origin
from tests.consent.factories import MakeConsent, grant
from tests.pdf import pdf_text


def test_pdf_receipt_carries_names_purpose_history_and_rights_as_text(
    session: Session, make_consent: MakeConsent, tmp_path: Path
) -> None:
    organisation.update(
        session=session,
        actor=Actor("staff:1"),
        name="Physio Society of Łódź",
        email="privacy@physio.example",
        address="1 Clinic Road",
    )
    request = make_consent(
        subject_name="Zoë Łukasiewicz-Ørsted",
        expires_at=datetime(2031, 2, 1, 0, 0, tzinfo=UTC),
    )
    grant(session, request)
    text = " ".join(
        pdf_text(receipt.receipt_pdf(session=session, request=request), tmp_path).split()
    )
    assert "Zoë Łukasiewicz-Ørsted" in text
    assert "Physio Society of Łódź" in text
    assert "privacy@physio.example" in text
    assert request.purpose in text
    assert "closed professional networks and members' areas" in text
    # The consent ends at midnight at the start of 1 February: its last day is 31 January.
    assert "Until the end of 31 January 2031" in text
    assert "Gave consent — Zoë Łukasiewicz-Ørsted" in text
    assert "Withdraw" in text or "withdraw" in text
    assert "no effect on your care" in text


def test_unset_organisation_is_named_honestly_not_with_a_demo_name(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    doc = receipt.readable(session=session, request=request)
    who = dict(doc.sections[0].facts)
    assert who["Organisation (data controller)"] == organisation.UNSET_NAME
    assert "demo" not in str(doc).lower()


def test_the_receipts_footer_stays_within_the_page(
    session: Session, make_consent: MakeConsent, tmp_path: Path
) -> None:
    """Its footer (record id, issue time, page count) ran off both edges of the page: every
    word of every page now sits inside the margins, and the footer is all there."""
    request = make_consent()
    grant(session, request)
    pdf = receipt.receipt_pdf(session=session, request=request)
    source = tmp_path / "receipt.pdf"
    source.write_bytes(pdf)
    html = subprocess.run(
        ["pdftotext", "-bbox", str(source), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode()
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S)
    assert pages
    for width, _height, body in pages:
        for x_min, x_max, word in re.findall(
            r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>', body
        ):
            assert float(x_min) >= 10, f"{word!r} starts off the page's left edge"
            assert float(x_max) <= float(width) - 10, f"{word!r} runs off the page's right edge"
    text = " ".join(pdf_text(pdf, tmp_path).split())
    assert f"Record {request.id}" in text or "Record " in text
    assert re.search(r"page 1/\d", text)


# The receipt's JSON, key for key and in order, as it has always been written (a typed model
# now makes it): a receipt people hold is compared with a new one byte for byte.
RECEIPT_KEYS = [
    "schema_version", "kantara_version", "record_id", "receipt_issued_at", "pii_principal_id",
    "language", "jurisdiction", "status", "consent_timestamp", "collection_method", "sensitive",
    "spi_cat", "policy_url", "privacy_notice", "pii_controllers", "purposes", "services",
    "valid_until", "parties", "event",
]  # fmt: skip
PURPOSE_KEYS = [
    "purpose_id", "purpose", "purpose_category", "lawful_basis", "consent_type",
    "primary_purpose", "pii_information", "pii_category", "media_ids", "channels",
    "pii_controllers", "collection_method", "storage_locations", "retention_period",
    "termination", "processing_locations", "jurisdiction", "third_party_disclosure",
    "recipient_third_parties", "withdrawal_method", "privacy_rights",
]  # fmt: skip
EVENT_KEYS = [
    "event_time", "validity_duration", "event_type", "event_state", "entity", "notice_version",
    "request_origin",
]  # fmt: skip


def test_the_receipt_json_keeps_its_keys_order_and_time_format(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent(
        guardian_name="Pat Parent",
        guardian_relation="parent",
        expires_at=datetime(2031, 2, 1, 0, 0, tzinfo=UTC),
    )
    decisions.record_view(
        session=session, request=request, origin=Origin(user_agent="UA", ip_prefix="10.0.0.0/24")
    )
    grant(session, request)
    doc = json.loads(
        json.dumps(receipt.build_receipt(session=session, request=request).model_dump(mode="json"))
    )
    assert list(doc) == RECEIPT_KEYS
    assert list(doc["privacy_notice"]) == ["notice_id", "version", "text", "sha256", "language"]
    assert list(doc["pii_controllers"][0]) == [
        "pii_controller", "contact", "address", "email", "pii_controller_url",
    ]  # fmt: skip
    assert list(doc["purposes"][0]) == PURPOSE_KEYS
    assert doc["services"] == [{"service": "media publication", "purposes": [request.purpose]}]
    assert [list(p) for p in doc["parties"]] == [
        ["party_type", "name", "email"],
        ["party_type", "name"],
        ["party_type", "name", "relation", "on_behalf_of"],
    ]
    assert [list(e) for e in doc["event"]] == [EVENT_KEYS] * 3
    assert doc["event"][1]["request_origin"] == {"user_agent": "UA", "ip": "10.0.0.0/24"}
    # Times as `isoformat()` writes them: "+00:00", never "Z".
    assert doc["valid_until"] == "2031-02-01T00:00:00+00:00"
    assert doc["consent_timestamp"] == doc["event"][2]["event_time"]
    assert doc["receipt_issued_at"].endswith("+00:00")
    assert doc["event"][2]["validity_duration"].startswith("P")
