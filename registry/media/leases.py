"""A clearance job's lease on a photo: claimed by one worker at a time, renewed by its heartbeat,
swept back to pending when its worker died, failed (or retried) with a reason.

A video's parts have leases of their own (`media.segments`); the sweep frees theirs too.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from registry import metrics
from registry.audit import service as audit
from registry.config import get_settings
from registry.db import begin_write, utcnow
from registry.media.models import (
    Media,
    MediaStatus,
    VideoSegment,
)

MAX_ATTEMPTS = 3


def lease() -> timedelta:
    """How long a worker may hold a photo before it is presumed dead (job_lease_seconds)."""
    return timedelta(seconds=get_settings().job_lease_seconds)


def claim(*, session: Session, media_id: uuid.UUID) -> str | None:
    """Mark a pending photo as processing (with a lease); its storage key, or None if another
    worker holds it or it is done. A photo whose worker's lease ran out can be claimed again."""
    begin_write(session)  # on SQLite, else two jobs could both read this work as free
    media = session.get(Media, media_id, with_for_update=True, populate_existing=True)
    now = utcnow()
    if media is None:
        return None
    expired = media.status == MediaStatus.processing and (
        media.lease_until is None or media.lease_until <= now
    )
    if media.status != MediaStatus.pending and not expired:
        return None
    media.status = MediaStatus.processing
    media.attempts += 1
    media.lease_until = now + lease()
    session.add(media)
    session.flush()
    return media.sha256


def renew(*, session: Session, media_id: uuid.UUID) -> bool:
    """A working job's heartbeat: extend its lease; False when the photo is no longer being
    processed (done, or failed)."""
    media = session.get(Media, media_id, with_for_update=True, populate_existing=True)
    if media is None or media.status != MediaStatus.processing:
        return False
    media.lease_until = utcnow() + lease()
    session.add(media)
    session.flush()
    return True


def release_stale(*, session: Session, at: datetime | None = None) -> list[uuid.UUID]:
    """Photos whose worker died mid-job (lease expired) go back to pending; ids of every
    pending photo are returned so the caller can queue them."""
    at = at or utcnow()
    stale = session.exec(
        select(Media).where(
            Media.status == MediaStatus.processing,
            col(Media.lease_until).is_(None) | (col(Media.lease_until) <= at),
        )
    ).all()
    for media in stale:
        media.status = MediaStatus.pending
        session.add(media)
    metrics.get().lease_expiries.inc(len(stale))
    # The parts of videos those jobs held are free again too (see media.segments).
    parts = session.exec(
        select(VideoSegment).where(
            VideoSegment.status == "processing",
            col(VideoSegment.lease_until).is_(None) | (col(VideoSegment.lease_until) <= at),
        )
    ).all()
    for part in parts:
        part.status = "pending"
        session.add(part)
    session.flush()
    return list(session.exec(select(Media.id).where(Media.status == MediaStatus.pending)).all())


def sweep(*, session: Session, at: datetime | None = None) -> list[uuid.UUID]:
    """Photos to queue again: those whose worker died (lease run out: back to pending, queued
    at once) and, with a broker, pending ones nobody took for `pending_resend_minutes` (their
    message may be lost; nudged at most once per that period: `lease_until` on a pending photo
    is when it may next be nudged)."""
    at = at or utcnow()
    resend = timedelta(minutes=get_settings().pending_resend_minutes)
    due = session.exec(
        select(Media)
        .where(
            (col(Media.status) == MediaStatus.processing)
            | ((col(Media.status) == MediaStatus.pending) & (col(Media.created_at) <= at - resend)),
            col(Media.lease_until).is_(None) | (col(Media.lease_until) <= at),
        )
        .with_for_update(skip_locked=True)
    ).all()
    expired = sum(1 for m in due if m.status == MediaStatus.processing)
    for media in due:
        media.status, media.lease_until = MediaStatus.pending, at + resend
        session.add(media)
    session.flush()
    figures = metrics.get()
    figures.lease_expiries.inc(expired)
    figures.lease_recoveries.inc(len(due))
    return [m.id for m in due]


def fail(*, session: Session, media_id: uuid.UUID, reason: str, retry: bool = False) -> None:
    media = session.get(Media, media_id, with_for_update=True)
    if media is None:
        return
    if retry and media.attempts < MAX_ATTEMPTS:
        media.status, media.lease_until = MediaStatus.pending, None
    else:
        media.status, media.failure, media.lease_until = MediaStatus.failed, reason[:500], None
        metrics.get().clearance_seconds.labels(media.kind).observe(
            max(0.0, (utcnow() - media.created_at).total_seconds())
        )
    session.add(media)
    audit.record(
        session=session,
        actor=audit.SYSTEM,
        action="media.failed" if media.status == MediaStatus.failed else "media.retry",
        entity_type="media",
        entity_id=media.id,
        after={"status": media.status, "reason": reason[:200]},
    )
