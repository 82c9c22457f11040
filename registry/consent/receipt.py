"""Consent receipts carrying the mandatory fields of ISO/IEC TS 27560:2023.

Field names follow the standard's elements (snake_case, as in the W3C DPVCG's JSON guide for
27560); where Kantara Consent Receipt v1.1 has a name for the same thing it is used, in
snake_case (`pii_controllers[].pii_controller`, `policy_url`, `consent_timestamp`,
`collection_method`, `services[].purposes[].termination`, `third_party_disclosure`, `spi_cat`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from registry import channels as channel_names
from registry import documents, zones
from registry.config import Settings, get_settings
from registry.consent import notices, service
from registry.consent.models import ConsentAction, ConsentEvent, ConsentRequest
from registry.consent.schemas import (
    RECEIPT_SCHEMA,
    ConsentReceipt,
    ControllerParty,
    GuardianParty,
    Party,
    PrincipalParty,
    ReceiptController,
    ReceiptEvent,
    ReceiptNotice,
    ReceiptPurpose,
    ReceiptService,
    RequestOrigin,
)
from registry.db import utcnow
from registry.documents import Section
from registry.organisation import service as organisation
from registry.organisation.service import Profile

LANGUAGE = "en"

_STATE = {
    ConsentAction.requested: "requested",
    ConsentAction.granted: "given",
    ConsentAction.declined: "refused",
    ConsentAction.revoked: "withdrawn",
    ConsentAction.expired: "expired",
}

_TYPE = {
    ConsentAction.requested: "consent_requested",
    ConsentAction.viewed: "notice_viewed",
    ConsentAction.granted: "explicitly_expressed",
    ConsentAction.declined: "explicitly_expressed",
    ConsentAction.revoked: "explicitly_expressed",
    ConsentAction.expired: "expiry",
    ConsentAction.link_reissued: "link_reissued",
}


def _duration(start: datetime, end: datetime | None) -> str:
    """ISO 8601 duration from start to end, or 'until withdrawn' when open-ended."""
    if end is None:
        return "until withdrawn"
    seconds = max(0, int((end - start).total_seconds()))
    days, rest = divmod(seconds, 86_400)
    return f"P{days}DT{rest // 3600}H{rest % 3600 // 60}M"


def _entity(request: ConsentRequest, event: ConsentEvent) -> str:
    if event.actor_role == "guardian":
        return f"guardian ({request.guardian_relation or 'proxy'}) on behalf of the PII principal"
    if event.actor_role == "patient":
        return "PII principal"
    return event.actor


def _events(request: ConsentRequest, events: list[ConsentEvent]) -> list[ReceiptEvent]:
    out, state = [], "requested"
    for event in events:
        state = _STATE.get(ConsentAction(event.action), state)
        given = event.action == ConsentAction.granted
        out.append(
            ReceiptEvent(
                event_time=event.at,
                validity_duration=_duration(event.at, request.expires_at) if given else None,
                event_type=_TYPE[ConsentAction(event.action)],
                event_state=state,
                entity=_entity(request, event),
                notice_version=event.notice_version,
                request_origin=RequestOrigin(user_agent=event.user_agent, ip=event.ip_prefix)
                if event.user_agent or event.ip_prefix
                else None,
            )
        )
    return out


def _notice_decided_on(
    session: Session, request: ConsentRequest, events: list[ConsentEvent]
) -> ReceiptNotice:
    """The notice of the latest decision (the one at request time while none was made)."""
    decisions = [e for e in events if e.action in _STATE and e.action != ConsentAction.requested]
    version = decisions[-1].notice_version if decisions else request.notice_version
    notice = notices.get_notice(session=session, version=version)
    return ReceiptNotice(
        notice_id=f"consent-notice/v{notice.version}",
        version=notice.version,
        text=notice.text,
        sha256=hashlib.sha256(notice.text.encode()).hexdigest(),
        language=LANGUAGE,
    )


def _controller(org: Profile, settings: Settings) -> ReceiptController:
    return ReceiptController(
        pii_controller=org.display_name,
        contact=org.email or None,
        address=org.address or None,
        email=org.email or None,
        pii_controller_url=settings.base_url,
    )


def _retention(request: ConsentRequest, settings: Settings) -> str:
    return (
        f"Media used until {request.expires_at.date().isoformat()} or until consent is withdrawn"
        if request.expires_at
        else "Media used until consent is withdrawn"
    ) + (
        f"; this consent record is kept for {settings.consent_record_years} years after the "
        "consent ends, as proof."
    )


def _purpose(
    *, session: Session, request: ConsentRequest, org: Profile, settings: Settings
) -> ReceiptPurpose:
    retention = _retention(request, settings)
    return ReceiptPurpose(
        purpose_id=f"urn:uuid:{request.id}#purpose",
        purpose=request.purpose,
        purpose_category=["publication of identifiable media"],
        lawful_basis="consent (GDPR Art. 6(1)(a) and, for health data, Art. 9(2)(a))",
        consent_type="explicit",
        primary_purpose=True,
        pii_information=[
            f"Images or video in which the PII principal can be identified: {request.description}"
        ],
        pii_category=["image", "health context"],
        media_ids=[str(m) for m in service.media_ids(session=session, request=request)],
        channels=list(request.channels),
        pii_controllers=[_controller(org, settings)],
        collection_method="photographs and video taken by or for the controller",
        storage_locations=[settings.storage_location],
        retention_period=retention,
        termination=retention,
        processing_locations=[settings.storage_location],
        jurisdiction=settings.jurisdiction,
        third_party_disclosure="public_social" in request.channels or "print" in request.channels,
        recipient_third_parties=[channel_names.words(c) for c in request.channels],
        withdrawal_method=(
            "Open the consent link you were given and choose 'Withdraw consent' (one step), or "
            f"contact {org.email or org.display_name}. Withdrawal stops new use and triggers "
            "removal; copies already shared by others cannot be guaranteed to disappear."
        ),
        privacy_rights=[
            "withdraw consent at any time",
            "access",
            "rectification",
            "erasure",
            "complain to the supervisory authority",
        ],
    )


def _parties(request: ConsentRequest, org: Profile) -> list[Party]:
    parties: list[Party] = [
        PrincipalParty(name=request.subject_name, email=request.subject_email),
        ControllerParty(name=org.display_name),
    ]
    if request.guardian_name:
        parties.append(
            GuardianParty(name=request.guardian_name, relation=request.guardian_relation)
        )
    return parties


def build_receipt(*, session: Session, request: ConsentRequest) -> ConsentReceipt:
    """The receipt of one consent record (`model_dump(mode="json")` for its JSON)."""
    settings = get_settings()
    org = organisation.profile(session=session)
    events = service.history(session=session, request=request)
    granted_at = next((e.at for e in reversed(events) if e.action == ConsentAction.granted), None)
    return ConsentReceipt(
        record_id=f"urn:uuid:{request.id}",
        receipt_issued_at=utcnow(),
        pii_principal_id=f"urn:uuid:{request.subject_ref}",
        language=LANGUAGE,
        jurisdiction=settings.jurisdiction,
        status=service.effective_status(request),
        consent_timestamp=granted_at,
        collection_method="web form reached by a personal link (no account)",
        sensitive=True,
        spi_cat=["health"],
        policy_url=org.privacy_policy_url or None,
        privacy_notice=_notice_decided_on(session, request, events),
        pii_controllers=[_controller(org, settings)],
        purposes=[_purpose(session=session, request=request, org=org, settings=settings)],
        services=[ReceiptService(service="media publication", purposes=[request.purpose])],
        valid_until=request.expires_at,
        parties=_parties(request, org),
        event=_events(request, events),
    )


def receipt_filename(request: ConsentRequest, ext: str = "json") -> str:
    return f"consent-receipt-{request.id}.{ext}"


_ACTION_WORDS = {
    "requested": "Asked for consent",
    "viewed": "Opened the consent page",
    "granted": "Gave consent",
    "declined": "Said no",
    "revoked": "Withdrew consent",
    "expired": "The consent ended (its end date passed)",
    "link_reissued": "A new link was issued (the old one stopped working)",
}
_STATUS_WORDS = {
    "pending": "Not answered yet",
    "granted": "Consent given",
    "declined": "Said no",
    "revoked": "Consent withdrawn",
    "expired": "Consent ended",
}


def _who(request: ConsentRequest, role: str) -> str:
    if role == "patient":
        return request.subject_name
    if role == "guardian":
        return f"{request.guardian_name or 'representative'} (on the patient's behalf)"
    if role == "system":
        return "the registry"
    return "a member of staff"


@dataclass(frozen=True)
class Readable:
    """A receipt as people read it (the HTML page and the PDF show the same)."""

    title: str
    intro: list[str]
    sections: list[Section]
    footer: str


def readable(*, session: Session, request: ConsentRequest) -> Readable:
    """The receipt in words: who asked, what for, where, until when, what was decided and when,
    and how to withdraw or use the other rights."""
    data = build_receipt(session=session, request=request)
    org = organisation.profile(session=session)
    tz = get_settings().timezone
    status = data.status.value
    return Readable(
        title="Consent receipt",
        intro=[
            f"This is a record of what {org.display_name} asked and what was decided. Keep it: "
            "it shows what you agreed to and how to change your mind.",
            f"Status now: {_STATUS_WORDS.get(status, status)}.",
        ],
        sections=[
            Section("Who asked", facts=_contact(org)),
            Section("What you were asked", facts=_what_was_asked(request, data.purposes[0], tz)),
            Section("What happened", items=_history(session, request, tz)),
            Section("Your rights", paragraphs=_rights(org, data.purposes[0])),
            Section(
                "The notice you were shown",
                facts=[
                    ("Version", str(data.privacy_notice.version)),
                    ("Fingerprint (SHA-256)", data.privacy_notice.sha256),
                ],
                paragraphs=[data.privacy_notice.text],
            ),
        ],
        footer=f"Record {data.record_id} · issued {_when(utcnow(), tz)} · "
        f"{RECEIPT_SCHEMA} receipt also available as JSON",
    )


def _contact(org: Profile) -> list[tuple[str, str]]:
    contact = [("Organisation (data controller)", org.display_name)]
    if org.email:
        contact.append(("Privacy contact", org.email))
    if org.address:
        contact.append(("Address", org.address))
    if org.privacy_policy_url:
        contact.append(("Privacy policy", org.privacy_policy_url))
    return contact


def _what_was_asked(
    request: ConsentRequest, purpose: ReceiptPurpose, tz: str
) -> list[tuple[str, str]]:
    people = [("Whose images", request.subject_name)]
    if request.guardian_name:
        people.append(
            (
                "Decided by",
                f"{request.guardian_name} ({request.guardian_relation or 'representative'}), "
                "on the patient's behalf",
            )
        )
    until = (
        f"Until the end of {_day(request.expires_at, tz)}, or until withdrawn if sooner"
        if request.expires_at
        else "Until withdrawn"
    )
    return [
        *people,
        ("Purpose", request.purpose),
        ("What the media show", request.description),
        ("How many items", str(len(purpose.media_ids)) if purpose.media_ids else "—"),
        ("Where they may appear", "; ".join(purpose.recipient_third_parties)),
        ("For how long", until),
    ]


def _history(session: Session, request: ConsentRequest, tz: str) -> list[str]:
    return [
        f"{_when(e.at, tz)}: {_ACTION_WORDS.get(str(e.action), str(e.action))} — "
        f"{_who(request, str(e.actor_role))} (notice version {e.notice_version})"
        for e in service.history(session=session, request=request)
    ]


def _rights(org: Profile, purpose: ReceiptPurpose) -> list[str]:
    return [
        purpose.withdrawal_method,
        "You may also see the data held about you (download your whole record from "
        "your consent page at any time), ask for it to be corrected or erased (write "
        f"to {org.email or org.display_name}), and complain to the data "
        f"protection authority ({settings_jurisdiction()}). Saying no or withdrawing "
        "has no effect on your care.",
        purpose.retention_period,
    ]


def settings_jurisdiction() -> str:
    """Who people complain to, in words, for the configured jurisdiction."""
    code = get_settings().jurisdiction
    return {"GB": "in the UK, the ICO"}.get(code, code)


def _when(value: datetime, tz: str) -> str:
    local = zones.in_zone(value, tz)
    assert local is not None
    return f"{local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def _day(value: datetime, tz: str) -> str:
    local = zones.in_zone(value - timedelta(microseconds=1), tz)
    assert local is not None
    return f"{local.day} {local:%B %Y}"


def receipt_pdf(*, session: Session, request: ConsentRequest) -> bytes:
    """The readable receipt as a PDF."""
    doc = readable(session=session, request=request)
    return documents.render(
        title=doc.title, intro=doc.intro, sections=doc.sections, footer=doc.footer
    )
