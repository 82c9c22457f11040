"""A photo's redaction as a job (when it is one of a batch: `media.redaction_batches`).

The rendition is pending until a job claims it under a lease (renewed by the job's heartbeat);
what to cover is read then, the copy is made and checked without holding a unit of work, and
`finish` stores the result. A job that crashed gives the photo back (tried again up to
`leases.MAX_ATTEMPTS` times, then failed with the reason); a job that died leaves its lease to
run out, and the sweep (`redactions.sweep`) queues the photo again. Each photo is its own unit:
a batch loses at most the copy being made. Until it is `ready` the rendition has no file.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from registry.audit import service as audit
from registry.db import begin_write, utcnow
from registry.media import leases, redactions, renditions
from registry.media.models import FINAL, Media, Rendition, RenditionStatus

ACTIVE = (RenditionStatus.pending, RenditionStatus.processing)


def pending(*, session: Session, media: Media, actor_label: str, batch_id: uuid.UUID) -> Rendition:
    """A photo's redaction to be made by a job (the caller queues it after commit)."""
    rendition = Rendition(
        media_id=media.id,
        kind="redacted",
        sha256="",
        status=RenditionStatus.pending,
        progress=0.0,
        created_by=actor_label,
        batch_id=batch_id,
    )
    session.add(rendition)
    session.flush()
    return rendition


def claim(*, session: Session, rendition_id: uuid.UUID) -> renditions.PhotoCovers | None:
    """Take a photo's pending redaction (or one whose job's lease ran out): what to cover now;
    None when it is done, failed, held by a live job, or gone."""
    begin_write(session)  # on SQLite, else two jobs could both read it as free
    rendition = session.get(Rendition, rendition_id, with_for_update=True, populate_existing=True)
    if rendition is None or rendition.status not in ACTIVE:
        return None
    now = utcnow()
    if rendition.lease_until is not None and rendition.lease_until > now:
        return None  # a live job has it
    media = session.get(Media, rendition.media_id)
    if media is None or media.kind != "photo":
        return None
    if media.status not in FINAL:
        _fail(session, rendition, "The photo is being checked again; redact it once it is.")
        return None
    if rendition.attempts >= leases.MAX_ATTEMPTS:
        _fail(session, rendition, rendition.failure or "Redaction failed too many times.")
        return None
    rendition.status, rendition.lease_until = RenditionStatus.processing, now + leases.lease()
    rendition.attempts += 1
    session.add(rendition)
    session.flush()
    return renditions.photo_covers(session=session, media=media)


def renew(*, session: Session, rendition_id: uuid.UUID) -> bool:
    """The job's heartbeat: extend its lease; False once the redaction is no longer its."""
    rendition = session.get(Rendition, rendition_id)
    if rendition is None or rendition.status != RenditionStatus.processing:
        return False
    rendition.lease_until = utcnow() + leases.lease()
    session.add(rendition)
    session.flush()
    return True


def finish(
    *, session: Session, rendition_id: uuid.UUID, made: renditions.RedactedPhoto
) -> Rendition | None:
    """The copy is made and checked: the rendition is ready (None if it went meanwhile)."""
    rendition = session.get(Rendition, rendition_id, with_for_update=True, populate_existing=True)
    if rendition is None or rendition.status not in ACTIVE:
        # Deleted with its photo (erasure, retention) or failed meanwhile: its copy must not
        # outlive it (files are stored by content: kept if another rendition names it).
        redactions.forget_copy(session, made.key)
        return None
    rendition.sha256, rendition.verified = made.key, made.verified
    rendition.obscured_faces, rendition.obscured_badges = list(made.faces), list(made.badges)
    rendition.status, rendition.progress, rendition.lease_until = RenditionStatus.ready, 1.0, None
    rendition.failure = None
    session.add(rendition)
    audit.record(
        session=session,
        actor=audit.SYSTEM,
        action="media.redacted",
        entity_type="media",
        entity_id=rendition.media_id,
        after={
            "rendition": rendition.id,
            "faces": rendition.obscured_faces,
            "verified": made.verified,
            "batch": rendition.batch_id,
            "requested_by": rendition.created_by,
        },
    )
    session.flush()
    return rendition


def give_back(*, session: Session, rendition_id: uuid.UUID, reason: str) -> None:
    """The job crashed: the photo is free for another try (the sweep queues it), or failed
    once it has had its tries."""
    rendition = session.get(Rendition, rendition_id, with_for_update=True)
    if rendition is None or rendition.status not in ACTIVE:
        return
    if rendition.attempts >= leases.MAX_ATTEMPTS:
        _fail(session, rendition, reason)
        return
    rendition.lease_until, rendition.failure = None, reason[:500]
    session.add(rendition)
    session.flush()


def fail(*, session: Session, rendition_id: uuid.UUID, reason: str) -> None:
    """The photo cannot be redacted (its file is missing or unreadable): failed, with why."""
    rendition = session.get(Rendition, rendition_id, with_for_update=True)
    if rendition is not None and rendition.status in ACTIVE:
        _fail(session, rendition, reason)


def _fail(session: Session, rendition: Rendition, reason: str) -> None:
    rendition.status, rendition.failure = RenditionStatus.failed, reason[:500]
    rendition.lease_until = None
    session.add(rendition)
    audit.record(
        session=session,
        actor=audit.SYSTEM,
        action="media.redaction_failed",
        entity_type="media",
        entity_id=rendition.media_id,
        after={"rendition": rendition.id, "reason": reason[:200], "batch": rendition.batch_id},
    )
    session.flush()
