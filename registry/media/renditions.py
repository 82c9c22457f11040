"""Renditions: redacted copies (verified by checking them again), the metadata-free copy of an
original that is published when no redaction is needed, and thumbnails and previews."""

from __future__ import annotations

import io
import warnings
from typing import Any

from PIL import Image, ImageOps
from sqlmodel import Session, select

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.errors import Conflict, NotFound
from registry.media.clearance import badge_booking, event_state, thresholds
from registry.media.models import FINAL, Media, MediaStatus, Rendition
from registry.media.service import badges_of, faces_of
from registry.media.storage import get_storage
from registry.vision import images
from registry.vision import redact as redact_mod
from registry.vision.decision import BadgeInput, FaceInput, decide
from registry.worker import compute


def redact(*, session: Session, actor: Actor, media: Media) -> Rendition:
    """A new rendition with every opted-out (or unresolved) face and opted-out badge obscured
    and no metadata, verified by running detection and matching on it again."""
    if media.status not in FINAL:
        raise Conflict("This photo has not been cleared yet; redact it once it has been analysed.")
    faces = faces_of(session=session, media=media)
    state = event_state(session, media.event_id)
    opted_out = state.opted_out
    hidden = [f for f in faces if f.decision in ("opted_out", "review")]
    hidden_badges = [
        b for b in badges_of(session=session, media=media) if b.booking_id in opted_out
    ]
    badge_boxes = [(b.top, b.right, b.bottom, b.left) for b in hidden_badges]
    original = images.decode(get_storage().get(media.sha256)).image
    boxes = [(f.top, f.right, f.bottom, f.left) for f in hidden]
    verified, data = False, b""
    for factor in (redact_mod.FACTOR, 2.2):
        redacted = redact_mod.obscure(original, boxes, factor=factor)
        # Badges are covered exactly (their box is the code itself, plus a margin).
        redacted = redact_mod.obscure(redacted, badge_boxes, factor=1.3)
        data = redact_mod.clean_jpeg(redacted)
        check = compute.analyse(data)  # on a worker when a broker is set
        result = decide(
            faces=[
                FaceInput(id=i + 1, box=f.box, encoding=f.encoding)
                for i, f in enumerate(check.faces)
            ],
            badges=[
                BadgeInput(code=c.text, box=c.box, booking_id=badge_booking(session, media, c.text))
                for c in check.codes
            ],
            opted_out=opted_out,
            references=state.references,
            transient=state.transient,
            thresholds=thresholds(),
        )
        verified = not any(f.decision in ("opted_out", "review") for f in result.faces) and not any(
            b.booking_id in opted_out for b in result.badges
        )
        if verified:
            break
    key = get_storage().put(data, kind="renditions")
    rendition = Rendition(
        media_id=media.id,
        kind="redacted",
        sha256=key,
        verified=verified,
        obscured_faces=[f.number for f in hidden],
        obscured_badges=[b.code for b in hidden_badges],
        created_by=actor.label,
    )
    return _add_rendition(
        session,
        actor,
        rendition,
        "media.redacted",
        faces=rendition.obscured_faces,
        verified=verified,
    )


def _add_rendition(
    session: Session, actor: Actor, rendition: Rendition, action: str, **after: Any
) -> Rendition:
    """Insert a rendition and record it in the audit log (on its media)."""
    session.add(rendition)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_type="media",
        entity_id=rendition.media_id,
        after={"rendition": rendition.id, **after},
    )
    return rendition


def clean_rendition(*, session: Session, media: Media) -> Rendition | None:
    return session.exec(
        select(Rendition).where(Rendition.media_id == media.id, Rendition.kind == "clean")
    ).first()


def store_clean_copy(*, media: Media) -> str:
    """Write the original's pixels with no metadata (EXIF, GPS, XMP, thumbnails) to storage;
    its key. Slow on big photos, so callers do it before taking locks; writes no rows."""
    if media.status not in FINAL:
        raise Conflict("This media has not been checked yet.")
    image = images.decode(get_storage().get(media.sha256)).image
    return get_storage().put(redact_mod.clean_jpeg(image), kind="renditions")


def clean_copy(
    *, session: Session, actor: Actor, media: Media, key: str | None = None
) -> Rendition:
    """The metadata-free copy of the original that is published when no redacted copy is
    (made once per media; `key` when the caller already stored it)."""
    existing = clean_rendition(session=session, media=media)
    if existing is not None:
        return existing
    rendition = Rendition(
        media_id=media.id,
        kind="clean",
        sha256=key or store_clean_copy(media=media),
        verified=False,
        created_by=actor.label,
    )
    return _add_rendition(session, actor, rendition, "media.clean_copy")


SIZES = {"thumbs": 360, "previews": 1600}


def small_copy(*, media: Media, kind: str) -> bytes:
    """A JPEG thumbnail or preview of the original (made once, then kept; no metadata)."""
    storage = get_storage()
    if storage.exists(media.sha256, kind=kind):
        return storage.get(media.sha256, kind=kind)
    if media.status == MediaStatus.failed or not storage.exists(media.sha256):
        raise NotFound("This media has no picture to show.")
    side = SIZES[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        source = Image.open(io.BytesIO(storage.get(media.sha256)))
        source.draft("RGB", (side, side))  # JPEG: decode at a fraction of full size
        image = ImageOps.exif_transpose(source).convert("RGB")
    image.thumbnail((side, side))
    data = redact_mod.clean_jpeg(image, quality=82)
    storage.put(data, kind=kind, key=media.sha256)
    return data
