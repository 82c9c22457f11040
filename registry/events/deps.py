"""Load-or-404 dependencies for the event routes: the event or booking a path names.

The API reads the id as a UUID (a malformed one is a 422 naming the parameter); a page reads it
as text, so that a mistyped address gets the same friendly 404 page as an unknown event.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from registry.deps import SessionDep
from registry.events import service
from registry.events.models import Booking, Event
from registry.web import path_uuid


def event_by_id(event_id: uuid.UUID, session: SessionDep) -> Event:
    return service.get_event(session=session, event_id=event_id)


def booking_by_id(booking_id: uuid.UUID, session: SessionDep) -> Booking:
    return service.get_booking(session=session, booking_id=booking_id)


def page_event(event_id: str, session: SessionDep) -> Event:
    """The event a page's path names; the 404 page ("No event with this id.") otherwise."""
    return service.get_event(session=session, event_id=path_uuid(event_id, "event"))


EventByID = Annotated[Event, Depends(event_by_id)]
BookingByID = Annotated[Booking, Depends(booking_by_id)]
PageEvent = Annotated[Event, Depends(page_event)]
