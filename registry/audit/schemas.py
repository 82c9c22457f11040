"""API shapes of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    personal: dict[str, Any] | None = None
    erased_at: datetime | None = None
    hash: str


class VerifyReport(BaseModel):
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    problem: str | None = None
