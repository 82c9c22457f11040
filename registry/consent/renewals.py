"""The end of a consent: recording that it expired (and telling the person), and renewing it,
which the person may do in its last weeks."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from registry import signals
from registry.audit import service as audit
from registry.audit.service import SYSTEM, Actor
from registry.config import get_settings
from registry.consent import mails
from registry.consent.decisions import decide, responder_role
from registry.consent.models import ActorRole, ConsentAction, ConsentRequest, ConsentStatus
from registry.consent.notices import current_notice
from registry.consent.service import append_event, create_request, effective_status, media_ids
from registry.db import utcnow
from registry.errors import Conflict
from registry.origin import Origin


def record_expiries(
    *, session: Session, at: datetime | None = None, limit: int | None = None
) -> int:
    """Write an `expired` event for consents that have passed their expiry (for the record only:
    checks already treat them as expired). Returns how many were marked: at most `limit`, the
    earliest first (so a caller can take many in short transactions)."""
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
        .order_by(col(ConsentRequest.expires_at), col(ConsentRequest.id))
        .limit(limit)
        .with_for_update()
    ).all()
    for request in due:
        before = request.status
        expiry = append_event(
            session, request, ConsentAction.expired, ActorRole.system, SYSTEM.label
        )
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
