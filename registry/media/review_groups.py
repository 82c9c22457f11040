"""Review by person, at event scale: an event's faces that need a reviewer's word, grouped by who
they probably are, so one decision settles a person across every photo.

Faces to review (the grey zone between a sure match and a sure non-match) are grouped by their
candidate attendee (who the clearance thinks they may be) and, within that, by the face itself:
faces whose encodings are within `SAME_FACE` of each other (single link) are one person. A group
decision is recorded face by face (`reviews.review_face`: audited per face, each photo decided
again), for the faces the reviewer left in the group (a crop that does not belong is pulled out
and stays for its own review).
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from PIL import Image, ImageOps
from sqlmodel import Session, col, select

from registry.audit.service import Actor
from registry.errors import Invalid, NotFound
from registry.events import references
from registry.events.models import Booking
from registry.media import biometrics, reviews
from registry.media.models import FINAL, Media, MediaFace
from registry.media.service import face_numbered
from registry.media.storage import get_storage
from registry.vision import redact as redact_mod

SAME_FACE = 0.5  # encoding distance under which two faces are taken as one person's
MAX_FACES = 2000  # faces to review an event's page groups at once


@dataclass(frozen=True)
class Member:
    media_id: uuid.UUID
    filename: str
    number: int
    distance: float | None  # to the candidate's nearest reference

    @property
    def key(self) -> str:
        return f"{self.media_id}:{self.number}"


@dataclass
class Group:
    candidate_id: uuid.UUID | None
    candidate_name: str | None
    candidate_opted_out: bool
    members: list[Member] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Stable while the group's faces are the same (anchors, and the form's check)."""
        text = f"{self.candidate_id}|" + ",".join(sorted(m.key for m in self.members))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def photos(self) -> int:
        return len({m.media_id for m in self.members})


def _clusters(encodings: Sequence[np.ndarray]) -> list[list[int]]:
    """Single-link clusters of encodings within SAME_FACE of each other (indices)."""
    n = len(encodings)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n > 1:
        matrix = np.stack(encodings)
        distances = np.linalg.norm(matrix[:, None, :] - matrix[None, :, :], axis=2)
        for i, j in zip(*np.nonzero(np.triu(distances < SAME_FACE, k=1)), strict=True):
            parent[root(int(i))] = root(int(j))
    out: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        out[root(i)].append(i)
    return list(out.values())


def groups(*, session: Session, event_id: uuid.UUID) -> list[Group]:
    """The event's photos' faces waiting for a reviewer, grouped by probable person (largest
    group first)."""
    rows = session.exec(
        select(MediaFace, Media.filename)
        .join(Media, col(Media.id) == col(MediaFace.media_id))
        .where(
            Media.event_id == event_id,
            Media.kind == "photo",
            col(Media.status).in_(list(FINAL)),
            MediaFace.decision == "review",
        )
        .order_by(col(Media.filename), col(MediaFace.number))
        .limit(MAX_FACES)
    ).all()
    by_candidate: dict[uuid.UUID | None, list[tuple[MediaFace, str, np.ndarray | None]]] = (
        defaultdict(list)
    )
    for face, filename in rows:
        encoding = (
            biometrics.encoding_of(face.encoding, f"face:{face.media_id}:{face.number}")
            if face.encoding is not None
            else None
        )
        by_candidate[face.booking_id].append((face, filename, encoding))
    candidates = {
        b.id: b
        for b in session.exec(
            select(Booking).where(col(Booking.id).in_([c for c in by_candidate if c]))
        ).all()
    }
    out: list[Group] = []
    for candidate_id, faces in by_candidate.items():
        booking = candidates.get(candidate_id) if candidate_id else None
        known = [i for i, (_f, _n, e) in enumerate(faces) if e is not None]
        parts = [[known[i] for i in c] for c in _clusters([faces[i][2] for i in known])]  # type: ignore[misc]
        parts += [[i] for i, (_f, _n, e) in enumerate(faces) if e is None]  # no encoding: alone
        for part in parts:
            group = Group(
                candidate_id=candidate_id,
                candidate_name=booking.name if booking else None,
                candidate_opted_out=bool(booking and booking.photo_opt_out),
            )
            for i in part:
                face, filename, _e = faces[i]
                group.members.append(Member(face.media_id, filename, face.number, face.distance))
            out.append(group)
    out.sort(key=lambda g: (-len(g.members), g.candidate_name or "~", g.members[0].filename))
    return out


def decide(
    *,
    session: Session,
    actor: Actor,
    event_id: uuid.UUID,
    members: Sequence[str],
    decision: str,
) -> tuple[int, int]:
    """One reviewer decision for the faces named (`media_id:number`, as the page lists them):
    `confirm` (this is the candidate) or `not_this_person`. Recorded per face; faces decided
    meanwhile (by another reviewer, or by a decision that spread) are skipped. Returns
    (recorded, skipped)."""
    if decision not in ("confirm", "not_this_person"):
        raise Invalid("Choose “this is them” or “not them”.", field="decision")
    if not members:
        raise Invalid("Leave at least one face in the group.", field="members")
    parsed: list[tuple[uuid.UUID, int]] = []
    for value in members:
        media_part, _, face_part = value.partition(":")
        try:
            parsed.append((uuid.UUID(media_part), int(face_part)))
        except ValueError:
            raise Invalid(f"Not a face of this event: {value[:60]!r}.", field="members") from None
    # Which faces still wait for a word is settled before the first is recorded: recording one
    # may decide the others (a confirmed face teaches the event), but the reviewer's word is
    # for each of them and is kept for each.
    waiting: list[tuple[Media, int]] = []
    skipped = 0
    for media_id, number in parsed:
        media = session.get(Media, media_id)
        if media is None or media.event_id != event_id:
            raise NotFound("A face in this group is not in this event's photos.")
        face = face_numbered(session=session, media_id=media_id, number=number)
        if face is None:
            raise NotFound("A face in this group no longer exists.")
        if face.decision != "review":
            skipped += 1  # decided meanwhile (another reviewer, a double click)
            continue
        waiting.append((media, number))
    reviews.review_faces(session=session, actor=actor, faces=waiting, decision=decision)
    return len(waiting), skipped


def waiting_count(*, session: Session, event_id: uuid.UUID) -> int:
    """How many faces of the event's photos wait for a reviewer's word (whatever the photo's
    own status: a flagged photo can hold one too)."""
    return int(
        session.exec(
            select(sa.func.count())
            .select_from(MediaFace)
            .join(Media, col(Media.id) == col(MediaFace.media_id))
            .where(
                Media.event_id == event_id,
                Media.kind == "photo",
                col(Media.status).in_(list(FINAL)),
                MediaFace.decision == "review",
            )
        ).one()
    )


def candidate_face(*, session: Session, event_id: uuid.UUID, booking_id: uuid.UUID) -> bytes:
    """The candidate's own face, for a reviewer to compare with: their reference photo's
    thumbnail (given with biometric consent), else a face of this event's photos that was
    decided to be them (seen with their badge, or confirmed by a reviewer)."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.event_id != event_id or booking.erased_at is not None:
        raise NotFound("No attendee of this event with this id.")
    for reference in references.list_references(session=session, booking=booking):
        thumbnail = references.thumbnail_of(reference)
        if thumbnail:
            return thumbnail
    known = session.exec(
        select(MediaFace, Media)
        .join(Media, col(Media.id) == col(MediaFace.media_id))
        .where(
            Media.event_id == event_id,
            Media.kind == "photo",
            MediaFace.booking_id == booking_id,
            sa.or_(
                col(MediaFace.via).in_(["badge", "linked"]),  # seen wearing their badge
                col(MediaFace.decision) == "opted_out",  # sure, or confirmed by a reviewer
            ),
        )
        # A badge sighting first (the badge says who it is), then the largest face.
        .order_by(
            sa.case((col(MediaFace.via) == "badge", 0), else_=1),
            (col(MediaFace.top) - col(MediaFace.bottom)),
        )
        .limit(1)
    ).first()
    if known is None:
        raise NotFound("There is no picture of this attendee to compare with.")
    face, media = known
    return face_crop(session=session, media=media, number=face.number)


def face_crop(*, session: Session, media: Media, number: int) -> bytes:
    """A face as the reviewer sees it in a group: cut from the photo (made on request, never
    kept, no metadata)."""
    face = face_numbered(session=session, media_id=media.id, number=number)
    storage = get_storage()
    if media.kind != "photo" or face is None or not storage.exists(media.sha256):
        raise NotFound("No face with this number in this photo.")
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(storage.get(media.sha256))))
    image = image.convert("RGB")
    box = (face.top, face.right, face.bottom, face.left)
    top, right, bottom, left = redact_mod.cover_box(box, image.size, 1.6)
    crop = image.crop((left, top, right, bottom))
    crop.thumbnail((180, 180))
    return redact_mod.clean_jpeg(crop, quality=85)
