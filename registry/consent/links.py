"""The patient's personal consent link: made from the request (never stored), re-issued to replace
it, expiring some days after last use unless the consent is in force, and printed as a QR code."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from registry import qr_codes
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.config import get_settings
from registry.consent import mails
from registry.consent.models import ActorRole, ConsentAction, ConsentRequest, ConsentStatus
from registry.consent.service import append_event, effective_status
from registry.db import begin_write, utcnow
from registry.errors import Gone, NotFound
from registry.links import make_token, read_token

CONSENT_LINK = "consent"


def link_token(request: ConsentRequest) -> str:
    return make_token(CONSENT_LINK, request.id, request.link_version)


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
    ref = read_token(CONSENT_LINK, token)
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
    append_event(session, request, ConsentAction.link_reissued, ActorRole.staff, actor.label)
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
