from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from registry.audit.models import AuditEntry
from registry.audit.service import Actor
from registry.consent import decisions, links, notices, renewals, service
from registry.consent.models import (
    ActorRole,
    ConsentAction,
    ConsentEvent,
    ConsentRequest,
    ConsentStatus,
)
from registry.db import utcnow
from registry.errors import Gone, Invalid, NotFound
from registry.origin import Origin, anonymise_ip
from tests.consent.factories import grant

MakeConsent = Callable[..., ConsentRequest]
STAFF = Actor.staff(7)


def actions(session: Session, request: ConsentRequest) -> list[str]:
    return [e.action for e in service.history(session=session, request=request)]


def test_new_request_is_pending_with_a_requested_event(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    assert service.effective_status(request) == ConsentStatus.pending
    [event] = service.history(session=session, request=request)
    assert event.action == ConsentAction.requested
    assert event.notice_version == notices.current_notice(session=session).version


@pytest.mark.parametrize(
    ("decisions", "status", "recorded"),
    [
        (["grant"], "granted", ["granted"]),
        (["decline"], "declined", ["declined"]),
        (["grant", "revoke"], "revoked", ["granted", "revoked"]),
        (["grant", "grant"], "granted", ["granted"]),
        (["grant", "revoke", "revoke"], "revoked", ["granted", "revoked"]),
        (["grant", "revoke", "grant"], "granted", ["granted", "revoked", "granted"]),
        (["decline", "grant"], "granted", ["declined", "granted"]),
        (["decline", "decline"], "declined", ["declined"]),
        (["revoke"], "declined", ["declined"]),
        (["grant", "decline"], "revoked", ["granted", "revoked"]),
    ],
)
def test_every_transition(
    session: Session,
    make_consent: MakeConsent,
    decisions: list[str],
    status: str,
    recorded: list[str],
) -> None:
    request = make_consent()
    for decision in decisions:
        grant(session, request, decision)
    assert service.effective_status(request) == status
    assert actions(session, request) == ["requested", *recorded]


def test_decision_records_the_notice_version_seen_and_the_anonymised_origin(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    v1 = notices.current_notice(session=session).version
    notices.update_notice(session=session, actor=STAFF, text="A new notice text " * 5)
    origin = Origin(user_agent="Mozilla/5.0 phone", ip_prefix=anonymise_ip("203.0.113.77"))
    event = decisions.decide(
        session=session, request=request, decision="grant", notice_version=v1, origin=origin
    )
    assert event is not None
    assert event.notice_version == v1
    assert event.ip_prefix == "203.0.113.0/24"
    assert event.user_agent == "Mozilla/5.0 phone"
    assert event.actor_role == ActorRole.patient


def test_unknown_notice_version_is_refused(session: Session, make_consent: MakeConsent) -> None:
    request = make_consent()
    with pytest.raises(Invalid):
        decisions.decide(session=session, request=request, decision="grant", notice_version=999)
    assert service.effective_status(request) == ConsentStatus.pending


def test_guardian_decisions_are_recorded_as_the_guardians(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent(guardian_name="Alex Parent", guardian_relation="parent")
    event = grant(session, request)
    assert event.actor_role == ActorRole.guardian


def test_granted_consent_past_its_expiry_is_expired_without_any_job(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent(expires_at=utcnow() + timedelta(days=1))
    grant(session, request)
    assert service.effective_status(request) == ConsentStatus.granted
    later = utcnow() + timedelta(days=2)
    assert service.effective_status(request, at=later) == ConsentStatus.expired
    request.expires_at = utcnow() - timedelta(seconds=1)
    assert service.effective_status(request) == ConsentStatus.expired
    assert service.list_requests(session=session, status=ConsentStatus.granted) == []
    assert request in service.list_requests(session=session, status=ConsentStatus.expired)


def test_granting_an_expired_request_is_refused_and_revoking_it_changes_nothing(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent(expires_at=utcnow() + timedelta(days=1))
    request.expires_at = utcnow() - timedelta(minutes=1)
    with pytest.raises(Gone):
        grant(session, request)
    assert grant(session, request, "revoke") is None
    assert actions(session, request) == ["requested"]


def test_record_expiries_writes_expired_events_once(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent(expires_at=utcnow() + timedelta(days=1))
    grant(session, request)
    request.expires_at = utcnow() - timedelta(minutes=1)
    session.add(request)
    assert renewals.record_expiries(session=session) >= 1
    assert renewals.record_expiries(session=session) == 0
    assert actions(session, request)[-1] == "expired"
    assert request.status == ConsentStatus.expired


def test_expiring_soon_lists_granted_consents_ending_within_the_window(
    session: Session, make_consent: MakeConsent
) -> None:
    soon = make_consent(expires_at=utcnow() + timedelta(days=10))
    later = make_consent(expires_at=utcnow() + timedelta(days=90))
    pending = make_consent(expires_at=utcnow() + timedelta(days=5))
    grant(session, soon)
    grant(session, later)
    expiring = service.list_requests(session=session, expiring_within_days=30)
    assert soon in expiring
    assert later not in expiring
    assert pending not in expiring


def test_link_names_the_request_and_a_reissued_link_replaces_it(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    old = links.link_token(request)
    assert links.request_for_token(session=session, token=old) is request
    links.reissue_link(session=session, actor=STAFF, request=request)
    new = links.link_token(request)
    assert links.request_for_token(session=session, token=new) is request
    with pytest.raises(NotFound):
        links.request_for_token(session=session, token=old)
    assert actions(session, request)[-1] == "link_reissued"


@pytest.mark.parametrize(
    "token", ["", "x", "0" * 33 + ".abc", "not-a-token", "a" * 500, "../../etc/passwd"]
)
def test_forged_tokens_are_not_found(session: Session, token: str) -> None:
    with pytest.raises(NotFound):
        links.request_for_token(session=session, token=token)


def test_token_carries_no_database_id_in_clear_and_has_at_least_128_bits(
    make_consent: MakeConsent,
) -> None:
    request = make_consent()
    token = links.link_token(request)
    assert request.subject_name.split()[0].lower() not in token.lower()
    assert len(token.split(".")[1]) >= 22  # 128 bits in base64url


def test_unanswered_link_expires_but_a_granted_one_stays_revocable(
    session: Session, make_consent: MakeConsent
) -> None:
    pending = make_consent()
    pending.link_issued_at = utcnow() - timedelta(days=365)
    with pytest.raises(Gone):
        links.request_for_token(session=session, token=links.link_token(pending))

    granted = make_consent()
    grant(session, granted)
    granted.link_issued_at = granted.decided_at = utcnow() - timedelta(days=365)
    assert links.request_for_token(session=session, token=links.link_token(granted))


def test_views_are_recorded_once_per_visit(session: Session, make_consent: MakeConsent) -> None:
    request = make_consent()
    origin = Origin(user_agent="ua", ip_prefix=None)
    decisions.record_view(session=session, request=request, origin=origin)
    decisions.record_view(session=session, request=request, origin=origin)
    assert actions(session, request) == ["requested", "viewed"]


def test_staff_can_record_a_withdrawal_given_by_phone(
    session: Session, make_consent: MakeConsent
) -> None:
    request = make_consent()
    grant(session, request)
    event = decisions.revoke_for_patient(
        session=session, actor=STAFF, request=request, note="Phoned on Monday"
    )
    assert event is not None
    assert event.actor_role == ActorRole.staff
    assert event.note == "Phoned on Monday"
    assert service.effective_status(request) == ConsentStatus.revoked


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channels": ["billboard"]}, "channels"),
        ({"channels": []}, "channels"),
        ({"expires_at": utcnow() - timedelta(days=1)}, "expires_at"),
        ({"guardian_relation": "parent"}, "guardian_name"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_stored(
    session: Session, make_consent: MakeConsent, overrides: dict[str, object], field: str
) -> None:
    before = session.exec(select(sa.func.count()).select_from(ConsentRequest)).one()
    with pytest.raises(Invalid) as error:
        make_consent(**overrides)
    assert error.value.extra.get("field") == field
    assert session.exec(select(sa.func.count()).select_from(ConsentRequest)).one() == before


def test_notice_edits_make_new_versions_and_same_text_does_not(session: Session) -> None:
    first = notices.current_notice(session=session)
    second = notices.update_notice(session=session, actor=STAFF, text=first.text + " More.")
    assert second.version == first.version + 1
    again = notices.update_notice(session=session, actor=STAFF, text=second.text)
    assert again.version == second.version
    assert [n.version for n in notices.notice_history(session=session)][-2:] == [
        first.version,
        second.version,
    ]


def test_every_change_is_audited(session: Session, make_consent: MakeConsent) -> None:
    request = make_consent()
    grant(session, request)
    grant(session, request, "revoke")
    links.reissue_link(session=session, actor=STAFF, request=request)
    logged = session.exec(
        select(AuditEntry.action)
        .where(AuditEntry.entity_id == str(request.id))
        .order_by(AuditEntry.seq)  # type: ignore[arg-type]
    ).all()
    assert [a for a in logged if not a.startswith("mail.")] == [
        "consent.requested",
        "consent.granted",
        "consent.revoked",
        "consent.link_reissued",
    ]
    # Each message to the patient is audited too (the request, the revocation receipt).
    assert logged.count("mail.queued") == (2 if request.subject_email else 0)


def test_consent_events_cannot_be_rewritten(session: Session, make_consent: MakeConsent) -> None:
    request = make_consent()
    grant(session, request)
    with pytest.raises(sa.exc.DatabaseError), session.begin_nested():
        session.execute(
            sa.update(ConsentEvent)
            .where(ConsentEvent.request_id == request.id)  # type: ignore[arg-type]
            .values(action="declined")
        )


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.0.2.55", "192.0.2.0/24"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::/48"),
        ("testclient", None),
        (None, None),
    ],
)
def test_ip_addresses_are_anonymised(address: str | None, expected: str | None) -> None:
    assert anonymise_ip(address) == expected
