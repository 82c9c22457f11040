"""Staff pages for events: list, create, edit, bookings, badges and CSV import (sign-in needed).

The public pages an attendee reaches by link (booking, the private manage page) are in
`public_pages.py`, so the sign-in boundary is a module boundary.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import Session

from registry import zones
from registry.config import get_settings
from registry.deps import PageActor, PageStaff, SessionDep
from registry.errors import Invalid, NotFound, render_on_error
from registry.events import imports, service
from registry.events.deps import PageEvent
from registry.events.models import Event
from registry.events.schemas import EventEditForm, EventForm
from registry.mail import service as mail
from registry.mail import transport
from registry.plurals import count
from registry.uploads import read_upload
from registry.web import page_router, redirect, render

router = page_router()


def _event_of(event_id: uuid.UUID) -> Callable[[Session], dict[str, Event]]:
    """What a form page re-shown after an error reads afresh: its event."""
    return lambda session: {"event": service.get_event(session=session, event_id=event_id)}


# --- staff ---------------------------------------------------------------------------------


@router.get("/events")
def events_list(request: Request, staff: PageStaff, session: SessionDep) -> Response:
    return render(request, "events/list.html", {"events": service.list_events(session=session)})


@router.post("/events")
def events_create(
    request: Request, actor: PageActor, session: SessionDep, form: Annotated[EventForm, Form()]
) -> Response:
    with render_on_error(
        "events/list.html",
        {"form": form.model_dump()},
        load=lambda s: {"events": service.list_events(session=s)},
    ):
        start, end = form.times()
        event = service.create_event(
            session=session,
            actor=actor,
            name=form.name,
            starts_at=start,
            ends_at=end,
            venue=form.venue,
            timezone=form.zone(),
            filming_notice=form.filming_notice,
            channels=form.channels,
        )
    return redirect(f"/events/{event.id}", message=f"Created {event.name}.")


@router.get("/events/{event_id}")
def event_detail(
    request: Request, staff: PageStaff, event: PageEvent, session: SessionDep
) -> Response:
    bookings = service.list_bookings(session=session, event=event)
    return render(
        request,
        "events/detail.html",
        {
            "event": event,
            "bookings": bookings,
            "opted_out": sum(1 for b in bookings if b.photo_opt_out and not b.cancelled_at),
            "not_shown": sum(
                1 for b in bookings if b.notice_version is None and not b.cancelled_at
            ),
            "notices": service.notice_versions(session=session, event=event),
            "public_base": get_settings().base_url.rstrip("/"),
            "delivery": mail.latest_for(session=session, record_ids=[b.id for b in bookings]),
        },
    )


def _local(value: datetime | None, tz: str) -> str:
    local = zones.in_zone(value, tz)
    return local.strftime("%Y-%m-%dT%H:%M") if local else ""


@router.get("/events/{event_id}/edit")
def event_edit_form(request: Request, staff: PageStaff, event: PageEvent) -> Response:
    form = {
        "name": event.name,
        "starts_at": _local(event.starts_at, event.timezone),
        "ends_at": _local(event.ends_at, event.timezone),
        "timezone": event.timezone,
        "venue": event.venue or "",
        "filming_notice": event.filming_notice,
        "channels": event.channels,
        "bookings_open": event.bookings_open,
        "biometric_retention_days": event.biometric_retention_days,
    }
    return render(request, "events/edit.html", {"event": event, "form": form})


@router.post("/events/{event_id}/edit")
def event_edit(
    request: Request,
    actor: PageActor,
    event: PageEvent,
    session: SessionDep,
    form: Annotated[EventEditForm, Form()],
) -> Response:
    values = {**form.model_dump(), "bookings_open": bool(form.bookings_open)}
    with render_on_error("events/edit.html", {"form": values}, load=_event_of(event.id)):
        start, end = form.times()
        service.update_event(
            session=session,
            actor=actor,
            event=event,
            name=form.name.strip(),
            starts_at=start,
            ends_at=end,
            venue=form.venue.strip() or None,
            timezone=form.zone(),
            filming_notice=form.filming_notice,
            channels=form.channels,
            bookings_open=bool(form.bookings_open),
            biometric_retention_days=form.retention(),
        )
    return redirect(f"/events/{event.id}", message="Saved.")


@router.get("/events/{event_id}/badges.pdf")
def event_badges_page(
    staff: PageStaff, event: PageEvent, session: SessionDep, layout: str = "sheet"
) -> Response:
    pdf = service.badges_pdf(
        session=session, event=event, layout="single" if layout == "single" else "sheet"
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="badges-{event.id}.pdf"'},
    )


@router.get("/events/{event_id}/signage.pdf")
def event_signage(
    staff: PageStaff, event: PageEvent, session: SessionDep, size: str = "A4"
) -> Response:
    if size not in ("A4", "A3"):
        raise Invalid("The poster size is A4 or A3.", field="size")
    pdf = service.signage_pdf(session=session, event=event, size="A3" if size == "A3" else "A4")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="signage-{size}-{event.id}.pdf"'},
    )


@router.post("/events/{event_id}/bookings/{booking_id}/manage-link")
def booking_reissue(
    event_id: str, booking_id: uuid.UUID, actor: PageActor, session: SessionDep
) -> Response:
    booking = service.get_booking(session=session, booking_id=booking_id)
    if str(booking.event_id) != event_id:
        raise NotFound("No booking with this id.")
    service.reissue_manage_link(session=session, actor=actor, booking=booking)
    if transport.configured():
        # The link is the attendee's key: it goes to them, not to the screen of staff.
        message = (
            f"New manage link for {booking.name} emailed to them (the old one no longer works)."
        )
    else:
        message = (
            f"New manage link for {booking.name} (no mail server is set up, so pass it on to "
            f"them yourself): {service.manage_url(booking)} (the old one no longer works)."
        )
    return redirect(f"/events/{event_id}", message=message)


@router.get("/events/{event_id}/import")
def import_form(request: Request, staff: PageStaff, event: PageEvent) -> Response:
    return render(request, "events/import.html", {"event": event})


@router.post("/events/{event_id}/import")
def import_preview(
    request: Request,
    staff: PageStaff,
    event: PageEvent,
    session: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Show what the CSV would do; the confirm form carries the same CSV text back."""
    with render_on_error("events/import.html", load=_event_of(event.id)):
        if file is None or not file.filename:
            raise Invalid("Choose a CSV file.", field="file")
        data = read_upload(file)
        preview = imports.preview(session=session, event=event, data=data)
    return render(
        request,
        "events/import.html",
        {"event": event, "preview": preview, "csv_text": data.decode("utf-8", "replace")},
        status_code=200 if not preview.errors else 422,
    )


@router.post("/events/{event_id}/import/confirm")
def import_confirm(
    request: Request,
    actor: PageActor,
    event: PageEvent,
    session: SessionDep,
    csv_text: Annotated[str, Form(max_length=imports.MAX_BYTES)] = "",
    send_confirmations: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    with render_on_error("events/import.html", load=_event_of(event.id)):
        result = imports.import_bookings(
            session=session,
            actor=actor,
            event=event,
            data=csv_text.encode(),
            send_confirmations=bool(send_confirmations),
        )
    sent = (
        " Each new attendee is sent their confirmation."
        if send_confirmations
        else " No confirmations were sent: they have not been shown the filming notice yet."
    )
    return redirect(
        f"/events/{event.id}",
        message=f"Imported {count(result.new, 'booking')}; "
        f"{count(result.existing, 'was', 'were')} already booked.{sent}",
    )
