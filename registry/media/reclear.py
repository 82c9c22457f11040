"""Re-deciding an event's photos from their stored encodings when something about its people
changed (an opt-out, a reference photo, a face linked to a badge, a reviewer's word), without
detecting again; only the photos the change can affect. Nothing here imports the gate or
publishing: a change that may take a basis away is announced with `signals.basis_changed`,
and `on_opt_outs_changed` is what `registry.reactions` binds to `signals.opt_outs_changed`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import numpy as np
from sqlmodel import Session, col, select

from registry import signals
from registry.events.models import Event
from registry.media import decisions, index
from registry.media.models import (
    FINAL,
    Media,
    MediaBadge,
    MediaFace,
    MediaStatus,
)
from registry.vision.decision import (
    FaceDecision,
)


def reclear_event(*, session: Session, event_id: uuid.UUID, skip: uuid.UUID | None = None) -> int:
    """Re-decide every analysed photo of an event from stored encodings (no re-detection)."""
    session.get(Event, event_id, with_for_update=True)
    photos = session.exec(
        select(Media).where(Media.event_id == event_id, col(Media.status).in_(list(FINAL)))
    ).all()
    return _redecide(session, event_id, [p for p in photos if p.id != skip])


def reclear_bookings(
    *,
    session: Session,
    event_id: uuid.UUID,
    booking_ids: Iterable[uuid.UUID],
    skip: uuid.UUID | None = None,
    added: Sequence[np.ndarray] | None = None,
    previous: decisions.EventState | None = None,
) -> int:
    """Re-decide only the photos a change about these attendees can affect: those whose stored
    decision names them (a face or a badge) and those holding a face near any encoding that
    stands for them now. The cost follows the attendees' photos, not the event's size.

    `added`: the change only added these encodings (transient references) for attendees whose
    opt-out did not change. Then a photo can change only if it holds a face near one of them
    that is not already decided "opted out", or names them without having decided yet (a
    grey-zone match that the new sighting may corroborate). Without this every new sighting of
    a recurring attendee re-decided all their photos, and an event slowed as it grew. If the
    new sighting made one of their trusted sightings doubtful (`previous` is the state before
    it: one badge on two different people), every photo naming them is re-decided."""
    wanted = set(booking_ids)
    if not wanted:
        return 0
    # The event row is the lock publishing takes too: a publication and an opt-out never
    # interleave (PostgreSQL; SQLite has one writer anyway).
    session.get(Event, event_id, with_for_update=True)
    state = decisions.event_state(session, event_id)
    if added is not None and previous is not None and _trust_fell(previous, state, wanted):
        added = None
    if added is None:
        # Anyone's opt-out (or trust) changed: every photo naming them, and every face near
        # an encoding of those who are opted out now.
        named = _naming(session, event_id, wanted) | _badged(session, event_id, wanted)
        near = index.photos_near(
            session=session,
            event_id=event_id,
            encodings=state.encodings_of(wanted & state.opted_out),
            radius=decisions.thresholds().review,
        )
    else:
        named = _naming(session, event_id, wanted, undecided_only=True)
        near = _undecided(
            session,
            index.faces_near(
                session=session,
                event_id=event_id,
                encodings=list(added),
                radius=decisions.thresholds().review,
            ),
        )
    return _redecide(session, event_id, _analysed(session, (named | near) - {skip}), state)


def _naming(
    session: Session, event_id: uuid.UUID, wanted: set[uuid.UUID], *, undecided_only: bool = False
) -> set[uuid.UUID]:
    """The event's photos with a face decided to be one of these attendees (`undecided_only`:
    not already decided "opted out")."""
    query = (
        select(MediaFace.media_id)
        .join(Media, col(Media.id) == col(MediaFace.media_id))
        .where(Media.event_id == event_id, col(MediaFace.booking_id).in_(wanted))
    )
    if undecided_only:
        query = query.where(col(MediaFace.decision) != FaceDecision.opted_out.value)
    return set(session.exec(query).all())


def _badged(session: Session, event_id: uuid.UUID, wanted: set[uuid.UUID]) -> set[uuid.UUID]:
    """The event's photos with a badge of one of these attendees."""
    return set(
        session.exec(
            select(MediaBadge.media_id)
            .join(Media, col(Media.id) == col(MediaBadge.media_id))
            .where(Media.event_id == event_id, col(MediaBadge.booking_id).in_(wanted))
        ).all()
    )


def _analysed(session: Session, ids: set[uuid.UUID]) -> list[Media]:
    """These photos, those already decided, in a stable order (500 ids a query)."""
    ordered = sorted(ids, key=str)
    return [
        m
        for start in range(0, len(ordered), 500)
        for m in session.exec(
            select(Media).where(
                col(Media.id).in_(ordered[start : start + 500]),
                col(Media.status).in_(list(FINAL)),
            )
        ).all()
    ]


def _undecided(session: Session, faces: set[tuple[uuid.UUID, int]]) -> set[uuid.UUID]:
    """The photos among these faces' where one of them is not already decided "opted out" (an
    added reference can only bring a face nearer to someone who opted out)."""
    photos = sorted({media_id for media_id, _ in faces}, key=str)
    out: set[uuid.UUID] = set()
    for start in range(0, len(photos), 500):
        rows = session.exec(
            select(MediaFace.media_id, MediaFace.number, MediaFace.decision).where(
                col(MediaFace.media_id).in_(photos[start : start + 500])
            )
        ).all()
        out |= {
            media_id
            for media_id, number, decision in rows
            if (media_id, number) in faces and decision != FaceDecision.opted_out.value
        }
    return out


def _trust_fell(
    before: decisions.EventState, after: decisions.EventState, bookings: set[uuid.UUID]
) -> bool:
    def trusted(state: decisions.EventState) -> dict[uuid.UUID, int]:
        out: dict[uuid.UUID, int] = {}
        for ref in state.transient:
            if ref.booking_id in bookings and ref.corroborated:
                out[ref.booking_id] = out.get(ref.booking_id, 0) + 1
        return out

    now = trusted(after)
    return any(count > now.get(booking, 0) for booking, count in trusted(before).items())


def _redecide(
    session: Session,
    event_id: uuid.UUID,
    photos: list[Media],
    state: decisions.EventState | None = None,
) -> int:
    state = state or decisions.event_state(session, event_id)  # once for all the photos
    changed = 0
    for media in photos:
        before = media.status
        if decisions.evaluate(session=session, media=media, state=state) != before:
            changed += 1
    session.flush()
    if photos:
        signals.basis_changed.send(session=session, media_ids=[m.id for m in photos])
    return changed


def on_opt_outs_changed(*, session: Session, event_id: uuid.UUID, booking_id: uuid.UUID) -> None:
    """The reaction to `signals.opt_outs_changed`: re-decide the photos that attendee's change
    can affect, at once."""
    session.flush()
    reclear_bookings(session=session, event_id=event_id, booking_ids=[booking_id])


def decide_and_spread(*, session: Session, media: Media) -> MediaStatus:
    """Decide a photo; when a face in it was linked to an opted-out attendee's badge (a new
    transient reference), look for that person in the photos where they could be, and
    re-weigh the sightings this one may corroborate."""
    result = decisions.assess(session=session, media=media)
    if result.learnt and media.event_id is not None:
        reclear_bookings(
            session=session,
            event_id=media.event_id,
            booking_ids=result.learnt,
            skip=media.id,
            added=result.added,
            previous=result.state,
        )
    return result.status
