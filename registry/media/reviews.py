"""Reviewers' words on faces (kept for good, audited): a match confirmed or ruled out, a face
marked as the attendee who objected, someone who consented another way (media not from an
event); each re-decides the photo, and a confirmed face becomes a trusted reference for the
event's other photos.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from registry import signals
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.db import utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.media import biometrics, decisions, reclear
from registry.media.models import (
    FINAL,
    FaceReview,
    Media,
    MediaFace,
    MediaStatus,
    TransientReference,
)
from registry.media.service import face_numbered


def review_face(
    *,
    session: Session,
    actor: Actor,
    media: Media,
    face_number: int,
    decision: str,
    note: str | None = None,
    objector: uuid.UUID | None = None,
) -> MediaStatus:
    """Record a reviewer's word on a face and re-decide the photo (audited; kept for good).

    `confirm` / `not_this_person` settle a match; `consented_otherwise` (media not from an
    event) records that this person, e.g. a member of staff, consented by other means (`note`);
    `objector` says the face is that of the attendee (`objector`, a booking) who objected to
    the photo (it is then treated as theirs: flagged until redacted).
    """
    face = face_numbered(session=session, media_id=media.id, number=face_number)
    if face is None:
        raise NotFound("No face with this number in this photo.")
    if media.status not in FINAL:
        raise Conflict("This photo has not been analysed yet.")
    if face.booking_id is None and decision == "confirm":
        raise Conflict("Nobody was matched to this face, so there is nothing to confirm.")
    booking_id = face.booking_id
    if decision == "objector":
        if objector is None or objector not in decisions.objections_to(
            session=session, media=media
        ):
            raise Conflict("That attendee has not objected to this photo.")
        booking_id = objector
    if decision == "consented_otherwise":
        if media.event_id is not None:
            raise Conflict(
                "Event photos rest on the event's filming notice and attendees' opt-outs; "
                "'consented another way' is for media that is not from an event."
            )
        note = (note or "").strip()
        if not note:
            raise Invalid("Say how this person consented (e.g. a signed staff photo release).")
    session.add(
        FaceReview(
            media_id=media.id,
            face_number=face_number,
            booking_id=booking_id,
            decision="confirm" if decision == "objector" else decision,
            note=note or None,
            actor=actor.label,
        )
    )
    audit.record(
        session=session,
        actor=actor,
        action=f"media.face_{decision}",
        entity_type="media",
        entity_id=media.id,
        after={"face": face_number, "booking_id": booking_id},
        personal={"note": note} if note else None,
    )
    session.flush()
    if decision == "confirm" and media.event_id is not None and face.encoding is not None:
        _remember_confirmed(session, media, face)
    status = reclear.decide_and_spread(session=session, media=media)
    if media.event_id is not None and face.booking_id is not None and decision != "objector":
        # A confirmed face becomes a trusted reference; a ruled-out one stops being one: other
        # photos that person may be in are weighed again.
        reclear.reclear_bookings(
            session=session, event_id=media.event_id, booking_ids=[face.booking_id], skip=media.id
        )
    signals.basis_changed.send(session=session, media_ids=[media.id])
    return status


def review_faces(
    *,
    session: Session,
    actor: Actor,
    faces: list[tuple[Media, int]],
    decision: str,
) -> int:
    """One reviewer's word (`confirm` or `not_this_person`) for many faces of an event at once
    (review by person): recorded and audited per face as `review_face` does, then each photo
    decided again once, and the attendees concerned weighed again once across the event (not
    once per face). Returns how many were recorded."""
    if decision not in ("confirm", "not_this_person"):
        raise Invalid("Choose confirm or not this person.")
    touched: dict[uuid.UUID, Media] = {}
    bookings: dict[uuid.UUID, set[uuid.UUID]] = {}
    for media, number in faces:
        face = face_numbered(session=session, media_id=media.id, number=number)
        if face is None:
            raise NotFound("No face with this number in this photo.")
        if media.status not in FINAL:
            raise Conflict("A photo in this group has not been analysed yet.")
        if face.booking_id is None and decision == "confirm":
            raise Conflict("Nobody was matched to a face in this group: nothing to confirm.")
        session.add(
            FaceReview(
                media_id=media.id,
                face_number=number,
                booking_id=face.booking_id,
                decision=decision,
                actor=actor.label,
            )
        )
        audit.record(
            session=session,
            actor=actor,
            action=f"media.face_{decision}",
            entity_type="media",
            entity_id=media.id,
            after={"face": number, "booking_id": face.booking_id, "group": True},
        )
        if decision == "confirm" and media.event_id is not None and face.encoding is not None:
            session.flush()
            _remember_confirmed(session, media, face)
        touched[media.id] = media
        if media.event_id is not None and face.booking_id is not None:
            bookings.setdefault(media.event_id, set()).add(face.booking_id)
    session.flush()
    for media in touched.values():
        reclear.decide_and_spread(session=session, media=media)
    for event_id, booking_ids in bookings.items():
        reclear.reclear_bookings(session=session, event_id=event_id, booking_ids=booking_ids)
    if touched:
        signals.basis_changed.send(session=session, media_ids=list(touched))
    return len(faces)


def _remember_confirmed(session: Session, media: Media, face: MediaFace) -> None:
    """A reviewer confirmed who this face is: it becomes a (corroborated) transient reference."""
    if media.event_id is None or face.encoding is None or face.booking_id is None:
        return
    exists = session.exec(
        select(TransientReference).where(
            TransientReference.media_id == media.id,
            TransientReference.face_number == face.number,
        )
    ).first()
    if exists is not None:
        return
    encoding = biometrics.encoding_of(face.encoding, f"face:{media.id}:{face.number}")
    session.add(
        TransientReference(
            event_id=media.event_id,
            booking_id=face.booking_id,
            media_id=media.id,
            face_number=face.number,
            encoding=biometrics.seal(encoding, f"transient:{media.id}:{face.number}"),
            purge_after=biometrics.purge_date(session, media) or utcnow(),
        )
    )
    session.flush()
