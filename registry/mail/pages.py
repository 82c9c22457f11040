"""The staff Outbox page: every message with its state (never its text or link), and a retry."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from registry.deps import PageActor, PageStaff, RowId, SessionDep
from registry.errors import Invalid
from registry.mail import service, transport
from registry.mail.models import MailState
from registry.web import page_router, redirect, render

router = page_router()

KIND_WORDS = {
    "booking.confirmation": "Booking confirmation (with badge)",
    "booking.link": "Booking link",
    "booking.choice": "Change of choice confirmed",
    "event.reminder": "Event reminder",
    "consent.request": "Consent request",
    "consent.reminder": "Consent ending: renew?",
    "consent.change": "Consent receipt",
    "staff.notice": "Staff notice",
}


@router.get("/outbox")
def outbox(request: Request, staff: PageStaff, session: SessionDep, state: str = "") -> Response:
    if state and state not in MailState.__members__:
        raise Invalid("Unknown message state.", field="state")
    chosen = MailState(state) if state else None
    return render(
        request,
        "outbox/list.html",
        {
            "messages": service.list_messages(session=session, state=chosen),
            "counts": service.state_counts(session=session),
            "chosen": state,
            "mail_on": transport.configured(),
            "kind_words": KIND_WORDS,
        },
    )


@router.post("/outbox/{message_id}/retry")
def outbox_retry(message_id: RowId, actor: PageActor, session: SessionDep) -> Response:
    message = service.retry(session=session, actor=actor, message_id=message_id)
    return redirect(
        "/outbox", message=f"Message {message.id} is queued again; it is sent in a moment."
    )
