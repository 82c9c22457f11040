"""Retention that runs itself: the daily housekeeping deletes what has been kept long enough.

What is kept, and for how long (settings, in days unless said):

- bookings' names and addresses: `retention_booking_days` (365) after the event ends, then
  erased as on request (an opted-out booking stays as an anonymous marker);
- event photos and videos: `retention_event_media_days` (730) after the event ends, then deleted
  with their faces, renditions and files;
- uploads never published: `retention_unpublished_days` (180) after the upload or the last
  consent decision about them, then deleted likewise;
- consent requests declined or never answered: `retention_declined_consent_days` (365) after
  their last change, then deleted with their history;
- consents granted, then ended: `consent_record_years` (8 years) after the end (withdrawal or
  expiry), as the receipt says;
- mail records: `retention_mail_days` (90) after they were queued.

Nothing that still proves a live publication is deleted: media with a publication that has not
come down, and consents covering it, wait for the takedown. Each run writes one audit entry with
its counts; each erased booking or deleted consent has its own entry too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, delete, select

from registry.audit import service as audit
from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.consent.models import ConsentMedia, ConsentRequest, ConsentStatus
from registry.db import request_wal_truncate, utcnow
from registry.events.models import Booking, Event
from registry.mail import service as mail
from registry.media import index
from registry.media.models import (
    FaceReview,
    Media,
    MediaBadge,
    MediaFace,
    MediaObjection,
    Rendition,
    RenditionPart,
    TransientReference,
    VideoSegment,
)
from registry.media.storage import get_storage
from registry.publishing.models import Publication
from registry.rights import erasure
from registry.webhooks import service as webhooks

LABELS = {
    "bookings": "Bookings' names and addresses",
    "event_media": "Event photos and videos",
    "unpublished_media": "Uploads never published",
    "declined_consents": "Consent requests declined or never answered",
    "ended_consents": "Consent records of consents that ended",
}


@dataclass(frozen=True)
class Due:
    """One record and when retention deletes it."""

    kind: str
    record_id: uuid.UUID
    due_at: datetime


def _event_end(event: Event) -> datetime:
    return event.ends_at or event.starts_at


def _live_media(session: Session) -> set[uuid.UUID]:
    return set(
        session.exec(
            select(Publication.media_id).where(col(Publication.taken_down_at).is_(None))
        ).all()
    )


def _ever_published(session: Session) -> set[uuid.UUID]:
    return set(session.exec(select(Publication.media_id)).all())


def schedule(*, session: Session) -> Iterator[Due]:
    """Every record retention will delete, with its date (whether past or not)."""
    settings = get_settings()
    events = {e.id: e for e in session.exec(select(Event)).all()}
    for booking in session.exec(select(Booking).where(col(Booking.erased_at).is_(None))).all():
        event = events.get(booking.event_id)
        if event is not None:
            yield Due(
                "bookings",
                booking.id,
                _event_end(event) + timedelta(days=settings.retention_booking_days),
            )
    live, published = _live_media(session), _ever_published(session)
    decided: dict[uuid.UUID, datetime] = {}
    for media_id, at in session.exec(
        select(ConsentMedia.media_id, ConsentRequest.decided_at).join(
            ConsentRequest, col(ConsentRequest.id) == col(ConsentMedia.consent_request_id)
        )
    ).all():
        if at is not None:
            decided[media_id] = max(at, decided.get(media_id, at))
    for media in session.exec(select(Media)).all():
        if media.id in live:
            continue
        if media.id not in published:
            start = max(media.created_at, decided.get(media.id, media.created_at))
            due = start + timedelta(days=settings.retention_unpublished_days)
            yield Due("unpublished_media", media.id, due)
        elif media.event_id is not None and media.event_id in events:
            due = _event_end(events[media.event_id]) + timedelta(
                days=settings.retention_event_media_days
            )
            yield Due("event_media", media.id, due)
    live_consents = set(
        session.exec(
            select(ConsentMedia.consent_request_id).where(col(ConsentMedia.media_id).in_(live))
        ).all()
    )
    for request in session.exec(select(ConsentRequest)).all():
        if request.id in live_consents or request.erase_requested_at is not None:
            continue
        status = request.status
        if status == ConsentStatus.pending and request.expires_at is None:
            continue  # still open: the link's own expiry ends it (recorded as expired)
        if status == ConsentStatus.declined or (
            status == ConsentStatus.expired and request.decided_at is None
        ):
            last = request.decided_at or request.expires_at or request.created_at
            yield Due(
                "declined_consents",
                request.id,
                last + timedelta(days=settings.retention_declined_consent_days),
            )
        elif status in (ConsentStatus.revoked, ConsentStatus.expired):
            ended = request.decided_at or request.expires_at or request.created_at
            if status == ConsentStatus.expired and request.expires_at is not None:
                ended = request.expires_at
            yield Due(
                "ended_consents",
                request.id,
                ended + timedelta(days=365 * settings.consent_record_years),
            )


def run(*, session: Session, at: datetime | None = None) -> dict[str, int]:
    """Delete what is due now; one audit entry with the counts (none when nothing was due)."""
    at = at or utcnow()
    counts = dict.fromkeys(LABELS, 0)
    due = [d for d in schedule(session=session) if d.due_at <= at]
    for item in due:
        if item.kind == "bookings":
            booking = session.get(Booking, item.record_id)
            if booking is not None and booking.erased_at is None:
                erasure.erase_booking(session=session, actor=SYSTEM, booking=booking)
                counts["bookings"] += 1
        elif item.kind in ("event_media", "unpublished_media"):
            media = session.get(Media, item.record_id)
            if media is not None:
                delete_media(session=session, media=media)
                counts[item.kind] += 1
        else:
            request = session.get(ConsentRequest, item.record_id)
            if request is not None:
                erasure.erase_consent(session=session, actor=SYSTEM, request=request)
                counts[item.kind] += 1
    counts["consents_kept_until_unpublished"] = erasure.delete_unpublished(
        session=session, actor=SYSTEM
    )
    counts["mail_records"] = mail.purge(session=session, days=get_settings().retention_mail_days)
    counts["webhook_deliveries"] = webhooks.purge(
        session=session, days=get_settings().retention_mail_days
    )
    if any(counts.values()):
        audit.record(
            session=session,
            actor=SYSTEM,
            action="retention.run",
            entity_type="retention",
            entity_id=at.date().isoformat(),
            after=counts,
        )
        request_wal_truncate(session)
    return counts


@dataclass(frozen=True)
class Upcoming:
    kind: str
    label: str
    next_at: datetime
    within_30_days: int


def upcoming(*, session: Session, at: datetime | None = None) -> list[Upcoming]:
    """For the dashboard: per kind of record, when retention next deletes one and how many go in
    the next 30 days (soonest first)."""
    at = at or utcnow()
    soon = at + timedelta(days=30)
    by_kind: dict[str, list[datetime]] = {}
    for item in schedule(session=session):
        by_kind.setdefault(item.kind, []).append(max(item.due_at, at))
    out = [
        Upcoming(kind, LABELS[kind], min(dates), sum(1 for d in dates if d <= soon))
        for kind, dates in by_kind.items()
    ]
    return sorted(out, key=lambda u: u.next_at)


_FILES = "registry.retention.files"


def delete_media(*, session: Session, media: Media) -> None:
    """A photo or video and everything derived from it; its files go once the deletion commits
    (and only when no other record shares them)."""
    renditions = session.exec(select(Rendition).where(Rendition.media_id == media.id)).all()
    # A file is stored once per content: another media's rendition may be the very same file
    # (the same redaction of the same bytes uploaded to two events), and keeps it.
    files = [
        (key, "renditions")
        for key in sorted({r.sha256 for r in renditions if r.sha256})
        if session.exec(
            select(Rendition.id).where(Rendition.sha256 == key, Rendition.media_id != media.id)
        ).first()
        is None
    ]
    shared = session.exec(
        select(Media.id).where(Media.sha256 == media.sha256, Media.id != media.id)
    ).first()
    if shared is None:
        files += [(media.sha256, kind) for kind in ("originals", "thumbs", "previews")]
    # A redaction still being made: its parts so far (its jobs find the rendition gone and stop).
    parts = session.exec(
        select(RenditionPart).where(col(RenditionPart.rendition_id).in_([r.id for r in renditions]))
    ).all()
    files += [(p.key, "parts") for p in parts if p.key]
    if parts:
        session.execute(
            delete(RenditionPart).where(
                col(RenditionPart.rendition_id).in_([r.id for r in renditions])
            )
        )
    for model, column in (
        (FaceReview, FaceReview.media_id),
        (MediaFace, MediaFace.media_id),
        (MediaBadge, MediaBadge.media_id),
        (TransientReference, TransientReference.media_id),
        (VideoSegment, VideoSegment.media_id),
        (MediaObjection, MediaObjection.media_id),
        (ConsentMedia, ConsentMedia.media_id),
        (Publication, Publication.media_id),
        (Rendition, Rendition.media_id),
    ):
        session.execute(delete(model).where(column == media.id))  # type: ignore[arg-type]
    session.delete(media)
    session.flush()
    if media.event_id is not None:
        index.forget(media.event_id)
    session.info.setdefault(_FILES, []).extend(files)


def delete_pending_files(session: OrmSession) -> None:
    """Delete the files of media this session deleted (after it commits)."""
    files = session.info.pop(_FILES, None)
    if not files:
        return
    storage = get_storage()
    for key, kind in files:
        try:
            storage.delete(key, kind=kind)
        except FileNotFoundError:
            continue


def _forget_files(session: OrmSession) -> None:
    session.info.pop(_FILES, None)


if not event.contains(OrmSession, "after_commit", delete_pending_files):
    event.listen(OrmSession, "after_commit", delete_pending_files)
    event.listen(OrmSession, "after_rollback", _forget_files)
