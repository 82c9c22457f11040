"""API shapes of webhook endpoints and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from registry.webhooks.models import EVENTS


class EndpointIn(BaseModel):
    url: str = Field(max_length=2000, description="https:// address of the receiver.")
    events: list[str] = Field(min_length=1, max_length=len(EVENTS), description=", ".join(EVENTS))
    description: str = Field(default="", max_length=200)


class EndpointPublic(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    failures: int = Field(description="Failed tries since the last success.")
    created_at: datetime


class EndpointCreated(EndpointPublic):
    secret: str = Field(
        description="The signing secret (`whsec_` + base64, Standard Webhooks): shown only now."
    )


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret, shown only now.")
    previous_valid_until: datetime = Field(
        description="Until then deliveries carry signatures with both the old and new secret."
    )


class DeliveryPublic(BaseModel):
    id: str = Field(description="The `webhook-id` header (the receiver's deduplication key).")
    event: str
    state: str = Field(description="queued, delivered or failed")
    attempts: int
    payload: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status: int | None = Field(description="The receiver's HTTP status on the last try.")
    last_response: str | None = Field(description="The start of the receiver's last answer.")
    last_error: str | None
    delivered_at: datetime | None
