"""Webhook endpoints (the systems that hold the posts) and the deliveries sent to them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow

# What outside systems may subscribe to.
EVENTS = (
    "publication.takedown_required",
    "media.cleared",
    "media.flagged",
    "consent.revoked",
    "booking.opted_out",
)


class DeliveryState(StrEnum):
    queued = "queued"  # due at next_attempt_at (first try, or a retry after a failure)
    delivered = "delivered"  # the endpoint answered 2xx
    failed = "failed"  # every try failed; replay sends it again


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(sa_type=sa.JSON)
    description: str = Field(default="", max_length=200)
    # The signing secrets, sealed (AES-GCM, bound to this endpoint): the current one, and the
    # previous one while its grace period after a rotation runs (deliveries carry both).
    secret: bytes = Field(sa_type=sa.LargeBinary)
    previous_secret: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    previous_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enabled: bool = Field(default=True)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=500)
    failures: int = Field(default=0, description="Failed tries since the last success")
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One message to one endpoint; its id is the `webhook-id` (the receiver's dedup key)."""

    __tablename__ = "webhook_delivery"

    id: str = Field(primary_key=True, max_length=40)  # msg_<26 base32>
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoint.id", index=True)
    event: str = Field(max_length=60)
    payload: dict[str, object] = Field(sa_type=sa.JSON)
    state: DeliveryState = Field(default=DeliveryState.queued, sa_type=sa.String(16), index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status: int | None = Field(default=None)
    last_response: str | None = Field(default=None, max_length=500)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
