"""API shapes of consent requests, their history, the notice template and the receipt."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

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


class ConsentRequestForm(BaseModel):
    """`ConsentRequestCreate` as the staff page's form sends it: every field as typed (an empty
    field is empty text, an unticked box is absent), the media as the ids of the ticked pictures
    (or pasted, one per line), and the end as a date (`expires_on`). What must hold (a name, a
    purpose, a description, known channels, one address) is checked by
    `service.create_request`, for this form and the API alike, so a refusal shows the form
    again with what was typed."""

    subject_name: str = Field(default="", max_length=200)
    subject_email: str = Field(default="", max_length=320)
    guardian_name: str = Field(default="", max_length=200)
    guardian_relation: str = Field(default="", max_length=100)
    purpose: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=4000)
    channels: list[str] = Field(default_factory=list, max_length=20)
    media_ids: list[str] = Field(default_factory=list, max_length=200)
    expires_on: str = Field(default="", max_length=20, description="A date, YYYY-MM-DD.")


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


# --- the consent receipt (ISO/IEC TS 27560:2023 elements, Kantara v1.1 names) ---------------

RECEIPT_SCHEMA: Final = "ISO/IEC TS 27560:2023"
KANTARA_VERSION: Final = "KI-CR-v1.1.0"


def _iso(value: datetime) -> str:
    return value.isoformat()


# A time in a receipt is written as `datetime.isoformat()` gives it ("+00:00", not "Z"): the
# receipts people already hold were written so, and a receipt is compared byte for byte.
IsoTime = Annotated[datetime, PlainSerializer(_iso, return_type=str)]


class ReceiptController(BaseModel):
    pii_controller: str
    contact: str | None
    address: str | None
    email: str | None
    pii_controller_url: str


class ReceiptNotice(BaseModel):
    notice_id: str
    version: int
    text: str
    sha256: str = Field(description="SHA-256 of the notice text, hex.")
    language: str


class ReceiptPurpose(BaseModel):
    purpose_id: str
    purpose: str
    purpose_category: list[str]
    lawful_basis: str
    consent_type: str
    primary_purpose: bool
    pii_information: list[str]
    pii_category: list[str]
    media_ids: list[str]
    channels: list[str]
    pii_controllers: list[ReceiptController]
    collection_method: str
    storage_locations: list[str]
    retention_period: str
    termination: str
    processing_locations: list[str]
    jurisdiction: str
    third_party_disclosure: bool
    recipient_third_parties: list[str] = Field(description="The channels, in words.")
    withdrawal_method: str
    privacy_rights: list[str]


class ReceiptService(BaseModel):
    service: str
    purposes: list[str]


class PrincipalParty(BaseModel):
    party_type: Literal["pii_principal"] = "pii_principal"
    name: str
    email: str | None


class ControllerParty(BaseModel):
    party_type: Literal["pii_controller"] = "pii_controller"
    name: str


class GuardianParty(BaseModel):
    party_type: Literal["guardian"] = "guardian"
    name: str
    relation: str | None
    on_behalf_of: Literal["pii_principal"] = "pii_principal"


Party = Annotated[
    PrincipalParty | ControllerParty | GuardianParty, Field(discriminator="party_type")
]


class RequestOrigin(BaseModel):
    user_agent: str | None
    ip: str | None = Field(description="The client's network (IPv4 /24, IPv6 /48).")


class ReceiptEvent(BaseModel):
    event_time: IsoTime
    validity_duration: str | None = Field(
        description="ISO 8601 duration a consent given runs, or 'until withdrawn'."
    )
    event_type: str
    event_state: str
    entity: str
    notice_version: int
    request_origin: RequestOrigin | None


class ConsentReceipt(BaseModel):
    """The receipt of one consent record. Its fields, their order and how their values are written
    are its format, versioned by `schema_version`: a change to them is a new version."""

    schema_version: Literal["ISO/IEC TS 27560:2023"] = RECEIPT_SCHEMA
    kantara_version: Literal["KI-CR-v1.1.0"] = KANTARA_VERSION
    record_id: str
    receipt_issued_at: IsoTime
    pii_principal_id: str
    language: str
    jurisdiction: str
    status: ConsentStatus
    consent_timestamp: IsoTime | None
    collection_method: str
    sensitive: bool
    spi_cat: list[str]
    policy_url: str | None
    privacy_notice: ReceiptNotice
    pii_controllers: list[ReceiptController]
    purposes: list[ReceiptPurpose]
    services: list[ReceiptService]
    valid_until: IsoTime | None
    parties: list[Party]
    event: list[ReceiptEvent]
