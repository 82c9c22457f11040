"""Who is in a photo, and may it be published: badges, matching, reviewers' words, the decision.

Pure functions on plain data (no images, no database): the service feeds in the faces and badges
stored for a photo and the event's current references and opt-outs, so a photo is re-cleared
from stored encodings whenever an attendee changes their mind, without detecting again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from registry.vision.badge_links import link_badges
from registry.vision.faces import Box


class Via(StrEnum):
    face = "face"
    badge = "badge"
    linked = "linked"


class FaceDecision(StrEnum):
    opted_out = "opted_out"  # this face is an attendee who opted out: must not be published
    review = "review"  # grey zone: a person must look
    clear = "clear"  # no opted-out attendee
    too_small = "too_small"  # too small to verify either way (reported, not flagged)


class PhotoStatus(StrEnum):
    cleared = "cleared"
    flagged = "flagged"
    needs_review = "needs_review"


@dataclass(frozen=True)
class Thresholds:
    """Face distances (128-d, Euclidean). Privacy first: the grey zone goes to a person."""

    match: float = 0.5  # ≤ match: the face is that attendee
    review: float = 0.6  # ≤ review: maybe that attendee (needs review)
    min_face_px: int = 40  # narrower faces that match nobody are reported as too small to verify
    # A face whose encoding cannot be trusted (turned away, partly covered) is further from its
    # own reference than a whole one: maybe that attendee up to this distance (needs review).
    caution: float = 0.64

    def __post_init__(self) -> None:
        if not 0 < self.match <= self.review <= self.caution:
            raise ValueError("thresholds must satisfy 0 < match <= review <= caution")


@dataclass(frozen=True)
class Prior:
    """What a face was decided while its template existed (kept when retention deletes it)."""

    booking_id: uuid.UUID | None
    decision: str  # FaceDecision value
    via: str | None = None
    distance: float | None = None


@dataclass(frozen=True)
class FaceInput:
    id: int
    box: Box
    encoding: np.ndarray | None  # None when too small to encode, or purged (then `prior`)
    prior: Prior | None = None  # set when the template was purged after retention
    caution: str | None = None  # why the encoding cannot be trusted ("turned away" ...)


@dataclass(frozen=True)
class BadgeInput:
    code: str
    box: Box
    booking_id: uuid.UUID | None  # None: a code that is no badge of this event
    # Videos link a badge to its wearer in the frame it was seen in (with this module's
    # geometry); `prelinked` badges keep that link (or none) instead of being linked here.
    face_id: int | None = None
    prelinked: bool = False


@dataclass(frozen=True)
class Review:
    """A reviewer's word on one face: `booking_id` confirmed, or ruled out ("not this person")."""

    face_id: int
    booking_id: uuid.UUID | None
    confirmed: bool


@dataclass
class FaceResult:
    id: int
    box: Box
    booking_id: uuid.UUID | None = None
    distance: float | None = None
    via: Via | None = None
    decision: FaceDecision = FaceDecision.clear


@dataclass
class BadgeResult:
    code: str
    box: Box
    booking_id: uuid.UUID | None
    face_id: int | None = None  # the face wearing it, when that is unambiguous
    # When it is not: the faces that could be wearing it (a person must say which).
    candidates: tuple[int, ...] = ()


@dataclass(frozen=True)
class TransientRef:
    """A face seen wearing an opted-out attendee's badge in another photo of the event.

    One sighting may be a wrong link (a bystander next to the badge): until it is corroborated
    (the same face with the same badge in another photo, or a reviewer's confirmation) a match
    with it only asks for review; once corroborated it can flag like a reference photo."""

    booking_id: uuid.UUID
    encoding: np.ndarray
    corroborated: bool = False


@dataclass(frozen=True)
class Sighting:
    """A face seen wearing an opted-out attendee's badge, in one photo (`photo`: any key)."""

    booking_id: uuid.UUID
    photo: object
    encoding: np.ndarray
    confirmed: bool = False  # a reviewer confirmed it
    ruled_out: bool = False  # a reviewer said "not this person"


def corroborate(
    sightings: Sequence[Sighting],
    references: Mapping[uuid.UUID, Sequence[np.ndarray]],
    thresholds: Thresholds | None = None,
) -> list[TransientRef]:
    """Which badge sightings can be trusted to flag other photos.

    A sighting is corroborated when the same face is seen with the same badge in another photo,
    or a reviewer confirmed it; it is dropped when a reviewer said "not this person" or when the
    attendee's own reference photo says it is someone else. When one badge was seen on two
    different people who each look corroborated, neither can be trusted: both only ask for review.
    """
    t = thresholds or Thresholds()
    by_booking: dict[uuid.UUID, list[Sighting]] = {}
    for sighting in sightings:
        if sighting.ruled_out:
            continue
        own = references.get(sighting.booking_id)
        if own and min(float(np.linalg.norm(r - sighting.encoding)) for r in own) > t.review:
            continue  # their reference photo shows someone else: the link was wrong
        by_booking.setdefault(sighting.booking_id, []).append(sighting)
    out: list[TransientRef] = []
    for booking_id, seen in by_booking.items():
        # Pairwise, as matrices: an event's sightings of one person grow with the event.
        encodings = np.stack([one.encoding for one in seen])
        apart = np.linalg.norm(encodings[:, None, :] - encodings[None, :, :], axis=2)
        photos = [one.photo for one in seen]
        other_photo = np.array([[a != b for b in photos] for a in photos])
        confirmed = np.array([one.confirmed for one in seen])
        sure = list(confirmed | ((apart <= t.match) & other_photo).any(axis=1))
        trusted = np.nonzero(sure)[0]
        conflict = bool((apart[np.ix_(trusted, trusted)] > t.review).any())
        out.extend(
            TransientRef(booking_id, one.encoding, corroborated=bool(ok) and not conflict)
            for one, ok in zip(seen, sure, strict=True)
        )
    return out


@dataclass
class PhotoResult:
    status: PhotoStatus
    faces: list[FaceResult]
    badges: list[BadgeResult]
    reasons: list[str] = field(default_factory=list)
    # Encodings of faces linked to an opted-out attendee's badge: transient references.
    new_references: dict[uuid.UUID, list[np.ndarray]] = field(default_factory=dict)


def _width(box: Box) -> int:
    return box[1] - box[3]


class _Pool:
    """Reference encodings of several people stacked in one matrix, so that the nearest one to
    a face is one vector operation, however many references an event has learnt (a recurring
    attendee's badge sightings grow with the event)."""

    def __init__(self, references: Mapping[uuid.UUID, Sequence[np.ndarray]]) -> None:
        self.labels = [b for b, refs in references.items() for _ in refs]
        rows = [np.asarray(r, np.float64) for refs in references.values() for r in refs]
        self.matrix = np.stack(rows) if rows else np.zeros((0, 128))

    def nearest(
        self, encoding: np.ndarray, excluded: AbstractSet[uuid.UUID] = frozenset()
    ) -> tuple[uuid.UUID | None, float | None]:
        """The closest person (not `excluded`) and their closest reference's distance."""
        if not self.labels:
            return None, None
        distances = np.linalg.norm(self.matrix - encoding, axis=1)
        if excluded:
            distances = np.where([b in excluded for b in self.labels], np.inf, distances)
        best = int(np.argmin(distances))
        if not np.isfinite(distances[best]):
            return None, None
        return self.labels[best], float(distances[best])


def _transient_by_booking(
    transient: Sequence[TransientRef] | Mapping[uuid.UUID, Sequence[np.ndarray]] | None,
    opted_out: set[uuid.UUID],
) -> tuple[dict[uuid.UUID, list[np.ndarray]], dict[uuid.UUID, list[np.ndarray]]]:
    """(corroborated, unconfirmed) transient encodings of bookings opted out now. A mapping
    (booking → encodings) is taken as corroborated, for callers that checked it themselves."""
    sure: dict[uuid.UUID, list[np.ndarray]] = {}
    unsure: dict[uuid.UUID, list[np.ndarray]] = {}
    if transient is None:
        return sure, unsure
    if isinstance(transient, Mapping):
        return {k: list(v) for k, v in transient.items() if k in opted_out}, unsure
    for ref in transient:
        if ref.booking_id in opted_out:
            (sure if ref.corroborated else unsure).setdefault(ref.booking_id, []).append(
                ref.encoding
            )
    return sure, unsure


def _decide_purged(
    face: FaceInput,
    prior: Prior,
    result: FaceResult,
    opted_out: AbstractSet[uuid.UUID],
    ruled_out: AbstractSet[tuple[int, uuid.UUID | None]],
    reasons: list[str],
) -> None:
    """A face whose template was deleted at the end of retention cannot be matched again: the
    match made while it existed stands for as long as that person stays opted out (a purge
    must never turn a flagged photo into a publishable one); opting back in, or a reviewer's
    "not this person", clears it. A face that matched nobody keeps its decision."""
    booking = prior.booking_id
    if booking is None or (face.id, booking) in ruled_out:
        result.decision = (
            FaceDecision.clear if booking is not None else FaceDecision(prior.decision)
        )
        return
    result.booking_id, result.distance = booking, prior.distance
    result.via = Via(prior.via) if prior.via else Via.face
    if booking not in opted_out:
        result.decision = FaceDecision.clear
        return
    if prior.decision == FaceDecision.review:
        result.decision = FaceDecision.review
        reasons.append(
            f"Face {face.id} was a possible match for an attendee who opted out before its "
            "template was deleted at the end of retention: please review."
        )
        return
    result.decision = FaceDecision.opted_out
    reasons.append(
        f"Face {face.id} was matched to an attendee who opted out before its template was "
        "deleted at the end of retention; the match stands while they stay opted out."
    )


class _Source(NamedTuple):
    """Where a face may be recognised from: reference photos, or faces seen wearing a badge."""

    pool: _Pool
    via: Via
    sure: bool  # False: sightings nobody corroborated yet, which can only ask for review


@dataclass(frozen=True)
class _Match:
    """The nearest opted-out attendee to a face, and what that likeness rests on."""

    booking_id: uuid.UUID | None
    distance: float
    via: Via
    sure: bool


@dataclass
class _Clearance:
    """One photo's decision as it is worked out, phase by phase: each face's result so far,
    the reasons a person will read, and the encodings learnt from badges."""

    opted_out: AbstractSet[uuid.UUID]
    # (face, booking) pairs a reviewer said are not the same person: never matched again.
    ruled_out: AbstractSet[tuple[int, uuid.UUID | None]]
    faces: dict[int, FaceResult]
    reasons: list[str] = field(default_factory=list)
    new_references: dict[uuid.UUID, list[np.ndarray]] = field(default_factory=dict)

    def open(self, face_id: int, booking_id: uuid.UUID | None) -> bool:
        """Whether that face may still be that attendee (no reviewer ruled it out)."""
        return (face_id, booking_id) not in self.ruled_out


def _badge_results(faces: Sequence[FaceInput], badges: Sequence[BadgeInput]) -> list[BadgeResult]:
    """Each badge with the face wearing it (or the faces that could be): by geometry here, or
    as a video linked it in the frame it was seen in (`prelinked`)."""
    known = {f.id for f in faces}
    results = [BadgeResult(code=b.code, box=b.box, booking_id=b.booking_id) for b in badges]
    free = [i for i, b in enumerate(badges) if not b.prelinked]
    links, ambiguous = link_badges(faces, [badges[i] for i in free])
    for k, face_id in links.items():
        results[free[k]].face_id = face_id
    for k, candidates in ambiguous.items():
        results[free[k]].candidates = candidates
    for result, badge in zip(results, badges, strict=True):
        if badge.prelinked and badge.face_id is not None and badge.face_id in known:
            result.face_id = badge.face_id
    return results


def _worn_badge(
    clearance: _Clearance, booking_id: uuid.UUID, face_id: int, encoding: np.ndarray | None
) -> None:
    """The face wearing an opted-out attendee's badge is that attendee; its encoding becomes
    a transient reference for the event's other photos."""
    worn = clearance.faces[face_id]
    worn.booking_id, worn.via, worn.distance = booking_id, Via.badge, None
    worn.decision = FaceDecision.opted_out
    if encoding is not None:
        clearance.new_references.setdefault(booking_id, []).append(encoding)
    clearance.reasons.append(f"Face {face_id} wears the badge of an attendee who opted out.")


def _unclaimed_badge(clearance: _Clearance, number: int, badge: BadgeResult) -> None:
    """An opted-out attendee's badge nobody is sure to wear: the faces that could be wearing it
    go to review (unless matched otherwise), and the badge itself keeps the photo flagged."""
    candidates = [c for c in badge.candidates if clearance.open(c, badge.booking_id)]
    for candidate in candidates:
        maybe = clearance.faces[candidate]
        if maybe.via is None:
            maybe.booking_id, maybe.via = badge.booking_id, Via.badge
            maybe.decision = FaceDecision.review
    if candidates:
        names = " or ".join(str(c) for c in candidates)
        clearance.reasons.append(
            f"The badge of an attendee who opted out (badge {number}) is worn by face "
            f"{names}: too close to tell which; please review."
        )
    else:
        clearance.reasons.append(
            f"The badge of an attendee who opted out is visible (badge {number})."
        )


def _apply_badges(
    clearance: _Clearance, faces: Sequence[FaceInput], badges: Sequence[BadgeResult]
) -> None:
    """Phase 1, badges: a badge decides its wearer before any likeness is weighed."""
    encodings = {f.id: f.encoding for f in faces}
    for number, badge in enumerate(badges, start=1):
        if badge.booking_id is None:
            clearance.reasons.append(
                f"A QR code that is not a badge of this event was seen ({badge.code!r})."
            )
        elif badge.booking_id not in clearance.opted_out:
            continue
        elif badge.face_id is not None and clearance.open(badge.face_id, badge.booking_id):
            _worn_badge(clearance, badge.booking_id, badge.face_id, encodings[badge.face_id])
        else:
            _unclaimed_badge(clearance, number, badge)


def _sources(
    references: Mapping[uuid.UUID, Sequence[np.ndarray]],
    transient: Sequence[TransientRef] | Mapping[uuid.UUID, Sequence[np.ndarray]] | None,
    opted_out: set[uuid.UUID],
) -> list[_Source]:
    """The likenesses of the attendees opted out now, surest first."""
    learnt, unconfirmed = _transient_by_booking(transient, opted_out)
    own = {k: v for k, v in references.items() if k in opted_out}
    return [
        _Source(_Pool(own), Via.face, sure=True),
        _Source(_Pool(learnt), Via.linked, sure=True),
        _Source(_Pool(unconfirmed), Via.linked, sure=False),
    ]


def _nearest(
    encoding: np.ndarray, sources: Sequence[_Source], excluded: AbstractSet[uuid.UUID]
) -> _Match | None:
    """The nearest attendee over all sources. A sure source wins ties; an unsure one only when
    it is nearer."""
    best: _Match | None = None
    for source in sources:
        booking_id, distance = source.pool.nearest(encoding, excluded)
        if distance is None:
            continue
        if (
            best is None
            or distance < best.distance
            or (source.sure and not best.sure and distance <= best.distance)
        ):
            best = _Match(booking_id, distance, source.via, source.sure)
    return best


def _judge_match(face: FaceInput, match: _Match, limits: Thresholds) -> tuple[FaceDecision, str]:
    """What a likeness within the limit means, and the reason a person reads: only a strong
    match with a sure source flags; anything else asks for review."""
    face_id, distance = face.id, match.distance
    if distance <= limits.match and match.sure:
        how = (
            "their reference photo" if match.via == Via.face else "a face seen wearing their badge"
        )
        return FaceDecision.opted_out, (
            f"Face {face_id} is a strong match for an attendee who opted out, "
            f"with {how} (distance {distance:.2f})."
        )
    if distance <= limits.match:
        return FaceDecision.review, (
            f"Face {face_id} matches a face seen wearing the badge of an attendee who opted "
            f"out in one other photo only (distance {distance:.2f}): that sighting is not "
            "confirmed yet, so please review."
        )
    if face.caution and distance > limits.review:
        return FaceDecision.review, (
            f"Face {face_id} is {face.caution}, so its likeness cannot be verified well: it "
            f"may be an attendee who opted out (distance {distance:.2f}); please review."
        )
    return FaceDecision.review, (
        f"Face {face_id} is a possible match for an attendee who opted out "
        f"(distance {distance:.2f}): please review."
    )


def _match_face(
    clearance: _Clearance, face: FaceInput, sources: Sequence[_Source], limits: Thresholds
) -> None:
    """Phase 2, reference matches, for a face no badge decided."""
    result = clearance.faces[face.id]
    if face.encoding is None and face.prior is not None:
        _decide_purged(
            face, face.prior, result, clearance.opted_out, clearance.ruled_out, clearance.reasons
        )
        return
    if face.encoding is None:
        result.decision = FaceDecision.too_small
        return
    excluded = {b for f, b in clearance.ruled_out if f == face.id and b is not None}
    match = _nearest(face.encoding, sources, excluded)
    limit = limits.caution if face.caution else limits.review
    if match is None or match.distance > limit:
        # Privacy first: a small face that matches is still flagged; one that does not is
        # reported as too small to be sure about.
        if _width(face.box) < limits.min_face_px:
            result.decision = FaceDecision.too_small
        return
    result.booking_id, result.distance = match.booking_id, round(match.distance, 4)
    result.via = match.via
    result.decision, reason = _judge_match(face, match, limits)
    clearance.reasons.append(reason)


def _apply_reviews(clearance: _Clearance, reviews: Sequence[Review]) -> None:
    """Phase 3, reviewers' words: a confirmed person is that person, opted out or not. ("Not
    this person" was applied in the phases before, by leaving that match out.)"""
    latest = {r.face_id: r for r in reviews}
    for face_id, review in latest.items():
        if face_id not in clearance.faces or not review.confirmed or review.booking_id is None:
            continue
        confirmed = clearance.faces[face_id]
        confirmed.booking_id = review.booking_id
        confirmed.decision = (
            FaceDecision.opted_out
            if review.booking_id in clearance.opted_out
            else FaceDecision.clear
        )


def _photo_status(
    faces: Sequence[FaceResult], badges: Sequence[BadgeResult], opted_out: AbstractSet[uuid.UUID]
) -> PhotoStatus:
    """Phase 4, the photo's status: flagged when an opted-out attendee is in it (or their badge
    is, worn by nobody known), to review when any face is in doubt, else cleared."""
    unworn_badge = any(b.booking_id in opted_out and b.face_id is None for b in badges)
    if unworn_badge or any(f.decision == FaceDecision.opted_out for f in faces):
        return PhotoStatus.flagged
    if any(f.decision == FaceDecision.review for f in faces):
        return PhotoStatus.needs_review
    return PhotoStatus.cleared


def _too_small_reason(faces: Sequence[FaceResult], limits: Thresholds) -> str | None:
    count = sum(1 for f in faces if f.decision == FaceDecision.too_small)
    if not count:
        return None
    return (
        f"{count} {'face is' if count == 1 else 'faces are'} too small to verify "
        f"(under {limits.min_face_px} px wide)."
    )


def decide(
    *,
    faces: Sequence[FaceInput],
    badges: Sequence[BadgeInput],
    opted_out: set[uuid.UUID],
    references: Mapping[uuid.UUID, Sequence[np.ndarray]],
    transient: Sequence[TransientRef] | Mapping[uuid.UUID, Sequence[np.ndarray]] | None = None,
    reviews: Sequence[Review] = (),
    thresholds: Thresholds | None = None,
) -> PhotoResult:
    """The clearance of one photo from its faces and badges and the event's current state.

    `references` are reference-photo encodings of opted-out attendees; `transient` are encodings
    learnt from faces linked to their badges in other photos of the event (an unconfirmed one can
    only send a face to review).
    """
    limits = thresholds or Thresholds()
    clearance = _Clearance(
        opted_out=opted_out,
        ruled_out={(r.face_id, r.booking_id) for r in reviews if not r.confirmed},
        faces={f.id: FaceResult(id=f.id, box=f.box) for f in faces},
    )
    badge_results = _badge_results(faces, badges)
    _apply_badges(clearance, faces, badge_results)
    sources = _sources(references, transient, opted_out)
    for face in faces:
        if clearance.faces[face.id].via is None:
            _match_face(clearance, face, sources, limits)
    _apply_reviews(clearance, reviews)
    face_results = [clearance.faces[f.id] for f in faces]
    status = _photo_status(face_results, badge_results, opted_out)
    if (too_small := _too_small_reason(face_results, limits)) is not None:
        clearance.reasons.append(too_small)
    return PhotoResult(
        status=status,
        faces=face_results,
        badges=badge_results,
        reasons=clearance.reasons,
        new_references=clearance.new_references,
    )
