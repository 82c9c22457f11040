"""Email to patients (or their guardian), queued: the consent request with its link (again when
staff re-send it), a reminder before a granted consent ends asking whether to renew, and a
receipt when a consent is revoked, expires or is renewed.

Queued through the outbox (`registry.mail`) in the caller's transaction and composed when sent
(`registry.consent.letters`): the link is the request's current one; none is stored.
"""

from __future__ import annotations

from sqlmodel import Session

from registry.audit.service import Actor
from registry.consent.models import ConsentRequest
from registry.mail import service as mail
from registry.mail.models import OutboxMessage

REQUEST = "consent.request"
REMINDER = "consent.reminder"
CHANGE = "consent.change"


def queue(
    session: Session, actor: Actor, kind: str, request: ConsentRequest, key: str, **payload: object
) -> OutboxMessage | None:
    """Queue a message to the person asked; None when the request has no email address."""
    if not request.subject_email:
        return None
    return mail.queue(
        session=session,
        actor=actor,
        kind=kind,
        key=key,
        entity_type="consent_request",
        record_id=request.id,
        to=request.subject_email,
        payload=dict(payload),
    )


def send_request(
    *, session: Session, actor: Actor, request: ConsentRequest
) -> OutboxMessage | None:
    """The request and its link (one message per link version: a re-send after re-issuing the
    link is a new message; asking twice for the same link sends once)."""
    return queue(session, actor, REQUEST, request, f"{REQUEST}:{request.id}:{request.link_version}")


def send_change(
    *, session: Session, actor: Actor, request: ConsentRequest, change: str, event_id: int | None
) -> OutboxMessage | None:
    """A receipt of a change the person should hear of: revoked, expired, renewed."""
    return queue(
        session, actor, CHANGE, request, f"{CHANGE}:{request.id}:{event_id}", change=change
    )
