"""Event pages: staff list/create/detail; the public booking form and the attendee's manage page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from registry.audit.service import Actor
from registry.deps import PageStaff, SessionDep
from registry.errors import NotFound, RegistryError
from registry.events import service
from registry.web import page_router, redirect, render

router = page_router()
ATTENDEE = Actor.public("attendee")


def _parse_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("No event with this id.") from None


def _parse_local(value: str, field: str) -> datetime | None:
    """A datetime-local form value, taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RegistryError(f"Enter the {field} as a date and time.", status_code=422) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- staff ---------------------------------------------------------------------------------


@router.get("/events")
def events_list(request: Request, staff: PageStaff, session: SessionDep) -> Response:
    return render(request, "events/list.html", {"events": service.list_events(session=session)})


@router.post("/events")
def events_create(
    request: Request,
    staff: PageStaff,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    starts_at: Annotated[str, Form(max_length=40)] = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
    venue: Annotated[str, Form(max_length=300)] = "",
    filming_notice: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    form = {
        "name": name,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "venue": venue,
        "filming_notice": filming_notice,
    }
    try:
        start = _parse_local(starts_at, "start")
        if not name.strip() or start is None or len(filming_notice.strip()) < 20:
            raise RegistryError(
                "Give the event a name, a start, and a filming notice of at least 20 characters.",
                status_code=422,
            )
        event = service.create_event(
            session=session,
            actor=Actor.staff(staff.id),
            name=name,
            starts_at=start,
            ends_at=_parse_local(ends_at, "end"),
            venue=venue,
            filming_notice=filming_notice,
        )
    except RegistryError as exc:
        return render(
            request,
            "events/list.html",
            {"events": service.list_events(session=session), "error": exc.message, "form": form},
            status_code=exc.status_code,
        )
    return redirect(f"/events/{event.id}", message=f"Created {event.name}.")


@router.get("/events/{event_id}")
def event_detail(
    request: Request, event_id: str, staff: PageStaff, session: SessionDep
) -> Response:
    event = service.get_event(session=session, event_id=_parse_uuid(event_id))
    bookings = service.list_bookings(session=session, event=event)
    return render(
        request,
        "events/detail.html",
        {
            "event": event,
            "bookings": bookings,
            "opted_out": sum(1 for b in bookings if b.photo_opt_out and not b.cancelled_at),
            "notices": service.notice_versions(session=session, event=event),
        },
    )


# --- public: booking -----------------------------------------------------------------------


@router.get("/events/{event_id}/book")
def booking_form(request: Request, event_id: str, session: SessionDep) -> Response:
    event = service.get_event(session=session, event_id=_parse_uuid(event_id))
    return render(request, "events/book.html", {"event": event, "form": {}})


@router.post("/events/{event_id}/book")
def booking_submit(
    request: Request,
    event_id: str,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    photo_opt_out: Annotated[str, Form(max_length=10)] = "",
    notice_version: Annotated[int, Form(ge=1)] = 1,
) -> Response:
    event = service.get_event(session=session, event_id=_parse_uuid(event_id))
    form = {"name": name, "email": email, "photo_opt_out": bool(photo_opt_out)}
    errors = {}
    if not name.strip():
        errors["name"] = "Enter your name."
    if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
        errors["email"] = "Enter an email address like name@example.org."
    if errors:
        return render(
            request,
            "events/book.html",
            {"event": event, "form": form, "errors": errors},
            status_code=422,
        )
    try:
        booking, created = service.create_booking(
            session=session,
            actor=ATTENDEE,
            event=event,
            name=name,
            email=email,
            photo_opt_out=bool(photo_opt_out),
            notice_version=notice_version,
        )
    except RegistryError as exc:
        return render(
            request,
            "events/book.html",
            {"event": event, "form": form, "error": exc.message},
            status_code=exc.status_code,
        )
    # The confirmation lives at the private manage link; no personal data in this redirect.
    message = "You are booked." if created else "You had already booked: here is your booking."
    return redirect(f"/b/{service.manage_token(booking)}", message=message)


# --- public: manage a booking --------------------------------------------------------------


@router.get("/b/{token}")
def manage(request: Request, token: str, session: SessionDep) -> Response:
    booking, event = service.booking_for_token(session=session, token=token)
    return render(
        request,
        "events/manage.html",
        {
            "booking": booking,
            "event": event,
            "token": token,
            "history": service.history(session=session, booking=booking),
            "expires_at": service.link_expires_at(event),
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
        message = "Done: you have opted out of photos and video."
    elif action == "opt_in":
        service.set_opt_out(session=session, actor=ATTENDEE, booking=booking, opt_out=False)
        message = "Done: you may appear in photos and video."
    elif action == "cancel":
        service.cancel_booking(session=session, actor=ATTENDEE, booking=booking)
        message = "Your booking is cancelled."
    else:
        raise RegistryError("Choose one of the actions on the page.", status_code=422)
    return redirect(f"/b/{token}", message=message)
