"""The outbox: one row per message, written in the same transaction as its cause."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow


class MailState(StrEnum):
    queued = "queued"  # waiting (first try, or again after a temporary failure)
    sent = "sent"  # the mail server accepted it
    logged = "logged"  # no mail server configured: written to the log, links redacted
    bounced = "bounced"  # the server refused the recipient or the message for good (5xx)
    failed = "failed"  # gave up after every retry, or it could not be composed
    dropped = "dropped"  # no longer applies (the booking or request is gone or cancelled)


class OutboxMessage(SQLModel, table=True):
    """What to send, never the text: the message is composed from its kind and record when it
    is sent, so no body, link or address is stored here (links are made from the record; the
    recipient's address is read from it). Staff notices, which have no record, keep their text
    in `payload`."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    kind: str = Field(max_length=60, index=True)
    entity_type: str = Field(max_length=40)
    record_id: uuid.UUID | None = Field(default=None, index=True)
    # Shown to staff on the Outbox page: a masked address ("j•••@example.org") or "staff".
    recipient: str = Field(max_length=200)
    payload: dict[str, object] = Field(default_factory=dict, sa_type=sa.JSON)
    state: MailState = Field(default=MailState.queued, sa_type=sa.String(16), index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)
