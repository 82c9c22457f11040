"""A video's clearance in segments: separate jobs that several workers share, each with its own
lease, stitched into one analysis when the last is done.

The first job to claim a pending video cuts it into parts (`video_segment_seconds`); every job
then takes parts until none is left, so a long video keeps every worker busy, and a worker that
dies loses only the part it held (its lease runs out, another job takes it). A finished part's
findings (face encodings among them) wait encrypted in `video_segment` and are deleted when the
parts are stitched and stored as the video's tracks (`analyses.store_analysis`).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from registry import crypto
from registry.config import get_settings
from registry.db import begin_write, utcnow
from registry.events.models import Event
from registry.media import analyses, leases
from registry.media.models import Media, MediaStatus, VideoSegment
from registry.vision import video_sampling, video_store, video_tracks

ACTIVE = (MediaStatus.pending, MediaStatus.processing)


@dataclass(frozen=True)
class Part:
    """What a job claimed: the stored file, which part of it, and how many more are free."""

    key: str
    number: int
    start_s: float
    end_s: float  # math.inf: to the end
    free: int

    @property
    def window(self) -> tuple[float, float]:
        return (self.start_s, self.end_s)


def _bound(media_id: uuid.UUID, number: int) -> str:
    return f"segment:{media_id}:{number}"


def _parts(session: Session, media_id: uuid.UUID) -> list[VideoSegment]:
    return list(
        session.exec(
            select(VideoSegment)
            .where(VideoSegment.media_id == media_id)
            .order_by(col(VideoSegment.number))
        ).all()
    )


def claim(*, session: Session, media_id: uuid.UUID) -> Part | None:
    """Take the next free part of a video (cutting it into parts on the first claim); None when
    the video is done, failed, or every part left is held by a live job."""
    begin_write(session)  # on SQLite, else two jobs could both read this work as free
    media = session.get(Media, media_id, with_for_update=True, populate_existing=True)
    if media is None or media.kind != "video" or media.status not in ACTIVE:
        return None
    now = utcnow()
    parts = _parts(session, media_id)
    if not parts:
        if media.status == MediaStatus.processing and media.lease_until and media.lease_until > now:
            return None  # a job of the previous (unsegmented) kind holds it
        windows = video_sampling.segments(
            media.duration_s or 0.0, get_settings().video_segment_seconds
        )
        for number, (a, b) in enumerate(windows, start=1):
            part = VideoSegment(
                media_id=media_id, number=number, start_s=a, end_s=None if b == math.inf else b
            )
            session.add(part)
            parts.append(part)
        media.attempts += 1
    media.status, media.lease_until = MediaStatus.processing, now + leases.lease()
    session.add(media)
    free = [
        p
        for p in parts
        if p.status == "pending"
        or (p.status == "processing" and (p.lease_until is None or p.lease_until <= now))
    ]
    if not free:
        session.flush()
        return None
    part = free[0]
    part.status, part.lease_until = "processing", now + leases.lease()
    part.attempts += 1
    session.add(part)
    session.flush()
    return Part(
        key=media.sha256,
        number=part.number,
        start_s=part.start_s,
        end_s=math.inf if part.end_s is None else part.end_s,
        free=len(free) - 1,
    )


def renew(*, session: Session, media_id: uuid.UUID, number: int) -> bool:
    """A part's heartbeat: extend its lease and the video's; False once the part is no longer
    this job's to finish (stitched, or the video failed)."""
    part = session.exec(
        select(VideoSegment).where(VideoSegment.media_id == media_id, VideoSegment.number == number)
    ).first()
    if part is None or part.status != "processing":
        return False
    until = utcnow() + leases.lease()
    part.lease_until = until
    session.add(part)
    media = session.get(Media, media_id)
    if media is not None and media.status in ACTIVE:
        media.lease_until = until
        session.add(media)
    session.flush()
    return True


def finish(
    *, session: Session, media_id: uuid.UUID, number: int, result: video_tracks.VideoAnalysis
) -> Media | None:
    """Keep a part's findings; when it was the last part, stitch them all, store them as the
    video's tracks and decide (the video's row lock makes exactly one job do it)."""
    found = session.get(Media, media_id)
    if found is not None and found.event_id is not None:
        session.get(Event, found.event_id, with_for_update=True)  # event first, as elsewhere
    media = session.get(Media, media_id, with_for_update=True, populate_existing=True)
    if media is None or media.status not in ACTIVE:
        discard(session=session, media_id=media_id)
        return media
    parts = _parts(session, media_id)
    part = next((p for p in parts if p.number == number), None)
    if part is None:
        return None  # the video was cut again (failed and retried): this result is stale
    if part.status != "done":
        part.status, part.lease_until = "done", None
        part.result = crypto.encrypt(
            video_store.to_bytes(result), bound_to=_bound(media_id, number)
        )
        session.add(part)
        session.flush()
    if any(p.status != "done" for p in parts):
        return media
    stitched = video_tracks.stitch(
        [
            video_store.from_bytes(crypto.decrypt(p.result, bound_to=_bound(media_id, p.number)))
            for p in parts
            if p.result is not None
        ]
    )
    discard(session=session, media_id=media_id)
    return analyses.store_analysis(session=session, media_id=media_id, result=stitched)


def give_back(*, session: Session, media_id: uuid.UUID, number: int, reason: str) -> None:
    """A part's analysis crashed: free it for another try (the video goes back to pending so its
    job is queued again), or fail the video after `MAX_ATTEMPTS` tries of that part."""
    part = session.exec(
        select(VideoSegment).where(VideoSegment.media_id == media_id, VideoSegment.number == number)
    ).first()
    if part is None:
        return
    if part.attempts >= leases.MAX_ATTEMPTS:
        fail(session=session, media_id=media_id, reason=reason)
        return
    part.status, part.lease_until = "pending", None
    session.add(part)
    media = session.get(Media, media_id, with_for_update=True)
    if media is not None and media.status == MediaStatus.processing:
        media.status, media.lease_until = MediaStatus.pending, None
        session.add(media)
    session.flush()


def fail(*, session: Session, media_id: uuid.UUID, reason: str) -> None:
    """The video cannot be cleared (a part is damaged, the file is gone): failed, parts deleted."""
    leases.fail(session=session, media_id=media_id, reason=reason)
    discard(session=session, media_id=media_id)


def discard(*, session: Session, media_id: uuid.UUID) -> None:
    session.exec(delete(VideoSegment).where(col(VideoSegment.media_id) == media_id))
    session.flush()
