"""Who is in a photo, and may it be published: matching, badge-to-face linking, the decision.

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

import numpy as np

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


# Badge-to-face geometry. A badge hangs on the chest: its centre within the wearer's body
# column, its top from just under the chin to a few face heights lower, and its code a plausible
# size for that face (at the same distance from the camera, a badge's QR code is about half a
# face wide). Anything else is not linked.
COLUMN = 0.75  # |badge centre - face centre| / face width
DROP = (-0.2, 4.0)  # (badge top - chin) / face height
SCALE = (0.2, 1.3)  # badge width / face width
# A second face whose fit is nearly as good makes the link ambiguous: nobody is linked.
AMBIGUITY = 0.35


def _fit(face: Box, badge: Box) -> float | None:
    """How well a badge fits as worn by this face (lower is better), or None if it cannot be."""
    top, right, bottom, left = face
    b_top, b_right, _b_bottom, b_left = badge
    w, h = max(1, right - left), max(1, bottom - top)
    dx = abs((b_left + b_right) / 2 - (left + right) / 2) / w
    dy = (b_top - bottom) / h
    ratio = max(1, b_right - b_left) / w
    if dx > COLUMN or not DROP[0] <= dy <= DROP[1] or not SCALE[0] <= ratio <= SCALE[1]:
        return None
    # Centred under the chin at a usual lanyard drop, at the usual size, fits best.
    return dx + 0.15 * abs(dy - 1.0) + 0.5 * abs(ratio - 0.5)


def link_badges(
    faces: Sequence[FaceInput], badges: Sequence[BadgeInput]
) -> tuple[dict[int, int], dict[int, tuple[int, ...]]]:
    """(badge index → face id) for badges whose wearer is unambiguous, and (badge index →
    candidate face ids) for badges two or more faces could be wearing."""
    fits: dict[int, list[tuple[float, int]]] = {}
    for b_index, badge in enumerate(badges):
        scored = sorted(
            (fit, face.id) for face in faces if (fit := _fit(face.box, badge.box)) is not None
        )
        if scored:
            fits[b_index] = scored
    links: dict[int, int] = {}
    ambiguous: dict[int, tuple[int, ...]] = {}
    used: set[int] = set()
    for b_index, scored in sorted(fits.items(), key=lambda item: item[1][0][0]):
        free = [(fit, face_id) for fit, face_id in scored if face_id not in used]
        if not free:
            continue
        best_fit, best_face = free[0]
        rivals = [face_id for fit, face_id in free[1:] if fit <= best_fit + AMBIGUITY]
        if rivals:
            ambiguous[b_index] = (best_face, *rivals)
            continue
        links[b_index] = best_face
        used.add(best_face)
    return links, ambiguous


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
    t = thresholds or Thresholds()
    reviewed = {r.face_id: r for r in reviews}
    ruled_out = {(r.face_id, r.booking_id) for r in reviews if not r.confirmed}
    results = {f.id: FaceResult(id=f.id, box=f.box) for f in faces}
    reasons: list[str] = []
    new_refs: dict[uuid.UUID, list[np.ndarray]] = {}

    badge_results = [BadgeResult(code=b.code, box=b.box, booking_id=b.booking_id) for b in badges]
    free = [i for i, b in enumerate(badges) if not b.prelinked]
    geo_links, geo_ambiguous = link_badges(faces, [badges[i] for i in free])
    links = {free[k]: face_id for k, face_id in geo_links.items()}
    ambiguous = {free[k]: candidates for k, candidates in geo_ambiguous.items()}
    links.update(
        {
            i: b.face_id
            for i, b in enumerate(badges)
            if b.prelinked and b.face_id is not None and b.face_id in results
        }
    )
    by_face = {f.id: f for f in faces}
    for b_index, face_id in links.items():
        badge_results[b_index].face_id = face_id
    for b_index, candidates in ambiguous.items():
        badge_results[b_index].candidates = candidates
    for b_index, badge in enumerate(badge_results):
        if badge.booking_id is None:
            reasons.append(
                f"A QR code that is not a badge of this event was seen ({badge.code!r})."
            )
            continue
        if badge.booking_id not in opted_out:
            continue
        linked_face = badge.face_id
        if linked_face is not None and (linked_face, badge.booking_id) not in ruled_out:
            worn = results[linked_face]
            worn.booking_id, worn.via, worn.distance = badge.booking_id, Via.badge, None
            worn.decision = FaceDecision.opted_out
            encoding = by_face[linked_face].encoding
            if encoding is not None:
                new_refs.setdefault(badge.booking_id, []).append(encoding)
            reasons.append(f"Face {linked_face} wears the badge of an attendee who opted out.")
            continue
        open_candidates = [c for c in badge.candidates if (c, badge.booking_id) not in ruled_out]
        for candidate in open_candidates:
            maybe = results[candidate]
            if maybe.via is None:
                maybe.booking_id, maybe.via = badge.booking_id, Via.badge
                maybe.decision = FaceDecision.review
        if open_candidates:
            names = " or ".join(str(c) for c in open_candidates)
            reasons.append(
                f"The badge of an attendee who opted out (badge {b_index + 1}) is worn by face "
                f"{names}: too close to tell which; please review."
            )
        else:
            reasons.append(
                f"The badge of an attendee who opted out is visible (badge {b_index + 1})."
            )

    learnt, unconfirmed = _transient_by_booking(transient, opted_out)
    faces_refs = {k: v for k, v in references.items() if k in opted_out}
    pools = [(_Pool(faces_refs), Via.face, True), (_Pool(learnt), Via.linked, True)]
    pools.append((_Pool(unconfirmed), Via.linked, False))
    for face in faces:
        result = results[face.id]
        if result.via is not None:
            continue
        small = _width(face.box) < t.min_face_px
        if face.encoding is None and face.prior is not None:
            _decide_purged(face, face.prior, result, opted_out, ruled_out, reasons)
            continue
        if face.encoding is None:
            result.decision = FaceDecision.too_small
            continue
        excluded = {b for f, b in ruled_out if f == face.id and b is not None}
        booking_id, d = pools[0][0].nearest(face.encoding, excluded)
        via, sure = Via.face, True
        for pool, _via, confident in pools[1:]:
            l_booking, l_d = pool.nearest(face.encoding, excluded)
            # A confirmed source wins ties; an unconfirmed one only when it is nearer.
            if l_d is not None and (d is None or l_d < d or (confident and not sure and l_d <= d)):
                booking_id, d, via, sure = l_booking, l_d, Via.linked, confident
        limit = t.caution if face.caution else t.review
        if d is None or d > limit:
            # Privacy first: a small face that matches is still flagged; one that does not is
            # reported as too small to be sure about.
            if small:
                result.decision = FaceDecision.too_small
            continue
        result.booking_id, result.distance, result.via = booking_id, round(d, 4), via
        if d <= t.match and sure:
            result.decision = FaceDecision.opted_out
            how = "their reference photo" if via == Via.face else "a face seen wearing their badge"
            reasons.append(
                f"Face {face.id} is a strong match for an attendee who opted out, "
                f"with {how} (distance {d:.2f})."
            )
        elif d <= t.match:
            result.decision = FaceDecision.review
            reasons.append(
                f"Face {face.id} matches a face seen wearing the badge of an attendee who opted "
                f"out in one other photo only (distance {d:.2f}): that sighting is not confirmed "
                "yet, so please review."
            )
        elif face.caution and d > t.review:
            result.decision = FaceDecision.review
            reasons.append(
                f"Face {face.id} is {face.caution}, so its likeness cannot be verified well: it "
                f"may be an attendee who opted out (distance {d:.2f}); please review."
            )
        else:
            result.decision = FaceDecision.review
            reasons.append(
                f"Face {face.id} is a possible match for an attendee who opted out "
                f"(distance {d:.2f}): please review."
            )

    for face_id, review in reviewed.items():
        if face_id not in results or not review.confirmed or review.booking_id is None:
            continue  # "not this person" was applied above, by leaving that match out
        confirmed = results[face_id]
        confirmed.booking_id = review.booking_id
        confirmed.decision = (
            FaceDecision.opted_out if review.booking_id in opted_out else FaceDecision.clear
        )

    face_results = [results[f.id] for f in faces]
    opted_badge_seen = any(b.booking_id in opted_out and b.face_id is None for b in badge_results)
    if opted_badge_seen or any(r.decision == FaceDecision.opted_out for r in face_results):
        status = PhotoStatus.flagged
    elif any(r.decision == FaceDecision.review for r in face_results):
        status = PhotoStatus.needs_review
    else:
        status = PhotoStatus.cleared
    too_small = sum(1 for r in face_results if r.decision == FaceDecision.too_small)
    if too_small:
        reasons.append(
            f"{too_small} {'face is' if too_small == 1 else 'faces are'} too small to verify "
            f"(under {t.min_face_px} px wide)."
        )
    return PhotoResult(
        status=status,
        faces=face_results,
        badges=badge_results,
        reasons=reasons,
        new_references=new_refs,
    )
