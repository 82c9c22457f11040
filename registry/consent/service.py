"""Consent requests: create, find, list, and their status and history.

The record is the append-only `consent_event` history; `ConsentRequest.status` caches the latest
decision. Expiry is never cached-only: `effective_status` treats a consent past `expires_at` as
expired at once, whether or not `renewals.record_expiries` has run. The link is in `links`,
decisions in `decisions`, the end of a consent and its renewal in `renewals`, the notice text in
`notices`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry import channels as channel_names
from registry.addresses import one_address
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.consent import mails
from registry.consent.models import (
    ActorRole,
    ConsentAction,
    ConsentEvent,
    ConsentMedia,
    ConsentRequest,
    ConsentStatus,
)
from registry.consent.notices import current_notice
from registry.db import begin_write, utcnow
from registry.errors import Invalid, NotFound
from registry.origin import Origin


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
    append_event(session, request, ConsentAction.requested, ActorRole.staff, actor.label)
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


def append_event(
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
    """Add one row to the request's history: every change to a consent is a new row, never an
    edit, so the history is the proof of what was decided and when."""
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


def status_counts(*, session: Session) -> dict[ConsentStatus, int]:
    """How many requests have each effective status now."""
    now = utcnow()
    return {
        status: session.exec(
            select(sa.func.count()).select_from(ConsentRequest).where(_status_clause(status, now))
        ).one()
        for status in ConsentStatus
    }
