"""API shapes of consent requests, their history and the notice template."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from registry.addresses import Address
from registry.consent.models import ActorRole, ConsentAction, ConsentStatus


class ConsentRequestCreate(BaseModel):
    subject_name: str = Field(min_length=1, max_length=200, description="The patient's name.")
    subject_email: Address | None = Field(default=None, description="Where to send the link.")
    guardian_name: str | None = Field(
        default=None,
        max_length=200,
        description="Who decides on the patient's behalf (a parent for a minor, an attorney "
        "where the patient lacks capacity); decisions by link are recorded as theirs.",
    )
    guardian_relation: str | None = Field(
        default=None, max_length=100, description="e.g. parent, attorney, deputy."
    )
    purpose: str = Field(min_length=1, max_length=2000, description="The purpose in plain words.")
    description: str = Field(
        min_length=1, max_length=4000, description="What the media show, in plain words."
    )
    channels: list[str] = Field(
        min_length=1, description="Where the media may appear (see settings `channels`)."
    )
    media_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=500, description="Media items covered; may be empty."
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the consent ends; none = until withdrawn."
    )
    send_email: bool = Field(
        default=True,
        description="Email the request and its link to `subject_email` (when given).",
    )


class ConsentEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: ConsentAction
    at: datetime
    actor_role: ActorRole
    actor: str
    notice_version: int
    user_agent: str | None
    ip_prefix: str | None = Field(description="The client's network (IPv4 /24, IPv6 /48).")
    note: str | None


class ConsentRequestCreated(BaseModel):
    id: uuid.UUID
    status: ConsentStatus
    link: str = Field(description="The patient's personal consent link.")
    qr_url: str = Field(description="PNG QR code of the link (staff login needed).")
    link_expires_at: datetime | None


class ConsentRequestPublic(ConsentRequestCreated):
    subject_name: str
    subject_email: str | None
    guardian_name: str | None
    guardian_relation: str | None
    purpose: str
    description: str
    channels: list[str]
    media_ids: list[uuid.UUID]
    expires_at: datetime | None
    notice_version: int
    created_at: datetime
    history: list[ConsentEventPublic]


class ConsentRequestSummary(BaseModel):
    id: uuid.UUID
    status: ConsentStatus
    subject_name: str
    guardian_name: str | None
    purpose: str
    channels: list[str]
    expires_at: datetime | None
    created_at: datetime


class StaffRevoke(BaseModel):
    note: str = Field(
        min_length=1,
        max_length=1000,
        description="How the withdrawal was received (e.g. 'phoned the clinic on 3 May').",
    )


class ConsentNoticePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    text: str
    created_by: str
    created_at: datetime


class ConsentNoticeUpdate(BaseModel):
    text: str = Field(min_length=40, max_length=20_000)
