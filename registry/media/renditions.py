"""Renditions: redacted copies (verified by checking them again), the metadata-free copy of an
original that is published when no redaction is needed, and thumbnails and previews."""

from __future__ import annotations

import io
import logging
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps
from sqlmodel import Session, select

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.config import get_settings
from registry.errors import Conflict, NotFound
from registry.media.analyses import badge_booking
from registry.media.biometrics import encoding_of
from registry.media.decisions import EventState, event_state, for_media, thresholds
from registry.media.models import FINAL, Media, MediaFace, MediaStatus, Rendition
from registry.media.service import badges_of, faces_of
from registry.media.storage import get_storage
from registry.vision import images, video
from registry.vision import redact as redact_mod
from registry.vision.analysis import Analysis
from registry.vision.decision import BadgeInput, FaceInput, decide
from registry.vision.faces import Box
from registry.worker import compute

logger = logging.getLogger("registry")


def redact(*, session: Session, actor: Actor, media: Media) -> Rendition:
    """A new rendition with every opted-out (or unresolved) face and opted-out badge obscured
    and no metadata, verified by running detection and matching on it again."""
    if media.status not in FINAL:
        raise Conflict("This photo has not been cleared yet; redact it once it has been analysed.")
    if media.kind == "video":
        return _redact_video(session=session, actor=actor, media=media)
    faces = faces_of(session=session, media=media)
    state = for_media(session, media, event_state(session, media.event_id))
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


def _samples(face: MediaFace) -> tuple[video.Sample, ...]:
    return tuple(
        video.Sample(s[0], (int(s[1]), int(s[2]), int(s[3]), int(s[4]))) for s in face.samples or []
    )


def _redact_video(*, session: Session, actor: Actor, media: Media) -> Rendition:
    """Every frame re-encoded with each opted-out or unresolved track (and opted-out badge)
    obscured through its whole time range; verified by scanning the rendition again, at twice
    the analysis rate, inside and around every range."""
    faces = faces_of(session=session, media=media)
    state = for_media(session, media, event_state(session, media.event_id))
    hidden = [f for f in faces if f.decision in ("opted_out", "review") and f.samples]
    hidden_badges = [
        b for b in badges_of(session=session, media=media) if b.booking_id in state.opted_out
    ]
    covers = [video.Cover(_samples(f)) for f in hidden] + [
        video.Cover((video.Sample(b.t_s or 0.0, (b.top, b.right, b.bottom, b.left)),), factor=1.3)
        for b in hidden_badges
    ]
    # The people hidden are looked for by their references and by the tracks' own faces.
    refs = {k: list(v) for k, v in state.references.items()}
    for face in hidden:
        if face.encoding is not None and face.booking_id is not None:
            refs.setdefault(face.booking_id, []).append(
                encoding_of(face.encoding, f"face:{media.id}:{face.number}")
            )
    ranges = [(c.start - 0.5, c.end + 0.5) for c in covers]
    rate = get_settings().video_sample_fps * 2
    verified, extra = False, list[video.Cover]()
    storage = get_storage()
    key = ""
    with storage.local_copy(media.sha256) as original, tempfile.TemporaryDirectory() as work:
        out = Path(work) / "redacted.mp4"
        for attempt, factor in enumerate((redact_mod.FACTOR, 2.2, 2.2)):
            if attempt:
                _drop_candidate(session, key)  # a copy that did not pass is not kept
            scaled = [video.Cover(c.samples, factor if c.factor != 1.3 else 1.3) for c in covers]
            began = time.monotonic()
            video.redact_video(original, scaled + extra, out)
            rendered = time.monotonic() - began
            # Stored first: with a broker, workers read it from storage to check it.
            key = storage.put_file(out, kind="renditions")
            began = time.monotonic()
            checked = compute.scan_video(out, key, ranges, sample_fps=rate)
            found = [
                (t, box, pad)
                for t, seen in checked
                for box, pad in _still_visible(session, media, seen, refs, state)
            ]
            logger.info(
                "redaction of video %s, pass %d: rendered in %.1f s, %d frames checked in "
                "%.1f s, %d still to cover",
                media.id,
                attempt + 1,
                rendered,
                len(checked),
                time.monotonic() - began,
                len(found),
            )
            if not found:
                verified = True
                break
            # Where the check still finds someone (a face the analysis missed at a track's end,
            # one that moved faster than the samples), cover that too, then check there again.
            extra += [video.Cover((video.Sample(t, box),), factor=pad) for t, box, pad in found]
            ranges = [(t - 1.0, t + 1.0) for t, _box, _pad in found]
    rendition = Rendition(
        media_id=media.id,
        kind="redacted",
        sha256=key,
        verified=verified,
        obscured_faces=[f.number for f in hidden],
        obscured_badges=sorted({b.code for b in hidden_badges}),
        created_by=actor.label,
    )
    return _add_rendition(
        session,
        actor,
        rendition,
        "media.redacted",
        tracks=rendition.obscured_faces,
        verified=verified,
    )


def _drop_candidate(session: Session, key: str) -> None:
    """Delete a stored redaction candidate that failed its check (unless a rendition already
    holds the same file)."""
    if key and session.exec(select(Rendition.id).where(Rendition.sha256 == key)).first() is None:
        get_storage().delete(key, kind="renditions")


def _still_visible(
    session: Session,
    media: Media,
    found: Analysis,
    refs: dict[uuid.UUID, list[Any]],
    state: EventState,
) -> list[tuple[Box, float]]:
    """In one frame of a rendition: the boxes (and cover factor) of faces that are, or may be,
    someone who opted out, and of opted-out badges."""
    result = decide(
        faces=[
            FaceInput(id=i + 1, box=f.box, encoding=f.encoding) for i, f in enumerate(found.faces)
        ],
        badges=[
            BadgeInput(code=c.text, box=c.box, booking_id=badge_booking(session, media, c.text))
            for c in found.codes
        ],
        opted_out=state.opted_out,
        references=refs,
        transient=state.transient,
        thresholds=thresholds(),
    )
    return [(f.box, 2.2) for f in result.faces if f.decision in ("opted_out", "review")] + [
        (b.box, 1.3) for b in result.badges if b.booking_id in state.opted_out
    ]


def track_thumbnail(*, session: Session, media: Media, number: int) -> bytes:
    """A track's face at its largest, cut from the video's frame (made on request, not kept)."""
    face = next((f for f in faces_of(session=session, media=media) if f.number == number), None)
    if media.kind != "video" or face is None or not face.samples:
        raise NotFound("No track with this number in this video.")
    best = max(_samples(face), key=lambda s: (s.box[1] - s.box[3]) * (s.box[2] - s.box[0]))
    with get_storage().local_copy(media.sha256) as original:
        frame = video.frame_at(original, best.t_s)
    box = best.box
    top, right, bottom, left = redact_mod.cover_box(box, frame.size, 1.8)
    crop = frame.crop((left, top, right, bottom))
    crop.thumbnail((160, 160))
    return redact_mod.clean_jpeg(crop, quality=85)


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
    if media.kind == "video":
        storage = get_storage()
        with storage.local_copy(media.sha256) as original, tempfile.TemporaryDirectory() as work:
            out = Path(work) / "clean.mp4"
            video.remux_clean(original, out)
            return storage.put_file(out, kind="renditions")
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
    if media.kind == "video":
        with storage.local_copy(media.sha256) as original:
            still = video.frame_at(original, min(1.0, (media.duration_s or 0) / 2))
        still.thumbnail((side, side))
        data = redact_mod.clean_jpeg(still, quality=82)
        storage.put(data, kind=kind, key=media.sha256)
        return data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        source = Image.open(io.BytesIO(storage.get(media.sha256)))
        source.draft("RGB", (side, side))  # JPEG: decode at a fraction of full size
        image = ImageOps.exif_transpose(source).convert("RGB")
    image.thumbnail((side, side))
    data = redact_mod.clean_jpeg(image, quality=82)
    storage.put(data, kind=kind, key=media.sha256)
    return data
