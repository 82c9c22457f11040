"""Clearance: a job's lease on a photo, storing what analysis found, deciding it against the
event's opt-outs, re-deciding when they change, reviewers' words, and the biometric purge.

Face encodings are decrypted only here and compared in memory; nothing here imports the pages,
the gate or publishing: changes that may take a basis away are announced with
`signals.basis_changed`, and `on_opt_outs_changed` is what `registry.reactions` binds to
`signals.opt_outs_changed`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlmodel import Session, col, delete, or_, select

from registry import crypto, signals
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.config import get_settings
from registry.db import utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.events import references
from registry.events.models import Booking, Event, ReferencePhoto
from registry.media import index
from registry.media.models import (
    FINAL,
    FaceReview,
    Media,
    MediaBadge,
    MediaFace,
    MediaObjection,
    MediaStatus,
    ObjectionDecision,
    TransientReference,
    VideoSegment,
)
from registry.media.service import badges_of, faces_of
from registry.vision.analysis import Analysis
from registry.vision.decision import (
    BadgeInput,
    FaceDecision,
    FaceInput,
    Prior,
    Review,
    Sighting,
    Thresholds,
    TransientRef,
    corroborate,
    decide,
)
from registry.vision.video import VideoAnalysis, timestamp

MAX_ATTEMPTS = 3


def lease() -> timedelta:
    """How long a worker may hold a photo before it is presumed dead (job_lease_seconds)."""
    return timedelta(seconds=get_settings().job_lease_seconds)


def claim(*, session: Session, media_id: uuid.UUID) -> str | None:
    """Mark a pending photo as processing (with a lease); its storage key, or None if another
    worker holds it or it is done. A photo whose worker's lease ran out can be claimed again."""
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
    for media in due:
        media.status, media.lease_until = MediaStatus.pending, at + resend
        session.add(media)
    session.flush()
    return [m.id for m in due]


def fail(*, session: Session, media_id: uuid.UUID, reason: str, retry: bool = False) -> None:
    media = session.get(Media, media_id, with_for_update=True)
    if media is None:
        return
    if retry and media.attempts < MAX_ATTEMPTS:
        media.status, media.lease_until = MediaStatus.pending, None
    else:
        media.status, media.failure, media.lease_until = MediaStatus.failed, reason[:500], None
    session.add(media)
    audit.record(
        session=session,
        actor=audit.SYSTEM,
        action="media.failed" if media.status == MediaStatus.failed else "media.retry",
        entity_type="media",
        entity_id=media.id,
        after={"status": media.status, "reason": reason[:200]},
    )


def badge_booking(session: Session, media: Media, code: str) -> uuid.UUID | None:
    """The booking a badge code seen in this media belongs to (only of the media's event)."""
    booking = session.exec(select(Booking).where(Booking.badge_code == code)).first()
    return booking.id if booking and booking.event_id == media.event_id else None


def _purge_after(session: Session, media: Media) -> datetime | None:
    """When the photo's face encodings go: the event's purge date, or (no event) a set number
    of days after upload. Every stored template has one."""
    event = session.get(Event, media.event_id) if media.event_id is not None else None
    if event is not None:
        return references.purge_date(event)
    return media.created_at + timedelta(days=get_settings().biometric_days_without_event)


def on_retention_changed(*, session: Session, event_id: uuid.UUID, purge_after: datetime) -> None:
    """An event's purge date moved: its photos' encodings and transient references follow."""
    faces = session.exec(
        select(MediaFace)
        .join(Media, col(Media.id) == col(MediaFace.media_id))
        .where(
            Media.event_id == event_id,
            col(MediaFace.encoding).is_not(None),
            MediaFace.purge_after != purge_after,
        )
    ).all()
    for face in faces:
        face.purge_after = purge_after
        session.add(face)
    transient = session.exec(
        select(TransientReference).where(
            TransientReference.event_id == event_id,
            TransientReference.purge_after != purge_after,
        )
    ).all()
    for ref in transient:
        ref.purge_after = purge_after
        session.add(ref)
    session.flush()


def _encrypted(encoding: np.ndarray, media: Media, number: int) -> bytes:
    return crypto.encrypt(encoding.astype("<f8").tobytes(), bound_to=f"face:{media.id}:{number}")


def _store_video(
    session: Session, media: Media, result: VideoAnalysis, purge: datetime | None
) -> None:
    """A video's tracks become its faces (numbered by start), its badge sightings its badges
    (linked to the track wearing them in that frame)."""
    order = sorted(range(len(result.tracks)), key=lambda i: (result.tracks[i].samples[0].t_s, i))
    number_of = {i: n for n, i in enumerate(order, start=1)}
    for i in order:
        track, number = result.tracks[i], number_of[i]
        box = track.largest
        row = MediaFace(
            media_id=media.id,
            number=number,
            top=box[0],
            right=box[1],
            bottom=box[2],
            left=box[3],
            purge_after=purge,
            start_s=track.samples[0].t_s,
            end_s=track.samples[-1].t_s,
            samples=[[round(s.t_s, 3), *s.box] for s in track.samples],
            caution=track.caution,
        )
        encoding = track.encoding
        if encoding is not None:
            row.encoding = _encrypted(encoding, media, number)
        session.add(row)
    for sighting in result.badges:
        session.add(
            MediaBadge(
                media_id=media.id,
                code=sighting.code[:200],
                top=sighting.box[0],
                right=sighting.box[1],
                bottom=sighting.box[2],
                left=sighting.box[3],
                booking_id=badge_booking(session, media, sighting.code),
                face_number=None if sighting.track is None else number_of[sighting.track],
                t_s=round(sighting.t_s, 3),
            )
        )
    media.duration_s, media.frame_rate = result.duration_s, result.frame_rate


def store_analysis(
    *, session: Session, media_id: uuid.UUID, result: Analysis | VideoAnalysis
) -> Media | None:
    """Save what the worker found (idempotent: a second delivery replaces the first) and decide."""
    found = session.get(Media, media_id)
    if found is not None and found.event_id is not None:
        # Event first, then media: the order publishing and re-clearance lock in.
        session.get(Event, found.event_id, with_for_update=True)
    media = session.get(Media, media_id, with_for_update=True, populate_existing=True)
    if media is None or media.status in FINAL:
        return media
    session.exec(delete(MediaFace).where(col(MediaFace.media_id) == media.id))
    session.exec(delete(MediaBadge).where(col(MediaBadge.media_id) == media.id))
    purge = _purge_after(session, media)
    if isinstance(result, VideoAnalysis):
        _store_video(session, media, result, purge)
    ordered = (
        []
        if isinstance(result, VideoAnalysis)
        else sorted(result.faces, key=lambda f: (f.box[0] // 200, f.box[3]))
    )
    codes = [] if isinstance(result, VideoAnalysis) else result.codes
    for number, face in enumerate(ordered, start=1):
        row = MediaFace(
            media_id=media.id,
            number=number,
            top=face.box[0],
            right=face.box[1],
            bottom=face.box[2],
            left=face.box[3],
            purge_after=purge,
            caution=face.caution,
        )
        if face.encoding is not None:
            row.encoding = _encrypted(face.encoding, media, number)
        session.add(row)
    for code in codes:
        session.add(
            MediaBadge(
                media_id=media.id,
                code=code.text[:200],
                top=code.box[0],
                right=code.box[1],
                bottom=code.box[2],
                left=code.box[3],
                booking_id=badge_booking(session, media, code.text),
            )
        )
    media.width, media.height = result.width, result.height
    media.min_face_px = result.min_face_px
    media.analysed_at = utcnow()
    media.lease_until = None
    session.add(media)
    session.flush()
    evaluate(session=session, media=media)
    return media


def encoding_of(blob: bytes, bound_to: str) -> np.ndarray:
    return np.frombuffer(crypto.decrypt(blob, bound_to=bound_to), dtype="<f8").copy()


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


def event_state(session: Session, event_id: uuid.UUID | None) -> EventState:
    """Who is opted out of an event now, with their reference and transient encodings."""
    if event_id is None:
        return EventState()
    opted_out = set(
        session.exec(
            select(Booking.id).where(
                Booking.event_id == event_id,
                col(Booking.photo_opt_out).is_(True),
                # An erased booking stays opted out: it is what keeps its photos blocked.
                or_(col(Booking.cancelled_at).is_(None), col(Booking.erased_at).is_not(None)),
            )
        ).all()
    )
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
            encoding=encoding_of(row.encoding, f"transient:{row.media_id}:{row.face_number}"),
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
    return set(
        session.exec(
            select(MediaObjection.booking_id)
            .join(Booking, col(Booking.id) == MediaObjection.booking_id)
            .where(
                MediaObjection.media_id == media.id,
                MediaObjection.decision != ObjectionDecision.dismissed,
                or_(col(Booking.cancelled_at).is_(None), col(Booking.erased_at).is_not(None)),
            )
        ).all()
    )


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


def evaluate(
    *, session: Session, media: Media, cascade: bool = True, state: EventState | None = None
) -> MediaStatus:
    """Decide a photo from its stored faces and badges and the event's current opt-outs
    (`state`, when the caller already loaded it for the whole event)."""
    faces = faces_of(session=session, media=media)
    badges = badges_of(session=session, media=media)
    state = for_media(session, media, state or event_state(session, media.event_id))
    objectors = state.objectors
    opted_out, refs = state.opted_out, state.references
    result = decide(
        faces=[
            FaceInput(
                id=f.number,
                box=(f.top, f.right, f.bottom, f.left),
                encoding=encoding_of(f.encoding, f"face:{media.id}:{f.number}")
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
        opted_out=opted_out,
        references=refs,
        transient=state.transient,
        reviews=_reviews(latest_reviews(session=session, media=media)),
        thresholds=thresholds(),
    )
    unplaced = sorted(str(b) for b in objectors if not any(f.booking_id == b for f in result.faces))
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
    before = media.status
    media.status = MediaStatus(result.status.value)
    media.reasons = (
        video_reasons(session, faces, badges, opted_out)
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
    if learnt and cascade and media.event_id is not None:
        # A face linked to a badge is now a reference: look for that person in the photos where
        # they could be (and re-weigh sightings that this one may corroborate).
        reclear_bookings(
            session=session,
            event_id=media.event_id,
            booking_ids=learnt,
            skip=media.id,
            added=[e for b in learnt for e in result.new_references[b]],
            previous=state,
        )
    return media.status


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
    purge = _purge_after(session, media) or utcnow()
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
                encoding=crypto.encrypt(
                    encodings[0].astype("<f8").tobytes(), bound_to=f"transient:{media.id}:{number}"
                ),
                purge_after=purge,
            )
        )
        added.add(booking_id)
    return added


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
    previous: EventState | None = None,
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
    state = event_state(session, event_id)
    if added is not None and previous is not None and _trust_fell(previous, state, wanted):
        added = None
    faces_naming = select(MediaFace.media_id).join(Media, col(Media.id) == col(MediaFace.media_id))
    if added is None:
        named = set(
            session.exec(
                faces_naming.where(
                    Media.event_id == event_id, col(MediaFace.booking_id).in_(wanted)
                )
            ).all()
        ) | set(
            session.exec(
                select(MediaBadge.media_id)
                .join(Media, col(Media.id) == col(MediaBadge.media_id))
                .where(Media.event_id == event_id, col(MediaBadge.booking_id).in_(wanted))
            ).all()
        )
        encodings = state.encodings_of(wanted & state.opted_out)
    else:
        named = set(
            session.exec(
                faces_naming.where(
                    Media.event_id == event_id,
                    col(MediaFace.booking_id).in_(wanted),
                    col(MediaFace.decision) != FaceDecision.opted_out.value,
                )
            ).all()
        )
        encodings = list(added)
    if added is None:
        near = index.photos_near(
            session=session, event_id=event_id, encodings=encodings, radius=thresholds().review
        )
    else:
        near = _undecided(
            session,
            index.faces_near(
                session=session, event_id=event_id, encodings=encodings, radius=thresholds().review
            ),
        )
    ids = sorted((named | near) - {skip}, key=str)
    photos = [
        m
        for start in range(0, len(ids), 500)
        for m in session.exec(
            select(Media).where(
                col(Media.id).in_(ids[start : start + 500]), col(Media.status).in_(list(FINAL))
            )
        ).all()
    ]
    return _redecide(session, event_id, photos, state)


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


def _trust_fell(before: EventState, after: EventState, bookings: set[uuid.UUID]) -> bool:
    def trusted(state: EventState) -> dict[uuid.UUID, int]:
        out: dict[uuid.UUID, int] = {}
        for ref in state.transient:
            if ref.booking_id in bookings and ref.corroborated:
                out[ref.booking_id] = out.get(ref.booking_id, 0) + 1
        return out

    now = trusted(after)
    return any(count > now.get(booking, 0) for booking, count in trusted(before).items())


def _redecide(
    session: Session, event_id: uuid.UUID, photos: list[Media], state: EventState | None = None
) -> int:
    state = state or event_state(session, event_id)  # once for all the photos
    changed = 0
    for media in photos:
        before = media.status
        if evaluate(session=session, media=media, cascade=False, state=state) != before:
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
    face = session.exec(
        select(MediaFace).where(MediaFace.media_id == media.id, MediaFace.number == face_number)
    ).first()
    if face is None:
        raise NotFound("No face with this number in this photo.")
    if media.status not in FINAL:
        raise Conflict("This photo has not been analysed yet.")
    if face.booking_id is None and decision == "confirm":
        raise Conflict("Nobody was matched to this face, so there is nothing to confirm.")
    booking_id = face.booking_id
    if decision == "objector":
        if objector is None or objector not in objections_to(session=session, media=media):
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
    status = evaluate(session=session, media=media)
    if media.event_id is not None and face.booking_id is not None and decision != "objector":
        # A confirmed face becomes a trusted reference; a ruled-out one stops being one: other
        # photos that person may be in are weighed again.
        reclear_bookings(
            session=session, event_id=media.event_id, booking_ids=[face.booking_id], skip=media.id
        )
    signals.basis_changed.send(session=session, media_ids=[media.id])
    return status


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
    encoding = encoding_of(face.encoding, f"face:{media.id}:{face.number}")
    session.add(
        TransientReference(
            event_id=media.event_id,
            booking_id=face.booking_id,
            media_id=media.id,
            face_number=face.number,
            encoding=crypto.encrypt(
                encoding.astype("<f8").tobytes(), bound_to=f"transient:{media.id}:{face.number}"
            ),
            purge_after=_purge_after(session, media) or utcnow(),
        )
    )
    session.flush()


def purge_biometrics(*, session: Session, at: datetime | None = None) -> int:
    """Delete face encodings of event photos and transient references past retention.

    The photos keep their boxes and decisions; only the biometric templates go.
    """
    at = at or utcnow()
    faces = list(
        session.exec(
            select(MediaFace).where(
                col(MediaFace.encoding).is_not(None), col(MediaFace.purge_after) <= at
            )
        ).all()
    )
    # Faces stored before every template had a date (photos not from an event): by upload date.
    undated = at - timedelta(days=get_settings().biometric_days_without_event)
    faces += session.exec(
        select(MediaFace)
        .join(Media, col(Media.id) == col(MediaFace.media_id))
        .where(
            col(MediaFace.encoding).is_not(None),
            col(MediaFace.purge_after).is_(None),
            col(Media.created_at) <= undated,
        )
    ).all()
    for face in faces:
        face.encoding = None
        face.purged_at = at  # its decision and matched booking stay: they are the record
        session.add(face)
    transient = session.exec(
        select(TransientReference).where(TransientReference.purge_after <= at)
    ).all()
    for ref in transient:
        session.delete(ref)
    # Parts of a video analysis left behind by a video no longer being cleared (normally deleted
    # when stitched or failed): their findings hold encodings too.
    leftover = session.exec(
        select(VideoSegment)
        .join(Media, col(Media.id) == col(VideoSegment.media_id))
        .where(col(Media.status).not_in([MediaStatus.pending, MediaStatus.processing]))
    ).all()
    for part in leftover:
        session.delete(part)
    if faces or transient:
        index.forget()  # no decrypted template outlives its purge in this process's memory
        audit.record(
            session=session,
            actor=audit.SYSTEM,
            action="media.biometrics_purged",
            entity_type="media",
            entity_id="*",
            after={"face_encodings": len(faces), "transient_references": len(transient)},
        )
    session.flush()
    return len(faces) + len(transient)


def _span(start: float | None, end: float | None) -> str:
    return f"{timestamp(start or 0.0)}–{timestamp(end or start or 0.0)}"


def video_reasons(
    session: Session,
    tracks: Sequence[MediaFace],
    badges: Sequence[MediaBadge],
    opted_out: set[uuid.UUID],
) -> list[str]:
    """A video's reasons: who appears when (people and time ranges), from its decided tracks."""
    wanted = {t.booking_id for t in tracks if t.booking_id} | {
        b.booking_id for b in badges if b.booking_id
    }
    names = (
        {
            b.id: b.name
            for b in session.exec(select(Booking).where(col(Booking.id).in_(wanted))).all()
        }
        if wanted
        else {}
    )
    reasons: list[str] = []
    for track in tracks:
        name = names.get(track.booking_id, "an attendee") if track.booking_id else None
        when = _span(track.start_s, track.end_s)
        if track.decision == "opted_out" and name:
            how = {
                "badge": "wearing their badge",
                "face": f"matched to their reference photo, distance {track.distance or 0:.2f}",
                "linked": "matched to a face seen wearing their badge, "
                f"distance {track.distance or 0:.2f}",
            }.get(track.via or "", "confirmed by a reviewer")
            reasons.append(f"{name} (opted out) appears {when} (track {track.number}, {how}).")
        elif track.decision == "review" and name:
            reasons.append(
                f"Track {track.number} ({when}) may be {name}, who opted out: please review."
            )
    unlinked: dict[uuid.UUID, list[float]] = {}
    unknown: dict[str, list[float]] = {}
    for badge in badges:
        t = badge.t_s or 0.0
        if badge.booking_id is None:
            unknown.setdefault(badge.code, []).append(t)
        elif badge.booking_id in opted_out and badge.face_number is None:
            unlinked.setdefault(badge.booking_id, []).append(t)
    for booking_id, times in unlinked.items():
        reasons.append(
            f"The badge of {names.get(booking_id, 'an attendee')} (opted out) is visible "
            f"{_span(min(times), max(times))}, its wearer not certain."
        )
    for code, times in unknown.items():
        reasons.append(
            f"A QR code that is not a badge of this event was seen ({code!r}, "
            f"{_span(min(times), max(times))})."
        )
    small = sum(1 for t in tracks if t.decision == "too_small")
    if small:
        reasons.append(f"{small} track(s) are too small to verify.")
    return reasons
