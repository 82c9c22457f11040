"""Patients told directly, through a real SMTP server (aiosmtpd): the request with its link,
re-sending (a new link; the old one stops), the reminder before a consent ends and renewing
through the page, and receipts when a consent is withdrawn, ends or is renewed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.consent import letters, links, notices, renewals, service
from registry.consent.models import ConsentRequest, ConsentStatus
from registry.db import utcnow
from tests.auth.factories import csrf_from
from tests.consent.factories import MakeConsent, grant
from tests.mailbox import Inbox, deliver, html_of, links_in, text_of


def path_of(url: str) -> str:
    return url.removeprefix(get_settings().base_url.rstrip("/"))


def consent_link(message) -> str:  # type: ignore[no-untyped-def]
    [link] = [u for u in links_in(message) if "/c/" in u]
    return path_of(link)


def test_a_request_with_an_email_sends_who_what_where_until_and_the_link(
    session: Session, client: TestClient, inbox: Inbox, make_consent: MakeConsent
) -> None:
    ends = utcnow() + timedelta(days=200)
    request = make_consent(expires_at=ends)
    make_consent(subject_email=None)  # no address: nothing to send
    assert deliver(session) == 1
    [sent] = inbox.messages
    assert sent["To"] == "sam@example.org"
    body = text_of(sent)
    assert request.purpose in body
    assert request.description in body
    assert "Members-only network" in body or "closed" in body.lower()
    assert "withdraw your consent at any time" in body
    assert "cannot recall copies" in body
    assert request.purpose in html_of(sent)
    page = client.get(consent_link(sent))
    assert page.status_code == 200
    assert "Yes, I consent" in page.text


def test_a_guardian_is_addressed_as_such(
    session: Session, inbox: Inbox, make_consent: MakeConsent
) -> None:
    make_consent(guardian_name="Jo Parent", guardian_relation="mother")
    deliver(session)
    body = text_of(inbox.messages[0])
    assert body.startswith("Hello Jo Parent,")
    assert "as mother of Sam Patient" in body


def test_resending_issues_a_new_link_and_the_old_one_stops(
    session: Session, client: TestClient, inbox: Inbox, make_consent: MakeConsent
) -> None:
    request = make_consent()
    deliver(session)
    first = consent_link(inbox.messages[-1])
    links.reissue_link(session=session, actor=SYSTEM, request=request)
    deliver(session)
    assert len(inbox.messages) == 2
    second = consent_link(inbox.messages[-1])
    assert first != second
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


def test_withdrawing_sends_a_receipt(
    session: Session, client: TestClient, inbox: Inbox, make_consent: MakeConsent
) -> None:
    request = make_consent()
    deliver(session)
    link = consent_link(inbox.messages[-1])
    token = csrf_from(client.get(link).text)
    client.post(link, data={"decision": "grant", "notice_version": "1", "csrf_token": token})
    client.post(link, data={"decision": "revoke", "notice_version": "1", "csrf_token": token})
    deliver(session)
    receipt = inbox.messages[-1]
    assert receipt["Subject"] == "Receipt: you withdrew your consent"
    assert "Copies others already shared may persist" in text_of(receipt)
    assert request.purpose in text_of(receipt)


def test_expiry_sends_a_receipt(session: Session, inbox: Inbox, make_consent: MakeConsent) -> None:
    request = make_consent(expires_at=utcnow() + timedelta(days=3))
    grant(session, request)
    deliver(session)
    assert renewals.record_expiries(session=session, at=utcnow() + timedelta(days=4)) == 1
    with pytest.MonkeyPatch.context() as patch:
        # The receipt is composed later, when the consent is over.
        patch.setattr("registry.consent.service.utcnow", lambda: utcnow() + timedelta(days=4))
        deliver(session)
    assert inbox.messages[-1]["Subject"] == "Receipt: your consent has ended"


def test_a_reminder_before_the_end_and_renewing_creates_a_new_grant(
    session: Session, client: TestClient, inbox: Inbox, make_consent: MakeConsent
) -> None:
    request = make_consent(expires_at=utcnow() + timedelta(days=10))
    far = make_consent(expires_at=utcnow() + timedelta(days=300), subject_email="far@example.org")
    grant(session, request)
    grant(session, far)
    deliver(session)
    inbox.messages.clear()

    assert letters.queue_reminders(session=session) == 1  # 14 days by default; `far` is not due
    assert letters.queue_reminders(session=session) == 0
    deliver(session)
    [reminder] = inbox.messages
    assert reminder["Subject"] == "Your consent ends soon: renew it or let it end"
    assert "Renew" in text_of(reminder)

    link = consent_link(reminder)
    page = client.get(link)
    assert "Renew my consent until" in page.text
    renewed = client.post(
        link,
        data={"decision": "renew", "notice_version": "1", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert renewed.status_code == 303
    new_link = renewed.headers["location"].split("#")[0]
    assert new_link != link
    renewal = session.exec(
        select(ConsentRequest).where(ConsentRequest.renewed_from == request.id)
    ).one()
    assert service.effective_status(renewal) == ConsentStatus.granted
    assert renewal.subject_ref == request.subject_ref
    assert service.media_ids(session=session, request=renewal) == service.media_ids(
        session=session, request=request
    )
    assert renewal.expires_at is not None
    assert request.expires_at is not None
    assert renewal.expires_at > request.expires_at
    [granted] = [
        e for e in service.history(session=session, request=renewal) if e.action == "granted"
    ]
    assert granted.notice_version == notices.current_notice(session=session).version
    assert "You said yes" in client.get(new_link).text
    old_page = client.get(link).text
    assert "You renewed it" in old_page
    assert "Renew my consent" not in old_page
    # Renewing twice is refused, clearly.
    again = client.post(
        link, data={"decision": "renew", "notice_version": "1", "csrf_token": csrf_from(old_page)}
    )
    assert again.status_code == 409

    deliver(session)
    assert inbox.messages[-1]["Subject"] == "Receipt: you renewed your consent"
    assert path_of(links_in(inbox.messages[-1])[0]) == new_link
    # No reminder for a renewed consent, nor a receipt when the old one ends.
    assert letters.queue_reminders(session=session) == 0
    renewals.record_expiries(session=session, at=request.expires_at + timedelta(seconds=1))
    sent_before = len(inbox.messages)
    deliver(session)
    assert len(inbox.messages) == sent_before


def test_renewing_outside_the_last_weeks_is_refused(
    session: Session, client: TestClient, inbox: Inbox, make_consent: MakeConsent
) -> None:
    request = make_consent(expires_at=utcnow() + timedelta(days=300))
    grant(session, request)
    link = f"/c/{links.link_token(request)}"
    page = client.get(link)
    assert "Renew my consent" not in page.text
    refused = client.post(
        link, data={"decision": "renew", "notice_version": "1", "csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 409
    assert "cannot be renewed now" in refused.text


def test_the_api_sends_the_request_unless_told_not_to(
    session: Session, client: TestClient, inbox: Inbox, admin_headers: dict[str, str]
) -> None:
    body = {
        "subject_name": "Pat",
        "purpose": "Our magazine",
        "description": "Two photos",
        "channels": ["print"],
    }
    client.post(
        "/api/consent-requests",
        json={**body, "subject_email": "pat@example.org"},
        headers=admin_headers,
    ).raise_for_status()
    client.post(
        "/api/consent-requests",
        json={**body, "subject_email": "quiet@example.org", "send_email": False},
        headers=admin_headers,
    ).raise_for_status()
    deliver(session)
    assert [m["To"] for m in inbox.messages] == ["pat@example.org"]
