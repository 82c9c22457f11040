"""API shapes of the publish gate, publications, takedowns and certificates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class PublishableOut(BaseModel):
    allowed: bool
    reasons: list[str] = Field(description="Why not, in plain sentences (empty when allowed).")


class PublishableAsk(BaseModel):
    media_id: uuid.UUID
    channel: str = Field(max_length=32)
    rendition_id: uuid.UUID | None = None
    caption: str | None = Field(
        default=None,
        max_length=5000,
        description="The post's text (and alt text): checked with the file; a name or an "
        "identifier it may not carry is a reason.",
    )


class PublishableBatchIn(BaseModel):
    items: list[PublishableAsk] = Field(min_length=1, max_length=1000)


class PublishableAnswer(PublishableAsk):
    allowed: bool
    reasons: list[str]


class PublishableBatchOut(BaseModel):
    items: list[PublishableAnswer]


class PublicationIn(BaseModel):
    channel: str = Field(max_length=32, description="One of the configured channels.")
    rendition_id: uuid.UUID | None = Field(
        default=None,
        description="The rendition published (e.g. a verified redacted copy); without one a "
        "metadata-stripped copy of the original is made and published.",
    )
    url: str | None = Field(default=None, max_length=2000, description="Where it was posted.")
    caption: str | None = Field(
        default=None,
        max_length=5000,
        description="The post's text (and alt text): checked with the file; a name or an "
        "identifier it may not carry is a reason.",
    )


class CaptionIn(BaseModel):
    caption: str | None = Field(
        default=None,
        max_length=5000,
        description="The post's text (and alt text): checked with the file; a name or an "
        "identifier it may not carry is a reason.",
    )


class PublicationPublic(BaseModel):
    id: uuid.UUID
    media_id: uuid.UUID
    rendition_id: uuid.UUID
    file_url: str = Field(description="The exact file to publish (metadata stripped).")
    channel: str
    url: str | None
    caption: str | None = Field(description="The post's text as the gate checked it.")
    basis: dict[str, Any] = Field(description="Consent ids and/or the event notice it rests on.")
    published_at: datetime
    published_by: str
    status: Literal["live", "takedown_required", "taken_down"]
    takedown_reasons: list[str]
    taken_down_at: datetime | None
    taken_down_by: str | None
    takedown_note: str | None
    certificate: str = Field(description="Signed clearance certificate (JWS, EdDSA).")
    certificate_expires_at: datetime


class TakedownPublic(BaseModel):
    publication_id: uuid.UUID
    media_id: uuid.UUID
    filename: str
    channel: str
    url: str | None
    published_at: datetime
    published_by: str
    reasons: list[str] = Field(description="Why it must come down.")
    requested_at: datetime | None = Field(description="When staff were first told.")


class TakedownIn(BaseModel):
    note: str | None = Field(default=None, max_length=1000, description="What was done, where.")


class CertificateCheckIn(BaseModel):
    certificate: str = Field(max_length=20_000)


class CertificateStatus(BaseModel):
    """Whether a clearance certificate still stands. No personal data."""

    status: str = Field(description="valid or revoked")
    reason: str | None = Field(
        default=None,
        description="Why it was revoked: basis_withdrawn (consent withdrawn or expired, an "
        "attendee opted out, channels narrowed) or taken_down.",
    )
    revoked_at: datetime | None = None


class CertificateCheckOut(BaseModel):
    valid: bool = Field(description="Signature, type and window check out, and not revoked")
    reason: str | None = None
    claims: dict[str, Any] | None = None
    revoked: CertificateStatus | None = Field(
        default=None, description="When it was revoked since it was issued, and why"
    )
