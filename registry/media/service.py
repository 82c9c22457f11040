"""Media: uploads (stored once by content) and the queries pages and the API read.

Clearance lives beside it, one concern a module: a job's lease (`leases.py`), storing what it
found (`analyses.py`), the event's state and a photo's decision (`decisions.py`), re-deciding
after a change (`reclear.py`), reviewers' words (`reviews.py`), templates sealed and purged
(`biometrics.py`) and a video's reasons (`video_reasons.py`); redacted and clean copies and
thumbnails in `renditions.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.config import get_settings
from registry.dispatch import queue
from registry.errors import Conflict, NotFound
from registry.events.models import Booking, Event
from registry.media.models import (
    Media,
    MediaBadge,
    MediaFace,
    MediaStatus,
    Rendition,
    RenditionStatus,
)
from registry.media.storage import get_storage, sha256_of, sha256_of_file
from registry.vision import images, video_probe


@dataclass(frozen=True)
class Upload:
    """A file to clear: its bytes, or (videos) a local file never read whole into memory."""

    filename: str
    data: bytes | Path = b""

    def head(self) -> bytes:
        if isinstance(self.data, bytes):
            return self.data[:16]
        with self.data.open("rb") as source:
            return source.read(16)

    def size(self) -> int:
        return len(self.data) if isinstance(self.data, bytes) else self.data.stat().st_size

    def digest(self) -> str:
        return sha256_of(self.data) if isinstance(self.data, bytes) else sha256_of_file(self.data)


def _clean_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "upload"
    return "".join(c for c in base if c.isprintable())[:255]


def upload(
    *, session: Session, actor: Actor, files: Iterable[Upload], event: Event | None
) -> list[tuple[Media, bool]]:
    """Store each file once per event (by content); a bad file gets a `failed` record with its
    reason and never stops the others. Each new photo or video is queued for clearance once the
    unit of work commits (nothing is queued if it rolls back). Returns (media, created) per
    file, in order. `files` is read one at a time: the API and the pages hand a generator that
    reads each upload only when its turn comes."""
    out: list[tuple[Media, bool]] = []
    for file in files:
        digest = file.digest()
        same_event = Media.event_id == event.id if event else col(Media.event_id).is_(None)
        existing = session.exec(select(Media).where(Media.sha256 == digest, same_event)).first()
        if existing is not None:
            out.append((existing, False))
            continue
        media = Media(
            event_id=event.id if event else None,
            sha256=digest,
            filename=_clean_name(file.filename),
            content_type="application/octet-stream",
            size_bytes=file.size(),
            uploaded_by=actor.label,
        )
        try:
            _store(media, file)
        except images.ImageRejected as exc:
            media.status, media.failure = MediaStatus.failed, str(exc)
        session.add(media)
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="media.uploaded",
            entity_type="media",
            entity_id=media.id,
            after={"event_id": media.event_id, "sha256": digest, "status": media.status},
        )
        out.append((media, True))
    queue.clear_after_commit(
        session, [m.id for m, created in out if created and m.status == MediaStatus.pending]
    )
    return out


def _store(media: Media, file: Upload) -> None:
    """Probe the file (a photo's format and size, a video's length) and store it; ImageRejected
    with the reason when it cannot be cleared."""
    settings, storage = get_settings(), get_storage()
    if video_probe.is_video(file.head()):
        _probe_video(media, file.data, file.size())
        if isinstance(file.data, Path):
            storage.put_file(file.data, key=media.sha256)
        else:
            storage.put(file.data)
    elif isinstance(file.data, Path):
        raise images.ImageRejected("The file is not a video that can be read.", "format")
    else:
        if len(file.data) > settings.max_upload_mb * 1_000_000:
            raise images.ImageRejected(
                f"The file is larger than {settings.max_upload_mb} MB.", "size"
            )
        fmt, media.width, media.height = images.probe(
            file.data, max_pixels=settings.max_megapixels * 1_000_000
        )
        media.content_type = f"image/{fmt.lower()}"
        storage.put(file.data)


def _probe_video(media: Media, data: bytes | Path, size: int) -> None:
    """A video's kind, type, size and duration, or ImageRejected with the reason."""
    settings = get_settings()
    media.kind = "video"
    if size > settings.max_video_mb * 1_000_000:
        raise images.ImageRejected(f"The video is larger than {settings.max_video_mb} MB.", "size")
    info = video_probe.probe(data, max_seconds=settings.max_video_minutes * 60)
    media.content_type = {"matroska": "video/webm", "mov": "video/mp4"}.get(
        info.format, "video/mp4"
    )
    if info.format == "mov" and media.filename.lower().endswith(".mov"):
        media.content_type = "video/quicktime"
    media.width, media.height = info.width, info.height
    media.duration_s, media.frame_rate = info.duration_s, info.frame_rate


def get_media(*, session: Session, media_id: uuid.UUID) -> Media:
    media = session.get(Media, media_id)
    if media is None:
        raise NotFound("No media with this id.")
    return media


def state_counts(*, session: Session) -> dict[tuple[str, str], int]:
    """How many photos and videos are in each clearance state: {(kind, status): count}."""
    rows = session.exec(
        select(Media.kind, Media.status, func.count()).group_by(Media.kind, Media.status)
    ).all()
    return {(str(kind), str(status)): int(count) for kind, status, count in rows}


def list_media(
    *,
    session: Session,
    event_id: uuid.UUID | None = None,
    status: MediaStatus | None = None,
    limit: int = 1000,
    without_event: bool = False,
    name_contains: str | None = None,
) -> list[Media]:
    """Media, newest first: of an event, or not from any event; by status; by file name."""
    query = select(Media)
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Media.filename).ilike(f"%{escaped}%", escape="\\"))
    if event_id is not None:
        query = query.where(Media.event_id == event_id)
    if without_event:
        query = query.where(col(Media.event_id).is_(None))
    if status is not None:
        query = query.where(Media.status == status)
    return list(session.exec(query.order_by(col(Media.created_at).desc()).limit(limit)).all())


def media_by_ids(*, session: Session, ids: Sequence[uuid.UUID]) -> list[Media]:
    """The media with these ids that exist, in the order given."""
    if not ids:
        return []
    found = {m.id: m for m in session.exec(select(Media).where(col(Media.id).in_(list(ids))))}
    return [found[i] for i in ids if i in found]


def faces_of(*, session: Session, media: Media) -> list[MediaFace]:
    """A media's faces (a video's tracks), by number."""
    return list(
        session.exec(
            select(MediaFace).where(MediaFace.media_id == media.id).order_by(col(MediaFace.number))
        ).all()
    )


def face_numbered(*, session: Session, media_id: uuid.UUID, number: int) -> MediaFace | None:
    """Face (or track) `number` of a media, if it has one."""
    return session.exec(
        select(MediaFace).where(MediaFace.media_id == media_id, MediaFace.number == number)
    ).first()


def badges_of(*, session: Session, media: Media) -> list[MediaBadge]:
    return list(
        session.exec(
            select(MediaBadge).where(MediaBadge.media_id == media.id).order_by(col(MediaBadge.id))
        ).all()
    )


def renditions_of(*, session: Session, media: Media) -> list[Rendition]:
    return list(
        session.exec(
            select(Rendition)
            .where(Rendition.media_id == media.id)
            .order_by(col(Rendition.created_at))
        ).all()
    )


def get_rendition(*, session: Session, media: Media, rendition_id: uuid.UUID) -> Rendition:
    rendition = session.get(Rendition, rendition_id)
    if rendition is None or rendition.media_id != media.id:
        raise NotFound("No such rendition of this media.")
    return rendition


def ready_rendition(*, session: Session, media: Media, rendition_id: uuid.UUID) -> Rendition:
    """A rendition whose file is there (a video's redaction has none until it is ready)."""
    rendition = get_rendition(session=session, media=media, rendition_id=rendition_id)
    if rendition.status == RenditionStatus.failed:
        raise Conflict(f"This redacted copy could not be made ({rendition.failure}).")
    if rendition.status != RenditionStatus.ready:
        raise Conflict(
            f"This redacted copy is still being made ({round(rendition.progress * 100)}% done)."
        )
    return rendition


def people_in(
    *, session: Session, media: Sequence[Media]
) -> dict[uuid.UUID, tuple[str, set[uuid.UUID]]]:
    """Attendees recognised in these media (a face decided clear, or their badge), each with
    their name and the media they are in: for finding "the photos with Sam in them"."""
    ids = [m.id for m in media]
    out: dict[uuid.UUID, tuple[str, set[uuid.UUID]]] = {}
    if not ids:
        return out
    rows = list(
        session.exec(
            select(MediaFace.media_id, Booking.id, Booking.name)
            .join(Booking, col(Booking.id) == col(MediaFace.booking_id))
            .where(col(MediaFace.media_id).in_(ids), MediaFace.decision == "clear")
        ).all()
    )
    rows += session.exec(
        select(MediaBadge.media_id, Booking.id, Booking.name)
        .join(Booking, col(Booking.id) == col(MediaBadge.booking_id))
        .where(col(MediaBadge.media_id).in_(ids), col(Booking.photo_opt_out).is_(False))
    ).all()
    for media_id, booking_id, name in rows:
        out.setdefault(booking_id, (name, set()))[1].add(media_id)
    return out
