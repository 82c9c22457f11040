"""API shapes of subject requests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from registry.media.models import ObjectionDecision


class SubjectRequestIn(BaseModel):
    email: str = Field(max_length=320, description="The address the person wrote from or gave")


class SubjectRequestPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str = Field(description="open | exported | erased | closed")
    received_at: datetime
    due_at: datetime = Field(description="The answer is due one calendar month after receipt")
    exported_at: datetime | None = None
    erased_at: datetime | None = None


class SubjectRequestFound(SubjectRequestPublic):
    found: dict[str, Any] = Field(
        default_factory=dict,
        description="bookings (with events), consents, and counts of reference photos, matched "
        "faces, objections and publications held about the address",
    )


class Erased(SubjectRequestPublic):
    erased: dict[str, int] = Field(default_factory=dict)


class ObjectionPublic(BaseModel):
    """An attendee's objection to one photo or video and staff's decision on it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    media_id: uuid.UUID
    booking_id: uuid.UUID
    created_at: datetime
    explanation: str | None = Field(
        default=None, description="Where they said they are in it (when they were not found)"
    )
    decision: ObjectionDecision = Field(
        description="pending (counts until decided), upheld, or dismissed (no longer counts)"
    )
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None


class ObjectionDecisionIn(BaseModel):
    decision: ObjectionDecision = Field(description="upheld or dismissed")
    reason: str | None = Field(
        default=None, max_length=1000, description="Why (required to dismiss)"
    )
