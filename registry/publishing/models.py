"""Publications: what was published where, on what basis, and whether it has been taken down."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow


class Publication(SQLModel, table=True):
    """One post (or print run) of a media file on a channel; added only when the gate allowed it."""

    __tablename__ = "publication"
    __table_args__ = (sa.UniqueConstraint("media_id", "channel", "url_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True)
    rendition_id: uuid.UUID = Field(
        foreign_key="rendition.id", description="The file published (always metadata-stripped)"
    )
    channel: str = Field(max_length=32, index=True)
    url: str | None = Field(default=None, max_length=2000)
    # sha256 of the URL ("" when none): makes (media, channel, URL) unique even without a URL.
    url_key: str = Field(max_length=64)
    # The post's text (and alt text) as the gate checked it with the file.
    caption: str | None = Field(default=None, sa_type=sa.Text)
    basis: dict[str, object] = Field(default_factory=dict, sa_type=sa.JSON)
    certificate: str = Field(sa_type=sa.Text)
    certificate_expires_at: datetime = Field(sa_type=UTCDateTime)
    published_by: str = Field(max_length=120)
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # Set the first time the service notices the basis is gone (and staff are told).
    takedown_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    takedown_reasons: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    taken_down_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    taken_down_by: str | None = Field(default=None, max_length=120)
    takedown_note: str | None = Field(default=None, max_length=1000)
