"""A video's redaction as a job in the background, with its progress.

`POST /api/media/{id}/redact` on a video answers at once (202) with a pending rendition; what
to cover (the decided tracks and the badges of people who opted out) is fixed then. Jobs (the
embedded pool's, or Celery workers') share the work: the video is cut into parts
(`video_segment_seconds`) and each part's frames are re-encoded by one job with its own lease,
so a worker killed mid-part loses only that part (another job takes it up when its lease runs
out). When every part is done, one job (holding the rendition's lease) joins them with the sound,
stores the copy and checks it: where the check still finds someone, covers are added there and
only the parts they touch are encoded again (at most three passes). Until it is `ready` the
rendition has no file: nothing half-made is ever served or published.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, delete, or_, select

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.config import get_settings
from registry.db import begin_write, utcnow
from registry.dispatch import queue
from registry.errors import Conflict
from registry.media import leases
from registry.media.decisions import event_state, for_media
from registry.media.models import (
    FINAL,
    Media,
    MediaFace,
    Rendition,
    RenditionPart,
    RenditionStatus,
)
from registry.media.service import badges_of, faces_of
from registry.media.storage import get_storage
from registry.vision import redact as redact_mod
from registry.vision import video_redact, video_sampling, video_tracks

MAX_PASSES = 3
RENDERING = 0.85  # the share of the progress bar re-encoding takes (joining and checking: rest)
ACTIVE = (RenditionStatus.pending, RenditionStatus.processing)


def _covers_of(session: Session, media: Media) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    """What a redaction of this video covers now: every track decided opted out or still to
    review (through its whole time range), and every badge of someone who opted out."""
    faces = faces_of(session=session, media=media)
    state = for_media(session, media, event_state(session, media.event_id))
    hidden = [f for f in faces if f.decision in ("opted_out", "review") and f.samples]
    badges = [b for b in badges_of(session=session, media=media) if b.booking_id in state.opted_out]
    covers = [
        {"samples": [[s[0], *s[1:5]] for s in f.samples or []], "factor": redact_mod.FACTOR}
        for f in hidden
    ] + [
        {"samples": [[b.t_s or 0.0, b.top, b.right, b.bottom, b.left]], "factor": 1.3}
        for b in badges
    ]
    return covers, [f.number for f in hidden], sorted({b.code for b in badges})


def to_covers(
    values: list[dict[str, Any]] | None, factor: float | None = None
) -> list[video_redact.Cover]:
    """Stored covers as the encoder takes them (`factor`: a later pass pads faces more)."""
    out = []
    for value in values or []:
        samples = tuple(
            video_tracks.Sample(float(s[0]), (int(s[1]), int(s[2]), int(s[3]), int(s[4])))
            for s in value["samples"]
        )
        own = float(value.get("factor", redact_mod.FACTOR))
        out.append(video_redact.Cover(samples, factor if factor and own != 1.3 else own))
    return out


def start(*, session: Session, actor: Actor, media: Media) -> Rendition:
    """Queue a video's redaction (its job leaves once the unit of work commits); a pending
    rendition."""
    if media.kind != "video":
        raise ValueError("photos are redacted at once (renditions.redact)")
    if media.status not in FINAL:
        raise Conflict("This video has not been cleared yet; redact it once it has been analysed.")
    covers, faces, badges = _covers_of(session, media)
    rendition = Rendition(
        media_id=media.id,
        kind="redacted",
        sha256="",
        status=RenditionStatus.pending,
        progress=0.0,
        covers=covers,
        passes=1,
        obscured_faces=faces,
        obscured_badges=badges,
        created_by=actor.label,
    )
    session.add(rendition)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="media.redaction_queued",
        entity_type="media",
        entity_id=media.id,
        after={"rendition": rendition.id, "tracks": faces},
    )
    queue.redact_after_commit(session, [rendition.id])
    return rendition


# --- the job's steps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What a job took: a part to encode (`number`), or the join and check (`number` 0)."""

    rendition_id: uuid.UUID
    media_key: str  # the original video's storage key
    number: int
    start_s: float
    end_s: float  # math.inf: to the end
    covers: list[dict[str, Any]]
    passes: int
    free: int  # parts still free for other jobs
    attempt: int = 1  # this step's try (a part whose job died is tried again)

    @property
    def joining(self) -> bool:
        return self.number == 0


def _parts(session: Session, rendition_id: uuid.UUID) -> list[RenditionPart]:
    return list(
        session.exec(
            select(RenditionPart)
            .where(RenditionPart.rendition_id == rendition_id)
            .order_by(col(RenditionPart.number))
        ).all()
    )


def _free(part: RenditionPart, now: datetime) -> bool:
    return part.status == "pending" or (
        part.status == "processing" and (part.lease_until is None or part.lease_until <= now)
    )


def claim(*, session: Session, rendition_id: uuid.UUID) -> Claim | None:
    """Take the next free part of a redaction (cutting the video into parts on the first
    claim), or, once every part is done, the join and check; None when nothing is left or
    every step left is held by a live job."""
    begin_write(session)  # on SQLite, else two jobs could both read this work as free
    rendition = session.get(Rendition, rendition_id, with_for_update=True, populate_existing=True)
    if rendition is None or rendition.status not in ACTIVE:
        return None
    media = session.get(Media, rendition.media_id)
    if media is None:
        return None
    now = utcnow()
    parts = _parts(session, rendition_id)
    if not parts:
        windows = video_sampling.segments(
            media.duration_s or 0.0, get_settings().video_segment_seconds
        )
        for number, (a, b) in enumerate(windows, start=1):
            part = RenditionPart(
                rendition_id=rendition_id,
                number=number,
                start_s=a,
                end_s=None if b == math.inf else b,
            )
            session.add(part)
            parts.append(part)
        rendition.attempts += 1
    rendition.status = RenditionStatus.processing
    session.add(rendition)
    free = [p for p in parts if _free(p, now)]
    if free:
        part = free[0]
        part.status, part.lease_until = "processing", now + leases.lease()
        part.attempts += 1
        session.add(part)
        session.flush()
        return Claim(
            rendition_id,
            media.sha256,
            part.number,
            part.start_s,
            math.inf if part.end_s is None else part.end_s,
            list(rendition.covers or []),
            rendition.passes,
            len(free) - 1,
            part.attempts,
        )
    if any(p.status != "done" for p in parts):
        session.flush()
        return None  # the rest are held by live jobs
    if rendition.lease_until is not None and rendition.lease_until > now:
        session.flush()
        return None  # another job is joining and checking
    rendition.lease_until = now + leases.lease()
    rendition.progress = max(rendition.progress, RENDERING)
    session.add(rendition)
    session.flush()
    return Claim(
        rendition_id,
        media.sha256,
        0,
        0.0,
        math.inf,
        list(rendition.covers or []),
        rendition.passes,
        0,
    )


def renew(*, session: Session, rendition_id: uuid.UUID, number: int) -> bool:
    """A step's heartbeat: extend its lease; False once it is no longer this job's."""
    if number == 0:
        rendition = session.get(Rendition, rendition_id)
        if rendition is None or rendition.status not in ACTIVE or rendition.lease_until is None:
            return False
        rendition.lease_until = utcnow() + leases.lease()
        session.add(rendition)
        session.flush()
        return True
    part = session.exec(
        select(RenditionPart).where(
            RenditionPart.rendition_id == rendition_id, RenditionPart.number == number
        )
    ).first()
    if part is None or part.status != "processing":
        return False
    part.lease_until = utcnow() + leases.lease()
    session.add(part)
    session.flush()
    return True


def _progress(rendition: Rendition, parts: list[RenditionPart]) -> float:
    done = sum(1 for p in parts if p.status == "done")
    return round(RENDERING * done / max(1, len(parts)), 3)


def finish_part(*, session: Session, rendition_id: uuid.UUID, number: int, key: str) -> None:
    """A part is encoded (its file stored under `key`)."""
    rendition = session.get(Rendition, rendition_id, with_for_update=True, populate_existing=True)
    if rendition is None or rendition.status not in ACTIVE:
        _forget_file(session, key)
        return
    parts = _parts(session, rendition_id)
    part = next((p for p in parts if p.number == number), None)
    if part is None or part.status == "done":
        # Another job finished it first: this copy goes, unless it is that one's very file
        # (parts are stored by content: the same frames, the same key).
        if part is None or part.key != key:
            _forget_file(session, key)
        return
    if part.key and part.key != key:
        _forget_file(session, part.key)
    part.status, part.lease_until, part.key = "done", None, key
    session.add(part)
    rendition.progress = _progress(rendition, parts)
    session.add(rendition)
    session.flush()


def part_files(*, session: Session, rendition_id: uuid.UUID) -> list[str]:
    return [p.key or "" for p in _parts(session, rendition_id)]


def finish_join(
    *,
    session: Session,
    actor: Actor,
    rendition_id: uuid.UUID,
    key: str,
    seen: list[tuple[float, tuple[int, int, int, int], float]],
) -> bool:
    """The joined copy (stored under `key`) was checked; `seen`: (time, box, padding) of faces
    and badges it still shows. Nothing seen, or the last pass: the rendition is ready (verified
    when nothing was seen) and its parts go. Else covers are added where something was seen,
    the parts they touch go back to pending, and True says there is more to do."""
    rendition = session.get(Rendition, rendition_id, with_for_update=True, populate_existing=True)
    if rendition is None or rendition.status not in ACTIVE:
        forget_copy(session, key)
        return False
    parts = _parts(session, rendition_id)
    if seen and rendition.passes < MAX_PASSES:
        # Covers where the check still found someone (a face the analysis missed at a track's
        # end, one that moved faster than the samples): encoded in the next pass.
        added = [
            {"samples": [[t, *box]], "factor": pad, "pass": rendition.passes + 1}
            for t, box, pad in seen
        ]
        rendition.covers = [*(rendition.covers or []), *added]
        rendition.passes += 1
        touched = [
            (t - video_redact.HOLD_S - 0.5, t + video_redact.HOLD_S + 0.5) for t, _b, _p in seen
        ]
        for part in parts:
            end = math.inf if part.end_s is None else part.end_s
            if any(a < end and b >= part.start_s for a, b in touched):
                if part.key:
                    _forget_file(session, part.key)
                part.status, part.key, part.lease_until = "pending", None, None
                part.attempts = 0  # a new pass: its own tries
                session.add(part)
        rendition.lease_until = None
        rendition.progress = _progress(rendition, parts)
        session.add(rendition)
        forget_copy(session, key)
        session.flush()
        return True
    rendition.sha256, rendition.verified = key, not seen
    rendition.status, rendition.progress, rendition.lease_until = RenditionStatus.ready, 1.0, None
    session.add(rendition)
    _discard_parts(session, parts)
    audit.record(
        session=session,
        actor=actor,
        action="media.redacted",
        entity_type="media",
        entity_id=rendition.media_id,
        after={
            "rendition": rendition.id,
            "tracks": rendition.obscured_faces,
            "verified": rendition.verified,
            "passes": rendition.passes,
            "parts": len(parts),
        },
    )
    session.flush()
    return False


def give_back(*, session: Session, rendition_id: uuid.UUID, number: int, reason: str) -> None:
    """A step crashed: free it for another try, or fail the redaction after MAX_ATTEMPTS."""
    rendition = session.get(Rendition, rendition_id, with_for_update=True)
    if rendition is None or rendition.status not in ACTIVE:
        return
    if number == 0:
        rendition.attempts += 1
        if rendition.attempts > leases.MAX_ATTEMPTS + 1:
            fail(session=session, rendition_id=rendition_id, reason=reason)
            return
        rendition.lease_until = None
        session.add(rendition)
        session.flush()
        return
    part = next((p for p in _parts(session, rendition_id) if p.number == number), None)
    if part is None:
        return
    if part.attempts >= leases.MAX_ATTEMPTS:
        fail(session=session, rendition_id=rendition_id, reason=reason)
        return
    part.status, part.lease_until = "pending", None
    session.add(part)
    session.flush()


def fail(*, session: Session, rendition_id: uuid.UUID, reason: str) -> None:
    rendition = session.get(Rendition, rendition_id, with_for_update=True)
    if rendition is None or rendition.status not in ACTIVE:
        return
    rendition.status, rendition.failure = RenditionStatus.failed, reason[:500]
    rendition.lease_until = None
    session.add(rendition)
    _discard_parts(session, _parts(session, rendition_id))
    audit.record(
        session=session,
        actor=audit.SYSTEM,
        action="media.redaction_failed",
        entity_type="media",
        entity_id=rendition.media_id,
        after={"rendition": rendition.id, "reason": reason[:200]},
    )
    session.flush()


def sweep(*, session: Session, at: datetime | None = None) -> list[uuid.UUID]:
    """Redactions whose worker died (a part's or the join's lease ran out), that nobody took, or
    whose next step nobody holds: to be queued again."""
    at = at or utcnow()
    stale_parts = session.exec(
        select(RenditionPart.rendition_id).where(
            RenditionPart.status == "processing",
            col(RenditionPart.lease_until).is_not(None),
            col(RenditionPart.lease_until) <= at,
        )
    ).all()
    stale_joins = session.exec(
        select(Rendition.id).where(
            col(Rendition.status).in_(list(ACTIVE)),
            col(Rendition.lease_until).is_not(None),
            col(Rendition.lease_until) <= at,
        )
    ).all()
    waiting = session.exec(
        select(Rendition.id).where(
            col(Rendition.status) == RenditionStatus.pending,
            col(Rendition.created_at) <= at - leases.lease(),
        )
    ).all()
    # Work nobody holds: a step given back after a crash (its job ended there), or a job that
    # died between two steps. Queued again at once; a job that finds it held takes nothing.
    held = select(RenditionPart.rendition_id).where(
        RenditionPart.status == "processing",
        col(RenditionPart.lease_until).is_not(None),
        col(RenditionPart.lease_until) > at,
    )
    idle = session.exec(
        select(Rendition.id).where(
            col(Rendition.status) == RenditionStatus.processing,
            or_(col(Rendition.lease_until).is_(None), col(Rendition.lease_until) <= at),
            col(Rendition.id).not_in(held),
        )
    ).all()
    return sorted({*stale_parts, *stale_joins, *waiting, *idle}, key=str)


def active(*, session: Session) -> list[uuid.UUID]:
    """Every redaction not finished (queued again when the embedded pool starts)."""
    return list(
        session.exec(select(Rendition.id).where(col(Rendition.status).in_(list(ACTIVE)))).all()
    )


# --- files that go once the unit of work commits -------------------------------------------------


_FILES = "registry.redactions.files"


def _forget_file(session: Session, key: str, kind: str = "parts") -> None:
    if key:
        session.info.setdefault(_FILES, []).append((key, kind))


def forget_copy(session: Session, key: str) -> None:
    """A copy no rendition will hold (a joined copy that did not pass its check, a photo's
    whose rendition went meanwhile): deleted once this commits, unless a rendition names it."""
    if key and session.exec(select(Rendition.id).where(Rendition.sha256 == key)).first() is None:
        _forget_file(session, key, "renditions")


def _discard_parts(session: Session, parts: list[RenditionPart]) -> None:
    for part in parts:
        if part.key:
            _forget_file(session, part.key)
    if parts:
        session.exec(
            delete(RenditionPart).where(col(RenditionPart.rendition_id) == parts[0].rendition_id)
        )


def delete_files(session: Session) -> None:
    """Delete the part files (and unused copies) this unit of work let go, once it commits.
    Files are stored by content, so whoever lets one go checks first that no part or rendition
    still names it (`finish_part`, `forget_copy`)."""
    keys = session.info.pop(_FILES, None)
    if not keys:
        return
    storage = get_storage()
    for key, kind in set(keys):
        storage.delete(key, kind=kind)


def _keep_files(session: Session) -> None:
    session.info.pop(_FILES, None)


if not event.contains(OrmSession, "after_commit", delete_files):
    event.listen(OrmSession, "after_commit", delete_files)
    event.listen(OrmSession, "after_rollback", _keep_files)


def check_ranges(rendition: Rendition) -> list[tuple[float, float]]:
    """Where the copy is checked: around every cover on the first pass; then only around the
    covers the last check added."""
    covers = to_covers(
        [
            c
            for c in rendition.covers or []
            if rendition.passes == 1 or c.get("pass") == rendition.passes
        ]
    )
    return [(c.start - 0.5, c.end + 0.5) for c in covers]


def hidden_faces(session: Session, media: Media) -> list[MediaFace]:
    """The tracks a redaction covers (for the check: people looked for by their own faces)."""
    return [
        f
        for f in faces_of(session=session, media=media)
        if f.decision in ("opted_out", "review") and f.samples
    ]
