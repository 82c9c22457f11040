"""Rotating the biometric key: every stored template and thumbnail re-sealed under the current
key (`REGISTRY_BIOMETRIC_KEY`, or the one derived from `REGISTRY_SECRET_KEY`).

Run after changing the key, with the old one (`registry keys rotate --old-biometric-key ...` or
`--old-secret-key ...`): blobs already under the new key are left alone, so it can be run again
after an interruption. A blob under neither key is reported, never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from registry import crypto
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.events.models import ReferencePhoto
from registry.media import index
from registry.media.models import MediaFace, TransientReference, VideoSegment


@dataclass
class Rotation:
    resealed: int = 0
    current: int = 0
    unreadable: list[str] = field(default_factory=list)


def _one(report: Rotation, blob: bytes, bound_to: str, old: bytes, label: str) -> bytes | None:
    try:
        new = crypto.reencrypt(blob, bound_to=bound_to, old=old)
    except crypto.DecryptionFailed:
        report.unreadable.append(label)
        return None
    if new is None:
        report.current += 1
    else:
        report.resealed += 1
    return new


def rotate(*, session: Session, actor: Actor, old_key: bytes) -> Rotation:
    report = Rotation()
    for photo in session.exec(select(ReferencePhoto)).all():
        bound = str(photo.id)
        if (new := _one(report, photo.encoding, bound, old_key, f"reference {bound}")) is not None:
            photo.encoding = new
        if photo.thumbnail:
            thumb = _one(report, photo.thumbnail, f"{bound}:thumb", old_key, f"thumb {bound}")
            if thumb is not None:
                photo.thumbnail = thumb
        session.add(photo)
    faces = session.exec(select(MediaFace).where(col(MediaFace.encoding).is_not(None))).all()
    for face in faces:
        assert face.encoding is not None
        bound = f"face:{face.media_id}:{face.number}"
        if (new := _one(report, face.encoding, bound, old_key, bound)) is not None:
            face.encoding = new
            session.add(face)
    for ref in session.exec(select(TransientReference)).all():
        bound = f"transient:{ref.media_id}:{ref.face_number}"
        if (new := _one(report, ref.encoding, bound, old_key, bound)) is not None:
            ref.encoding = new
            session.add(ref)
    for part in session.exec(select(VideoSegment).where(col(VideoSegment.result).is_not(None))):
        assert part.result is not None
        bound = f"segment:{part.media_id}:{part.number}"
        if (new := _one(report, part.result, bound, old_key, bound)) is not None:
            part.result = new
            session.add(part)
    session.flush()
    index.forget()
    audit.record(
        session=session,
        actor=actor,
        action="biometric_key.rotated",
        entity_type="installation",
        entity_id="*",
        after={
            "resealed": report.resealed,
            "already_current": report.current,
            "unreadable": len(report.unreadable),
        },
    )
    return report
