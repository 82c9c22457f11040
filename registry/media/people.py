"""People who opted out of an event's photos, each with every photo and video they were found
in: by a face decided to be them or their badge, and by a face that may be them, awaiting a
reviewer's word (the People page, as in a photo library's people view).

Staff act on a person in bulk from there: their words on many faces at once are recorded by
`reviews.review_faces` (audited per face, each photo decided again), and their redacted copies
made by `redaction_batches`. This module only finds who is where, and checks that the faces
named are that person's in that event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, or_, select

from registry.audit.service import Actor
from registry.errors import Invalid, NotFound
from registry.events.models import Booking
from registry.media import redaction_batches, reviews
from registry.media.models import FINAL, Media, MediaBadge, MediaFace
from registry.media.redaction_batches import CopyState
from registry.media.service import media_by_ids

DECIDED, AWAITING = "opted_out", "review"
MAX_FACES = 5000  # faces an event's People page reads at once


@dataclass(frozen=True)
class Face:
    number: int
    awaiting: bool  # may be them: a reviewer's word is awaited

    def key(self, media_id: uuid.UUID) -> str:
        return f"{media_id}:{self.number}"


@dataclass
class Found:
    """One photo or video a person is found in."""

    media: Media
    faces: list[Face] = field(default_factory=list)
    badge: bool = False  # their badge is seen in it
    copy: CopyState = CopyState.not_needed

    @property
    def decided(self) -> bool:
        return self.badge or any(not f.awaiting for f in self.faces)

    @property
    def awaiting(self) -> bool:
        return any(f.awaiting for f in self.faces)


@dataclass
class Person:
    booking_id: uuid.UUID
    name: str
    erased: bool
    found: list[Found] = field(default_factory=list)

    @property
    def decided(self) -> list[Found]:
        return [f for f in self.found if f.decided]

    @property
    def awaiting(self) -> list[Found]:
        return [f for f in self.found if f.awaiting]

    @property
    def awaiting_faces(self) -> int:
        return sum(1 for f in self.found for face in f.faces if face.awaiting)

    @property
    def needing_copies(self) -> list[Media]:
        """What they are in that has no verified redacted copy covering everyone now."""
        return [f.media for f in self.found if f.copy.needs_copy]


def _opted_out(session: Session, event_id: uuid.UUID) -> list[Booking]:
    return list(
        session.exec(
            select(Booking)
            .where(
                Booking.event_id == event_id,
                col(Booking.photo_opt_out).is_(True),
                or_(col(Booking.cancelled_at).is_(None), col(Booking.erased_at).is_not(None)),
            )
            .order_by(col(Booking.name), col(Booking.id))
        ).all()
    )


def opted_out_people(
    *, session: Session, event_id: uuid.UUID, booking_id: uuid.UUID | None = None
) -> list[Person]:
    """Every attendee opted out of the event's photos now (or the one asked for), with the
    photos and videos they are found in; those found most first, then by name."""
    bookings = [b for b in _opted_out(session, event_id) if booking_id in (None, b.id)]
    people = {b.id: Person(b.id, b.name, b.erased_at is not None) for b in bookings}
    if not people:
        return []
    wanted = list(people)
    faces: dict[tuple[uuid.UUID, uuid.UUID], list[Face]] = {}
    badges: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for media_id, number, decision, booking in session.exec(
        select(MediaFace.media_id, MediaFace.number, MediaFace.decision, MediaFace.booking_id)
        .join(Media, col(Media.id) == col(MediaFace.media_id))
        .where(
            Media.event_id == event_id,
            col(Media.status).in_(list(FINAL)),
            col(MediaFace.booking_id).in_(wanted),
            col(MediaFace.decision).in_([DECIDED, AWAITING]),
        )
        .order_by(col(MediaFace.media_id), col(MediaFace.number))
        .limit(MAX_FACES)
    ).all():
        if booking is not None:
            faces.setdefault((booking, media_id), []).append(Face(number, decision == AWAITING))
    for media_id, booking in session.exec(
        select(MediaBadge.media_id, MediaBadge.booking_id)
        .join(Media, col(Media.id) == col(MediaBadge.media_id))
        .where(
            Media.event_id == event_id,
            col(Media.status).in_(list(FINAL)),
            col(MediaBadge.booking_id).in_(wanted),
        )
    ).all():
        if booking is not None:
            badges.add((booking, media_id))
    pairs = list(dict.fromkeys([*faces, *sorted(badges, key=str)]))
    ids = list(dict.fromkeys(media_id for _b, media_id in pairs))
    media = {m.id: m for m in media_by_ids(session=session, ids=ids)}
    states = redaction_batches.copy_states(session=session, media=list(media.values()))
    for booking, media_id in pairs:
        if media_id in media:
            people[booking].found.append(
                Found(
                    media=media[media_id],
                    faces=faces.get((booking, media_id), []),
                    badge=(booking, media_id) in badges,
                    copy=states[media_id],
                )
            )
    for person in people.values():
        person.found.sort(key=lambda f: (not f.awaiting, f.media.filename, str(f.media.id)))
    return sorted(people.values(), key=lambda p: (-len(p.found), p.name, str(p.booking_id)))


def person(*, session: Session, event_id: uuid.UUID, booking_id: uuid.UUID) -> Person:
    """One attendee opted out of the event, with where they are found (NotFound otherwise)."""
    found = opted_out_people(session=session, event_id=event_id, booking_id=booking_id)
    if not found:
        raise NotFound("No attendee of this event who opted out with this id.")
    return found[0]


def decide(
    *,
    session: Session,
    actor: Actor,
    event_id: uuid.UUID,
    booking_id: uuid.UUID,
    members: Sequence[str],
    decision: str,
) -> tuple[int, int]:
    """One reviewer's word for the faces named (`media_id:number`, as the page lists them),
    each of which must be this person's in this event: `confirm` (it is them: faces awaiting a
    word; those decided already are left as they are) or `not_this_person` (awaiting or decided:
    a match that was wrong). Recorded per face by `reviews.review_faces`. (recorded, skipped)."""
    if decision not in ("confirm", "not_this_person"):
        raise Invalid("Choose “this is them” or “not them”.", field="decision")
    if not members:
        raise Invalid("Tick at least one face.", field="members")
    who = person(session=session, event_id=event_id, booking_id=booking_id)
    theirs = {face.key(f.media.id): (f.media, face) for f in who.found for face in f.faces}
    chosen: list[tuple[Media, int]] = []
    skipped = 0
    for value in dict.fromkeys(members):
        entry = theirs.get(value)
        if entry is None:
            # Decided otherwise meanwhile (another reviewer, a decision that spread), or never
            # theirs: left as it is.
            skipped += 1
            continue
        media, face = entry
        if decision == "confirm" and not face.awaiting:
            skipped += 1  # already decided to be them
            continue
        chosen.append((media, face.number))
    if chosen:
        reviews.review_faces(session=session, actor=actor, faces=chosen, decision=decision)
    return len(chosen), skipped


def redact(
    *, session: Session, actor: Actor, event_id: uuid.UUID, booking_id: uuid.UUID
) -> redaction_batches.Progress:
    """A redacted copy of every photo and video this person is found in that needs one (a
    batch of jobs, queued once this unit of work commits)."""
    who = person(session=session, event_id=event_id, booking_id=booking_id)
    return redaction_batches.start(
        session=session,
        actor=actor,
        event_id=event_id,
        media=[f.media for f in who.found],
        booking_id=booking_id,
    )
