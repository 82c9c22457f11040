"""Stored media, the faces and badges found in them, reviewers' decisions and renditions.

Face encodings found in event photos are biometric data of people who never gave them: they are
kept only to re-clear the event's photos when someone changes their mind, encrypted like
reference photos, and deleted with the event's biometric data (`purge_after`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow


class MediaStatus(StrEnum):
    pending = "pending"
    processing = "processing"
    cleared = "cleared"
    flagged = "flagged"
    needs_review = "needs_review"
    failed = "failed"


FINAL = frozenset({MediaStatus.cleared, MediaStatus.flagged, MediaStatus.needs_review})


class Leased(SQLModel):
    """Work a job takes with a lease (a photo's clearance, a video's part, a redaction): how
    often it was taken, and until when its worker holds it; a worker that dies lets the lease
    run out and the sweep frees the work (`media.leases`, `media.segments`, `media.redactions`)."""

    attempts: int = Field(default=0)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Media(Leased, table=True):
    __tablename__ = "media"
    # One record per file *per event*: the same photo uploaded to two events is cleared against
    # each event's opt-outs (the stored file, keyed by its hash, is shared).
    __table_args__ = (sa.UniqueConstraint("event_id", "sha256"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID | None = Field(default=None, foreign_key="event.id", index=True)
    sha256: str = Field(max_length=64, index=True)
    kind: str = Field(default="photo", max_length=8, description="photo | video")
    filename: str = Field(max_length=255, description="The uploaded name, for display only")
    content_type: str = Field(max_length=64)
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None  # videos
    frame_rate: float | None = None  # videos
    status: MediaStatus = Field(default=MediaStatus.pending, sa_type=sa.String(16), index=True)
    failure: str | None = Field(default=None, max_length=500)
    reasons: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    min_face_px: int | None = None
    uploaded_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    analysed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MediaFace(SQLModel, table=True):
    __tablename__ = "media_face"
    __table_args__ = (sa.UniqueConstraint("media_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True)
    number: int = Field(
        description="1-based, in reading order (a video's tracks: by start); 'face N' / 'track N'"
    )
    top: int
    right: int
    bottom: int
    left: int
    encoding: bytes | None = Field(default=None, sa_type=sa.LargeBinary)  # encrypted
    # Why its encoding cannot be trusted to say who it is ("turned away", "partly covered"):
    # it may then be someone who opted out further from their reference (decision.Thresholds).
    caution: str | None = Field(default=None, max_length=24)
    # A video's face is a track: where it was seen when ([t_s, top, right, bottom, left] per
    # sampled frame); its box above is its largest, its encoding the mean of its frames'.
    start_s: float | None = None
    end_s: float | None = None
    samples: list[list[float]] | None = Field(default=None, sa_type=sa.JSON)
    purge_after: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # When retention deleted the encoding: the decision below then stands as the face's record.
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The latest decision, cached from the clearance run.
    booking_id: uuid.UUID | None = Field(default=None)
    distance: float | None = None
    via: str | None = Field(default=None, max_length=8)
    decision: str = Field(default="clear", max_length=16)


class MediaBadge(SQLModel, table=True):
    __tablename__ = "media_badge"

    id: int | None = Field(default=None, primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True)
    code: str = Field(max_length=200)
    top: int
    right: int
    bottom: int
    left: int
    booking_id: uuid.UUID | None = Field(default=None, foreign_key="booking.id")
    face_number: int | None = None
    # Videos: when the code was seen; its wearer (face_number) was linked in that frame.
    t_s: float | None = None


class FaceReview(SQLModel, table=True):
    """A reviewer's word on one face; rows are only added (the latest per face counts)."""

    __tablename__ = "face_review"

    id: int | None = Field(default=None, primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True)
    face_number: int
    booking_id: uuid.UUID | None = Field(default=None, foreign_key="booking.id")
    decision: str = Field(max_length=24)  # confirm | not_this_person | consented_otherwise
    note: str | None = Field(default=None, max_length=500, description="How consent was given")
    actor: str = Field(max_length=120)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TransientReference(SQLModel, table=True):
    """A face linked to an opted-out attendee's badge, used to find them in the event's other
    photos; purged with the event's biometric data."""

    __tablename__ = "transient_reference"
    __table_args__ = (sa.UniqueConstraint("media_id", "face_number"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="event.id", index=True)
    booking_id: uuid.UUID = Field(foreign_key="booking.id", index=True)
    media_id: uuid.UUID = Field(foreign_key="media.id")
    face_number: int
    encoding: bytes = Field(sa_type=sa.LargeBinary)  # encrypted
    purge_after: datetime = Field(sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RenditionStatus(StrEnum):
    pending = "pending"  # a video's redaction, or a photo's made in a batch, queued
    processing = "processing"  # being made (a video's parts re-encoded), or checked
    ready = "ready"  # the file is there (and `verified` says what its check found)
    failed = "failed"


class RedactionBatch(SQLModel, table=True):
    """Redacted copies asked for at once (every flagged photo of an event, or every photo one
    attendee is found in): one rendition per media, each its own job with its own lease, so a
    worker killed mid-way loses only the copy it was making. Its progress is its renditions'."""

    __tablename__ = "redaction_batch"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="event.id", index=True)
    # Whose photos (the People page), or None: every flagged photo of the event.
    booking_id: uuid.UUID | None = Field(default=None, foreign_key="booking.id")
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Rendition(Leased, table=True):
    __tablename__ = "rendition"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True)
    kind: str = Field(max_length=16)  # redacted | clean (the original, metadata stripped)
    # The file's key ("" until a video's redaction is ready: nothing half-made is served).
    sha256: str = Field(max_length=64)
    verified: bool = Field(default=False)
    obscured_faces: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    obscured_badges: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A video's redaction is a job (parts re-encoded by several workers, then joined and
    # checked); a photo's is made at once (ready), or by a job when it is part of a batch.
    status: RenditionStatus = Field(
        default=RenditionStatus.ready, sa_type=sa.String(12), index=True
    )
    progress: float = Field(default=1.0, description="0 to 1")
    failure: str | None = Field(default=None, max_length=500)
    # What to cover ([[t, top, right, bottom, left], ...] per cover, its padding factor), and
    # the pass: a check that still finds someone adds covers there and re-encodes those parts.
    covers: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)
    passes: int = Field(default=0)
    # Made as part of a batch (the event's flagged photos, or one attendee's).
    batch_id: uuid.UUID | None = Field(default=None, foreign_key="redaction_batch.id", index=True)


class RenditionPart(Leased, table=True):
    """A part of a video's redaction: frames [start_s, end_s) re-encoded by one job with its own
    lease (a dead worker loses only its part); the parts are joined into the rendition's file,
    then deleted."""

    __tablename__ = "rendition_part"
    __table_args__ = (sa.UniqueConstraint("rendition_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    rendition_id: uuid.UUID = Field(foreign_key="rendition.id", index=True)
    number: int = Field(description="1-based, in time order")
    start_s: float
    end_s: float | None = Field(default=None, description="None: to the end of the video")
    status: str = Field(default="pending", max_length=12)  # pending | processing | done
    key: str | None = Field(default=None, max_length=64)  # the part's file (storage "parts")


class VideoSegment(Leased, table=True):
    """A part of a video being analysed: segments are separate jobs (several workers share one
    long video; a dead worker loses only its part). What a finished segment found waits here,
    encrypted (it holds face encodings), until the last one is done: then the parts are stitched,
    stored as the video's tracks, and these rows deleted."""

    __tablename__ = "video_segment"
    __table_args__ = (sa.UniqueConstraint("media_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True)
    number: int = Field(description="1-based, in time order")
    start_s: float
    end_s: float | None = Field(default=None, description="None: to the end of the video")
    status: str = Field(default="pending", max_length=12)  # pending | processing | done
    result: bytes | None = Field(default=None, sa_type=sa.LargeBinary)  # encrypted


class ObjectionDecision(StrEnum):
    pending = "pending"  # nobody on the staff has looked yet: it counts (privacy first)
    upheld = "upheld"
    dismissed = "dismissed"  # staff found it unfounded, with a reason: it no longer counts


class MediaObjection(SQLModel, table=True):
    """An attendee who did not opt out said "not this photo": for that person the photo is
    treated like an opt-out (flagged, refused by the gate until redacted, taken down if
    published) until staff dismiss the objection with a reason. Deleted with the booking's data
    when they ask for erasure where a face is matched to them (their booking then stays opted
    out, so the photo stays blocked); kept, anonymous, where it is all that blocks the photo."""

    __tablename__ = "media_objection"
    __table_args__ = (sa.UniqueConstraint("media_id", "booking_id"),)

    id: int | None = Field(default=None, primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True)
    booking_id: uuid.UUID = Field(foreign_key="booking.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Where they were not found in the photo, how to find them ("at the back, red scarf").
    explanation: str | None = Field(default=None, max_length=500)
    decision: ObjectionDecision = Field(
        default=ObjectionDecision.pending, sa_type=sa.String(12), index=True
    )
    decided_by: str | None = Field(default=None, max_length=120)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_reason: str | None = Field(default=None, max_length=1000)
