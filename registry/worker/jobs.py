"""The clearance job, the same code whichever engine runs it (the in-process pool or Celery).

A job claims a pending photo (a lease), analyses its bytes (the expensive, pure part: in a worker
process), stores the result and decides; every step is idempotent, so a redelivered or retried
job gives the same result and no duplicate rows.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from sqlmodel import Session

from registry.config import get_settings
from registry.db import unit_of_work
from registry.media import clearance
from registry.media.models import Media, MediaStatus
from registry.media.storage import get_storage
from registry.vision import analysis, images, video

logger = logging.getLogger("registry")

Analyse = Callable[[bytes | Path], analysis.Analysis | video.VideoAnalysis]
SessionFactory = Callable[[], AbstractContextManager[Session]]


def analyse_bytes(data: bytes | Path) -> analysis.Analysis | video.VideoAnalysis:
    """Runs in a worker process (models loaded once per process): a photo's bytes, or a video
    (a local file, read as it is decoded) on sampled frames."""
    if isinstance(data, Path) or video.is_video(data):
        settings = get_settings()
        return video.analyse_video(
            data,
            sample_fps=settings.video_sample_fps,
            max_seconds=settings.max_video_minutes * 60,
        )
    if isinstance(data, Path):
        data = data.read_bytes()
    return analysis.analyse(data)


class Heartbeat:
    """Renews a job's lease every `heartbeat_seconds` while it works, from a thread with its own
    unit of work, so the lease can be short: when the beats stop (the process or machine died),
    the photo is taken up again within the lease plus a sweep."""

    def __init__(self, media_id: uuid.UUID, *, every: float | None = None) -> None:
        self.media_id = media_id
        self.every = every if every is not None else get_settings().heartbeat_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{media_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with unit_of_work() as session:
                    if not clearance.renew(session=session, media_id=self.media_id):
                        return  # done or failed elsewhere: nothing left to hold
            except Exception:  # a missed beat is survivable (the lease is 3 beats long)
                logger.warning("heartbeat for %s failed; retrying", self.media_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()


def clear_media(
    media_id: uuid.UUID,
    *,
    analyse: Analyse = analyse_bytes,
    session_factory: SessionFactory = unit_of_work,
    heartbeat: bool = True,
) -> MediaStatus | None:
    """Clear one photo; None when it was not pending (another worker has it, or it is done).
    `heartbeat=False` only for callers that hold the whole job in one transaction (tests)."""
    with session_factory() as session:
        key = clearance.claim(session=session, media_id=media_id)
        claimed = session.get(Media, media_id) if key is not None else None
        is_video = claimed is not None and claimed.kind == "video"
    if key is None:
        return None
    try:
        with Heartbeat(media_id) if heartbeat else contextlib.nullcontext():
            if is_video:
                with get_storage().local_copy(key) as path:
                    result = analyse(path)
            else:
                result = analyse(get_storage().get(key))
    except images.ImageRejected as exc:
        with session_factory() as session:
            clearance.fail(session=session, media_id=media_id, reason=str(exc))
        return MediaStatus.failed
    except FileNotFoundError:
        with session_factory() as session:
            clearance.fail(session=session, media_id=media_id, reason="The file is missing.")
        return MediaStatus.failed
    except Exception as exc:  # a crash in analysis: retried, then failed; logged in full
        logger.exception("clearance of %s failed", media_id)
        with session_factory() as session:
            clearance.fail(
                session=session,
                media_id=media_id,
                reason=f"Analysis failed ({type(exc).__name__}).",
                retry=True,
            )
        return None
    with session_factory() as session:
        media = clearance.store_analysis(session=session, media_id=media_id, result=result)
        return media.status if media else None


def clear_and_check(media_id: uuid.UUID, *, analyse: Analyse = analyse_bytes) -> bool:
    """Run the job; True when the photo must be queued again (its analysis crashed and it is
    pending for another attempt), False when it is done or another worker holds it."""
    if clear_media(media_id, analyse=analyse) is not None:
        return False
    with unit_of_work() as session:
        media = session.get(Media, media_id)
        return media is not None and media.status == MediaStatus.pending
