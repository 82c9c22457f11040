"""Every table model, imported in one place so the metadata (and Alembic) sees them all."""

from registry.audit.models import AuditEntry, AuditHead
from registry.auth.models import StaffUser
from registry.consent.models import ConsentEvent, ConsentMedia, ConsentNotice, ConsentRequest
from registry.events.models import (
    Booking,
    BookingChange,
    Event,
    FilmingNotice,
    ReferencePhoto,
)
from registry.mail.models import OutboxMessage
from registry.media.models import (
    FaceReview,
    Media,
    MediaBadge,
    MediaFace,
    MediaObjection,
    RedactionBatch,
    Rendition,
    RenditionPart,
    TransientReference,
)
from registry.organisation.models import Organisation
from registry.publishing.models import Publication
from registry.rights.models import ErasurePermit, SubjectRequest
from registry.webhooks.models import WebhookDelivery, WebhookEndpoint

# What `registry.migrations` and Alembic compare the database with.
ALL_TABLES = (
    AuditEntry,
    AuditHead,
    Booking,
    BookingChange,
    ConsentEvent,
    ConsentMedia,
    ConsentNotice,
    ConsentRequest,
    Event,
    FaceReview,
    FilmingNotice,
    Media,
    MediaBadge,
    MediaFace,
    MediaObjection,
    Organisation,
    OutboxMessage,
    Publication,
    RedactionBatch,
    ReferencePhoto,
    Rendition,
    RenditionPart,
    StaffUser,
    SubjectRequest,
    ErasurePermit,
    TransientReference,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "ALL_TABLES",
    "AuditEntry",
    "AuditHead",
    "Booking",
    "BookingChange",
    "ConsentEvent",
    "ConsentMedia",
    "ConsentNotice",
    "ConsentRequest",
    "Event",
    "FaceReview",
    "FilmingNotice",
    "Media",
    "MediaBadge",
    "MediaFace",
    "MediaObjection",
    "Organisation",
    "OutboxMessage",
    "Publication",
    "RedactionBatch",
    "ReferencePhoto",
    "Rendition",
    "RenditionPart",
    "StaffUser",
    "SubjectRequest",
    "ErasurePermit",
    "TransientReference",
    "WebhookDelivery",
    "WebhookEndpoint",
]
