"""The stored audit entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow


class AuditEntry(SQLModel, table=True):
    """One state change: who did what to which record, when, and the state before and after.

    `seq` runs 1, 2, 3 ... without gaps and `hash` covers the entry and the previous hash, so an
    edited or deleted row breaks the chain at a point `registry audit verify` reports.
    """

    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(
        max_length=120, description="staff:<id>, patient, guardian, attendee, system"
    )
    action: str = Field(max_length=80, index=True)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # Personal fields (a free-text note, an address a request was made for) are kept apart: the
    # hash covers only their salted digest, so erasure can replace them with a tombstone
    # (personal and salt deleted, erased_at set) and the chain still verifies.
    personal: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    personal_salt: str | None = Field(default=None, max_length=32)
    personal_digest: str | None = Field(default=None, max_length=64)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})

    __table_args__ = (sa.Index("ix_audit_entry_entity", "entity_type", "entity_id"),)


class AuditHead(SQLModel, table=True):
    """The chain's tip (one row). Appends update it first, which serialises them on every backend
    and lets verification notice entries removed from the end of the log."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(default=0)
    hash: str = Field(max_length=64)
