"""The receipt people read: the same facts on the page and in the PDF, in their own names."""

from __future__ import annotations

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
