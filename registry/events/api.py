"""Events and bookings over the API (staff)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile

from registry.deps import CurrentStaff, SessionDep, StaffActor
from registry.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedMedia,
    error_responses,
)
from registry.events import badges, imports, references, service
from registry.events.deps import BookingByID, EventByID
from registry.events.models import Booking, BookingChange, Event
from registry.events.schemas import (
    BookingChangePublic,
    BookingCreate,
    BookingPublic,
    BookingUpdate,
    EventCreate,
    EventPublic,
    EventUpdate,
    ImportResult,
    ImportRowPublic,
    ManageLinkSent,
    ReferencePhotoPublic,
)
from registry.mail import transport
from registry.uploads import read_upload

router = APIRouter(prefix="/api", tags=["events"])
ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Invalid)


def booking_public(booking: Booking, *, with_link: bool = False) -> BookingPublic:
    """A booking as the API shows it; its private manage link only `with_link` (the answer that
    created it, or re-issued it): a list or a read never carries it, so staff cannot act as
    the attendee through it."""
    return BookingPublic(
        id=booking.id,
        event_id=booking.event_id,
        name=booking.name,
        email=booking.email,
        photo_opt_out=booking.photo_opt_out,
        badge_code=booking.badge_code,
        manage_url=service.manage_url(booking) if with_link else None,
        notice_version=booking.notice_version,
        cancelled=booking.cancelled_at is not None,
        created_at=booking.created_at,
    )


@router.post("/events", response_model=EventPublic, status_code=201, responses=ERRORS)
def create_event(body: EventCreate, actor: StaffActor, session: SessionDep) -> Event:
    """Create an event with its filming notice (version 1)."""
    return service.create_event(session=session, actor=actor, **body.model_dump())


@router.get("/events", response_model=list[EventPublic], responses=ERRORS)
def list_events(staff: CurrentStaff, session: SessionDep) -> list[Event]:
    """Every event, newest first."""
    return service.list_events(session=session)


@router.get("/events/{event_id}", response_model=EventPublic, responses=ERRORS)
def get_event(staff: CurrentStaff, event: EventByID) -> Event:
    """One event."""
    return event


@router.patch("/events/{event_id}", response_model=EventPublic, responses=ERRORS)
def update_event(
    body: EventUpdate, actor: StaffActor, event: EventByID, session: SessionDep
) -> Event:
    """Edit an event; a changed filming notice becomes a new version."""
    return service.update_event(
        session=session,
        actor=actor,
        event=event,
        **body.model_dump(exclude_unset=True),
    )


@router.post(
    "/events/{event_id}/bookings",
    response_model=BookingPublic,
    status_code=201,
    responses={
        **ERRORS,
        **error_responses(Conflict),
        200: {"model": BookingPublic, "description": "Already booked: the existing booking"},
    },
)
def create_booking(
    body: BookingCreate,
    actor: StaffActor,
    event: EventByID,
    session: SessionDep,
    response: Response,
) -> BookingPublic:
    """Book a place for an attendee; the same email again returns the existing booking (200,
    without its manage link). The manage link is in this 201 only (and in a re-issue's answer)."""
    booking, created = service.create_booking(
        session=session, actor=actor, event=event, **body.model_dump()
    )
    if not created:
        response.status_code = 200
    return booking_public(booking, with_link=created)


@router.get("/events/{event_id}/bookings", response_model=list[BookingPublic], responses=ERRORS)
def list_bookings(
    staff: CurrentStaff, event: EventByID, session: SessionDep
) -> list[BookingPublic]:
    """The event's bookings, oldest first."""
    return [booking_public(b) for b in service.list_bookings(session=session, event=event)]


@router.get("/bookings/{booking_id}", response_model=BookingPublic, responses=ERRORS)
def get_booking(staff: CurrentStaff, booking: BookingByID) -> BookingPublic:
    """One booking."""
    return booking_public(booking)


@router.patch(
    "/bookings/{booking_id}",
    response_model=BookingPublic,
    responses={**ERRORS, **error_responses(Conflict)},
)
def update_booking(
    body: BookingUpdate, actor: StaffActor, booking: BookingByID, session: SessionDep
) -> BookingPublic:
    """Change the attendee's photo opt-out (recorded as a new history entry)."""
    service.set_opt_out(session=session, actor=actor, booking=booking, opt_out=body.photo_opt_out)
    return booking_public(booking)


@router.get(
    "/bookings/{booking_id}/history", response_model=list[BookingChangePublic], responses=ERRORS
)
def booking_history(
    staff: CurrentStaff, booking: BookingByID, session: SessionDep
) -> list[BookingChange]:
    """Every change of the booking's choices, oldest first."""
    return service.history(session=session, booking=booking)


@router.put(
    "/bookings/{booking_id}/reference-photo",
    status_code=204,
    response_class=Response,
    responses={**ERRORS, **error_responses(Conflict, TooLarge, UnsupportedMedia, Unavailable)},
)
def add_reference_photo(
    actor: StaffActor,
    booking: BookingByID,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="A photo showing only the attendee's face.")],
    biometric_consent: Annotated[
        bool, Form(description="The attendee's explicit consent to this biometric use.")
    ] = False,
) -> Response:
    """Add a reference photo (up to 3) for an attendee who opted out; 422 when it has no face,
    several faces, or the consent is missing. Only the encrypted face encoding is kept."""
    references.add_reference(
        session=session,
        actor=actor,
        booking=booking,
        event=service.get_event(session=session, event_id=booking.event_id),
        data=read_upload(file),
        biometric_consent=biometric_consent,
    )
    return Response(status_code=204)


@router.get(
    "/bookings/{booking_id}/reference-photos",
    response_model=list[ReferencePhotoPublic],
    responses=ERRORS,
)
def list_reference_photos(
    staff: CurrentStaff, booking: BookingByID, session: SessionDep
) -> list[ReferencePhotoPublic]:
    """The attendee's reference photos (metadata only; encodings never leave the service)."""
    return [
        ReferencePhotoPublic.model_validate(p)
        for p in references.list_references(session=session, booking=booking)
    ]


@router.delete(
    "/bookings/{booking_id}/reference-photos/{photo_id}",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
)
def delete_reference_photo(
    actor: StaffActor, booking: BookingByID, session: SessionDep, photo_id: uuid.UUID
) -> Response:
    """Delete one reference photo and its encoding."""
    photo = references.get_reference(session=session, booking=booking, photo_id=photo_id)
    references.delete_reference(session=session, actor=actor, booking=booking, photo=photo)
    return Response(status_code=204)


@router.post(
    "/bookings/{booking_id}/manage-link",
    response_model=ManageLinkSent,
    responses={**ERRORS, **error_responses(Conflict)},
)
def reissue_manage_link(
    actor: StaffActor, booking: BookingByID, session: SessionDep
) -> ManageLinkSent:
    """Issue a fresh manage link (e.g. the attendee lost theirs) and mail it to the attendee;
    the old one stops working. The answer says whether it was sent, never the link: it is the
    attendee's key, not staff's (409 for an erased booking)."""
    service.reissue_manage_link(session=session, actor=actor, booking=booking)
    mailed = transport.configured() and booking.cancelled_at is None
    return ManageLinkSent(
        booking_id=booking.id,
        sent=mailed,
        detail=(
            "A new link is on its way to the attendee's address; the old one no longer works."
            if mailed
            else "The old link no longer works. No new one was sent: "
            + (
                "the booking is cancelled."
                if booking.cancelled_at is not None
                else "no mail server is configured (the event page shows staff the link then)."
            )
        ),
    )


@router.get(
    "/events/{event_id}/badges.pdf",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"application/pdf": {}}, "description": "PDF"}},
)
def event_badges(
    staff: CurrentStaff, event: EventByID, session: SessionDep, layout: badges.Layout = "sheet"
) -> Response:
    """Printable badges, one per (not cancelled) booking: four per A4 sheet with cut marks
    (`layout=sheet`) or one per A6 page (`layout=single`)."""
    pdf = service.badges_pdf(session=session, event=event, layout=layout)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="badges-{event.id}.pdf"'},
    )


def import_result(preview: imports.ImportPreview, *, imported: bool) -> ImportResult:
    return ImportResult(
        imported=imported,
        columns=preview.columns,
        new=preview.new,
        existing=preview.existing,
        errors=preview.errors,
        rows=[ImportRowPublic(**vars(r)) for r in preview.rows],
    )


@router.post(
    "/events/{event_id}/bookings/import",
    response_model=ImportResult,
    responses={**ERRORS, **error_responses(Conflict, TooLarge)},
)
def import_bookings(
    actor: StaffActor,
    event: EventByID,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV with name, email and opt-out columns.")],
    dry_run: Annotated[bool, Form(description="Only preview: write nothing.")] = False,
    send_confirmations: Annotated[
        bool,
        Form(description="Email each new attendee their confirmation (link, notice, badge)."),
    ] = False,
) -> ImportResult:
    """Import bookings from a CSV: every new row is booked, or (on any row error, 422 listing
    them) none; rows whose email is already booked are skipped. `dry_run` previews."""
    data = read_upload(file)
    if dry_run:
        return import_result(
            imports.preview(session=session, event=event, data=data), imported=False
        )
    result = imports.import_bookings(
        session=session,
        actor=actor,
        event=event,
        data=data,
        send_confirmations=send_confirmations,
    )
    return import_result(result, imported=True)
