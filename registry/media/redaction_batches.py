"""Redacted copies asked for at once: every flagged photo (and video) of an event, or every one
an attendee who opted out is found in (the People page).

`start` answers at once: it records a batch and one pending rendition per media that needs a
copy, and queues their jobs once the unit of work commits. Each copy is its own job with its
own lease (`photo_redactions`; a video's in parts, `redactions`), so a worker killed mid-way
loses only the copy it was making, and the sweep queues that again. The batch's progress is its
renditions' (read by the pages as they poll). A media needs a copy when it shows someone to
cover (a face decided opted out or still to review, an opted-out badge) and its latest redacted
copy does not cover them all, verified, and is not being made.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.db import begin_write
from registry.dispatch import queue
from registry.errors import Conflict, NotFound
from registry.events.models import Event
from registry.media import decisions, photo_redactions, redactions
from registry.media.models import (
    FINAL,
    Media,
    MediaBadge,
    MediaFace,
    MediaStatus,
    RedactionBatch,
    Rendition,
    RenditionStatus,
)

CHUNK = 500  # ids per IN (...) list


class CopyState(StrEnum):
    """A media's redacted copy as the batch sees it."""

    not_needed = "not_needed"  # nobody in it to cover
    missing = "missing"  # someone to cover, no redacted copy yet
    being_made = "being_made"
    verified = "verified"  # its latest copy covers everyone to cover now, and passed its check
    not_verified = "not_verified"  # its latest copy failed its check
    outdated = "outdated"  # its latest copy misses someone decided since
    failed = "failed"  # its latest copy could not be made

    @property
    def needs_copy(self) -> bool:
        return self not in (CopyState.not_needed, CopyState.being_made, CopyState.verified)


@dataclass(frozen=True)
class Progress:
    """A batch and how far it is."""

    batch: RedactionBatch
    total: int
    ready: int  # copies made (verified or not)
    verified: int
    failed: int
    fraction: float  # 0 to 1 (a video's copy counts by its own progress)

    @property
    def finished(self) -> bool:
        return self.ready + self.failed >= self.total

    @property
    def unverified(self) -> int:
        return self.ready - self.verified


@dataclass(frozen=True)
class Overview:
    """An event's redacted copies at a glance (its photos page)."""

    flagged: int  # flagged photos and videos
    needed: int  # of those, without a verified copy that covers them now, nor one being made
    latest: Progress | None  # the event's latest batch


def _chunks(ids: Sequence[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def copy_states(*, session: Session, media: Sequence[Media]) -> dict[uuid.UUID, CopyState]:
    """Each media's redacted copy: needed, being made, or up to date (a few queries in all)."""
    ids = [m.id for m in media]
    faces: dict[uuid.UUID, set[int]] = {}
    badges: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = {}
    objectors: dict[uuid.UUID, set[uuid.UUID]] = {}
    latest: dict[uuid.UUID, Rendition] = {}
    for chunk in _chunks(ids):
        for media_id, number in session.exec(
            select(MediaFace.media_id, MediaFace.number).where(
                col(MediaFace.media_id).in_(chunk),
                col(MediaFace.decision).in_(["opted_out", "review"]),
            )
        ).all():
            faces.setdefault(media_id, set()).add(number)
        for media_id, code, booking_id in session.exec(
            select(MediaBadge.media_id, MediaBadge.code, MediaBadge.booking_id).where(
                col(MediaBadge.media_id).in_(chunk), col(MediaBadge.booking_id).is_not(None)
            )
        ).all():
            if booking_id is not None:
                badges.setdefault(media_id, []).append((code, booking_id))
        objectors.update(decisions.objections_to_each(session=session, media_ids=chunk))
        for rendition in session.exec(
            select(Rendition)
            .where(col(Rendition.media_id).in_(chunk), Rendition.kind == "redacted")
            .order_by(col(Rendition.created_at))
        ).all():
            latest[rendition.media_id] = rendition
    opted_out = {
        event_id: decisions.opted_out_ids(session, event_id)
        for event_id in {m.event_id for m in media if m.event_id is not None}
    }
    out: dict[uuid.UUID, CopyState] = {}
    for m in media:
        out_of = opted_out.get(m.event_id, set()) if m.event_id else set()
        out_of = out_of | objectors.get(m.id, set())
        hidden = faces.get(m.id, set())
        hidden_badges = {code for code, booking in badges.get(m.id, []) if booking in out_of}
        copy = latest.get(m.id)
        if not hidden and not hidden_badges:
            out[m.id] = CopyState.not_needed
        elif copy is None:
            out[m.id] = CopyState.missing
        elif copy.status in (RenditionStatus.pending, RenditionStatus.processing):
            out[m.id] = CopyState.being_made
        elif copy.status == RenditionStatus.failed:
            out[m.id] = CopyState.failed
        elif not hidden <= set(copy.obscured_faces) or not hidden_badges <= set(
            copy.obscured_badges
        ):
            out[m.id] = CopyState.outdated
        else:
            out[m.id] = CopyState.verified if copy.verified else CopyState.not_verified
    return out


def flagged(*, session: Session, event_id: uuid.UUID) -> list[Media]:
    """The event's flagged photos and videos (someone who opted out is in them), by name."""
    return list(
        session.exec(
            select(Media)
            .where(Media.event_id == event_id, Media.status == MediaStatus.flagged)
            .order_by(col(Media.filename), col(Media.id))
        ).all()
    )


def start(
    *,
    session: Session,
    actor: Actor,
    event_id: uuid.UUID,
    media: Sequence[Media],
    booking_id: uuid.UUID | None = None,
) -> Progress:
    """Make a redacted copy of each of these media of the event that needs one, each by its own
    job (queued once this unit of work commits); the batch, not started yet. Conflict when
    none needs one."""
    # One batch at a time per event: a second click waits, then finds the copies being made.
    begin_write(session)
    if session.get(Event, event_id, with_for_update=True) is None:
        raise NotFound("No event with this id.")
    mine = [m for m in media if m.event_id == event_id and m.status in FINAL]
    states = copy_states(session=session, media=mine)
    wanted = [m for m in mine if states[m.id].needs_copy]
    if not wanted:
        raise Conflict(
            "Nothing to redact: every one already has a verified redacted copy that covers "
            "everyone who opted out, or one is being made."
        )
    batch = RedactionBatch(event_id=event_id, booking_id=booking_id, created_by=actor.label)
    session.add(batch)
    session.flush()
    made: list[Rendition] = []
    for item in wanted:
        if item.kind == "video":
            rendition = redactions.start(session=session, actor=actor, media=item)
            rendition.batch_id = batch.id
            session.add(rendition)
        else:
            rendition = photo_redactions.pending(
                session=session, media=item, actor_label=actor.label, batch_id=batch.id
            )
        made.append(rendition)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="media.redaction_batch_queued",
        entity_type="event",
        entity_id=event_id,
        after={
            "batch": batch.id,
            "media": [m.id for m in wanted],
            "booking_id": booking_id,
        },
    )
    queue.redact_after_commit(session, [r.id for r in made])
    return progress(session=session, batch=batch)


def redact_flagged(*, session: Session, actor: Actor, event_id: uuid.UUID) -> Progress:
    """A redacted copy of every flagged photo and video of the event that needs one."""
    return start(
        session=session,
        actor=actor,
        event_id=event_id,
        media=flagged(session=session, event_id=event_id),
    )


def progress(*, session: Session, batch: RedactionBatch) -> Progress:
    rows = session.exec(
        select(Rendition.status, Rendition.verified, Rendition.progress).where(
            Rendition.batch_id == batch.id
        )
    ).all()
    ready = sum(1 for status, _v, _p in rows if status == RenditionStatus.ready)
    failed = sum(1 for status, _v, _p in rows if status == RenditionStatus.failed)
    done = sum(
        1.0 if status in (RenditionStatus.ready, RenditionStatus.failed) else min(1.0, share)
        for status, _v, share in rows
    )
    return Progress(
        batch=batch,
        total=len(rows),
        ready=ready,
        verified=sum(
            1 for status, verified, _p in rows if status == RenditionStatus.ready and verified
        ),
        failed=failed,
        fraction=round(done / len(rows), 3) if rows else 1.0,
    )


def renditions_of(*, session: Session, batch: RedactionBatch) -> list[Rendition]:
    """The batch's renditions, one per media, in the order they were queued."""
    return list(
        session.exec(
            select(Rendition)
            .where(Rendition.batch_id == batch.id)
            .order_by(col(Rendition.created_at), col(Rendition.id))
        ).all()
    )


def get(*, session: Session, event_id: uuid.UUID, batch_id: uuid.UUID) -> Progress:
    """A batch of this event, with its progress."""
    batch = session.get(RedactionBatch, batch_id)
    if batch is None or batch.event_id != event_id:
        raise NotFound("No such batch of redacted copies for this event.")
    return progress(session=session, batch=batch)


def latest(
    *, session: Session, event_id: uuid.UUID, booking_id: uuid.UUID | None = None
) -> Progress | None:
    """The event's latest batch (of one attendee's photos, when `booking_id` is given)."""
    query = select(RedactionBatch).where(RedactionBatch.event_id == event_id)
    if booking_id is not None:
        query = query.where(RedactionBatch.booking_id == booking_id)
    batch = session.exec(query.order_by(col(RedactionBatch.created_at).desc()).limit(1)).first()
    return progress(session=session, batch=batch) if batch is not None else None


def overview(*, session: Session, event_id: uuid.UUID) -> Overview:
    """The event's flagged media, how many need a redacted copy, and its latest batch."""
    found = flagged(session=session, event_id=event_id)
    states = copy_states(session=session, media=found)
    return Overview(
        flagged=len(found),
        needed=sum(1 for s in states.values() if s.needs_copy),
        latest=latest(session=session, event_id=event_id),
    )
