"""Stored staff accounts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow


class Role(StrEnum):
    admin = "admin"
    comms = "comms"


class StaffUser(SQLModel, table=True):
    """A member of staff who signs in; never returned by the API as is (it holds the hash)."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True}, index=False)
    name: str | None = Field(default=None, max_length=200, description="Shown in histories")
    password_hash: str = Field(max_length=255)
    role: Role = Field(sa_type=sa.String(16))
    is_active: bool = Field(default=True)
    # Bumped to invalidate every token and session of the user (password change, deactivation).
    token_version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
