"""Deciding a photo against its event: who is opted out now (with their reference encodings,
the transient references learnt from their badges, and whoever objected to this one photo),
what reviewers said, and the decision itself (`vision.decision`), stored on its faces.

Face encodings are decrypted only here (and for re-clearance's index) and compared in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from sqlmodel import Session, col, or_, select

from registry.audit import service as audit
from registry.config import get_settings
from registry.db import utcnow
from registry.events import references
from registry.events.models import Booking, ReferencePhoto
from registry.media import biometrics
from registry.media.models import (
    FaceReview,
    Media,
    MediaBadge,
    MediaFace,
    MediaObjection,
    MediaStatus,
    ObjectionDecision,
    TransientReference,
)
from registry.media.service import badges_of, faces_of
from registry.media.video_reasons import video_reasons
from registry.vision.decision import (
    BadgeInput,
    FaceInput,
    PhotoResult,
    Prior,
    Review,
    Sighting,
    Thresholds,
    TransientRef,
    corroborate,
    decide,
)


@dataclass
class EventState:
    """Who is opted out of an event now, with their reference encodings and the transient
    references learnt from their badges (each marked corroborated or not)."""

    opted_out: set[uuid.UUID] = field(default_factory=set)
    references: dict[uuid.UUID, list[np.ndarray]] = field(default_factory=dict)
    transient: list[TransientRef] = field(default_factory=list)
    objectors: set[uuid.UUID] = field(default_factory=set)  # of one photo (`for_media`)

    def encodings_of(self, booking_ids: Iterable[uuid.UUID]) -> list[np.ndarray]:
        """Every encoding that stands for these bookings (reference photos and badge faces)."""
        wanted = set(booking_ids)
        out = [e for b in wanted for e in self.references.get(b, [])]
        return out + [t.encoding for t in self.transient if t.booking_id in wanted]


def for_media(session: Session, media: Media, state: EventState) -> EventState:
    """The event's state as one photo sees it: whoever objected to this photo counts, for it, as
    opted out (with their reference photos, if they gave any)."""
    objectors = objections_to(session=session, media=media)
    if not objectors:
        return state
    refs = dict(state.references)
    for photo in session.exec(
        select(ReferencePhoto).where(
            col(ReferencePhoto.booking_id).in_(objectors - state.opted_out)
        )
    ).all():
        refs.setdefault(photo.booking_id, []).append(references.encoding_of(photo))
    return EventState(state.opted_out | objectors, refs, state.transient, objectors)


def opted_out_ids(session: Session, event_id: uuid.UUID) -> set[uuid.UUID]:
    """The bookings of an event opted out now (without their encodings: `event_state`)."""
    return set(
        session.exec(
            select(Booking.id).where(
                Booking.event_id == event_id,
                col(Booking.photo_opt_out).is_(True),
                # An erased booking stays opted out: it is what keeps its photos blocked.
                or_(col(Booking.cancelled_at).is_(None), col(Booking.erased_at).is_not(None)),
            )
        ).all()
    )


def event_state(session: Session, event_id: uuid.UUID | None) -> EventState:
    """Who is opted out of an event now, with their reference and transient encodings."""
    if event_id is None:
        return EventState()
    opted_out = opted_out_ids(session, event_id)
    refs: dict[uuid.UUID, list[np.ndarray]] = {}
    for photo in session.exec(
        select(ReferencePhoto).where(col(ReferencePhoto.booking_id).in_(opted_out))
    ).all():
        refs.setdefault(photo.booking_id, []).append(references.encoding_of(photo))
    rows = session.exec(
        select(TransientReference).where(
            TransientReference.event_id == event_id,
            col(TransientReference.booking_id).in_(opted_out),
        )
    ).all()
    return EventState(opted_out, refs, _corroborate(session, list(rows), refs))


def _corroborate(
    session: Session,
    rows: list[TransientReference],
    refs: dict[uuid.UUID, list[np.ndarray]],
) -> list[TransientRef]:
    """The event's badge sightings, weighed (see `vision.decision.corroborate`), with what
    reviewers said about each sighted face."""
    words: dict[tuple[uuid.UUID, int], str] = {}
    if rows:
        for review in session.exec(
            select(FaceReview)
            .where(col(FaceReview.media_id).in_({r.media_id for r in rows}))
            .order_by(col(FaceReview.id))
        ).all():
            words[(review.media_id, review.face_number)] = (
                review.decision if review.booking_id else ""
            )
    sightings = [
        Sighting(
            booking_id=row.booking_id,
            photo=row.media_id,
            encoding=biometrics.encoding_of(
                row.encoding, f"transient:{row.media_id}:{row.face_number}"
            ),
            confirmed=words.get((row.media_id, row.face_number)) == "confirm",
            ruled_out=words.get((row.media_id, row.face_number)) == "not_this_person",
        )
        for row in rows
    ]
    return corroborate(sightings, refs, thresholds())


def latest_reviews(*, session: Session, media: Media) -> dict[int, FaceReview]:
    """The latest reviewer's word on each face of a photo (rows are only ever added)."""
    latest: dict[int, FaceReview] = {}
    for review in session.exec(
        select(FaceReview).where(FaceReview.media_id == media.id).order_by(col(FaceReview.id))
    ).all():
        latest[review.face_number] = review
    return latest


def _reviews(latest: dict[int, FaceReview]) -> list[Review]:
    return [
        Review(face_id=r.face_number, booking_id=r.booking_id, confirmed=r.decision == "confirm")
        for r in latest.values()
        if r.decision in ("confirm", "not_this_person")
    ]


def consented_otherwise(*, session: Session, media: Media) -> dict[int, FaceReview]:
    """Faces staff marked as people who consented by other means (latest word per face)."""
    latest = latest_reviews(session=session, media=media)
    return {n: r for n, r in latest.items() if r.decision == "consented_otherwise"}


def objections_to(*, session: Session, media: Media) -> set[uuid.UUID]:
    """The bookings whose objection to this photo counts: not dismissed by staff (an erased
    booking's objection stays where no face is matched to it: it is then all that keeps the
    photo blocked)."""
    return objections_to_each(session=session, media_ids=[media.id]).get(media.id, set())


def objections_to_each(
    *, session: Session, media_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """`objections_to` for many photos at once: {media id: bookings} (photos without any
    objection that counts are left out)."""
    out: dict[uuid.UUID, set[uuid.UUID]] = {}
    for media_id, booking_id in session.exec(
        select(MediaObjection.media_id, MediaObjection.booking_id)
        .join(Booking, col(Booking.id) == MediaObjection.booking_id)
        .where(
            col(MediaObjection.media_id).in_(list(media_ids)),
            MediaObjection.decision != ObjectionDecision.dismissed,
            or_(col(Booking.cancelled_at).is_(None), col(Booking.erased_at).is_not(None)),
        )
    ).all():
        out.setdefault(media_id, set()).add(booking_id)
    return out


def objections_of(*, session: Session, media: Media) -> list[tuple[MediaObjection, Booking]]:
    """The objections to this photo with their bookings, oldest first (for staff)."""
    return [
        (objection, booking)
        for objection, booking in session.exec(
            select(MediaObjection, Booking)
            .join(Booking, col(Booking.id) == MediaObjection.booking_id)
            .where(MediaObjection.media_id == media.id)
            .order_by(col(MediaObjection.id))
        ).all()
    ]


def thresholds() -> Thresholds:
    settings = get_settings()
    return Thresholds(
        match=settings.match_threshold,
        review=settings.review_threshold,
        min_face_px=settings.min_face_px,
        caution=settings.caution_threshold,
    )


@dataclass
class Assessment:
    """A photo decided, and what the event learnt from it: faces linked to an opted-out
    attendee's badge became transient references (`learnt` bookings, `added` encodings), which
    may change the event's other photos (`media.reclear` spreads them)."""

    status: MediaStatus
    learnt: set[uuid.UUID]
    added: list[np.ndarray]
    state: EventState


def evaluate(*, session: Session, media: Media, state: EventState | None = None) -> MediaStatus:
    """Decide a photo from its stored faces and badges and the event's current opt-outs
    (`state`, when the caller already loaded it for the whole event); its status."""
    return assess(session=session, media=media, state=state).status


def assess(*, session: Session, media: Media, state: EventState | None = None) -> Assessment:
    """Decide a photo (as `evaluate`), with what the event learnt from it."""
    faces = faces_of(session=session, media=media)
    badges = badges_of(session=session, media=media)
    state = for_media(session, media, state or event_state(session, media.event_id))
    result = _decide(session, media, faces, badges, state)
    _keep_decisions(session, faces, badges, result)
    before = media.status
    _settle(session, media, faces, badges, state, result)
    if before != media.status:
        audit.record(
            session=session,
            actor=audit.SYSTEM,
            action="media.cleared",
            entity_type="media",
            entity_id=media.id,
            before={"status": before},
            after={"status": media.status, "reasons": len(result.reasons)},
        )
    learnt = _remember(session, media, faces, result.new_references)
    session.flush()
    return Assessment(
        status=media.status,
        learnt=learnt,
        added=[e for b in learnt for e in result.new_references[b]],
        state=state,
    )


def _decide(
    session: Session,
    media: Media,
    faces: list[MediaFace],
    badges: list[MediaBadge],
    state: EventState,
) -> PhotoResult:
    """The pure decision on the stored faces and badges, against the event's state and the
    reviewers' words."""
    return decide(
        faces=[
            FaceInput(
                id=f.number,
                box=(f.top, f.right, f.bottom, f.left),
                encoding=biometrics.encoding_of(f.encoding, f"face:{media.id}:{f.number}")
                if f.encoding
                else None,
                prior=Prior(f.booking_id, f.decision, f.via, f.distance)
                if f.purged_at is not None
                else None,
                caution=f.caution,
            )
            for f in faces
        ],
        badges=[
            BadgeInput(
                code=b.code,
                box=(b.top, b.right, b.bottom, b.left),
                booking_id=b.booking_id,
                face_id=b.face_number,
                prelinked=media.kind == "video",
            )
            for b in badges
        ],
        opted_out=state.opted_out,
        references=state.references,
        transient=state.transient,
        reviews=_reviews(latest_reviews(session=session, media=media)),
        thresholds=thresholds(),
    )


def _keep_decisions(
    session: Session, faces: list[MediaFace], badges: list[MediaBadge], result: PhotoResult
) -> None:
    """Cache each face's decision (who, how near, how) and each badge's wearer on its row."""
    by_number = {f.number: f for f in faces}
    for face_result in result.faces:
        row = by_number[face_result.id]
        row.booking_id, row.distance = face_result.booking_id, face_result.distance
        row.via = face_result.via.value if face_result.via else None
        row.decision = face_result.decision.value
        session.add(row)
    for badge_row, badge_result in zip(badges, result.badges, strict=True):
        badge_row.face_number = badge_result.face_id
        session.add(badge_row)


def _settle(
    session: Session,
    media: Media,
    faces: list[MediaFace],
    badges: list[MediaBadge],
    state: EventState,
    result: PhotoResult,
) -> None:
    """The media's status and reasons from the decision; an objection nobody in it was matched
    to holds a photo that would be cleared for review."""
    unplaced = sorted(
        str(b) for b in state.objectors if not any(f.booking_id == b for f in result.faces)
    )
    media.status = MediaStatus(result.status.value)
    media.reasons = (
        video_reasons(session, faces, badges, state.opted_out)
        if media.kind == "video"
        else result.reasons
    )
    if unplaced:
        # Nobody here was matched to the person who objected: a reviewer must say which face is
        # theirs ("this is the person who objected"), then redact it.
        if media.status == MediaStatus.cleared:
            media.status = MediaStatus.needs_review
        media.reasons = [
            *media.reasons,
            *(
                "An attendee objected to this photo and none of its faces was matched to them: "
                "mark which face is theirs, then redact it."
                for _ in unplaced
            ),
        ]
    session.add(media)


def _remember(
    session: Session,
    media: Media,
    faces: list[MediaFace],
    found: dict[uuid.UUID, list[np.ndarray]],
) -> set[uuid.UUID]:
    """Keep the encodings of faces linked to an opted-out attendee's badge (transient refs);
    the bookings that gained one."""
    if not found or media.event_id is None:
        return set()
    purge = biometrics.purge_date(session, media) or utcnow()
    numbers = {
        f.booking_id: f.number
        for f in faces
        if f.via == "badge" and f.booking_id is not None and f.encoding is not None
    }
    added: set[uuid.UUID] = set()
    for booking_id, encodings in found.items():
        number = numbers.get(booking_id)
        if number is None or not encodings:
            continue
        exists = session.exec(
            select(TransientReference).where(
                TransientReference.media_id == media.id,
                TransientReference.face_number == number,
            )
        ).first()
        if exists is not None:
            continue
        session.add(
            TransientReference(
                event_id=media.event_id,
                booking_id=booking_id,
                media_id=media.id,
                face_number=number,
                encoding=biometrics.seal(encodings[0], f"transient:{media.id}:{number}"),
                purge_after=purge,
            )
        )
        added.add(booking_id)
    return added
