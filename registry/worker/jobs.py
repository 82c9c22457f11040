"""The clearance job, the same code whichever engine runs it (the in-process pool or Celery).

A job claims a pending photo (a lease), analyses its bytes (the expensive, pure part: in a worker
process), stores the result and decides; every step is idempotent, so a redelivered or retried
job gives the same result and no duplicate rows. A video is cleared in parts (`media.segments`):
each job takes parts until none is left, and the first queues more jobs so other workers share it.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from sqlmodel import Session

from registry import logs
from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.db import unit_of_work
from registry.dispatch import compute
from registry.media import analyses, leases, photo_redactions, redactions, renditions, segments
from registry.media.models import Media, MediaStatus, Rendition
from registry.media.storage import get_storage
from registry.vision import analysis, images, video_probe, video_redact, video_tracks

logger = logging.getLogger("registry")

Window = tuple[float, float]


class Analyse(Protocol):
    def __call__(
        self, data: bytes | Path, window: Window | None = None
    ) -> analysis.Analysis | video_tracks.VideoAnalysis: ...


SessionFactory = Callable[[], AbstractContextManager[Session]]
FanOut = Callable[[int], None]  # queue this many more jobs for the same media


def analyse_bytes(
    data: bytes | Path, window: Window | None = None
) -> analysis.Analysis | video_tracks.VideoAnalysis:
    """Runs in a worker process (models loaded once per process): a photo's bytes, or a video
    (a local file, read as it is decoded) on sampled frames — its `window` when it is one
    part of a longer video."""
    if isinstance(data, Path) or video_probe.is_video(data):
        settings = get_settings()
        return video_tracks.analyse_video(
            data,
            sample_fps=settings.video_sample_fps,
            max_seconds=settings.max_video_minutes * 60,
            window=window,
        )
    return analysis.analyse(data)


class Heartbeat:
    """Renews a job's lease every `heartbeat_seconds` while it works, from a thread with its own
    unit of work, so the lease can be short: when the beats stop (the process or machine died),
    the photo is taken up again within the lease plus a sweep."""

    def __init__(
        self,
        media_id: uuid.UUID,
        *,
        every: float | None = None,
        part: int | None = None,
        renew: Callable[[Session], bool] | None = None,
    ) -> None:
        self.media_id = media_id
        self.part = part  # a video's segment: its lease is renewed with the video's
        self.renew = renew  # another lease (a redaction's step): what renews it
        self.every = every if every is not None else get_settings().heartbeat_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{media_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with unit_of_work() as session:
                    if self.renew is not None:
                        alive = self.renew(session)
                    elif self.part is None:
                        alive = leases.renew(session=session, media_id=self.media_id)
                    else:
                        alive = segments.renew(
                            session=session, media_id=self.media_id, number=self.part
                        )
                    if not alive:
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
    fan_out: FanOut | None = None,
) -> MediaStatus | None:
    """Clear one photo, or take parts of a video until none is left (`fan_out` queues more
    jobs so other workers share it); None when there was nothing to take (another worker has
    it, or it is done) or an analysis crashed and the media is pending for another try.
    `heartbeat=False` only for callers that hold the whole job in one transaction (tests)."""
    with session_factory() as session:
        media = session.get(Media, media_id)
        kind = media.kind if media is not None else None
    if kind == "video":
        return _clear_video(media_id, analyse, session_factory, heartbeat, fan_out)
    with session_factory() as session:
        key = leases.claim(session=session, media_id=media_id)
    if key is None:
        return None

    def run() -> analysis.Analysis | video_tracks.VideoAnalysis:
        with Heartbeat(media_id) if heartbeat else contextlib.nullcontext():
            return analyse(get_storage().get(key))

    def fail(reason: str, retry: bool) -> None:
        with session_factory() as session:
            leases.fail(session=session, media_id=media_id, reason=reason, retry=retry)

    result = _attempt(run, fail, str(media_id))
    if isinstance(result, _Failed):
        return result.status
    with session_factory() as session:
        stored = analyses.store_analysis(session=session, media_id=media_id, result=result)
        status = stored.status if stored else None
    if isinstance(result, analysis.Analysis):
        logger.info(
            "photo %s: %s, %d face(s), %d code(s), analysed in %.2f s",
            media_id,
            status,
            len(result.faces),
            len(result.codes),
            sum(result.stages.values()),
        )
    return status


MISSING = "The file is missing."
T = TypeVar("T")


@dataclass(frozen=True)
class _Failed:
    status: MediaStatus | None  # failed for good, or None: pending for another try


def _attempt(run: Callable[[], T], fail: Callable[[str, bool], None], what: str) -> T | _Failed:
    """Run an analysis; a file it cannot read or finds missing fails the media with the
    reason, a crash is logged in full and handed back for another try."""
    try:
        return run()
    except images.ImageRejected as exc:
        fail(str(exc), False)
        return _Failed(MediaStatus.failed)
    except FileNotFoundError:
        fail(MISSING, False)
        return _Failed(MediaStatus.failed)
    except Exception as exc:  # a crash in analysis: retried, then failed
        logger.exception("clearance of %s failed", what)
        fail(_crashed(exc), True)
        return _Failed(None)


def _crashed(exc: Exception) -> str:
    return f"Analysis failed ({type(exc).__name__})."


def _clear_video(
    media_id: uuid.UUID,
    analyse: Analyse,
    session_factory: SessionFactory,
    heartbeat: bool,
    fan_out: FanOut | None,
) -> MediaStatus | None:
    status: MediaStatus | None = None
    first = True
    while True:
        with session_factory() as session:
            part = segments.claim(session=session, media_id=media_id)
        if part is None:
            return status
        if first and fan_out is not None and part.free:
            fan_out(min(part.free, get_settings().video_parallel - 1))
        first = False

        def run(part: segments.Part = part) -> video_tracks.VideoAnalysis:
            beat = Heartbeat(media_id, part=part.number) if heartbeat else None
            with beat or contextlib.nullcontext(), get_storage().local_copy(part.key) as path:
                found = analyse(path, part.window)
            if not isinstance(found, video_tracks.VideoAnalysis):
                raise TypeError("a video's analysis gave a photo's result")
            return found

        def fail(reason: str, retry: bool, number: int = part.number) -> None:
            with session_factory() as session:
                if retry:  # a crash: this part alone is tried again
                    segments.give_back(
                        session=session, media_id=media_id, number=number, reason=reason
                    )
                else:
                    segments.fail(session=session, media_id=media_id, reason=reason)

        result = _attempt(run, fail, f"{media_id} (part {part.number})")
        if isinstance(result, _Failed):
            return result.status
        with session_factory() as session:
            stored = segments.finish(
                session=session, media_id=media_id, number=part.number, result=result
            )
            status = stored.status if stored is not None else None
        logger.info("video %s: part %d analysed (%d frames)", media_id, part.number, result.samples)


def clear_and_check(
    media_id: uuid.UUID, *, analyse: Analyse = analyse_bytes, fan_out: FanOut | None = None
) -> bool:
    """Run the job; True when the media must be queued again (its analysis crashed and it is
    pending for another attempt), False when it is done or another worker holds it."""
    with logs.context(job_id=uuid.uuid4().hex[:12], media_id=str(media_id)):
        if clear_media(media_id, analyse=analyse, fan_out=fan_out) is not None:
            return False
    with unit_of_work() as session:
        media = session.get(Media, media_id)
        return media is not None and media.status == MediaStatus.pending


# --- a redaction ---------------------------------------------------------------------------------

Scan = Callable[..., list[tuple[float, analysis.Analysis]]]
Check = Callable[[bytes], analysis.Analysis]


def redact(
    rendition_id: uuid.UUID,
    *,
    session_factory: SessionFactory = unit_of_work,
    heartbeat: bool = True,
    fan_out: FanOut | None = None,
    scan: Scan | None = None,
    encode: Callable[..., int] = video_redact.redact_part,
    check: Check | None = None,
) -> None:
    """Make a redaction queued as a job: a video's in parts (`redact_video`), a photo's at once
    (`redact_photo`; `check`: where its copy is analysed again)."""
    with session_factory() as session:
        rendition = session.get(Rendition, rendition_id)
        media = session.get(Media, rendition.media_id) if rendition is not None else None
        kind = media.kind if media is not None else None
    if kind == "photo":
        redact_photo(
            rendition_id,
            session_factory=session_factory,
            heartbeat=heartbeat,
            check=check or compute.analyse,
        )
    elif kind == "video":
        redact_video(
            rendition_id,
            session_factory=session_factory,
            heartbeat=heartbeat,
            fan_out=fan_out,
            scan=scan,
            encode=encode,
        )


def redact_photo(
    rendition_id: uuid.UUID,
    *,
    session_factory: SessionFactory = unit_of_work,
    heartbeat: bool = True,
    check: Check = compute.analyse,
) -> None:
    """Make one photo's redacted copy under a lease (`media.photo_redactions`): what to cover is
    read, the copy made and checked (`check`) with no unit of work held, then stored."""
    with logs.context(job_id=uuid.uuid4().hex[:12], rendition_id=str(rendition_id)):
        with session_factory() as session:
            covers = photo_redactions.claim(session=session, rendition_id=rendition_id)
        if covers is None:
            return
        logger.info("redaction %s: photo %s taken", rendition_id, covers.media_id)

        def renew(session: Session) -> bool:
            return photo_redactions.renew(session=session, rendition_id=rendition_id)

        started = time.monotonic()
        beat = Heartbeat(rendition_id, renew=renew) if heartbeat else None
        try:
            with beat or contextlib.nullcontext():
                made = renditions.redact_photo(covers, analyse=check)
        except (images.ImageRejected, FileNotFoundError) as exc:
            reason = MISSING if isinstance(exc, FileNotFoundError) else str(exc)
            with session_factory() as session:
                photo_redactions.fail(session=session, rendition_id=rendition_id, reason=reason)
            return
        except Exception as exc:  # a crash: given back, tried again by the sweep
            logger.exception("redaction %s of a photo failed", rendition_id)
            with session_factory() as session:
                photo_redactions.give_back(
                    session=session,
                    rendition_id=rendition_id,
                    reason=f"Redaction failed ({type(exc).__name__}).",
                )
            return
        with session_factory() as session:
            photo_redactions.finish(session=session, rendition_id=rendition_id, made=made)
        logger.info(
            "redaction %s: photo %s, %d face(s) covered, %s, in %.1f s",
            rendition_id,
            covers.media_id,
            len(made.faces),
            "verified" if made.verified else "NOT verified",
            time.monotonic() - started,
        )


def redact_video(
    rendition_id: uuid.UUID,
    *,
    session_factory: SessionFactory = unit_of_work,
    heartbeat: bool = True,
    fan_out: FanOut | None = None,
    scan: Scan | None = None,
    encode: Callable[..., int] = video_redact.redact_part,
) -> None:
    """Take steps of a video's redaction until none is left (`media.redactions`): encode parts
    (the first job queues more, `fan_out`, so other workers share them), then join them, store
    the copy and check it (`scan`: `compute.scan_video`, which shares the check out too)."""
    scan = scan or compute.scan_video
    first = True
    with logs.context(job_id=uuid.uuid4().hex[:12], rendition_id=str(rendition_id)):
        while True:
            with session_factory() as session:
                step = redactions.claim(session=session, rendition_id=rendition_id)
            if step is None:
                return
            logger.info(
                "redaction %s: %s taken (pass %d, try %d)",
                rendition_id,
                "the join and check" if step.joining else f"part {step.number}",
                step.passes,
                step.attempt,
            )
            if first and fan_out is not None and step.free:
                fan_out(min(step.free, get_settings().video_parallel - 1))
            first = False

            def renew(session: Session, number: int = step.number) -> bool:
                return redactions.renew(session=session, rendition_id=rendition_id, number=number)

            beat = Heartbeat(rendition_id, renew=renew) if heartbeat else None
            try:
                with beat or contextlib.nullcontext():
                    if step.joining:
                        _join_and_check(rendition_id, step, session_factory, scan)
                    else:
                        _encode_part(rendition_id, step, session_factory, encode)
            except (images.ImageRejected, FileNotFoundError) as exc:
                reason = MISSING if isinstance(exc, FileNotFoundError) else str(exc)
                with session_factory() as session:
                    redactions.fail(session=session, rendition_id=rendition_id, reason=reason)
                return
            except Exception as exc:  # a crash: this step alone is tried again
                logger.exception("redaction %s, step %d failed", rendition_id, step.number)
                with session_factory() as session:
                    redactions.give_back(
                        session=session,
                        rendition_id=rendition_id,
                        number=step.number,
                        reason=f"Redaction failed ({type(exc).__name__}).",
                    )
                return


def _encode_part(
    rendition_id: uuid.UUID,
    step: redactions.Claim,
    session_factory: SessionFactory,
    encode: Callable[..., int],
) -> None:
    storage = get_storage()
    factor = 2.2 if step.passes > 1 else None
    started = time.monotonic()
    with (
        storage.local_copy(step.media_key) as original,
        tempfile.TemporaryDirectory(prefix="registry-part-") as work,
    ):
        out = Path(work) / "part.mp4"
        frames = encode(
            original,
            redactions.to_covers(step.covers, factor),
            out,
            window=(step.start_s, step.end_s),
        )
        key = storage.put_file(out, kind="parts")
    with session_factory() as session:
        redactions.finish_part(
            session=session, rendition_id=rendition_id, number=step.number, key=key
        )
    logger.info(
        "redaction %s: part %d (%d frames) encoded in %.1f s",
        rendition_id,
        step.number,
        frames,
        time.monotonic() - started,
    )


def _join_and_check(
    rendition_id: uuid.UUID, step: redactions.Claim, session_factory: SessionFactory, scan: Scan
) -> None:
    storage = get_storage()
    started = time.monotonic()
    with session_factory() as session:
        keys = redactions.part_files(session=session, rendition_id=rendition_id)
        rendition = session.get(Rendition, rendition_id)
        if rendition is None:
            return
        check = renditions.video_check(session=session, rendition=rendition)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="registry-join-")))
        original = stack.enter_context(storage.local_copy(step.media_key))
        parts = [stack.enter_context(storage.local_copy(k, kind="parts")) for k in keys]
        out = work / "redacted.mp4"
        video_redact.join_parts(parts, original, out)
        # Stored before it is checked: with a broker, workers read it from storage to check it.
        key = storage.put_file(out, kind="renditions")
        joined = time.monotonic() - started
        found = scan(out, key, check.ranges, sample_fps=check.sample_fps)
    with session_factory() as session:
        seen = renditions.seen_in_check(session=session, check=check, found=found)
        more = redactions.finish_join(
            session=session, actor=SYSTEM, rendition_id=rendition_id, key=key, seen=seen
        )
    logger.info(
        "redaction %s, pass %d: joined in %.1f s, %d frames checked, %d still to cover%s",
        rendition_id,
        step.passes,
        joined,
        len(found),
        len(seen),
        "; encoding those parts again" if more else "",
    )
