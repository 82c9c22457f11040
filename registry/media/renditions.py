"""Renditions: redacted copies (verified by checking them again), the metadata-free copy of an
original that is published when no redaction is needed, and thumbnails and previews."""

from __future__ import annotations

import io
import logging
import tempfile
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps
from sqlmodel import Session, select

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.config import get_settings
from registry.dispatch import compute
from registry.errors import Conflict, NotFound
from registry.media import redactions
from registry.media.analyses import badge_booking, event_badges
from registry.media.biometrics import encoding_of
from registry.media.decisions import EventState, event_state, for_media, thresholds
from registry.media.models import FINAL, Media, MediaFace, MediaStatus, Rendition
from registry.media.service import badges_of, face_numbered, faces_of
from registry.media.storage import get_storage
from registry.vision import images, video_redact, video_sampling, video_tracks
from registry.vision import redact as redact_mod
from registry.vision.analysis import Analysis
from registry.vision.decision import BadgeInput, FaceInput, decide
from registry.vision.faces import Box

logger = logging.getLogger("registry")


def redact(*, session: Session, actor: Actor, media: Media) -> Rendition:
    """A new rendition with every opted-out (or unresolved) face and opted-out badge obscured
    and no metadata, verified by running detection and matching on it again."""
    if media.status not in FINAL:
        raise Conflict("This photo has not been cleared yet; redact it once it has been analysed.")
    if media.kind == "video":
        # A job in the background (parts re-encoded by several workers): pending for now.
        return redactions.start(session=session, actor=actor, media=media)
    made = redact_photo(photo_covers(session=session, media=media), analyse=compute.analyse)
    rendition = Rendition(
        media_id=media.id,
        kind="redacted",
        sha256=made.key,
        verified=made.verified,
        obscured_faces=list(made.faces),
        obscured_badges=list(made.badges),
        created_by=actor.label,
    )
    return _add_rendition(
        session,
        actor,
        rendition,
        "media.redacted",
        faces=rendition.obscured_faces,
        verified=made.verified,
    )


@dataclass(frozen=True)
class PhotoCovers:
    """What a photo's redaction covers and how its copy is checked, read once (plain data: the
    copy is made and checked without holding a unit of work)."""

    media_id: uuid.UUID
    key: str  # the original's storage key
    faces: tuple[int, ...]  # the face numbers covered (decided opted out, or still to review)
    boxes: tuple[Box, ...]
    badges: tuple[str, ...]  # the opted-out badges covered
    badge_boxes: tuple[Box, ...]
    state: EventState
    badge_bookings: dict[str, uuid.UUID]  # the event's badge codes, for the check


@dataclass(frozen=True)
class RedactedPhoto:
    key: str  # the copy's storage key (renditions)
    verified: bool
    faces: tuple[int, ...]
    badges: tuple[str, ...]


def photo_covers(*, session: Session, media: Media) -> PhotoCovers:
    """What a redaction of this photo covers now: every face decided opted out or still to
    review, and every badge of someone who opted out (or objected to it)."""
    faces = faces_of(session=session, media=media)
    state = for_media(session, media, event_state(session, media.event_id))
    hidden = [f for f in faces if f.decision in ("opted_out", "review")]
    hidden_badges = [
        b for b in badges_of(session=session, media=media) if b.booking_id in state.opted_out
    ]
    return PhotoCovers(
        media_id=media.id,
        key=media.sha256,
        faces=tuple(f.number for f in hidden),
        boxes=tuple((f.top, f.right, f.bottom, f.left) for f in hidden),
        badges=tuple(b.code for b in hidden_badges),
        badge_boxes=tuple((b.top, b.right, b.bottom, b.left) for b in hidden_badges),
        state=state,
        badge_bookings=event_badges(session, media.event_id),
    )


def redact_photo(covers: PhotoCovers, *, analyse: Callable[[bytes], Analysis]) -> RedactedPhoto:
    """Cover, strip and store the copy, then check it (`analyse`: where detection runs); a
    second try pads the faces more when the first copy still shows someone."""
    original = images.decode(get_storage().get(covers.key)).image
    opted_out = covers.state.opted_out
    verified, data = False, b""
    for factor in (redact_mod.FACTOR, 2.2):
        redacted = redact_mod.obscure(original, list(covers.boxes), factor=factor)
        # Badges are covered exactly (their box is the code itself, plus a margin).
        redacted = redact_mod.obscure(redacted, list(covers.badge_boxes), factor=1.3)
        data = redact_mod.clean_jpeg(redacted)
        check = analyse(data)
        result = decide(
            faces=[
                FaceInput(id=i + 1, box=f.box, encoding=f.encoding)
                for i, f in enumerate(check.faces)
            ],
            badges=[
                BadgeInput(code=c.text, box=c.box, booking_id=covers.badge_bookings.get(c.text))
                for c in check.codes
            ],
            opted_out=opted_out,
            references=covers.state.references,
            transient=covers.state.transient,
            thresholds=thresholds(),
        )
        verified = not any(f.decision in ("opted_out", "review") for f in result.faces) and not any(
            b.booking_id in opted_out for b in result.badges
        )
        if verified:
            break
    key = get_storage().put(data, kind="renditions")
    return RedactedPhoto(key, verified, covers.faces, covers.badges)


def still_visible(
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


def _samples(face: MediaFace) -> tuple[video_tracks.Sample, ...]:
    return tuple(
        video_tracks.Sample(s[0], (int(s[1]), int(s[2]), int(s[3]), int(s[4])))
        for s in face.samples or []
    )


def track_thumbnail(*, session: Session, media: Media, number: int) -> bytes:
    """A track's face at its largest, cut from the video's frame (made on request, not kept)."""
    face = face_numbered(session=session, media_id=media.id, number=number)
    if media.kind != "video" or face is None or not face.samples:
        raise NotFound("No track with this number in this video.")
    best = max(_samples(face), key=lambda s: (s.box[1] - s.box[3]) * (s.box[2] - s.box[0]))
    with get_storage().local_copy(media.sha256) as original:
        frame = video_sampling.frame_at(original, best.t_s)
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
            video_redact.remux_clean(original, out)
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
            still = video_sampling.frame_at(original, min(1.0, (media.duration_s or 0) / 2))
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


@dataclass(frozen=True)
class VideoCheck:
    """What a video redaction's check looks for, read once (plain data: the scan runs without
    holding a unit of work): the event's people who opted out and their references, with the
    hidden tracks' own faces; where and how densely to look."""

    media_id: uuid.UUID
    state: EventState
    refs: dict[uuid.UUID, list[Any]]
    ranges: list[tuple[float, float]]
    sample_fps: float


def video_check(*, session: Session, rendition: Rendition) -> VideoCheck:
    media = session.get(Media, rendition.media_id)
    if media is None:
        raise NotFound("No media with this id.")
    state = for_media(session, media, event_state(session, media.event_id))
    # The people hidden are looked for by their references and by the tracks' own faces.
    refs = {k: list(v) for k, v in state.references.items()}
    for face in redactions.hidden_faces(session, media):
        if face.encoding is not None and face.booking_id is not None:
            refs.setdefault(face.booking_id, []).append(
                encoding_of(face.encoding, f"face:{media.id}:{face.number}")
            )
    return VideoCheck(
        media.id,
        state,
        refs,
        redactions.check_ranges(rendition),
        get_settings().video_sample_fps * 2,
    )


def seen_in_check(
    *, session: Session, check: VideoCheck, found: list[tuple[float, Analysis]]
) -> list[tuple[float, Box, float]]:
    """(time, box, padding) of every face or badge the check found that must still be covered."""
    media = session.get(Media, check.media_id)
    if media is None:
        return []
    return [
        (t, box, pad)
        for t, seen in found
        for box, pad in still_visible(session, media, seen, check.refs, check.state)
    ]
