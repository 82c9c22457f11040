"""The public event pages an attendee reaches without signing in: the booking form and the
private manage page a link (`/b/{token}`) opens, with its reference photos and badge."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import BackgroundTasks, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import Response

from registry.addresses import one_address
from registry.audit.service import Actor
from registry.auth.throttle import Throttle
from registry.config import get_settings
from registry.deps import MAX_ROW, LinkThrottleDep, SessionDep, unit_of_work_for
from registry.downloads import attachment
from registry.errors import (
    Gone,
    Invalid,
    NotFound,
    RateLimited,
    redirect_on_error,
    render_on_error,
)
from registry.events import references, service
from registry.events.deps import PageEvent
from registry.events.models import Event
from registry.mail import transport
from registry.organisation import service as organisation
from registry.origin import origin_of
from registry.plurals import count
from registry.uploads import read_upload
from registry.web import page_router, redirect, render

router = page_router()
ATTENDEE = Actor.public("attendee")


# --- booking --------------------------------------------------------------------------------


@router.get("/events/{event_id}/book")
def booking_form(request: Request, event: PageEvent) -> Response:
    return render(request, "events/book.html", {"event": event, "form": {}})


@router.post("/events/{event_id}/book")
def booking_submit(
    request: Request,
    event: PageEvent,
    session: SessionDep,
    throttle: LinkThrottleDep,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    photo_opt_out: Annotated[str, Form(max_length=10)] = "",
    notice_version: Annotated[int, Form(ge=1, le=MAX_ROW)] = 1,
) -> Response:
    form = {"name": name, "email": email, "photo_opt_out": bool(photo_opt_out)}
    errors = {}
    if not name.strip():
        errors["name"] = "Enter your name."
    if one_address(email) is None:
        errors["email"] = "Enter one email address, like name@example.org."
    if errors:
        return render(
            request,
            "events/book.html",
            {"event": event, "form": form, "errors": errors},
            status_code=422,
        )
    mail_on = transport.configured()
    # Every submission counts against the client network's limit, mail or not, booked or not.
    wait = service.public_request_wait(
        throttle=throttle, network=origin_of(request).ip_prefix, form="book"
    )
    if wait:
        return _too_many(request, session, event, wait)
    with render_on_error(
        "events/book.html",
        {"form": form},
        load=lambda s: {"event": service.get_event(session=s, event_id=event.id)},
    ):
        booking, created = service.create_booking(
            session=session,
            actor=ATTENDEE,
            event=event,
            name=name,
            email=email,
            photo_opt_out=bool(photo_opt_out),
            notice_version=notice_version,
        )
        if not created and mail_on:
            service.send_link_if_booked(
                session=session,
                actor=ATTENDEE,
                event=event,
                email=email,
                throttle=throttle,
                network=origin_of(request).ip_prefix,
            )
    if mail_on:
        # Whether new or already booked, the same answer: the link went to the address (the
        # confirmation for a new booking, the link for an existing one). Nothing on screen.
        return render(request, "events/book_sent.html", _neutral(session, event))
    if get_settings().env != "dev":
        # No mail server outside development: the link cannot reach whoever owns the address,
        # and the answer must not say whether it was booked before (the same page either way).
        return render(request, "events/book_no_mail.html", _neutral(session, event))
    if not created:
        # Whoever typed this email may not own it: never show (or redirect to) that attendee's
        # private link, and do not say whether the address is booked. Nothing was changed.
        return render(request, "events/book_check.html", _neutral(session, event))
    # Development without a mail server: the confirmation lives at the private manage link (no
    # personal data in this redirect).
    return redirect(f"/b/{service.manage_token(booking)}", message="You are booked.")


def _neutral(session: SessionDep, event: Event) -> dict[str, object]:
    return {"event": event, "org": organisation.profile(session=session)}


def _too_many(request: Request, session: SessionDep, event: Event, wait: int) -> Response:
    return render(
        request,
        "events/link_limited.html",
        {**_neutral(session, event), "minutes": max(1, (wait + 59) // 60)},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


@router.get("/events/{event_id}/notice")
def notice_page(request: Request, event: PageEvent, session: SessionDep) -> Response:
    """The public filming notice (the signage poster's QR code leads here)."""
    return render(
        request,
        "events/notice.html",
        {**_neutral(session, event), "mail_on": transport.configured()},
    )


@router.get("/events/{event_id}/link")
def lost_link_form(request: Request, event: PageEvent, session: SessionDep) -> Response:
    return render(
        request,
        "events/lost_link.html",
        {**_neutral(session, event), "mail_on": transport.configured(), "form": {}},
    )


@router.post("/events/{event_id}/link")
def lost_link_submit(
    request: Request,
    event: PageEvent,
    session: SessionDep,
    throttle: LinkThrottleDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    mail_on = transport.configured()
    if not mail_on or one_address(email) is None:
        errors = {} if not mail_on else {"email": "Enter one email address, like name@example.org."}
        return render(
            request,
            "events/lost_link.html",
            {
                **_neutral(session, event),
                "mail_on": mail_on,
                "form": {"email": email},
                "errors": errors,
            },
            status_code=422 if errors else 200,
        )
    wait = service.public_request_wait(
        throttle=throttle, network=origin_of(request).ip_prefix, form="link"
    )
    if wait:
        return _too_many(request, session, event, wait)
    # Whether the address is booked (and may be mailed again) is looked up, and the link
    # queued, after the answer has gone: the answer is the same, and takes the same time,
    # either way, so it cannot tell who booked.
    background.add_task(
        _send_link_later, request.app, throttle, event.id, email, origin_of(request).ip_prefix
    )
    return render(request, "events/link_sent.html", _neutral(session, event))


def _send_link_later(
    app: FastAPI, throttle: Throttle, event_id: uuid.UUID, email: str, network: str | None
) -> None:
    with unit_of_work_for(app) as session:
        event = service.get_event(session=session, event_id=event_id)
        service.send_link_if_booked(
            session=session,
            actor=ATTENDEE,
            event=event,
            email=email,
            throttle=throttle,
            network=network,
        )


# --- the private manage page ----------------------------------------------------------------

HISTORY_WORDS = {
    "booked": "You booked",
    "opted_out": "You opted out of photos and video",
    "opted_in": "You agreed to appear in photos and video",
    "cancelled": "The booking was cancelled",
    "link_reissued": "A new private link was issued (older links stopped working)",
    "reference_added": "You gave a reference photo",
    "reference_deleted": "A reference photo was deleted",
    "references_purged": "Your reference photos were deleted (retention period over)",
    "objected": "You objected to a photo",
    "notice_shown": "You were shown the filming notice",
}


@router.get("/b/{token}")
def manage(request: Request, token: str, session: SessionDep) -> Response:
    booking, event = service.booking_for_token(session=session, token=token)
    # This page shows the whole filming notice: an attendee staff booked has now been shown it.
    service.notice_shown(
        session=session, actor=ATTENDEE, booking=booking, version=event.filming_notice_version
    )
    return render(
        request,
        "events/manage.html",
        {
            "booking": booking,
            "event": event,
            "token": token,
            "history": service.history(session=session, booking=booking),
            "expires_at": service.link_expires_at(event),
            "references": references.list_references(session=session, booking=booking),
            "max_references": references.MAX_REFERENCES,
            "biometric_consent": references.BIOMETRIC_CONSENT,
            "purge_date": references.purge_date(event),
            "history_words": HISTORY_WORDS,
            "badge": service.badge_state(session=session, booking=booking),
        },
    )


@router.post("/b/{token}")
def manage_submit(
    request: Request,
    token: str,
    session: SessionDep,
    action: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    booking, _event = service.booking_for_token(session=session, token=token)
    if action == "opt_out":
        service.set_opt_out(session=session, actor=ATTENDEE, booking=booking, opt_out=True)
        message = (
            "Done: you have opted out of photos and video. Your new badge, marked NO PHOTOS, "
            "is below."
        )
    elif action == "opt_in":
        had = references.list_references(session=session, booking=booking)
        service.set_opt_out(session=session, actor=ATTENDEE, booking=booking, opt_out=False)
        message = "Done: you may appear in photos and video. Your new badge is below." + (
            " Your reference photos are deleted." if had else ""
        )
    elif action == "cancel":
        service.cancel_booking(session=session, actor=ATTENDEE, booking=booking)
        message = "Your booking is cancelled."
    else:
        raise Invalid("Choose one of the actions on the page.")
    if action == "cancel":
        return redirect(f"/b/{token}", message=message)
    return redirect(f"/b/{token}#photos-h", message=message, place="choice")


@router.post("/b/{token}/references")
def reference_upload(
    request: Request,
    token: str,
    session: SessionDep,
    throttle: LinkThrottleDep,
    file: Annotated[UploadFile | None, File()] = None,
    biometric_consent: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    booking, event = service.booking_for_token(session=session, token=token)
    wait = service.reference_upload_wait(
        throttle=throttle, booking=booking, network=origin_of(request).ip_prefix
    )
    if wait:
        raise RateLimited(
            "Too many photos were sent for this booking or from this network; nothing was "
            f"saved. Try again in {count(max(1, (wait + 59) // 60), 'minute')}.",
            retry_after=wait,
        )
    # On a refusal: back to the form, with the message beside it; the consent box stays as it
    # was ticked (a browser never lets a page refill the file).
    with redirect_on_error(
        f"/b/{token}#reference-h",
        place="reference",
        keep={"biometric_consent": bool(biometric_consent)},
    ):
        if file is None or not file.filename:
            raise Invalid("Choose a photo to upload.", field="file")
        references.add_reference(
            session=session,
            actor=ATTENDEE,
            booking=booking,
            event=event,
            data=read_upload(file),
            biometric_consent=bool(biometric_consent),
        )
    return redirect(
        f"/b/{token}#reference-h",
        message="Your reference photo is saved: we will use it only to keep you out of photos.",
        place="reference",
    )


@router.post("/b/{token}/references/{photo_id}/delete")
def reference_delete(token: str, photo_id: uuid.UUID, session: SessionDep) -> Response:
    booking, _event = service.booking_for_token(session=session, token=token)
    photo = references.get_reference(session=session, booking=booking, photo_id=photo_id)
    references.delete_reference(session=session, actor=ATTENDEE, booking=booking, photo=photo)
    return redirect(
        f"/b/{token}#reference-h", message="The reference photo is deleted.", place="reference"
    )


@router.get("/b/{token}/references/{photo_id}")
def reference_thumbnail(token: str, photo_id: uuid.UUID, session: SessionDep) -> Response:
    booking, _event = service.booking_for_token(session=session, token=token)
    photo = references.get_reference(session=session, booking=booking, photo_id=photo_id)
    thumb = references.thumbnail_of(photo)
    if thumb is None:
        raise NotFound("No thumbnail is kept for this reference photo.")
    return Response(thumb, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/b/{token}/badge.pdf")
def badge_download(token: str, session: SessionDep) -> Response:
    booking, event = service.booking_for_token(session=session, token=token)
    if booking.cancelled_at is not None:
        raise Gone("This booking is cancelled, so it has no badge.")
    pdf = service.badges_pdf(session=session, event=event, layout="single", booking=booking)
    return attachment(pdf, "application/pdf", "badge.pdf")


@router.get("/b/{token}/badge.png")
def badge_preview(token: str, session: SessionDep) -> Response:
    booking, event = service.booking_for_token(session=session, token=token)
    if booking.cancelled_at is not None:
        raise Gone("This booking is cancelled, so it has no badge.")
    return Response(
        service.badge_png(event=event, booking=booking),
        media_type="image/png",
        headers={"Cache-Control": "no-store"},
    )
