"""Event pages: staff list/create/detail; the public booking form and the attendee's manage page."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from registry import zones
from registry.audit.service import Actor
from registry.config import get_settings
from registry.deps import PageStaff, SessionDep
from registry.errors import Gone, Invalid, NotFound, RegistryError
from registry.events import imports, references, service
from registry.uploads import read_upload
from registry.web import page_router, redirect, render

router = page_router()
ATTENDEE = Actor.public("attendee")


def _parse_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("No event with this id.") from None


def _parse_local(value: str, field: str, tz: str) -> datetime | None:
    """A datetime-local form value, read as a wall-clock time in the zone `tz`."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"Enter the {field} as a date and time.") from None
    return zones.from_local(parsed, tz)


class EventForm(BaseModel):
    """The fields of the new-event form, as typed (checked by `checked_times`)."""

    name: str = Field(default="", max_length=200)
    starts_at: str = Field(default="", max_length=40)
    ends_at: str = Field(default="", max_length=40)
    venue: str = Field(default="", max_length=300)
    timezone: str = Field(default="", max_length=64)
    filming_notice: str = Field(default="", max_length=20_000)
    channels: list[str] = Field(default_factory=list, max_length=20)

    def zone(self) -> str:
        return zones.checked(self.timezone or get_settings().timezone)

    def checked_times(self) -> tuple[datetime, datetime | None]:
        """Start and end (UTC), once the required fields are known to be there."""
        tz = self.zone()
        start = _parse_local(self.starts_at, "start", tz)
        if not self.name.strip() or start is None or len(self.filming_notice.strip()) < 20:
            raise Invalid(
                "Give the event a name, a start, and a filming notice of at least 20 characters."
            )
        return start, _parse_local(self.ends_at, "end", tz)


class EventEditForm(EventForm):
    bookings_open: str = Field(default="", max_length=10)
    biometric_retention_days: str = Field(default="30", max_length=5)

    def retention(self) -> int:
        try:
            days = int(self.biometric_retention_days)
        except ValueError:
            days = -1
        if not 0 <= days <= 365:
            raise Invalid("Retention must be a whole number of days from 0 to 365.")
        return days


# --- staff ---------------------------------------------------------------------------------


@router.get("/events")
def events_list(request: Request, staff: PageStaff, session: SessionDep) -> Response:
    return render(request, "events/list.html", {"events": service.list_events(session=session)})


@router.post("/events")
def events_create(
    request: Request, staff: PageStaff, session: SessionDep, form: Annotated[EventForm, Form()]
) -> Response:
    try:
        start, end = form.checked_times()
        event = service.create_event(
            session=session,
            actor=Actor.staff(staff.id),
            name=form.name,
            starts_at=start,
            ends_at=end,
            venue=form.venue,
            timezone=form.zone(),
            filming_notice=form.filming_notice,
            channels=form.channels,
        )
    except RegistryError as exc:
        return render(
            request,
            "events/list.html",
            {
                "events": service.list_events(session=session),
                "error": exc.message,
                "form": form.model_dump(),
            },
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


def _local(value: datetime | None, tz: str) -> str:
    local = zones.in_zone(value, tz)
    return local.strftime("%Y-%m-%dT%H:%M") if local else ""


@router.get("/events/{event_id}/edit")
def event_edit_form(
    request: Request, event_id: str, staff: PageStaff, session: SessionDep
) -> Response:
    event = service.get_event(session=session, event_id=_parse_uuid(event_id))
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
    event_id: str,
    staff: PageStaff,
    session: SessionDep,
    form: Annotated[EventEditForm, Form()],
) -> Response:
    event = service.get_event(session=session, event_id=_parse_uuid(event_id))
    try:
        start, end = form.checked_times()
        with session.begin_nested():  # an invalid edit leaves the event as it was
            service.update_event(
                session=session,
                actor=Actor.staff(staff.id),
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
    except RegistryError as exc:
        session.refresh(event)
        values = {**form.model_dump(), "bookings_open": bool(form.bookings_open)}
        return render(
            request,
            "events/edit.html",
            {"event": event, "form": values, "error": exc.message},
            status_code=exc.status_code,
        )
    return redirect(f"/events/{event.id}", message="Saved.")


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

HISTORY_WORDS = {
    "booked": "You booked",
    "opted_out": "You opted out of photos and video",
    "opted_in": "You agreed to appear in photos and video",
    "cancelled": "The booking was cancelled",
    "link_reissued": "A new private link was issued (older links stopped working)",
    "reference_added": "You gave a reference photo",
    "reference_deleted": "A reference photo was deleted",
    "references_purged": "Your reference photos were deleted (retention period over)",
}


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
            "references": references.list_references(session=session, booking=booking),
            "max_references": references.MAX_REFERENCES,
            "biometric_consent": references.BIOMETRIC_CONSENT,
            "purge_date": references.purge_date(event),
            "history_words": HISTORY_WORDS,
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
        had = references.list_references(session=session, booking=booking)
        service.set_opt_out(session=session, actor=ATTENDEE, booking=booking, opt_out=False)
        message = "Done: you may appear in photos and video." + (
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
    token: str,
    session: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
    biometric_consent: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    booking, event = service.booking_for_token(session=session, token=token)
    try:
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
    except RegistryError as exc:
        # Back to the form, with the message beside it; the consent box stays as it was ticked
        # (a browser never lets a page refill the file).
        return redirect(
            f"/b/{token}#reference-h",
            message=exc.message,
            category="error",
            place="reference",
            keep={"biometric_consent": bool(biometric_consent)},
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
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="badge.pdf"',
            "Cache-Control": "no-store",
        },
    )


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


@router.get("/events/{event_id}/badges.pdf")
def event_badges_page(
    event_id: str, staff: PageStaff, session: SessionDep, layout: str = "sheet"
) -> Response:
    event = service.get_event(session=session, event_id=_parse_uuid(event_id))
    pdf = service.badges_pdf(
        session=session, event=event, layout="single" if layout == "single" else "sheet"
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="badges-{event.id}.pdf"'},
    )


@router.post("/events/{event_id}/bookings/{booking_id}/manage-link")
def booking_reissue(
    event_id: str, booking_id: uuid.UUID, staff: PageStaff, session: SessionDep
) -> Response:
    booking = service.get_booking(session=session, booking_id=booking_id)
    if str(booking.event_id) != event_id:
        raise NotFound("No booking with this id.")
    service.reissue_manage_link(session=session, actor=Actor.staff(staff.id), booking=booking)
    return redirect(
        f"/events/{event_id}",
        message=f"New manage link for {booking.name}: {service.manage_url(booking)} "
        "(the old one no longer works; send this one to the attendee).",
    )


@router.get("/events/{event_id}/import")
def import_form(request: Request, event_id: str, staff: PageStaff, session: SessionDep) -> Response:
    event = service.get_event(session=session, event_id=_parse_uuid(event_id))
    return render(request, "events/import.html", {"event": event})


@router.post("/events/{event_id}/import")
def import_preview(
    request: Request,
    event_id: str,
    staff: PageStaff,
    session: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Show what the CSV would do; the confirm form carries the same CSV text back."""
    event = service.get_event(session=session, event_id=_parse_uuid(event_id))
    try:
        if file is None or not file.filename:
            raise Invalid("Choose a CSV file.", field="file")
        data = read_upload(file)
        preview = imports.preview(session=session, event=event, data=data)
    except RegistryError as exc:
        return render(
            request,
            "events/import.html",
            {"event": event, "error": exc.message},
            status_code=exc.status_code,
        )
    return render(
        request,
        "events/import.html",
        {"event": event, "preview": preview, "csv_text": data.decode("utf-8", "replace")},
        status_code=200 if not preview.errors else 422,
    )


@router.post("/events/{event_id}/import/confirm")
def import_confirm(
    request: Request,
    event_id: str,
    staff: PageStaff,
    session: SessionDep,
    csv_text: Annotated[str, Form(max_length=imports.MAX_BYTES)] = "",
) -> Response:
    event = service.get_event(session=session, event_id=_parse_uuid(event_id))
    try:
        result = imports.import_bookings(
            session=session, actor=Actor.staff(staff.id), event=event, data=csv_text.encode()
        )
    except RegistryError as exc:
        return render(
            request,
            "events/import.html",
            {"event": event, "error": exc.message},
            status_code=exc.status_code,
        )
    return redirect(
        f"/events/{event.id}",
        message=f"Imported {result.new} booking(s); {result.existing} were already booked.",
    )
