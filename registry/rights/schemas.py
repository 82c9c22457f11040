"""API shapes of subject requests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
