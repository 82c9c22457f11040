"""Stored events, filming-notice versions, bookings and their append-only change history."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow
from registry.events import notice


class Event(SQLModel, table=True):
    __tablename__ = "event"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    venue: str | None = Field(default=None, max_length=300)
    timezone: str = Field(
        default="UTC", max_length=64, description="IANA time zone the event's times are shown in"
    )
    # The current notice, cached; every version is kept in filming_notice.
    filming_notice: str = Field(sa_type=sa.Text)
    filming_notice_version: int = Field(default=1)
    channels: list[str] = Field(
        default_factory=list,
        sa_type=sa.JSON,
        description="The channels the filming notice tells attendees images may be used on",
    )
    bookings_open: bool = Field(default=True)
    biometric_retention_days: int = Field(default=30)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def notice(self) -> notice.Notice:
        """The whole filming notice people are shown now: the introduction (`filming_notice`)
        and the sentences made from the event's settings."""
        return notice.compose(introduction=self.filming_notice, channels=self.channels)


class FilmingNotice(SQLModel, table=True):
    """Every version of an event's filming notice, so a booking can show what the attendee read."""

    __tablename__ = "filming_notice"
    __table_args__ = (sa.UniqueConstraint("event_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="event.id", index=True)
    version: int
    text: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Booking(SQLModel, table=True):
    __tablename__ = "booking"
    __table_args__ = (sa.UniqueConstraint("event_id", "email"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="event.id", index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    # The opt-out choice now, cached from the latest change row (booking_change is the record).
    photo_opt_out: bool = Field(default=False)
    badge_code: str = Field(max_length=16, sa_column_kwargs={"unique": True})
    notice_version: int | None = Field(
        default=None,
        description="Filming-notice version the attendee was shown: on the booking page, in the "
        "confirmation a mail server accepted, or on their private page; null until then (a "
        "booking staff made, e.g. by import, whose confirmation has not gone out)",
    )
    link_version: int = Field(default=1)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Erased at the attendee's request: name and address are gone, the row stays as an anonymous
    # opted-out marker (its badge code and the faces matched to it keep photos blocked).
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BookingAction(StrEnum):
    booked = "booked"
    opted_out = "opted_out"
    opted_in = "opted_in"
    cancelled = "cancelled"
    link_reissued = "link_reissued"
    reference_added = "reference_added"
    reference_deleted = "reference_deleted"
    references_purged = "references_purged"
    objected = "objected"
    erased = "erased"
    notice_shown = "notice_shown"


class BookingChange(SQLModel, table=True):
    """One change of an attendee's choices; rows are only ever added."""

    __tablename__ = "booking_change"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: uuid.UUID = Field(foreign_key="booking.id", index=True)
    action: BookingAction = Field(sa_type=sa.String(24))
    photo_opt_out: bool
    notice_version: int | None = None
    actor: str = Field(max_length=120)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReferencePhoto(SQLModel, table=True):
    """A face an attendee who opted out gave, with explicit consent, so clearance can exclude them.

    Only what matching needs is kept: the 128-d encoding and a small face thumbnail for the
    attendee's own page, both encrypted (registry.crypto) and bound to this row's id. Never the
    uploaded photo.
    """

    __tablename__ = "reference_photo"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    booking_id: uuid.UUID = Field(foreign_key="booking.id", index=True)
    encoding: bytes = Field(sa_type=sa.LargeBinary)
    thumbnail: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    face_width: int = Field(description="Width of the face in the uploaded photo, in pixels")
    biometric_consent_at: datetime = Field(sa_type=UTCDateTime)
    purge_after: datetime = Field(sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
