"""Consent requests: create, show by link, grant, decline, revoke, expire; history and notices.

The record is the append-only `consent_event` history; `ConsentRequest.status` caches the latest
decision. Expiry is never cached-only: `effective_status` treats a consent past `expires_at` as
expired at once, whether or not `record_expiries` has run.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry import channels as channel_names
from registry import links, qr_codes, signals
from registry.addresses import one_address
from registry.audit import service as audit
from registry.audit.service import SYSTEM, Actor
from registry.config import get_settings
from registry.consent import mails
from registry.consent.models import (
    ActorRole,
    ConsentAction,
    ConsentEvent,
    ConsentMedia,
    ConsentNotice,
    ConsentRequest,
    ConsentStatus,
)
from registry.db import begin_write, utcnow
from registry.errors import Conflict, Gone, Invalid, NotFound
from registry.origin import Origin

CONSENT_LINK = "consent"
Decision = Literal["grant", "decline", "revoke"]
# A page reload within this window is not recorded as another view.
VIEW_DEDUP = timedelta(minutes=30)

# --- notice template -----------------------------------------------------------------------


def current_notice(*, session: Session) -> ConsentNotice:
    notice = session.exec(
        select(ConsentNotice).order_by(col(ConsentNotice.version).desc()).limit(1)
    ).first()
    if notice is None:
        raise RuntimeError("consent_notice is empty: run `registry db upgrade` (it seeds v1)")
    return notice


def get_notice(*, session: Session, version: int) -> ConsentNotice:
    notice = session.exec(select(ConsentNotice).where(ConsentNotice.version == version)).first()
    if notice is None:
        raise Invalid("Unknown notice version.", field="notice_version")
    return notice


def notice_history(*, session: Session) -> list[ConsentNotice]:
    return list(session.exec(select(ConsentNotice).order_by(col(ConsentNotice.version))).all())


def update_notice(*, session: Session, actor: Actor, text: str) -> ConsentNotice:
    """Save the notice text as a new version (unchanged text keeps the current version)."""
    text = text.strip()
    if len(text) < 40:
        raise Invalid("The notice must be at least 40 characters.", field="text")
    current = current_notice(session=session)
    if text == current.text:
        return current
    notice = ConsentNotice(version=current.version + 1, text=text, created_by=actor.label)
    session.add(notice)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="consent_notice.updated",
        entity_type="consent_notice",
        entity_id=notice.version,
        after={"version": notice.version},
    )
    return notice


# --- requests ------------------------------------------------------------------------------


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


def create_request(
    *,
    session: Session,
    actor: Actor,
    subject_name: str,
    purpose: str,
    description: str,
    channels: Sequence[str],
    media_ids: Sequence[uuid.UUID] = (),
    subject_email: str | None = None,
    guardian_name: str | None = None,
    guardian_relation: str | None = None,
    expires_at: datetime | None = None,
    send_email: bool = True,
) -> ConsentRequest:
    """Ask a patient (or their guardian) for consent; the link is made from the returned record
    and, when the request has an email address, mailed to it (unless `send_email` is False)."""
    chosen = channel_names.validate(channels)
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("The expiry date must be in the future.", field="expires_at")
    if not subject_name.strip() or not purpose.strip() or not description.strip():
        raise Invalid("Give the patient's name, the purpose and a description of the media.")
    unknown_media = _unknown_media(session, media_ids)
    if unknown_media:
        raise Invalid(f"No uploaded media with id {', '.join(unknown_media)}.", field="media_ids")
    if guardian_relation and not guardian_name:
        raise Invalid("Give the guardian's name as well as their relation.", field="guardian_name")
    email = one_address(subject_email) if _clean(subject_email) else None
    if _clean(subject_email) and email is None:
        raise Invalid(
            "Enter one email address, like name@example.org, or leave it empty.",
            field="subject_email",
        )
    notice = current_notice(session=session)
    request = ConsentRequest(
        subject_name=subject_name.strip(),
        subject_email=email.lower() if email else None,
        guardian_name=_clean(guardian_name),
        guardian_relation=_clean(guardian_relation) if guardian_name else None,
        purpose=purpose.strip(),
        description=description.strip(),
        channels=chosen,  # in configured order, so pages and receipts always read the same
        expires_at=expires_at,
        notice_version=notice.version,
        created_by=actor.label,
    )
    session.add(request)
    session.flush()
    for media_id in dict.fromkeys(media_ids):
        session.add(ConsentMedia(consent_request_id=request.id, media_id=media_id))
    _append(session, request, ConsentAction.requested, ActorRole.staff, actor.label)
    audit.record(
        session=session,
        actor=actor,
        action="consent.requested",
        entity_type="consent_request",
        entity_id=request.id,
        after=_state(session, request),
    )
    session.flush()
    if send_email:
        mails.send_request(session=session, actor=actor, request=request)
    return request


def _unknown_media(session: Session, media_ids: Sequence[uuid.UUID]) -> list[str]:
    """Ids that name no stored media. Consent covers media but never imports the media domain:
    the column its foreign key points at (media.id) says which ids exist."""
    wanted = set(media_ids)
    if not wanted:
        return []
    table: sa.Table = ConsentMedia.__table__  # type: ignore[attr-defined]
    [key] = table.c.media_id.foreign_keys
    target = key.column
    found = set(session.execute(sa.select(target).where(target.in_(wanted))).scalars())
    return sorted(str(m) for m in wanted - found)


def covers_media(*, session: Session, request: ConsentRequest, media_id: uuid.UUID) -> bool:
    return media_id in set(media_ids(session=session, request=request))


def _state(session: Session, request: ConsentRequest) -> dict[str, object]:
    return {
        "status": request.status,
        "channels": request.channels,
        "media_ids": media_ids(session=session, request=request),
        "expires_at": request.expires_at,
        "link_version": request.link_version,
        "on_behalf": request.guardian_name is not None,
    }


def media_ids(*, session: Session, request: ConsentRequest) -> list[uuid.UUID]:
    return list(
        session.exec(
            select(ConsentMedia.media_id)
            .where(ConsentMedia.consent_request_id == request.id)
            .order_by(col(ConsentMedia.media_id))
        ).all()
    )


def get_request(*, session: Session, request_id: uuid.UUID, lock: bool = False) -> ConsentRequest:
    """The request; `lock=True` before deciding on it (serialises decisions and publications
    that rest on it; on SQLite it starts the write transaction, so what follows is current)."""
    if lock:
        begin_write(session)
    request = session.get(ConsentRequest, request_id, with_for_update=lock, populate_existing=lock)
    if request is None:
        raise NotFound("No consent request with this id.")
    return request


def effective_status(request: ConsentRequest, at: datetime | None = None) -> ConsentStatus:
    """The status for every check: a granted or unanswered request past its expiry is expired."""
    return status_at(request.status, request.expires_at, at or utcnow())


def status_at(status: str, expires_at: datetime | None, at: datetime) -> ConsentStatus:
    """`effective_status` on the two columns it reads (for callers that select columns)."""
    state = ConsentStatus(status)
    if (
        state in (ConsentStatus.granted, ConsentStatus.pending)
        and expires_at is not None
        and expires_at <= at
    ):
        return ConsentStatus.expired
    return state


def _status_clause(status: ConsentStatus, at: datetime) -> sa.ColumnElement[bool]:
    live = (ConsentStatus.granted.value, ConsentStatus.pending.value)
    expired = sa.and_(
        col(ConsentRequest.status).in_(live),
        col(ConsentRequest.expires_at).is_not(None),
        col(ConsentRequest.expires_at) <= at,
    )
    if status == ConsentStatus.expired:
        return sa.or_(col(ConsentRequest.status) == ConsentStatus.expired.value, expired)
    if status.value in live:
        return sa.and_(col(ConsentRequest.status) == status.value, sa.not_(expired))
    return col(ConsentRequest.status) == status.value


def list_requests(
    *,
    session: Session,
    status: ConsentStatus | None = None,
    expiring_within_days: int | None = None,
    limit: int = 500,
) -> list[ConsentRequest]:
    """Requests, newest first, by effective status; or granted ones expiring within N days."""
    now = utcnow()
    query = select(ConsentRequest)
    if status is not None:
        query = query.where(_status_clause(status, now))
    if expiring_within_days is not None:
        query = query.where(
            _status_clause(ConsentStatus.granted, now),
            col(ConsentRequest.expires_at) <= now + timedelta(days=expiring_within_days),
        ).order_by(col(ConsentRequest.expires_at))
    return list(
        session.exec(query.order_by(col(ConsentRequest.created_at).desc()).limit(limit)).all()
    )


def history(*, session: Session, request: ConsentRequest) -> list[ConsentEvent]:
    return list(
        session.exec(
            select(ConsentEvent)
            .where(ConsentEvent.request_id == request.id)
            .order_by(col(ConsentEvent.id))
        ).all()
    )


def _append(
    session: Session,
    request: ConsentRequest,
    action: ConsentAction,
    role: ActorRole,
    actor: str,
    *,
    notice_version: int | None = None,
    origin: Origin | None = None,
    note: str | None = None,
) -> ConsentEvent:
    if request.erase_requested_at is not None:
        # Kept under a pseudonym only as the proof of a publication: nothing that could point
        # back at the person (their browser, their network, a note) is recorded any more.
        origin, note = None, None
    event = ConsentEvent(
        request_id=request.id,
        action=action,
        actor_role=role,
        actor=actor,
        notice_version=notice_version or request.notice_version,
        user_agent=origin.user_agent if origin else None,
        ip_prefix=origin.ip_prefix if origin else None,
        note=note,
    )
    session.add(event)
    session.flush()
    return event


# --- links ---------------------------------------------------------------------------------


def link_token(request: ConsentRequest) -> str:
    return links.make_token(CONSENT_LINK, request.id, request.link_version)


def link_url(request: ConsentRequest) -> str:
    return f"{get_settings().base_url.rstrip('/')}/c/{link_token(request)}"


def link_expires_at(request: ConsentRequest, at: datetime | None = None) -> datetime | None:
    """None while the consent is granted (it must stay revocable); else days after last use."""
    if effective_status(request, at) == ConsentStatus.granted:
        return None
    last = max(request.link_issued_at, request.decided_at or request.link_issued_at)
    return last + timedelta(days=get_settings().consent_link_days)


def request_for_token(*, session: Session, token: str, lock: bool = False) -> ConsentRequest:
    """The request a consent link names; 404 for forged or replaced links, 410 once expired or
    once the record was erased at the person's request (a genuine link whose record is gone, or
    one kept under a pseudonym as the proof of a publication: it no longer opens it)."""
    ref = links.read_token(CONSENT_LINK, token)
    if ref is not None and lock:
        begin_write(session)
    request = (
        session.get(ConsentRequest, ref.record_id, with_for_update=lock, populate_existing=lock)
        if ref
        else None
    )
    if ref is not None and (request is None or request.erase_requested_at is not None):
        raise Gone(
            "This consent record was deleted at the person's request, so this link no longer "
            "opens it."
        )
    if ref is None or request is None or request.link_version != ref.version:
        raise NotFound(
            "This consent link is not valid. It may have been replaced by a newer one: "
            "ask the person who sent it for a new link."
        )
    expires = link_expires_at(request)
    if expires is not None and utcnow() > expires:
        raise Gone("This consent link has expired. Ask the person who sent it for a new link.")
    return request


def qr_png(url: str) -> bytes:
    """A printable QR code of a link (ECC M, 10 px modules, quiet zone of 4)."""
    return qr_codes.png(url, level="M")


def reissue_link(*, session: Session, actor: Actor, request: ConsentRequest) -> ConsentRequest:
    """A fresh link; the previous one stops working at once. With an email address on the
    request, the new link is mailed to it (this is how staff re-send a request)."""
    request.link_version += 1
    request.link_issued_at = utcnow()
    session.add(request)
    _append(session, request, ConsentAction.link_reissued, ActorRole.staff, actor.label)
    audit.record(
        session=session,
        actor=actor,
        action="consent.link_reissued",
        entity_type="consent_request",
        entity_id=request.id,
        after={"link_version": request.link_version},
    )
    if effective_status(request) == ConsentStatus.pending:
        mails.send_request(session=session, actor=actor, request=request)
    return request


# --- decisions -----------------------------------------------------------------------------


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
    _append(
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
    event = _append(
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


def record_expiries(*, session: Session, at: datetime | None = None) -> int:
    """Write an `expired` event for consents that have passed their expiry (for the record only:
    checks already treat them as expired). Returns how many were marked."""
    at = at or utcnow()
    due = session.exec(
        select(ConsentRequest)
        .where(
            col(ConsentRequest.status).in_(
                (ConsentStatus.granted.value, ConsentStatus.pending.value)
            ),
            col(ConsentRequest.expires_at).is_not(None),
            col(ConsentRequest.expires_at) <= at,
        )
        .with_for_update()
    ).all()
    for request in due:
        before = request.status
        expiry = _append(session, request, ConsentAction.expired, ActorRole.system, SYSTEM.label)
        if before == ConsentStatus.granted and renewal_of(session=session, request=request) is None:
            mails.send_change(
                session=session,
                actor=SYSTEM,
                request=request,
                change="expired",
                event_id=expiry.id,
            )
        request.status = ConsentStatus.expired
        session.add(request)
        audit.record(
            session=session,
            actor=SYSTEM,
            action="consent.expired",
            entity_type="consent_request",
            entity_id=request.id,
            before={"status": before},
            after={"status": request.status},
        )
    session.flush()
    if due:
        expired_media = {m for r in due for m in media_ids(session=session, request=r)}
        signals.basis_changed.send(session=session, media_ids=expired_media)
    return len(due)


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


# --- renewal -------------------------------------------------------------------------------


def renewal_of(*, session: Session, request: ConsentRequest) -> ConsentRequest | None:
    return session.exec(
        select(ConsentRequest).where(ConsentRequest.renewed_from == request.id)
    ).first()


def renewed_expiry(request: ConsentRequest) -> datetime | None:
    """The end of a renewal made now: as long again as the consent first ran, from its end."""
    if request.expires_at is None:
        return None
    return request.expires_at + (request.expires_at - request.created_at)


def can_renew(*, session: Session, request: ConsentRequest, at: datetime | None = None) -> bool:
    """A granted consent with an end date may be renewed in its last reminder window."""
    at = at or utcnow()
    if effective_status(request, at) != ConsentStatus.granted or request.expires_at is None:
        return False
    window = timedelta(days=max(get_settings().consent_reminder_days, 1))
    return (
        request.expires_at - at <= window and renewal_of(session=session, request=request) is None
    )


def renew(
    *, session: Session, request: ConsentRequest, origin: Origin | None = None
) -> ConsentRequest:
    """The person renews their consent: a new request for the same media, purpose and channels,
    granted by them on the current notice, running on from the old one's end. Call with the
    request loaded `lock=True`."""
    if not can_renew(session=session, request=request):
        raise Conflict(
            "This consent cannot be renewed now (it is not in its last weeks, or it "
            "was already renewed, withdrawn or has ended)."
        )
    role = responder_role(request)
    actor = Actor.public(role.value)
    renewal = create_request(
        session=session,
        actor=actor,
        subject_name=request.subject_name,
        purpose=request.purpose,
        description=request.description,
        channels=request.channels,
        media_ids=media_ids(session=session, request=request),
        subject_email=request.subject_email,
        guardian_name=request.guardian_name,
        guardian_relation=request.guardian_relation,
        expires_at=renewed_expiry(request),
        send_email=False,
    )
    renewal.subject_ref = request.subject_ref
    renewal.renewed_from = request.id
    session.add(renewal)
    decide(
        session=session,
        request=renewal,
        decision="grant",
        notice_version=current_notice(session=session).version,
        origin=origin,
    )
    audit.record(
        session=session,
        actor=actor,
        action="consent.renewed",
        entity_type="consent_request",
        entity_id=request.id,
        after={"renewal": renewal.id, "expires_at": renewal.expires_at},
    )
    mails.send_change(
        session=session, actor=actor, request=request, change="renewed", event_id=None
    )
    return renewal


def status_counts(*, session: Session) -> dict[ConsentStatus, int]:
    """How many requests have each effective status now."""
    now = utcnow()
    return {
        status: session.exec(
            select(sa.func.count()).select_from(ConsentRequest).where(_status_clause(status, now))
        ).one()
        for status in ConsentStatus
    }
