"""Stored consent requests, their append-only event history and the versioned notice template."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow


class ConsentStatus(StrEnum):
    pending = "pending"
    granted = "granted"
    declined = "declined"
    revoked = "revoked"
    expired = "expired"


class ConsentAction(StrEnum):
    requested = "requested"
    viewed = "viewed"
    granted = "granted"
    declined = "declined"
    revoked = "revoked"
    expired = "expired"
    link_reissued = "link_reissued"


class ActorRole(StrEnum):
    patient = "patient"
    guardian = "guardian"
    staff = "staff"
    system = "system"


class ConsentNotice(SQLModel, table=True):
    """Every version of the text patients are shown; a decision records the version seen."""

    __tablename__ = "consent_notice"

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(sa_column_kwargs={"unique": True})
    text: str = Field(sa_type=sa.Text)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ConsentRequest(SQLModel, table=True):
    __tablename__ = "consent_request"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Opaque id of the patient on receipts (ISO/IEC TS 27560 "PII principal id"); not their name.
    subject_ref: uuid.UUID = Field(default_factory=uuid.uuid4)
    subject_name: str = Field(max_length=200)
    subject_email: str | None = Field(default=None, max_length=320)
    guardian_name: str | None = Field(default=None, max_length=200)
    guardian_relation: str | None = Field(default=None, max_length=100)
    purpose: str = Field(sa_type=sa.Text)
    description: str = Field(sa_type=sa.Text)
    channels: list[str] = Field(sa_type=sa.JSON)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # The latest decision, cached from consent_event (the record); expiry is derived on read.
    status: ConsentStatus = Field(default=ConsentStatus.pending, sa_type=sa.String(16), index=True)
    notice_version: int = Field(description="Notice version current when the request was made")
    link_version: int = Field(default=1)
    link_issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A renewal is a new request (same person, media, purpose, channels) granted on the current
    # notice; it names the consent it renews.
    renewed_from: uuid.UUID | None = Field(
        default=None, foreign_key="consent_request.id", index=True
    )
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The patient asked for erasure while the media it covers was published on its strength:
    # the record (under a pseudonym) is kept as proof until the last publication comes down,
    # then housekeeping deletes it.
    erase_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ConsentMedia(SQLModel, table=True):
    """The media items a consent covers."""

    __tablename__ = "consent_media"

    consent_request_id: uuid.UUID = Field(foreign_key="consent_request.id", primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", primary_key=True, index=True)


class ConsentEvent(SQLModel, table=True):
    """One event in a consent's life; rows are only ever added (the database refuses updates)."""

    __tablename__ = "consent_event"

    id: int | None = Field(default=None, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="consent_request.id", index=True)
    action: ConsentAction = Field(sa_type=sa.String(24))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_role: ActorRole = Field(sa_type=sa.String(16))
    actor: str = Field(max_length=200, description="Who acted: a staff id, or the person's role")
    notice_version: int
    user_agent: str | None = Field(default=None, max_length=300)
    ip_prefix: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=1000)
