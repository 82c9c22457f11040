"""API shapes of events and bookings, and the staff event forms (the same fields, as typed)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from registry import zones
from registry.addresses import Address
from registry.config import get_settings
from registry.errors import Invalid
from registry.events.models import BookingAction
from registry.events.notice import Notice


class EventCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    venue: str | None = Field(default=None, max_length=300)
    filming_notice: str = Field(
        min_length=1,
        max_length=20_000,
        description="The notice's introduction (what is photographed or filmed, and why). The "
        "notice people are shown adds, from the event's settings, where images may be used (the "
        "channels), that attendees do not hold copyright, and how to opt out and change their "
        "mind.",
    )
    biometric_retention_days: int = Field(default=30, ge=0, le=365)
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone of the venue (e.g. Europe/London): attendees see the "
        "event's times in it. Default: the `timezone` setting.",
    )
    channels: list[str] | None = Field(
        default=None,
        description="Channels the filming notice says images will be used on (settings "
        "`channels`); every configured channel when omitted. Photos of the event can only be "
        "published on these.",
    )


class EventUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    venue: str | None = Field(default=None, max_length=300)
    filming_notice: str | None = Field(default=None, min_length=1, max_length=20_000)
    bookings_open: bool | None = None
    biometric_retention_days: int | None = Field(default=None, ge=0, le=365)
    timezone: str | None = Field(default=None, max_length=64)
    channels: list[str] | None = None


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
    """`EventCreate` as the staff page's form sends it: every field as typed (an empty field is
    empty text, an unticked channel is absent, so none ticked is none), and the times as the
    venue's wall clock. What must hold (a name, an introduction, the end not before the start,
    a known zone and channels) is checked by `service.create_event` / `update_event`, for this
    form and the API alike, so a refusal shows the form again with what was typed."""

    name: str = Field(default="", max_length=200)
    starts_at: str = Field(default="", max_length=40)
    ends_at: str = Field(default="", max_length=40)
    venue: str = Field(default="", max_length=300)
    timezone: str = Field(default="", max_length=64)
    filming_notice: str = Field(default="", max_length=20_000)
    channels: list[str] = Field(default_factory=list, max_length=20)

    def zone(self) -> str:
        return zones.checked(self.timezone or get_settings().timezone)

    def times(self) -> tuple[datetime, datetime | None]:
        """Start and end (UTC), read in the venue's zone; the start is required."""
        tz = self.zone()
        start = _parse_local(self.starts_at, "start", tz)
        if start is None:
            raise Invalid("Give the event its start, as a date and time.", field="starts_at")
        return start, _parse_local(self.ends_at, "end", tz)


class EventEditForm(EventForm):
    """`EventUpdate` as the edit form sends it: the new-event fields, and two more."""

    bookings_open: str = Field(default="", max_length=10)
    biometric_retention_days: str = Field(default="30", max_length=5)

    def retention(self) -> int:
        try:
            days = int(self.biometric_retention_days)
        except ValueError:
            days = -1
        if not 0 <= days <= 365:
            raise Invalid(
                "Retention must be a whole number of days from 0 to 365.",
                field="biometric_retention_days",
            )
        return days


class EventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    starts_at: datetime
    ends_at: datetime | None
    venue: str | None
    timezone: str = Field(description="IANA time zone the event's times are shown in.")
    filming_notice: str
    filming_notice_version: int
    notice: str = Field(
        description="The whole filming notice people are shown: the introduction "
        "(`filming_notice`), where images may be used, copyright, and how to opt out"
    )
    channels: list[str]
    bookings_open: bool
    biometric_retention_days: int

    @field_validator("notice", mode="before")
    @classmethod
    def _notice_text(cls, value: object) -> object:
        return value.text if isinstance(value, Notice) else value


class BookingCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: Address
    photo_opt_out: bool = False
    send_confirmation: bool = Field(
        default=True,
        description="Email the attendee their confirmation: event, filming notice, choice, "
        "private link and badge (PDF).",
    )


class BookingUpdate(BaseModel):
    photo_opt_out: bool


class ManageLinkSent(BaseModel):
    """What re-issuing a manage link did: never the link itself (it is the attendee's key)."""

    booking_id: uuid.UUID
    sent: bool = Field(description="Whether the new link was mailed to the attendee")
    detail: str


class BookingPublic(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    email: str
    photo_opt_out: bool
    badge_code: str = Field(description="Exactly the text encoded in the badge's QR code.")
    manage_url: str | None = Field(
        default=None,
        description="The attendee's private manage link: only in the answer that created the "
        "booking (201) or re-issued its link; lists and reads never carry it.",
    )
    notice_version: int | None = Field(
        description="Filming-notice version the attendee was shown; null: not yet shown (staff "
        "booked them and no confirmation has been delivered, nor have they opened their link)"
    )
    cancelled: bool
    created_at: datetime


class BookingChangePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: BookingAction
    photo_opt_out: bool
    notice_version: int | None
    actor: str
    at: datetime


class ReferencePhotoPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    face_width: int = Field(description="Width of the face found, in pixels.")
    biometric_consent_at: datetime
    purge_after: datetime = Field(description="When it is deleted at the latest.")
    created_at: datetime


class ImportRowPublic(BaseModel):
    line: int = Field(description="Line number in the CSV file.")
    name: str
    email: str
    photo_opt_out: bool
    status: str = Field(description="new (will be / was booked), existing (already booked), error")
    errors: list[str]
    manage_url: str | None = Field(
        default=None,
        description="The new attendee's private manage link: only in the answer of the import "
        "that created the booking (not in a dry run).",
    )


class ImportResult(BaseModel):
    imported: bool = Field(description="False for a dry run: nothing was written.")
    columns: dict[str, str] = Field(description="Which CSV column was read for each field.")
    new: int
    existing: int
    errors: int
    rows: list[ImportRowPublic]
