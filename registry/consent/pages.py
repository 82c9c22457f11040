"""Consent pages: staff list/create/detail and notice editing; the patient's page at /c/{token}."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import Field
from sqlmodel import Session

from registry import zones
from registry.auth import service as auth
from registry.config import get_settings
from registry.consent import decisions, links, notices, receipt, renewals, service
from registry.consent.deps import (
    LinkedConsent,
    LinkedConsentForUpdate,
    PageConsent,
    PageConsentForUpdate,
)
from registry.consent.models import ConsentRequest, ConsentStatus
from registry.consent.schemas import ConsentRequestForm
from registry.deps import MAX_ROW, PageActor, PageAdmin, PageAdminActor, PageStaff, SessionDep
from registry.downloads import attachment
from registry.errors import Invalid, NotFound, render_on_error
from registry.events import service as events_service
from registry.mail import service as mail
from registry.media import renditions
from registry.media import service as media_service
from registry.organisation import service as organisation
from registry.origin import origin_of
from registry.web import last_day, page_router, redirect, render

router = page_router()

EXPIRING_DAYS = 30


def _receipt_response(session: SessionDep, request: ConsentRequest) -> Response:
    """The machine-readable receipt (ISO/IEC TS 27560 fields, JSON)."""
    document = receipt.build_receipt(session=session, request=request)
    body = json.dumps(document.model_dump(mode="json"), indent=2)
    return attachment(body.encode(), "application/json", receipt.receipt_filename(request))


def _receipt_pdf(session: SessionDep, request: ConsentRequest) -> Response:
    """The receipt people read, as a PDF to keep or print."""
    return attachment(
        receipt.receipt_pdf(session=session, request=request),
        "application/pdf",
        receipt.receipt_filename(request, "pdf"),
    )


# --- staff ---------------------------------------------------------------------------------


@router.get("/consents")
def consents_list(
    request: Request, staff: PageStaff, session: SessionDep, status: str = ""
) -> Response:
    chosen = ConsentStatus(status) if status in ConsentStatus.__members__ else None
    return render(
        request,
        "consent/list.html",
        {
            "requests": service.list_requests(session=session, status=chosen),
            "expiring": service.list_requests(session=session, expiring_within_days=EXPIRING_DAYS),
            "chosen": chosen,
            "statuses": list(ConsentStatus),
            "status_of": service.effective_status,
            "expiring_days": EXPIRING_DAYS,
        },
    )


def _picker(
    session: SessionDep, *, source: str, query: str, chosen: list[uuid.UUID]
) -> dict[str, Any]:
    """What the media picker shows: the chosen items first, then candidates from the source
    (media not from an event, or one event's photos) whose file name contains the query."""
    event_id = None
    if source not in ("", "recent"):
        try:
            event_id = uuid.UUID(source)
        except ValueError:
            source = "recent"
    candidates = media_service.list_media(
        session=session,
        event_id=event_id,
        without_event=event_id is None,
        name_contains=query.strip() or None,
        limit=PICKER_LIMIT,
    )
    selected = media_service.media_by_ids(session=session, ids=chosen)
    picked = {m.id for m in selected}
    return {
        "source": source or "recent",
        "query": query,
        "events": events_service.list_events(session=session),
        "selected": selected,
        "candidates": [m for m in candidates if m.id not in picked],
        "limit": PICKER_LIMIT,
    }


PICKER_LIMIT = 60


def _new_form_context(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    return {
        "form": form,
        "channels": get_settings().channels,
        "picker": _picker(
            session,
            source=form.get("source", ""),
            query=form.get("q", ""),
            chosen=form.get("media", []),
        ),
    }


def _new_form(request: Request, session: Session, form: dict[str, Any]) -> Response:
    return render(request, "consent/new.html", _new_form_context(session, form))


@router.get("/consents/new")
def consents_new(
    request: Request, staff: PageStaff, session: SessionDep, media_id: str = "", source: str = ""
) -> Response:
    """The form; `media_id` (from a photo's page) starts with that media chosen and shows its
    event's photos (or the recent uploads) to pick more from."""
    chosen = _parse_media([media_id[:40]]) if media_id else []
    if chosen and not source:
        found = media_service.media_by_ids(session=session, ids=chosen)
        source = str(found[0].event_id) if found and found[0].event_id else "recent"
    return _new_form(request, session, {"channels": [], "media": chosen, "source": source})


def _parse_media(values: list[str]) -> list[uuid.UUID]:
    """Chosen media ids (checkboxes; ids pasted one per line also work), in order, once each."""
    out: list[uuid.UUID] = []
    for value in values:
        for word in value.split():
            try:
                media_id = uuid.UUID(word.strip())
            except ValueError:
                raise Invalid("Choose media from the list (or paste their ids).") from None
            if media_id not in out:
                out.append(media_id)
    return out


def _parse_expiry(value: str) -> datetime | None:
    """A date field: the consent lasts until the end of that day in the organisation's zone."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise Invalid("Enter the end date as a date.") from None
    return zones.end_of_day(day, get_settings().timezone)


class NewConsentForm(ConsentRequestForm):
    """The request's fields, and the media picker's: which media to show (`source`: recent
    uploads or an event's photos), the file-name search `q`, and whether to `show` other media
    or `create` the request."""

    source: str = Field(default="", max_length=40)
    q: str = Field(default="", max_length=200)
    action: str = Field(default="create", max_length=10)


@router.post("/consents")
def consents_create(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    form: Annotated[NewConsentForm, Form()],
) -> Response:
    """Create the request; `action=show` only re-shows the form with other media to pick from
    (a POST, so that nothing typed about the patient ever goes into a URL)."""
    shown: dict[str, Any] = {**form.model_dump(exclude={"media_ids", "action"}), "media": []}
    with render_on_error("consent/new.html", load=lambda s: _new_form_context(s, shown)):
        shown["media"] = _parse_media(form.media_ids)
        if form.action == "show":
            return _new_form(request, session, shown)
        consent = service.create_request(
            session=session,
            actor=actor,
            subject_name=form.subject_name,
            subject_email=form.subject_email,
            guardian_name=form.guardian_name,
            guardian_relation=form.guardian_relation,
            purpose=form.purpose,
            description=form.description,
            channels=form.channels,
            media_ids=shown["media"],
            expires_at=_parse_expiry(form.expires_on),
        )
    sent = (
        " It is emailed to them; you can also copy the link below or print the QR code."
        if consent.subject_email
        else " Copy the patient's link below or print the QR code."
    )
    return redirect(f"/consents/{consent.id}", message="Request created." + sent)


@router.get("/consents/notice")
def notice_page(request: Request, staff: PageAdmin, session: SessionDep) -> Response:
    return render(
        request,
        "consent/notice.html",
        {"versions": list(reversed(notices.notice_history(session=session)))},
    )


@router.post("/consents/notice")
def notice_save(
    request: Request,
    actor: PageAdminActor,
    session: SessionDep,
    text: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    with render_on_error(
        "consent/notice.html",
        {"draft": text},
        load=lambda s: {"versions": list(reversed(notices.notice_history(session=s)))},
    ):
        notice = notices.update_notice(session=session, actor=actor, text=text)
    return redirect("/consents/notice", message=f"The notice is now version {notice.version}.")


@router.get("/consents/{request_id}")
def consent_detail(
    request: Request, staff: PageStaff, consent: PageConsent, session: SessionDep
) -> Response:
    history = service.history(session=session, request=consent)
    return render(
        request,
        "consent/detail.html",
        {
            "people": auth.display_names(session=session, labels={h.actor for h in history}),
            "consent": consent,
            "status": service.effective_status(consent),
            "link": links.link_url(consent),
            "link_expires_at": links.link_expires_at(consent),
            "history": history,
            "media_ids": service.media_ids(session=session, request=consent),
            "delivery": mail.latest_for(session=session, record_ids=[consent.id]).get(consent.id),
        },
    )


@router.get("/consents/{request_id}/qr.png")
def consent_qr(staff: PageStaff, consent: PageConsent) -> Response:
    return Response(
        links.qr_png(links.link_url(consent)),
        media_type="image/png",
        headers={"Content-Disposition": f'inline; filename="consent-link-{consent.id}.png"'},
    )


@router.get("/consents/{request_id}/receipt")
def consent_receipt_staff(staff: PageStaff, consent: PageConsent, session: SessionDep) -> Response:
    return _receipt_response(session, consent)


@router.get("/consents/{request_id}/receipt.pdf")
def consent_receipt_staff_pdf(
    staff: PageStaff, consent: PageConsent, session: SessionDep
) -> Response:
    return _receipt_pdf(session, consent)


@router.post("/consents/{request_id}/link")
def consent_reissue(
    actor: PageActor, consent: PageConsentForUpdate, session: SessionDep
) -> Response:
    links.reissue_link(session=session, actor=actor, request=consent)
    mailed = consent.subject_email and service.effective_status(consent) == ConsentStatus.pending
    return redirect(
        f"/consents/{consent.id}",
        message="New link issued: the old link no longer works."
        + (" The new one is emailed to the patient." if mailed else ""),
    )


@router.post("/consents/{request_id}/revoke")
def consent_revoke_staff(
    actor: PageActor,
    consent: PageConsentForUpdate,
    session: SessionDep,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if not note.strip():
        return redirect(
            f"/consents/{consent.id}",
            message="Say how the withdrawal was received (e.g. by phone, and when).",
            category="error",
        )
    decisions.revoke_for_patient(session=session, actor=actor, request=consent, note=note)
    return redirect(f"/consents/{consent.id}", message="Withdrawal recorded.")


# --- public: the patient's consent page ----------------------------------------------------

DECISIONS: dict[str, decisions.Decision] = {
    "grant": "grant",
    "decline": "decline",
    "revoke": "revoke",
}
CONFIRMATIONS = {
    "granted": "Thank you: your consent is recorded. You can withdraw it on this page at any time.",
    "declined": "Your answer is recorded: we will not use these media. This has no effect on "
    "your care.",
    "revoked": "Your consent is withdrawn. We have stopped any new use and asked for the media to "
    "be taken down where we published them. Copies already shared by others may persist.",
}


@router.get("/c/{token}")
def consent_page(
    request: Request, token: str, consent: LinkedConsent, session: SessionDep
) -> Response:
    decisions.record_view(session=session, request=consent, origin=origin_of(request))
    renewal = renewals.renewal_of(session=session, request=consent)
    return render(
        request,
        "consent/patient.html",
        {
            "consent": consent,
            "token": token,
            "status": service.effective_status(consent),
            "notice": notices.current_notice(session=session),
            "media_ids": service.media_ids(session=session, request=consent),
            "org": organisation.profile(session=session),
            "can_renew": renewals.can_renew(session=session, request=consent),
            "renewed_until": renewals.renewed_expiry(consent),
            "renewal": renewal,
            "renewal_link": links.link_url(renewal) if renewal else None,
        },
    )


@router.post("/c/{token}")
def consent_decide(
    request: Request,
    token: str,
    consent: LinkedConsentForUpdate,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=10)] = "",
    notice_version: Annotated[int, Form(ge=1, le=MAX_ROW)] = 1,
) -> Response:
    if decision == "renew":
        renewal = renewals.renew(session=session, request=consent, origin=origin_of(request))
        return redirect(
            f"/c/{links.link_token(renewal)}#answer-h",
            message="Renewed: your consent continues until "
            f"{last_day(renewal.expires_at)}. This is its new page; keep this link.",
            place="decision",
        )
    if decision not in DECISIONS:
        raise Invalid("Choose one of the buttons on the page.")
    # The notice version recorded is the one the server showed this person (their last view),
    # never what the form claims: `notice_version` is kept for old forms and not trusted.
    del notice_version
    decisions.decide(
        session=session,
        request=consent,
        decision=DECISIONS[decision],
        notice_version=decisions.last_seen_notice(session=session, request=consent),
        origin=origin_of(request),
    )
    status = service.effective_status(consent)
    return redirect(
        f"/c/{token}#answer-h",
        message=CONFIRMATIONS.get(status.value, "Recorded."),
        place="decision",
    )


@router.get("/c/{token}/media/{media_id}")
def consent_media_thumbnail(
    consent: LinkedConsent, media_id: uuid.UUID, session: SessionDep
) -> Response:
    """A thumbnail of a photo this consent covers (and of no other), for the patient's page."""
    if not service.covers_media(session=session, request=consent, media_id=media_id):
        raise NotFound("This request does not cover that media.")
    media = media_service.get_media(session=session, media_id=media_id)
    return Response(
        renditions.small_copy(media=media, kind="thumbs"),
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/c/{token}/receipt")
def consent_receipt_public(
    request: Request, token: str, consent: LinkedConsent, session: SessionDep
) -> Response:
    """The receipt as a page to read (and print), with the PDF and the JSON to download."""
    return render(
        request,
        "consent/receipt.html",
        {
            "receipt": receipt.readable(session=session, request=consent),
            "pdf_url": f"/c/{token}/receipt.pdf",
            "json_url": f"/c/{token}/receipt.json",
            "back_url": f"/c/{token}",
        },
        headers={"Referrer-Policy": "no-referrer"},
    )


@router.get("/c/{token}/receipt.pdf")
def consent_receipt_public_pdf(consent: LinkedConsent, session: SessionDep) -> Response:
    return _receipt_pdf(session, consent)


@router.get("/c/{token}/receipt.json")
def consent_receipt_public_json(consent: LinkedConsent, session: SessionDep) -> Response:
    return _receipt_response(session, consent)
