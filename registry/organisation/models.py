"""The organisation's details, as an admin set them (one row)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow


class Organisation(SQLModel, table=True):
    """Who the PII controller is: named on consent pages, receipts, booking pages and emails."""

    __tablename__ = "organisation"

    id: int = Field(default=1, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, description="Privacy contact")
    address: str = Field(default="", max_length=500)
    # The organisation's own phone numbers (comma-separated): a caption may give them.
    phone: str = Field(default="", max_length=200)
    privacy_policy_url: str = Field(default="", max_length=500)
    updated_by: str = Field(max_length=120)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
