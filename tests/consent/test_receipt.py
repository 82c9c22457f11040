"""The receipt people read: the same facts on the page and in the PDF, in their own names."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from registry.audit.service import Actor
from registry.consent import receipt
from registry.organisation import service as organisation
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
