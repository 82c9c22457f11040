from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.auth.models import Role, StaffUser
from registry.consent import decisions, links, notices, service
from registry.consent.models import ConsentRequest, ConsentStatus
from registry.db import utcnow
from registry.media import service as media_service
from tests.auth.factories import csrf_from, login_page
from tests.media.samples import png

MakeConsent = Callable[..., ConsentRequest]


def path_of(request: ConsentRequest) -> str:
    return f"/c/{links.link_token(request)}"


def post_decision(client: TestClient, path: str, decision: str, csrf: str | None = None) -> object:
    csrf = csrf or csrf_from(client.get(path).text)
    return client.post(
        path,
        data={"decision": decision, "notice_version": "1", "csrf_token": csrf},
        follow_redirects=False,
    )


def test_patient_page_says_what_when_where_and_their_rights(
    client: TestClient, make_consent: MakeConsent
) -> None:
    request = make_consent(expires_at=utcnow() + timedelta(days=100))
    page = client.get(path_of(request))
    assert page.status_code == 200
    text = page.text
    assert request.purpose in text
    assert request.description in text
    assert "closed professional networks" in text
    assert "Until" in text
    assert "withdraw your consent at any time" in text
    assert "cannot guarantee that copies other people have already shared" in text
    assert "no effect on your care" in text
    assert "Yes, I consent" in text
    assert "No, I do not consent" in text
    # Works without JavaScript: the only script is the shared enhancement file, never inline.
    assert re.findall(r"<script(?![^>]*\ssrc=)", text) == []


def test_grant_then_revoke_each_take_one_step_with_confirmation(
    client: TestClient, session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    path = path_of(request)
    response = post_decision(client, path, "grant")
    assert response.status_code == 303  # type: ignore[attr-defined]
    page = client.get(path).text
    assert "your consent is recorded" in page
    assert "Withdraw my consent" in page
    assert "You said yes on" in page
    assert "read your receipt" in page

    response = post_decision(client, path, "revoke")
    assert response.status_code == 303  # type: ignore[attr-defined]
    page = client.get(path).text
    assert "Your consent is withdrawn" in page
    assert "You withdrew your consent on" in page
    assert "Copies already shared by others may persist" in page
    session.refresh(request)
    assert service.effective_status(request) == ConsentStatus.revoked


def test_double_submitting_grant_records_one_grant(
    client: TestClient, session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    path = path_of(request)
    csrf = csrf_from(client.get(path).text)
    post_decision(client, path, "grant", csrf)
    post_decision(client, path, "grant", csrf)
    granted = [
        e for e in service.history(session=session, request=request) if e.action == "granted"
    ]
    assert len(granted) == 1


def test_patient_reads_the_receipt_and_downloads_it_as_pdf_and_json(
    client: TestClient, make_consent: MakeConsent
) -> None:
    request = make_consent()
    page = client.get(path_of(request) + "/receipt")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Consent receipt" in page.text
    assert request.purpose in page.text
    assert "Your rights" in page.text
    assert "download your whole record from your consent page" in page.text

    pdf = client.get(path_of(request) + "/receipt.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert "attachment" in pdf.headers["content-disposition"]

    machine = client.get(path_of(request) + "/receipt.json")
    assert "attachment" in machine.headers["content-disposition"]
    assert machine.json()["record_id"] == f"urn:uuid:{request.id}"


def test_forged_and_replaced_links_look_the_same(
    client: TestClient, session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    old = path_of(request)
    links.reissue_link(session=session, actor=SYSTEM, request=request)
    replaced = client.get(old)
    forged = client.get("/c/" + "0" * 33 + ".AAAA")
    assert replaced.status_code == forged.status_code == 404
    assert "not valid" in replaced.text
    assert "Traceback" not in replaced.text
    assert replaced.text == forged.text
    assert request.subject_name not in replaced.text


def test_expired_link_is_410(
    client: TestClient, session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    request.link_issued_at = utcnow() - timedelta(days=400)
    session.add(request)
    session.flush()
    response = client.get(path_of(request))
    assert response.status_code == 410
    assert "expired" in response.text


@pytest.mark.parametrize("decision", ["", "maybe", "GRANT"])
def test_unknown_decisions_are_refused(
    client: TestClient, make_consent: MakeConsent, decision: str
) -> None:
    request = make_consent()
    response = post_decision(client, path_of(request), decision)
    assert response.status_code == 422  # type: ignore[attr-defined]


def test_decision_without_csrf_token_is_refused(
    client: TestClient, session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    path = path_of(request)
    client.get(path)
    response = client.post(path, data={"decision": "grant", "notice_version": "1"})
    assert response.status_code == 403
    session.refresh(request)
    assert request.status == ConsentStatus.pending


def test_staff_create_a_request_and_see_link_qr_and_history(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    login_page(client, make_staff(Role.comms))
    form = client.get("/consents/new")
    assert form.status_code == 200
    response = client.post(
        "/consents",
        data={
            "subject_name": "Jo Patient",
            "purpose": "Poster for the clinic waiting room.",
            "description": "One photo of Jo on the treadmill.",
            "channels": ["print", "internal"],
            "expires_on": (utcnow() + timedelta(days=60)).date().isoformat(),
            "csrf_token": csrf_from(form.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    detail = client.get(response.headers["location"])
    assert "Jo Patient" in detail.text
    assert "/c/" in detail.text
    assert "requested" in detail.text
    consent_id = response.headers["location"].rsplit("/", 1)[-1]
    qr = client.get(f"/consents/{consent_id}/qr.png")
    assert qr.headers["content-type"] == "image/png"
    listing = client.get("/consents?status=pending")
    assert "Jo Patient" in listing.text


def test_staff_form_errors_keep_the_input(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    login_page(client, make_staff(Role.comms))
    form = client.get("/consents/new")
    response = client.post(
        "/consents",
        data={
            "subject_name": "Jo Patient",
            "purpose": "Poster",
            "description": "Photo",
            "csrf_token": csrf_from(form.text),
        },
    )
    assert response.status_code == 422
    assert "Choose at least one channel" in response.text
    assert 'value="Jo Patient"' in response.text


def test_expiring_consents_are_listed_for_re_consent(
    client: TestClient,
    session: Session,
    make_consent: MakeConsent,
    make_staff: Callable[..., StaffUser],
) -> None:
    request = make_consent(subject_name="Expiring Soon", expires_at=utcnow() + timedelta(days=7))
    decisions.decide(session=session, request=request, decision="grant", notice_version=1)
    login_page(client, make_staff(Role.comms))
    page = client.get("/consents")
    section = page.text[page.text.index("Expiring within") :]
    assert "Expiring Soon" in section.split("</section>")[0]


def test_dashboard_counts_consents_by_effective_status(
    client: TestClient,
    session: Session,
    make_consent: MakeConsent,
    make_staff: Callable[..., StaffUser],
) -> None:
    before = service.status_counts(session=session)
    request = make_consent(expires_at=utcnow() + timedelta(days=3))
    decisions.decide(session=session, request=request, decision="grant", notice_version=1)
    request.expires_at = utcnow() - timedelta(seconds=1)
    session.add(request)
    session.flush()
    after = service.status_counts(session=session)
    assert after[ConsentStatus.expired] == before[ConsentStatus.expired] + 1
    assert after[ConsentStatus.granted] == before[ConsentStatus.granted]
    login_page(client, make_staff(Role.comms))
    page = client.get("/")
    assert f"<strong>{after[ConsentStatus.expired]}</strong> expired" in page.text


def test_staff_pick_media_by_name_and_nothing_is_created_until_they_ask(
    client: TestClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    [(knee, _), (shoulder, _)] = media_service.upload(
        session=session,
        actor=SYSTEM,
        files=[
            media_service.Upload("knee-exercise.png", png((10, 20, 30))),
            media_service.Upload("shoulder.png", png((30, 20, 10))),
        ],
        event=None,
    )
    login_page(client, make_staff(Role.comms))
    form = client.get(f"/consents/new?media_id={knee.id}")
    assert f'value="{knee.id}" checked' in form.text
    shown = client.post(
        "/consents",
        data={
            "subject_name": "Jo Patient",
            "media_ids": [str(knee.id)],
            "q": "shoul",
            "action": "show",
            "csrf_token": csrf_from(form.text),
        },
    )
    assert shown.status_code == 200
    assert 'value="Jo Patient"' in shown.text  # what was typed is kept
    assert f'value="{knee.id}" checked' in shown.text  # the choice is kept
    assert f'value="{shoulder.id}"' in shown.text
    assert "/media/" + str(shoulder.id) + "/thumb.jpg" in shown.text
    assert service.list_requests(session=session) == []


def test_the_decision_records_the_notice_version_the_page_showed_not_the_forms(
    session: Session, client: TestClient, make_consent: MakeConsent
) -> None:
    from registry.audit.service import SYSTEM
    from registry.consent.models import ConsentAction

    request = make_consent()
    path = f"/c/{links.link_token(request)}"
    csrf = csrf_from(client.get(path).text)  # the page shows version 1
    notices.update_notice(
        session=session, actor=SYSTEM, text="A new notice text, long enough to be saved: v2."
    )
    # The form claims it showed version 2 (tampered, or stale): version 1 is what was shown.
    client.post(path, data={"decision": "grant", "notice_version": "2", "csrf_token": csrf})
    [granted] = [
        e
        for e in service.history(session=session, request=request)
        if e.action == ConsentAction.granted
    ]
    assert granted.notice_version == 1
    # Reloading shows version 2 (a new view is recorded at once), and a decision records it.
    csrf = csrf_from(client.get(path).text)
    client.post(path, data={"decision": "revoke", "notice_version": "1", "csrf_token": csrf})
    [revoked] = [
        e
        for e in service.history(session=session, request=request)
        if e.action == ConsentAction.revoked
    ]
    assert revoked.notice_version == 2
