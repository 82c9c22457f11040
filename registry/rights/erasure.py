"""Erasure: what is left of a person after they (or staff on their behalf) ask to be forgotten.

An attendee's booking:
- their name and address are replaced (`Erased attendee`, an address at `.invalid` that can
  reach nobody) and the row stays as an anonymous **opted-out marker**: its badge code and the
  faces already matched to it keep those photos blocked, and a published one comes down;
- reference photos, transient references and the face encodings of every face matched to them
  are deleted (the faces keep their box and decision: "opted out — erased");
- reviewers' notes on their faces, their queued and sent mail records, and the personal fields
  of their audit entries (tombstoned; the chain still verifies) are deleted;
- their objections are kept only where no face is matched to them (the objection is then the
  only thing keeping that photo blocked; it names an anonymous booking); their name is scrubbed
  from every photo they were matched in, their badge was read in or they objected to;
- the manage link stops working.

A patient's consent record is deleted outright, with its history, unless media it covers is
published on its strength: then it is kept as the proof of that publication, under a pseudonym
(`Patient <ref>`), with no address, guardian, note or browser details, and and with none of its free
text (its purpose and description become a neutral sentence with the erasure date: no scrub
can be sure to find a condition, a street or a nickname), until the last publication comes
down (housekeeping then deletes it). Its link stops working at once (410),
so nothing more can be done or recorded through it.

On SQLite the database overwrites freed pages (`PRAGMA secure_delete`) and, after an erasure
commits, folds the write-ahead log back into the file and truncates it, so the erased text is
not left in either file.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from registry import names, signals
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.consent.models import ConsentEvent, ConsentMedia, ConsentRequest
from registry.db import request_wal_truncate, utcnow
from registry.errors import Conflict
from registry.events.history import record_change
from registry.events.models import Booking, BookingAction, Event, ReferencePhoto
from registry.mail.models import OutboxMessage
from registry.media import index, reclear
from registry.media.models import (
    FaceReview,
    Media,
    MediaBadge,
    MediaFace,
    MediaObjection,
    TransientReference,
)
from registry.plurals import count
from registry.publishing.models import Publication
from registry.rights.models import ErasurePermit

ERASED_NAME = "Erased attendee"


def erased_address(booking_id: uuid.UUID) -> str:
    """Unique per event (the table requires it) and deliverable nowhere (RFC 2606)."""
    return f"erased-{booking_id.hex}@erased.invalid"


def erase_booking(*, session: Session, actor: Actor, booking: Booking) -> dict[str, int]:
    """Erase an attendee's personal data (see the module); the counts of what went."""
    if booking.erased_at is not None:
        raise Conflict("This booking's personal data has already been erased.")
    now = utcnow()
    # First make them opted out, with their references still there, so the event's photos are
    # re-decided with every means of finding them; then delete those means.
    session.get(Event, booking.event_id, with_for_update=True)
    booking.photo_opt_out = True
    booking.erased_at = now
    booking.cancelled_at = booking.cancelled_at or now
    session.add(booking)
    session.flush()
    reclear.reclear_bookings(session=session, event_id=booking.event_id, booking_ids=[booking.id])
    counts = {
        "reference_photos": _delete(session, ReferencePhoto, ReferencePhoto.booking_id, booking.id),
        "transient_references": _delete(
            session, TransientReference, TransientReference.booking_id, booking.id
        ),
        "face_encodings": 0,
        "objections": 0,
        "review_notes": 0,
        "messages": _delete(session, OutboxMessage, OutboxMessage.record_id, booking.id),
    }
    faces = session.exec(select(MediaFace).where(MediaFace.booking_id == booking.id)).all()
    for face in faces:
        if face.encoding is not None:
            face.encoding = None
            face.purged_at = now  # its decision stands for the anonymous marker
            counts["face_encodings"] += 1
            session.add(face)
    placed = {face.media_id for face in faces}
    objected: set[uuid.UUID] = set()
    for objection in session.exec(
        select(MediaObjection).where(MediaObjection.booking_id == booking.id)
    ).all():
        objected.add(objection.media_id)
        if objection.media_id in placed:
            session.delete(objection)
            counts["objections"] += 1
        elif objection.explanation is not None:
            objection.explanation = None  # their own words about where they are: personal
            session.add(objection)
    reviewed: set[uuid.UUID] = set()
    for review in session.exec(select(FaceReview).where(FaceReview.booking_id == booking.id)):
        reviewed.add(review.media_id)
        if review.note is not None:
            review.note = None
            session.add(review)
            counts["review_notes"] += 1
    media_ids = (
        placed
        | objected
        | set(
            session.exec(
                select(MediaBadge.media_id).where(MediaBadge.booking_id == booking.id)
            ).all()
        )
    )
    counts["audit_entries_tombstoned"] = _unname(session, booking.name, ERASED_NAME, media_ids)
    booking.name = ERASED_NAME
    booking.email = erased_address(booking.id)
    booking.link_version += 1
    session.add(booking)
    counts["audit_entries_tombstoned"] += audit.erase_personal(
        session=session, entity_type="booking", entity_ids=[booking.id]
    ) + audit.erase_personal(
        session=session,
        entity_type="media",
        entity_ids=sorted(reviewed, key=str),
        about=lambda entry: (entry.after or {}).get("booking_id") == str(booking.id),
    )
    record_change(session, booking, BookingAction.erased, actor, **counts)
    session.flush()
    index.forget(booking.event_id)
    signals.basis_changed.send(session=session, media_ids=sorted(placed, key=str))
    request_wal_truncate(session)
    return counts


def _unname(session: Session, name: str, replacement: str, media_ids: set[uuid.UUID]) -> int:
    """Gate reasons name the people concerned: in these media's reasons, their publications'
    takedown reasons (and the personal fields of those audit entries) and in staff notices, the
    name is replaced. The number of audit entries tombstoned."""
    if not media_ids:
        return 0

    # The reasons were written from the whole name: only that is replaced (in any case or
    # accent), so that someone else who shares a first name keeps theirs. A name of one or two
    # letters would garble other people's words: left as it is.
    def unnamed(text: str) -> str:
        return names.scrub(text, name, replacement, partial=False) if len(name) >= 3 else text

    for media in session.exec(select(Media).where(col(Media.id).in_(list(media_ids)))).all():
        reasons = [unnamed(r) for r in media.reasons or []]  # a video's name who appears when
        if reasons != list(media.reasons or []):
            media.reasons = reasons
            session.add(media)
    publications = session.exec(
        select(Publication).where(col(Publication.media_id).in_(list(media_ids)))
    ).all()
    for publication in publications:
        reasons = [unnamed(r) for r in publication.takedown_reasons or []]
        if reasons != list(publication.takedown_reasons or []):
            publication.takedown_reasons = reasons
            session.add(publication)
    for message in session.exec(
        select(OutboxMessage).where(col(OutboxMessage.record_id).is_(None))
    ).all():
        payload = _scrubbed(message.payload, unnamed)
        if payload != message.payload:
            message.payload = payload
            session.add(message)
    return audit.erase_personal(
        session=session,
        entity_type="publication",
        entity_ids=sorted((p.id for p in publications), key=str),
    )


def _scrubbed(value: Any, unnamed: Any) -> Any:
    """A JSON value with `unnamed` applied to every string in it."""
    if isinstance(value, str):
        return unnamed(value)
    if isinstance(value, list):
        return [_scrubbed(v, unnamed) for v in value]
    if isinstance(value, dict):
        return {k: _scrubbed(v, unnamed) for k, v in value.items()}
    return value


def published_on(session: Session, request: ConsentRequest) -> list[Publication]:
    """The publications still up that may rest on this consent (of media it covers)."""
    return list(
        session.exec(
            select(Publication)
            .join(ConsentMedia, col(ConsentMedia.media_id) == col(Publication.media_id))
            .where(
                ConsentMedia.consent_request_id == request.id,
                col(Publication.taken_down_at).is_(None),
            )
        ).all()
    )


def pseudonym(request: ConsentRequest) -> str:
    return f"Patient {request.subject_ref.hex[:8].upper()}"


def erase_consent(*, session: Session, actor: Actor, request: ConsentRequest) -> str:
    """Erase a patient's consent record: "deleted", or "pseudonymised" while media it covers is
    published (kept as the proof of that publication until it comes down)."""
    session.add(ErasurePermit(record_id=request.id))
    session.flush()
    covered = set(
        session.exec(
            select(ConsentMedia.media_id).where(ConsentMedia.consent_request_id == request.id)
        ).all()
    )
    _unname(session, request.subject_name, pseudonym(request), covered)
    try:
        if published_on(session, request):
            _pseudonymise(session, actor, request)
            outcome = "pseudonymised"
        else:
            _delete_consent(session, actor, request)
            outcome = "deleted"
    finally:
        session.execute(delete(ErasurePermit).where(col(ErasurePermit.record_id) == request.id))
        session.flush()
    request_wal_truncate(session)
    return outcome


def _pseudonymise(session: Session, actor: Actor, request: ConsentRequest) -> None:
    alias = pseudonym(request)
    # The purpose and description are free text about the patient (their condition, where they
    # live, a nickname: "Charcot neuroarthropathy, HbA1c 94, lives at 12 Elm Road"): no scrub
    # can be sure to find every identifying word, so none of it is kept. The record says what
    # it is now, when it was erased, and which media it covered (its ConsentMedia rows).
    erased_on = utcnow().strftime("%d %B %Y")
    covered = len(
        session.exec(
            select(ConsentMedia.media_id).where(ConsentMedia.consent_request_id == request.id)
        ).all()
    )
    request.purpose = (
        f"Erased at the patient's request on {erased_on}: the purpose they were told is no "
        "longer held."
    )
    request.description = (
        f"Consent of {alias} for {count(covered, 'media item')}, kept only as the record that "
        "their publication rested on it, until it comes down."
    )
    request.subject_name = alias
    request.subject_email = None
    request.guardian_name = None
    request.guardian_relation = None
    request.erase_requested_at = request.erase_requested_at or utcnow()
    session.add(request)
    for row in session.exec(select(ConsentEvent).where(ConsentEvent.request_id == request.id)):
        row.note, row.user_agent, row.ip_prefix = None, None, None
        session.add(row)
    _delete(session, OutboxMessage, OutboxMessage.record_id, request.id)
    tombstoned = audit.erase_personal(
        session=session, entity_type="consent_request", entity_ids=[request.id]
    )
    audit.record(
        session=session,
        actor=actor,
        action="consent.pseudonymised",
        entity_type="consent_request",
        entity_id=request.id,
        after={"kept_until_unpublished": True, "audit_entries_tombstoned": tombstoned},
    )


def _delete_consent(session: Session, actor: Actor, request: ConsentRequest) -> None:
    renewals = session.exec(
        select(ConsentRequest).where(ConsentRequest.renewed_from == request.id)
    ).all()
    for renewal in renewals:
        renewal.renewed_from = None
        session.add(renewal)
    _delete(session, ConsentEvent, ConsentEvent.request_id, request.id)
    _delete(session, ConsentMedia, ConsentMedia.consent_request_id, request.id)
    _delete(session, OutboxMessage, OutboxMessage.record_id, request.id)
    tombstoned = audit.erase_personal(
        session=session, entity_type="consent_request", entity_ids=[request.id]
    )
    session.delete(request)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="consent.erased",
        entity_type="consent_request",
        entity_id=request.id,
        after={"audit_entries_tombstoned": tombstoned},
    )


def delete_unpublished(*, session: Session, actor: Actor, at: datetime | None = None) -> int:
    """Consent records kept only as proof of a publication (erasure asked for meanwhile) whose
    publications have all come down: deleted now (housekeeping)."""
    waiting = session.exec(
        select(ConsentRequest).where(col(ConsentRequest.erase_requested_at).is_not(None))
    ).all()
    done = 0
    for request in waiting:
        if not published_on(session, request):
            erase_consent(session=session, actor=actor, request=request)
            done += 1
    return done


def _delete(session: Session, model: type[Any], column: Any, value: object) -> int:
    rows: list[Any] = list(session.exec(select(model).where(column == value)).all())
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


def bookings_of(*, session: Session, email: str) -> list[Booking]:
    """Every booking made with this address (any case), not yet erased."""
    return list(
        session.exec(
            select(Booking)
            .where(
                func.lower(Booking.email) == email.strip().lower(),
                col(Booking.erased_at).is_(None),
            )
            .order_by(col(Booking.created_at))
        ).all()
    )


def consents_of(*, session: Session, email: str) -> list[ConsentRequest]:
    return list(
        session.exec(
            select(ConsentRequest)
            .where(func.lower(ConsentRequest.subject_email) == email.strip().lower())
            .order_by(col(ConsentRequest.created_at))
        ).all()
    )
