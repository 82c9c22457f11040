"""Decisions on a consent request: the person's own by link (grant, decline, revoke), or a
withdrawal staff record for them; and each visit to the link, with the notice version it showed.

Every decision is a new `consent_event` row; `ConsentRequest.status` only caches the latest.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlmodel import Session, col, select

from registry import signals
from registry.audit import service as audit
from registry.audit.service import SYSTEM, Actor
from registry.consent import mails
from registry.consent.models import (
    ActorRole,
    ConsentAction,
    ConsentEvent,
    ConsentRequest,
    ConsentStatus,
)
from registry.consent.notices import current_notice, get_notice
from registry.consent.service import append_event, effective_status, media_ids
from registry.db import utcnow
from registry.errors import Gone
from registry.origin import Origin

Decision = Literal["grant", "decline", "revoke"]
# A page reload within this window is not recorded as another view.
VIEW_DEDUP = timedelta(minutes=30)


def responder_role(request: ConsentRequest) -> ActorRole:
    """Who answers by link: the guardian when one was named, else the patient."""
    return ActorRole.guardian if request.guardian_name else ActorRole.patient


def record_view(*, session: Session, request: ConsentRequest, origin: Origin) -> None:
    """Note that the link was opened and which notice it showed (once per visit, not per reload;
    again whenever the notice shown is a new version: decisions record the version seen)."""
    shown = current_notice(session=session).version
    last_view = session.exec(
        select(ConsentEvent)
        .where(ConsentEvent.request_id == request.id, ConsentEvent.action == ConsentAction.viewed)
        .order_by(col(ConsentEvent.id).desc())
        .limit(1)
    ).first()
    if (
        last_view is not None
        and utcnow() - last_view.at < VIEW_DEDUP
        and last_view.notice_version == shown
    ):
        return
    role = responder_role(request)
    append_event(
        session,
        request,
        ConsentAction.viewed,
        role,
        role.value,
        notice_version=shown,
        origin=origin,
    )


_OUTCOME: dict[tuple[Decision, ConsentStatus], ConsentAction | None] = {
    # Repeating a decision records nothing new (double submissions are harmless).
    ("grant", ConsentStatus.pending): ConsentAction.granted,
    ("grant", ConsentStatus.granted): None,
    ("grant", ConsentStatus.declined): ConsentAction.granted,
    ("grant", ConsentStatus.revoked): ConsentAction.granted,
    ("decline", ConsentStatus.pending): ConsentAction.declined,
    ("decline", ConsentStatus.declined): None,
    ("decline", ConsentStatus.revoked): None,
    # Saying no after saying yes is a withdrawal.
    ("decline", ConsentStatus.granted): ConsentAction.revoked,
    ("revoke", ConsentStatus.granted): ConsentAction.revoked,
    ("revoke", ConsentStatus.pending): ConsentAction.declined,
    ("revoke", ConsentStatus.declined): None,
    ("revoke", ConsentStatus.revoked): None,
}

_STATUS_AFTER = {
    ConsentAction.granted: ConsentStatus.granted,
    ConsentAction.declined: ConsentStatus.declined,
    ConsentAction.revoked: ConsentStatus.revoked,
}


def decide(
    *,
    session: Session,
    request: ConsentRequest,
    decision: Decision,
    notice_version: int,
    origin: Origin | None = None,
    actor: Actor | None = None,
    note: str | None = None,
) -> ConsentEvent | None:
    """Record a decision; returns the new event, or None when it repeats the current one.

    `actor` is the staff user recording a decision given in person or by phone; without it the
    decision is the patient's (or guardian's) own, through the link. Call with the request loaded
    `lock=True` so concurrent decisions on one request are serialised.
    """
    shown = get_notice(session=session, version=notice_version).version
    status = effective_status(request)
    if status == ConsentStatus.expired:
        if decision == "grant":
            raise Gone(
                "This request has expired, so consent can no longer be given through it. "
                "Ask the person who sent it for a new request."
            )
        return None  # an expired consent is already not in force
    action = _OUTCOME[(decision, status)]
    if action is None:
        return None
    role = ActorRole.staff if actor else responder_role(request)
    event = append_event(
        session,
        request,
        action,
        role,
        actor.label if actor else role.value,
        notice_version=shown,
        origin=origin,
        note=note,
    )
    before = request.status
    request.status = _STATUS_AFTER[action]
    request.decided_at = event.at
    session.add(request)
    audit.record(
        session=session,
        actor=actor or Actor.public(role.value),
        action=f"consent.{action.value}",
        entity_type="consent_request",
        entity_id=request.id,
        before={"status": before},
        after={"status": request.status, "notice_version": shown},
    )
    session.flush()
    if request.status == ConsentStatus.revoked:
        mails.send_change(
            session=session,
            actor=actor or SYSTEM,
            request=request,
            change="revoked",
            event_id=event.id,
        )
    if request.status != ConsentStatus.granted:
        signals.basis_changed.send(
            session=session, media_ids=media_ids(session=session, request=request)
        )
    return event


def last_seen_notice(*, session: Session, request: ConsentRequest) -> int:
    """The notice version the person last saw (the version at request time if never opened)."""
    seen = session.exec(
        select(ConsentEvent.notice_version)
        .where(
            ConsentEvent.request_id == request.id,
            col(ConsentEvent.actor_role).in_((ActorRole.patient.value, ActorRole.guardian.value)),
        )
        .order_by(col(ConsentEvent.id).desc())
        .limit(1)
    ).first()
    return seen or request.notice_version


def revoke_for_patient(
    *, session: Session, actor: Actor, request: ConsentRequest, note: str
) -> ConsentEvent | None:
    """Staff record a withdrawal the patient gave another way (phone, letter, in person)."""
    return decide(
        session=session,
        request=request,
        decision="revoke",
        notice_version=last_seen_notice(session=session, request=request),
        actor=actor,
        note=note.strip(),
    )
