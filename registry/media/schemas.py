"""API shapes of media and their clearance."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from registry.media.models import MediaStatus, RenditionStatus


class BoxPublic(BaseModel):
    top: int
    right: int
    bottom: int
    left: int


class UploadResult(BaseModel):
    id: uuid.UUID
    status: MediaStatus
    filename: str
    duplicate: bool = Field(description="The same bytes were uploaded before: that media.")
    detail: str | None = Field(default=None, description="Why the file failed, if it did.")


class FacePublic(BaseModel):
    id: int = Field(description="The face's number in this photo (reasons say 'face N').")
    box: BoxPublic
    booking_id: uuid.UUID | None
    distance: float | None
    via: Literal["face", "badge", "linked"] | None
    decision: str = Field(description="opted_out, review, clear or too_small")
    caution: str | None = Field(
        default=None,
        description="Why its likeness cannot be verified well (turned away, partly covered): "
        "it is then sent to review further from an opted-out attendee's reference",
    )


class SamplePublic(BaseModel):
    t_s: float = Field(description="Seconds from the start of the video")
    box: BoxPublic


class TrackPublic(BaseModel):
    id: int = Field(description="The track's number in this video (reasons say 'track N').")
    booking_id: uuid.UUID | None
    decision: str = Field(description="opted_out, review, clear or too_small")
    via: Literal["face", "badge", "linked"] | None
    distance: float | None
    start_s: float
    end_s: float
    caution: str | None = Field(
        default=None, description="As a face's, when most of the track's frames had one"
    )
    thumbnail_url: str
    samples: list[SamplePublic] = Field(description="Where the face was on each sampled frame")


class BadgePublic(BaseModel):
    booking_id: uuid.UUID | None
    box: BoxPublic
    face_id: int | None = Field(description="The face (a video: the track) wearing it")
    t_s: float | None = Field(default=None, description="Videos: when it was seen")


class RenditionPublic(BaseModel):
    id: uuid.UUID
    kind: str
    url: str
    verified: bool = Field(
        description="Redacted copies: detection and matching found no opted-out person in it."
    )
    obscured_faces: list[int]
    obscured_badges: list[str] = Field(description="Badge codes covered in a redacted copy.")
    status: RenditionStatus = Field(
        description="A video's redaction is made in the background: pending, then processing "
        "(`progress`), then ready (its file can be downloaded) or failed (`failure`). A photo's "
        "rendition is ready at once, unless it was asked for in a batch (then it is made in "
        "the background too)."
    )
    progress: float = Field(ge=0, le=1, description="How much of it is made, 0 to 1.")
    failure: str | None = Field(description="Why it could not be made (failed only).")
    status_url: str = Field(description="Its status, to poll while it is made.")


class MediaPublic(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID | None
    kind: Literal["photo", "video"]
    status: MediaStatus
    filename: str
    width: int | None
    height: int | None
    duration_s: float | None = Field(description="Videos: length in seconds (photos: null)")
    frame_rate: float | None = Field(description="Videos: frames a second (photos: null)")
    failure: str | None
    min_face_px: int | None = Field(description="The smallest face this analysis could find.")
    faces: list[FacePublic] = Field(description="Photos: every face found (videos: empty)")
    tracks: list[TrackPublic] = Field(description="Videos: every face track (photos: empty)")
    badges: list[BadgePublic]
    reasons: list[str]
    renditions: list[RenditionPublic]
    created_at: datetime


class MediaSummary(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID | None
    kind: str
    status: MediaStatus
    filename: str
    reasons: list[str]
    created_at: datetime


class FaceReviewIn(BaseModel):
    decision: Literal["confirm", "not_this_person", "consented_otherwise", "objector"] = Field(
        description="confirm / not_this_person settle a match with an opted-out attendee; "
        "consented_otherwise (media not from an event) records that this person, e.g. staff, "
        "consented by other means, explained in `note`; objector says the face is that of the "
        "attendee (`booking_id`) who objected to this photo."
    )
    note: str | None = Field(default=None, max_length=500)
    booking_id: uuid.UUID | None = Field(
        default=None, description="With `objector`: the booking that objected"
    )


class RedactionBatchPublic(BaseModel):
    """Redacted copies asked for at once, each made in the background by its own job."""

    id: uuid.UUID
    event_id: uuid.UUID
    booking_id: uuid.UUID | None = Field(
        description="Whose photos (the People page), or null: every flagged one of the event."
    )
    total: int = Field(description="How many copies the batch makes (one per media).")
    ready: int = Field(description="Copies made (verified or not).")
    verified: int = Field(description="Copies made that passed their check.")
    failed: int = Field(description="Copies that could not be made (each says why).")
    progress: float = Field(ge=0, le=1, description="How much of the batch is done, 0 to 1.")
    finished: bool
    renditions: list[RenditionPublic] = Field(description="Each copy, with its own status.")
    status_url: str = Field(description="The batch's state, to poll while it is made.")
    created_at: datetime
