"""Format `registry.attendee-export/1`: the document an attendee downloads as `my-data.json`.

One typed model, so that what is written (`export`) and what is read back in words
(`readable_export`) cannot disagree, and a change to the format is a change to this file. The
JSON keeps the names people's tools already read: the version travels as `format`, and a
photo's covered copy (`copy`) or a reference photo's picture (`thumbnail`) is named only when
there is one.

- `event` (with the time zone its times are shown in), `booking` (name, email, badge code,
  choice, notice version, dates), `controller`;
- `choices`: every change of the booking (what, the choice after it, notice version, when, by);
- `reference_photos`: what is kept of each (dates, purge date; `thumbnail`: its file in the ZIP);
- `objections`: the photos they said "not this photo" about (media id and file name, when,
  where they said they are, and staff's decision with its reason);
- `media`: each photo or video of the event in which they were matched (by a reference photo,
  their badge, or a face seen wearing it) or their badge was read: its decision for them, how it
  was reached, reviewers' words, publications (channel, address, dates, takedown), and for a
  photo `copy`, the file of the covered copy;
- `mails`: the messages sent (or queued) to them about this booking: what, when, what became of
  it (their text is not kept: it is composed when sent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

Version = Literal["registry.attendee-export/1"]
FORMAT: Version = "registry.attendee-export/1"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# Times are written as Python writes them (`+00:00`, never `Z`): format 1 always has.
Moment = Annotated[datetime, PlainSerializer(_iso, return_type=str)]
MaybeMoment = Annotated[datetime | None, PlainSerializer(_iso, return_type=str | None)]


def _absent(value: object) -> bool:
    return value is None


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, validate_by_name=True, serialize_by_alias=True)


class Controller(_Part):
    name: str
    email: str
    address: str


class EventPart(_Part):
    name: str
    starts_at: Moment
    ends_at: MaybeMoment
    venue: str | None
    timezone: str


class BookingPart(_Part):
    name: str
    email: str
    booked_at: Moment
    badge_code: str
    photo_opt_out: bool
    notice_version: int | None
    cancelled_at: MaybeMoment


class Choice(_Part):
    """One change of the booking, and the choice after it."""

    action: str
    photo_opt_out: bool
    notice_version: int | None
    at: Moment
    by: str


class ReferencePhoto(_Part):
    id: str
    added_at: Moment
    biometric_consent_at: Moment
    deleted_after: Moment
    face_width_px: int
    thumbnail: str | None = Field(default=None, exclude_if=_absent)


class FaceBox(_Part):
    top: int
    right: int
    bottom: int
    left: int


class FoundFace(_Part):
    """Where they were found in a photo (`face`: its number in reading order)."""

    face: int
    decision: str
    how: str | None
    distance: float | None
    box: FaceBox

    @property
    def number(self) -> int:
        return self.face


class FoundTrack(_Part):
    """Where they were found in a video (`track`: a face followed from start_s to end_s)."""

    track: int
    decision: str
    how: str | None
    distance: float | None
    box: FaceBox
    start_s: float | None
    end_s: float | None

    @property
    def number(self) -> int:
        return self.track


class BadgeInPhoto(_Part):
    box: tuple[int, int, int, int]


class BadgeInVideo(_Part):
    at_s: float | None


class Review(_Part):
    face: int
    decision: str
    by: str
    at: Moment


class PublicationPart(_Part):
    channel: str
    url: str | None
    published_at: Moment
    takedown_requested_at: MaybeMoment
    taken_down_at: MaybeMoment


class MediaEntry(_Part):
    """A photo or video they were found in, and what became of it for them."""

    id: str
    kind: str
    file_name: str
    uploaded_at: Moment
    status: str
    found: list[FoundFace | FoundTrack]
    badge_seen: list[BadgeInPhoto | BadgeInVideo]
    reviews: list[Review]
    publications: list[PublicationPart]
    # `copy` would hide BaseModel.copy: the field keeps another name in Python.
    covered_copy: str | None = Field(default=None, alias="copy", exclude_if=_absent)


class Objection(_Part):
    media_id: str
    file_name: str
    at: Moment
    explanation: str | None
    decision: str
    decided_at: MaybeMoment
    decision_reason: str | None


class Mail(_Part):
    what: str
    kind: str
    queued_at: Moment
    sent_at: MaybeMoment
    state: str


class AttendeeExport(_Part):
    """Everything held about one booking, as its attendee downloads it."""

    version: Version = Field(default=FORMAT, alias="format")
    generated_at: Moment
    controller: Controller
    event: EventPart
    booking: BookingPart
    choices: list[Choice]
    reference_photos: list[ReferencePhoto]
    media: list[MediaEntry]
    objections: list[Objection]
    mails: list[Mail]
