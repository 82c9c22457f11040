"""What people do about their own data through their private links: download it, object to one
photo, erase their booking."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from registry.audit.service import Actor
from registry.auth.throttle import Throttle
from registry.consent import links as consent_links
from registry.deps import LinkThrottleDep, SessionDep
from registry.downloads import attachment
from registry.errors import Invalid, NotFound, RateLimited, redirect_on_error
from registry.events import service as events
from registry.media.models import Media
from registry.origin import origin_of
from registry.plurals import count
from registry.rights import erasure, export, objections
from registry.web import page_router, redirect, render

router = page_router()
ATTENDEE = Actor.public("attendee")
PATIENT = Actor.public("patient")
CONFIRM_ERASE = "erase"


EXPORTS_PER_RECORD = 10  # per link-request window (an hour by default)
EXPORTS_PER_NETWORK = 30


def _export_wait(throttle: Throttle, request: Request, record: uuid.UUID) -> None:
    """Downloads decode photos: limited per record and per client network (429 past it)."""
    keys = [
        (f"export:record:{record}", EXPORTS_PER_RECORD),
        (f"export:network:{origin_of(request).ip_prefix or 'unknown'}", EXPORTS_PER_NETWORK),
    ]
    wait = throttle.retry_after(keys)
    if wait:
        raise RateLimited(
            f"Too many downloads of this record or from this network. Try again in "
            f"{count(max(1, (wait + 59) // 60), 'minute')}.",
            retry_after=wait,
        )
    throttle.fail([key for key, _ in keys])


@router.get("/b/{token}/export")
def attendee_export(
    request: Request, token: str, session: SessionDep, throttle: LinkThrottleDep
) -> Response:
    booking, event = events.booking_for_token(session=session, token=token)
    _export_wait(throttle, request, booking.id)
    data = export.attendee_export(session=session, booking=booking, event=event, actor=ATTENDEE)
    return attachment(data, "application/zip", "my-data.zip")


@router.get("/c/{token}/export")
def patient_export(
    request: Request, token: str, session: SessionDep, throttle: LinkThrottleDep
) -> Response:
    record = consent_links.request_for_token(session=session, token=token)
    _export_wait(throttle, request, record.id)
    data = export.patient_export(session=session, request=record, actor=PATIENT)
    return attachment(data, "application/zip", "my-consent-record.zip")


@router.get("/b/{token}/photos")
def photos(request: Request, token: str, session: SessionDep) -> Response:
    """The event's photos and videos they were found in, each with "not this photo"."""
    booking, event = events.booking_for_token(session=session, token=token)
    return render(
        request,
        "rights/photos.html",
        {
            "booking": booking,
            "event": event,
            "token": token,
            "found": objections.found_in(session=session, booking=booking),
        },
    )


@router.get("/b/{token}/photos/{media_id}")
def photo(token: str, media_id: uuid.UUID, session: SessionDep) -> Response:
    """One photo their page lists, as their export holds it: everyone else's face covered."""
    booking, _event = events.booking_for_token(session=session, token=token)
    media = objections.shown_photo(session=session, booking=booking, media_id=media_id)
    return Response(
        export.covered_photo(session=session, booking=booking, media=media),
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store"},
    )


@router.post("/b/{token}/objections")
def object_to_photo(
    request: Request,
    token: str,
    session: SessionDep,
    throttle: LinkThrottleDep,
    reference: Annotated[str, Form(max_length=2000)] = "",
    explanation: Annotated[str, Form(max_length=2000)] = "",
    media_id: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    """ "Not this photo": chosen from the list of photos they were found in, or named by the
    address where they saw it (or its number) with where they are in it."""
    booking, _event = events.booking_for_token(session=session, token=token)
    back = f"/b/{token}/photos"
    wait = objections.objection_wait(
        throttle=throttle, booking=booking, network=origin_of(request).ip_prefix
    )
    if wait:
        raise RateLimited(
            "Too many objections were sent for this booking or from this network; nothing "
            f"was saved. Try again in {count(max(1, (wait + 59) // 60), 'minute')}, or write to "
            "the organiser (their address is in your booking email).",
            retry_after=wait,
        )
    kept = {"reference": reference, "explanation": explanation}
    with redirect_on_error(back, place="objection", keep=kept):
        objections.check_can_object(booking)
        if media_id is not None:
            media = session.get(Media, media_id)
            if media is None or media.event_id != booking.event_id:
                raise NotFound("That photo is not one of this event's.")
        else:
            media = objections.find_media(session=session, booking=booking, reference=reference)
        added = objections.object_to(
            session=session,
            actor=ATTENDEE,
            booking=booking,
            media=media,
            explanation=explanation,
        )
    return redirect(
        back,
        message=(
            f"Done: {media.filename} will not be published with you in it (if it was "
            "published, it is being taken down)."
            if added
            else f"You had already objected to {media.filename}."
        ),
        place="objection",
    )


@router.post("/b/{token}/erase")
def erase_booking(
    token: str,
    session: SessionDep,
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """ "Delete my booking and data" (the form's box must be ticked)."""
    booking, _event = events.booking_for_token(session=session, token=token)
    with redirect_on_error(f"/b/{token}#erase-h", place="erase"):
        if confirm != CONFIRM_ERASE:
            raise Invalid(
                "Tick the box to confirm: this deletes your booking and cannot be undone.",
                field="confirm",
            )
        erasure.erase_booking(session=session, actor=ATTENDEE, booking=booking)
    return redirect("/erased")


@router.get("/erased")
def erased(request: Request) -> Response:
    return render(request, "rights/erased.html", {})
