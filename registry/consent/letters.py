"""Composing patients' email when it is sent, and queueing renewal reminders."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.consent import links, renewals, service
from registry.consent.mails import CHANGE, REMINDER, REQUEST, queue
from registry.consent.models import ConsentRequest, ConsentStatus
from registry.db import utcnow
from registry.mail import service as mail
from registry.mail.models import OutboxMessage


def queue_reminders(*, session: Session, now: datetime | None = None) -> int:
    """Ask whether to renew every granted consent ending within `REGISTRY_CONSENT_REMINDER_DAYS`
    (once per consent and end date)."""
    days = get_settings().consent_reminder_days
    if days <= 0:
        return 0
    now = now or utcnow()
    due = session.exec(
        select(ConsentRequest).where(
            ConsentRequest.status == ConsentStatus.granted,
            col(ConsentRequest.subject_email).is_not(None),
            col(ConsentRequest.expires_at) > now,
            col(ConsentRequest.expires_at) <= now + timedelta(days=days),
        )
    ).all()
    queued = 0
    for request in due:
        if renewals.renewal_of(session=session, request=request) is not None:
            continue  # already renewed
        assert request.expires_at is not None
        key = f"{REMINDER}:{request.id}:{request.expires_at.isoformat()}"
        if session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).first():
            continue
        queue(session, SYSTEM, REMINDER, request, key)
        queued += 1
    return queued


def render(session: Session, message: OutboxMessage) -> mail.Letter | None:
    request = session.get(ConsentRequest, message.record_id) if message.record_id else None
    if request is None or not request.subject_email:
        return None
    status = service.effective_status(request)
    if message.kind == REQUEST and status != ConsentStatus.pending:
        return None  # decided before the mail went: nothing to ask
    if message.kind == REMINDER and (
        status != ConsentStatus.granted
        or renewals.renewal_of(session=session, request=request) is not None
    ):
        return None
    context: dict[str, object] = {
        "request": request,
        "greeting": request.guardian_name or request.subject_name,
        "for_someone": bool(request.guardian_name),
        "status": status.value,
        "link": links.link_url(request),
        "link_expires": links.link_expires_at(request),
        "renewed_until": renewals.renewed_expiry(request),
        "renewal": None,
    }
    if message.kind == REQUEST:
        subject = "Your consent is asked: " + request.purpose[:80]
        template = "consent_request"
    elif message.kind == REMINDER:
        subject = "Your consent ends soon: renew it or let it end"
        template = "consent_reminder"
    else:
        change = str(message.payload.get("change", status.value))
        context["change"] = change
        if change == "renewed":
            renewal = renewals.renewal_of(session=session, request=request)
            context["renewal"] = renewal
            if renewal is not None:
                context["link"] = links.link_url(renewal)
        subject = {
            "revoked": "Receipt: you withdrew your consent",
            "expired": "Receipt: your consent has ended",
            "renewed": "Receipt: you renewed your consent",
        }.get(change, "Receipt: your consent changed")
        template = "consent_change"
    return mail.Letter(
        to=[request.subject_email], subject=subject, template=template, context=context
    )


def register() -> None:
    for kind in (REQUEST, REMINDER, CHANGE):
        mail.register(kind, render)
