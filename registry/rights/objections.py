"""Objection to one photo: an attendee who did not opt out says "not this photo".

For that person the photo is then treated like an opt-out: clearance flags the face matched to
them (by their badge or a face seen wearing it), or asks a reviewer to mark which face is theirs
when none is; the gate refuses it until a verified redacted copy hides them; a publication of it
is listed for takedown. Staff see the objection on the photo's page.

An objection to a photo they were not found in must say how to find them in it (so one link
cannot block an event's photos wholesale), objections are throttled per booking and per client
network, and staff decide each one: upheld, or dismissed with a reason (audited). A dismissed
objection stops counting; until staff decide, it counts (privacy first).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from registry import signals
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.auth.throttle import Throttle
from registry.db import utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.events.history import record_change
from registry.events.models import Booking, BookingAction
from registry.media import decisions
from registry.media.models import (
    FINAL,
    Media,
    MediaBadge,
    MediaFace,
    MediaObjection,
    ObjectionDecision,
)
from registry.publishing.models import Publication

OBJECTIONS_PER_BOOKING = 10  # per link-request window (an hour by default)
OBJECTIONS_PER_NETWORK = 30
EXPLANATION_MIN = 10
EXPLANATION_MAX = 500


@dataclass(frozen=True)
class Shown:
    """A photo or video of the event the attendee was found in, as their page lists it."""

    media: Media
    objected: bool
    published: bool
    # Staff's word on their objection (pending, upheld, dismissed), and why when dismissed.
    decision: str | None = None
    reason: str | None = None


def found_in(*, session: Session, booking: Booking) -> list[Shown]:
    """The event's analysed media in which they were matched or their badge read, and those
    they objected to."""
    by_face = select(MediaFace.media_id).where(MediaFace.booking_id == booking.id)
    by_badge = select(MediaBadge.media_id).where(MediaBadge.booking_id == booking.id)
    objected = {
        o.media_id: o
        for o in session.exec(
            select(MediaObjection).where(MediaObjection.booking_id == booking.id)
        ).all()
    }
    media = session.exec(
        select(Media)
        .where(
            Media.event_id == booking.event_id,
            col(Media.status).in_(list(FINAL)),
            or_(
                col(Media.id).in_(by_face),
                col(Media.id).in_(by_badge),
                col(Media.id).in_(list(objected)),
            ),
        )
        .order_by(col(Media.created_at))
    ).all()
    live = set(
        session.exec(
            select(Publication.media_id).where(
                col(Publication.media_id).in_([m.id for m in media]),
                col(Publication.taken_down_at).is_(None),
            )
        ).all()
    )
    return [
        Shown(
            m,
            m.id in objected,
            m.id in live,
            str(objected[m.id].decision) if m.id in objected else None,
            objected[m.id].decision_reason if m.id in objected else None,
        )
        for m in media
    ]


def shown_photo(*, session: Session, booking: Booking, media_id: uuid.UUID) -> Media:
    """A photo their page lists (found in it, or objected to), for its covered copy; NotFound
    for anything else, so a link shows nothing of the event beyond their own photos."""
    media = session.get(Media, media_id)
    if (
        media is None
        or media.event_id != booking.event_id
        or media.kind != "photo"
        or media.status not in FINAL
        or not (
            found_them(session=session, booking=booking, media=media)
            or session.exec(
                select(MediaObjection.id).where(
                    MediaObjection.media_id == media.id, MediaObjection.booking_id == booking.id
                )
            ).first()
            is not None
        )
    ):
        raise NotFound("No such photo among those you were found in.")
    return media


def find_media(*, session: Session, booking: Booking, reference: str) -> Media:
    """The event's photo or video an attendee names: the address it was published at, its
    number (the file name, e.g. IMG_1234, with or without extension) or its id."""
    text = reference.strip()
    if not text:
        raise Invalid("Paste the photo's address or type its number.", field="reference")
    in_event = select(Media).where(Media.event_id == booking.event_id)
    candidates: list[Media] = []
    if "/" in text:
        candidates = list(
            session.exec(
                in_event.join(Publication, col(Publication.media_id) == col(Media.id)).where(
                    col(Publication.url).in_([text, text.rstrip("/")])
                )
            ).all()
        )
    else:
        try:
            candidates = [m for m in [session.get(Media, uuid.UUID(text))] if m is not None]
        except ValueError:
            stem = text.lower()
            candidates = [
                m
                for m in session.exec(
                    in_event.where(func.lower(Media.filename).like(f"{_escaped(stem)}%", "\\"))
                ).all()
                if m.filename.lower() == stem or m.filename.lower().rsplit(".", 1)[0] == stem
            ]
    candidates = [
        m for m in {m.id: m for m in candidates}.values() if m.event_id == booking.event_id
    ]
    if not candidates:
        raise Invalid(
            "No photo or video of this event has that address or number. Check it, or ask "
            "the organiser (their address is in your booking email).",
            field="reference",
        )
    if len(candidates) > 1:
        raise Invalid(
            "Several photos of this event have that number: paste the address where you saw "
            "the photo instead.",
            field="reference",
        )
    return candidates[0]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_can_object(booking: Booking) -> None:
    if booking.cancelled_at is not None:
        raise Conflict("This booking was cancelled.")
    if booking.photo_opt_out:
        raise Conflict(
            "You have opted out of every photo and video of this event already: nothing more "
            "is needed."
        )


def objection_wait(*, throttle: Throttle, booking: Booking, network: str | None) -> int:
    """Seconds to wait before this booking (or this client network) may object again; 0: go
    ahead (counted)."""
    keys = [
        (f"objection:booking:{booking.id}", OBJECTIONS_PER_BOOKING),
        (f"objection:network:{network or 'unknown'}", OBJECTIONS_PER_NETWORK),
    ]
    wait = throttle.retry_after(keys)
    if not wait:
        throttle.fail([key for key, _ in keys])
    return wait


def found_them(*, session: Session, booking: Booking, media: Media) -> bool:
    """Whether clearance found this attendee in the photo (a face matched to them, or their
    badge read)."""
    by_face = session.exec(
        select(MediaFace.id).where(
            MediaFace.media_id == media.id, MediaFace.booking_id == booking.id
        )
    ).first()
    return (
        by_face is not None
        or session.exec(
            select(MediaBadge.id).where(
                MediaBadge.media_id == media.id, MediaBadge.booking_id == booking.id
            )
        ).first()
        is not None
    )


def object_to(
    *,
    session: Session,
    actor: Actor,
    booking: Booking,
    media: Media,
    explanation: str | None = None,
) -> bool:
    """Record the objection and re-decide the photo at once; False if it was already recorded.
    A photo they were not found in needs an `explanation` of how to find them in it."""
    check_can_object(booking)
    if media.event_id != booking.event_id:
        raise Invalid("That photo is not from your event.", field="reference")
    exists = session.exec(
        select(MediaObjection).where(
            MediaObjection.media_id == media.id, MediaObjection.booking_id == booking.id
        )
    ).first()
    if exists is not None:
        return False
    words = " ".join((explanation or "").split())[:EXPLANATION_MAX] or None
    if not found_them(session=session, booking=booking, media=media) and (
        words is None or len(words) < EXPLANATION_MIN
    ):
        raise Invalid(
            "We did not find you in this photo, so tell us where you are in it (for example "
            "'at the back on the left, in a red scarf'): staff need it to cover the right face.",
            field="explanation",
        )
    session.add(MediaObjection(media_id=media.id, booking_id=booking.id, explanation=words))
    session.flush()
    record_change(session, booking, BookingAction.objected, actor, media_id=media.id)
    if media.status in FINAL:
        decisions.evaluate(session=session, media=media)
    signals.basis_changed.send(session=session, media_ids=[media.id])
    return True


def get_objection(*, session: Session, media: Media, objection_id: int) -> MediaObjection:
    objection = session.get(MediaObjection, objection_id)
    if objection is None or objection.media_id != media.id:
        raise NotFound("No objection with this id on this photo.")
    return objection


def decide(
    *,
    session: Session,
    actor: Actor,
    media: Media,
    objection: MediaObjection,
    decision: ObjectionDecision,
    reason: str | None = None,
) -> MediaObjection:
    """Staff's word on an objection: `upheld`, or `dismissed` with a reason (it then stops
    counting). Audited; the photo is re-decided at once and the gate follows."""
    if decision == ObjectionDecision.pending:
        raise Invalid("Decide the objection: upheld or dismissed.", field="decision")
    words = " ".join((reason or "").split()) or None
    if decision == ObjectionDecision.dismissed and not words:
        raise Invalid(
            "Say why the objection is dismissed (for example 'the person is not in this "
            "photo: checked with them by phone').",
            field="reason",
        )
    before = objection.decision
    objection.decision = decision
    objection.decided_by = actor.label
    objection.decided_at = utcnow()
    objection.decision_reason = words
    session.add(objection)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action=f"media.objection_{decision.value}",
        entity_type="media",
        entity_id=media.id,
        before={"objection": objection.id, "decision": before},
        after={"objection": objection.id, "decision": decision.value},
        personal={"reason": words} if words else None,
    )
    if media.status in FINAL:
        decisions.evaluate(session=session, media=media)
    signals.basis_changed.send(session=session, media_ids=[media.id])
    return objection
