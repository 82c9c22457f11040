"""Stored subject requests (a person asked staff what is held about them, or to erase it) and
the one-row permits that let an erasure remove rows the database otherwise keeps for good."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow


class SubjectRequest(SQLModel, table=True):
    """A request for access or erasure received by staff, answered within a month.

    The address is what staff search with; it is erased with the person's data (the request then
    keeps only its dates and counts, which hold no personal data)."""

    __tablename__ = "subject_request"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str | None = Field(default=None, max_length=320)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime, index=True)
    status: str = Field(default="open", max_length=16)  # open | exported | erased | closed
    exported_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    erased: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    created_by: str = Field(max_length=120)


class ErasurePermit(SQLModel, table=True):
    """Written by an erasure inside its transaction and deleted before it commits: while it
    exists, the database lets that one record's append-only rows (a consent's history) be
    removed. Nothing else can remove them."""

    __tablename__ = "erasure_permit"

    record_id: uuid.UUID = Field(primary_key=True)
