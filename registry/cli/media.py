"""`registry clear`: upload and clear a folder of photos and videos for an event, here or on
the broker's workers, with a progress bar."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from sqlmodel import col, select

from registry.audit.service import CLI
from registry.cli.console import err, fail, out
from registry.cli.startup import load_settings
from registry.db import unit_of_work
from registry.errors import NotFound
from registry.events import service as events
from registry.media import service as media_service
from registry.media.models import Media, MediaFace, MediaStatus
from registry.worker import jobs
from registry.worker.pool import LocalPool

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", *VIDEO_SUFFIXES}


def _photo_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        elif path.is_file():
            files.append(path)
        else:
            fail(f"no such file or folder: {path}")
    return files


def _clear_here(workers: int, queued: list[Any], total: int, as_json: bool) -> None:
    """No broker: clear in a local pool of worker processes."""

    pool = LocalPool(workers)
    try:
        with (
            Progress(console=err, disable=as_json and not err.is_terminal) as progress,
            ThreadPoolExecutor(max_workers=pool.workers * 2) as threads,
        ):
            task = progress.add_task(f"Clearing {total} photo(s)", total=total)
            helpers: list[Future[Any]] = []

            def clear(media_id: uuid.UUID) -> None:
                def share(more: int) -> None:  # a long video's other parts, for other threads
                    helpers.extend(
                        threads.submit(jobs.clear_media, media_id, analyse=pool.analyse)
                        for _ in range(more)
                    )

                jobs.clear_media(media_id, analyse=pool.analyse, fan_out=share)

            todo = [threads.submit(clear, media_id) for media_id in queued]
            progress.advance(task, total - len(todo))
            for future in as_completed(todo):
                future.result()
                progress.advance(task)
            for helper in helpers:
                helper.result()
    finally:
        pool.shutdown()


def _clear_on_workers(queued: list[Any], total: int, as_json: bool) -> None:
    """A broker is configured: each upload's job went to its workers when the upload committed;
    follow them to the end."""

    waiting = (MediaStatus.pending, MediaStatus.processing)
    with Progress(console=err, disable=as_json and not err.is_terminal) as progress:
        task = progress.add_task(f"Clearing {total} photo(s) on the workers", total=total)
        progress.advance(task, total - len(queued))
        left = len(queued)
        while left:
            time.sleep(0.5)
            with unit_of_work() as session:
                now_left = len(
                    session.exec(
                        select(Media.id).where(
                            col(Media.id).in_(queued), col(Media.status).in_(waiting)
                        )
                    ).all()
                )
            progress.advance(task, left - now_left)
            left = now_left


def clear(
    event_id: Annotated[str, typer.Argument(help="The event the photos were taken at.")],
    paths: Annotated[list[Path], typer.Argument(help="Photo files or folders (searched deeply).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON result object per photo.")
    ] = False,
) -> None:
    """Upload and clear photos and videos for an event, with a progress bar."""

    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        fail(f"not an event id: {event_id}")
    settings = load_settings()
    files = _photo_files(paths)
    if not files:
        fail("no photos or videos found (JPEG, PNG, WebP, HEIC; MP4, MOV, WebM)")
    with unit_of_work() as session:
        try:
            events.get_event(session=session, event_id=parsed)
        except NotFound as exc:
            fail(exc.message)
    ids = _upload(parsed, files)
    queued = [media_id for _, media_id, pending in ids if pending]
    if settings.broker_url:
        _clear_on_workers(queued, len(ids), as_json)
    else:
        _clear_here(settings.workers, queued, len(ids), as_json)
    counts: dict[str, int] = {}
    for path, media_id, _ in ids:
        with unit_of_work() as session:
            media = media_service.get_media(session=session, media_id=media_id)
            counts[media.status] = counts.get(media.status, 0) + 1
            if as_json:
                faces = media_service.faces_of(session=session, media=media)
                print(json.dumps(_result(path, media, faces)))  # noqa: T201 - the command's output
            else:
                _print_result(path, media, settings.base_url)
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items()))
    files_word = "file" if len(ids) == 1 else "files"
    err.print(f"ok: {len(ids)} {files_word}: {summary}")


def _upload(event_id: uuid.UUID, files: list[Path]) -> list[tuple[Path, uuid.UUID, bool]]:
    """Each file through the media service in its own unit of work (a video is read from its
    file, never whole into memory): (file, media id, waiting to be cleared) each. With a broker,
    each new one's job leaves as its upload commits."""
    ids: list[tuple[Path, uuid.UUID, bool]] = []
    for path in files:
        with unit_of_work() as session:
            event = events.get_event(session=session, event_id=event_id)
            [(media, created)] = media_service.upload(
                session=session,
                actor=CLI,
                files=[
                    media_service.Upload(
                        path.name,
                        path if path.suffix.lower() in VIDEO_SUFFIXES else path.read_bytes(),
                    )
                ],
                event=event,
            )
            ids.append((path, media.id, created and media.status == MediaStatus.pending))
    return ids


def _result(path: Path, media: Media, faces: list[MediaFace]) -> dict[str, Any]:
    """One file's result as `--json` prints it."""
    return {
        "file": str(path),
        "id": str(media.id),
        "status": media.status,
        "reasons": media.reasons,
        "failure": media.failure,
        "faces": [
            {
                "id": f.number,
                "box": {"top": f.top, "right": f.right, "bottom": f.bottom, "left": f.left},
                "booking_id": str(f.booking_id) if f.booking_id else None,
                "distance": f.distance,
                "via": f.via,
                "decision": f.decision,
            }
            for f in faces
        ],
    }


def _print_result(path: Path, media: Media, base_url: str) -> None:
    out.print(
        f"{media.status:<13} {path}" + (f"  ({media.failure})" if media.failure else ""),
        markup=False,
    )
    if media.status in ("flagged", "needs_review"):
        # What a person must look at, and where: each reason, then the photo's page.
        for reason in media.reasons or []:
            out.print(f"{'':<13}   - {reason}", markup=False)
        out.print(f"{'':<13}   review: {base_url.rstrip('/')}/media/{media.id}", markup=False)
