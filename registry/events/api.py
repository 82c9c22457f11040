"""Events and bookings over the API (staff)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from registry.audit.service import Actor
from registry.deps import CurrentStaff, SessionDep
from registry.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized, error_responses
from registry.events import service
from registry.events.models import Booking, BookingChange, Event
from registry.events.schemas import (
    BookingChangePublic,
    BookingCreate,
    BookingPublic,
    BookingUpdate,
    EventCreate,
    EventPublic,
    EventUpdate,
)

router = APIRouter(prefix="/api", tags=["events"])
ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Invalid)


def event_by_id(event_id: uuid.UUID, session: SessionDep) -> Event:
    return service.get_event(session=session, event_id=event_id)


def booking_by_id(booking_id: uuid.UUID, session: SessionDep) -> Booking:
    return service.get_booking(session=session, booking_id=booking_id)


EventByID = Annotated[Event, Depends(event_by_id)]
BookingByID = Annotated[Booking, Depends(booking_by_id)]


def booking_public(booking: Booking) -> BookingPublic:
    return BookingPublic(
        id=booking.id,
        event_id=booking.event_id,
        name=booking.name,
        email=booking.email,
        photo_opt_out=booking.photo_opt_out,
        badge_code=booking.badge_code,
        manage_url=service.manage_url(booking),
        notice_version=booking.notice_version,
        cancelled=booking.cancelled_at is not None,
        created_at=booking.created_at,
    )


@router.post("/events", response_model=EventPublic, status_code=201, responses=ERRORS)
def create_event(body: EventCreate, staff: CurrentStaff, session: SessionDep) -> Event:
    """Create an event with its filming notice (version 1)."""
    return service.create_event(session=session, actor=Actor.staff(staff.id), **body.model_dump())


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
    body: EventUpdate, staff: CurrentStaff, event: EventByID, session: SessionDep
) -> Event:
    """Edit an event; a changed filming notice becomes a new version."""
    return service.update_event(
        session=session,
        actor=Actor.staff(staff.id),
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
    staff: CurrentStaff,
    event: EventByID,
    session: SessionDep,
    response: Response,
) -> BookingPublic:
    """Book a place for an attendee; the same email again returns the existing booking (200)."""
    booking, created = service.create_booking(
        session=session, actor=Actor.staff(staff.id), event=event, **body.model_dump()
    )
    if not created:
        response.status_code = 200
    return booking_public(booking)


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
    body: BookingUpdate, staff: CurrentStaff, booking: BookingByID, session: SessionDep
) -> BookingPublic:
    """Change the attendee's photo opt-out (recorded as a new history entry)."""
    service.set_opt_out(
        session=session, actor=Actor.staff(staff.id), booking=booking, opt_out=body.photo_opt_out
    )
    return booking_public(booking)


@router.get(
    "/bookings/{booking_id}/history", response_model=list[BookingChangePublic], responses=ERRORS
)
def booking_history(
    staff: CurrentStaff, booking: BookingByID, session: SessionDep
) -> list[BookingChange]:
    """Every change of the booking's choices, oldest first."""
    return service.history(session=session, booking=booking)
