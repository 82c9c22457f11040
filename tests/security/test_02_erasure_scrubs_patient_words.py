"""Item 2: erasure leaves none of a patient's words behind. A consent kept under a pseudonym
(media it covers is published) loses every form of the patient's and guardian's name from its
purpose and description; its old link answers 410 and records nothing more."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit.service import SYSTEM
from registry.consent import links as consent_links
from registry.consent.models import ConsentEvent, ConsentRequest
from registry.rights import erasure
from tests.auth.factories import csrf_from
from tests.consent.factories import grant
from tests.rights.scene import Scene, rows_mentioning

pytestmark = pytest.mark.usefixtures("faces_dir")


def test_a_pseudonymised_consent_keeps_no_name_and_its_link_is_gone(
    scene: Scene,
    client: TestClient,
    session: Session,
    make_consent: Callable[..., ConsentRequest],
) -> None:
    request = make_consent(
        subject_name="María González",
        subject_email="maria.g@example.org",
        guardian_name="Rosa Gonzalez-Ruiz",
        guardian_relation="mother",
        purpose="Video of Maria Gonzalez after her mastectomy, for the members' newsletter",
        description="MARIA GONZÁLEZ's arm exercises; Maria's mum Rosa filmed it. "
        "Contact maria.g@example.org. Gonzalez agreed on the phone.",
        media_ids=[scene.hall.id],
        channels=["internal"],
    )
    grant(session, request)
    token = consent_links.link_token(request)
    page = client.get(f"/c/{token}")
    assert page.status_code == 200
    csrf = csrf_from(page.text)

    assert erasure.erase_consent(session=session, actor=SYSTEM, request=request) == "pseudonymised"
    session.expire_all()
    kept = session.get(ConsentRequest, request.id)
    assert kept is not None
    alias = erasure.pseudonym(kept)
    assert kept.subject_name == alias
    # None of the free text is kept (issue 34, item 4: test_34_04).
    assert "mastectomy" not in kept.purpose
    assert "Erased at the patient's request" in kept.purpose
    assert alias in kept.description
    assert rows_mentioning(session, "maria", "gonzalez", "rosa", "maria.g@example.org") == []

    events_before = len(session.exec(select(ConsentEvent)).all())
    assert client.get(f"/c/{token}").status_code == 410
    revoke = client.post(
        f"/c/{token}",
        data={"decision": "revoke", "csrf_token": csrf, "notice_version": "1"},
        headers={"User-Agent": "Mozilla/5.0 (attacker)"},
    )
    assert revoke.status_code == 410
    assert client.get(f"/c/{token}/export").status_code == 410
    session.expire_all()
    rows = session.exec(select(ConsentEvent).where(ConsentEvent.request_id == request.id)).all()
    assert len(session.exec(select(ConsentEvent)).all()) == events_before
    assert all(r.user_agent is None and r.ip_prefix is None and r.note is None for r in rows)


def test_a_deleted_consent_link_answers_gone(
    client: TestClient, session: Session, make_consent: Callable[..., ConsentRequest]
) -> None:
    request = make_consent(subject_name="Noor Haddad", media_ids=[])
    token = consent_links.link_token(request)
    assert erasure.erase_consent(session=session, actor=SYSTEM, request=request) == "deleted"
    assert client.get(f"/c/{token}").status_code == 410
    # A forged link still says nothing more than "not valid".
    assert client.get(f"/c/{token[:-3]}abc").status_code == 404
