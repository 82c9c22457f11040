"""Face templates at rest: sealed (AES-GCM, bound to where each is stored), given a purge date
when stored (the event's, or a set number of days after upload), moved when an event's
retention changes, and deleted when the date comes (the faces keep their boxes and decisions).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import numpy as np
from sqlmodel import Session, col, select

from registry import crypto
from registry.audit import service as audit
from registry.config import get_settings
from registry.db import utcnow
from registry.events import references
from registry.events.models import Event
from registry.media import index
from registry.media.models import (
    Media,
    MediaFace,
    MediaStatus,
    TransientReference,
    VideoSegment,
)


def purge_date(session: Session, media: Media) -> datetime | None:
    """When the photo's face encodings go: the event's purge date, or (no event) a set number
    of days after upload. Every stored template has one."""
    event = session.get(Event, media.event_id) if media.event_id is not None else None
    if event is not None:
        return references.purge_date(event)
    return media.created_at + timedelta(days=get_settings().biometric_days_without_event)


def on_retention_changed(*, session: Session, event_id: uuid.UUID, purge_after: datetime) -> None:
    """An event's purge date moved: its photos' encodings and transient references follow."""
    faces = session.exec(
        select(MediaFace)
        .join(Media, col(Media.id) == col(MediaFace.media_id))
        .where(
            Media.event_id == event_id,
            col(MediaFace.encoding).is_not(None),
            MediaFace.purge_after != purge_after,
        )
    ).all()
    for face in faces:
        face.purge_after = purge_after
        session.add(face)
    transient = session.exec(
        select(TransientReference).where(
            TransientReference.event_id == event_id,
            TransientReference.purge_after != purge_after,
        )
    ).all()
    for ref in transient:
        ref.purge_after = purge_after
        session.add(ref)
    session.flush()


def purge_biometrics(*, session: Session, at: datetime | None = None) -> int:
    """Delete face encodings of event photos and transient references past retention.

    The photos keep their boxes and decisions; only the biometric templates go.
    """
    at = at or utcnow()
    faces = list(
        session.exec(
            select(MediaFace).where(
                col(MediaFace.encoding).is_not(None), col(MediaFace.purge_after) <= at
            )
        ).all()
    )
    # Faces stored before every template had a date (photos not from an event): by upload date.
    undated = at - timedelta(days=get_settings().biometric_days_without_event)
    faces += session.exec(
        select(MediaFace)
        .join(Media, col(Media.id) == col(MediaFace.media_id))
        .where(
            col(MediaFace.encoding).is_not(None),
            col(MediaFace.purge_after).is_(None),
            col(Media.created_at) <= undated,
        )
    ).all()
    for face in faces:
        face.encoding = None
        face.purged_at = at  # its decision and matched booking stay: they are the record
        session.add(face)
    transient = session.exec(
        select(TransientReference).where(TransientReference.purge_after <= at)
    ).all()
    for ref in transient:
        session.delete(ref)
    # Parts of a video analysis left behind by a video no longer being cleared (normally deleted
    # when stitched or failed): their findings hold encodings too.
    leftover = session.exec(
        select(VideoSegment)
        .join(Media, col(Media.id) == col(VideoSegment.media_id))
        .where(col(Media.status).not_in([MediaStatus.pending, MediaStatus.processing]))
    ).all()
    for part in leftover:
        session.delete(part)
    if faces or transient:
        index.forget()  # no decrypted template outlives its purge in this process's memory
        audit.record(
            session=session,
            actor=audit.SYSTEM,
            action="media.biometrics_purged",
            entity_type="media",
            entity_id="*",
            after={"face_encodings": len(faces), "transient_references": len(transient)},
        )
    session.flush()
    return len(faces) + len(transient)


def seal(encoding: np.ndarray, bound_to: str) -> bytes:
    """A face encoding, encrypted for the database (bound to where it is stored)."""
    return crypto.encrypt(encoding.astype("<f8").tobytes(), bound_to=bound_to)


def encoding_of(blob: bytes, bound_to: str) -> np.ndarray:
    """A stored encoding, decrypted (in memory only)."""
    return np.frombuffer(crypto.decrypt(blob, bound_to=bound_to), dtype="<f8").copy()
