"""The embedded default: clearance jobs in a pool of worker processes inside `registry serve`.

dlib is not thread-safe, so analysis runs in processes. They are forked from a fork server that
loaded the face models and this module once (`registry.worker.forkserver`, started first thing
by `registry serve`), and `warm()` starts them at start-up, so no photo waits for a model load.
A few threads in the web process claim photos, hand their bytes to the pool and store the
results. On start, photos left `processing` by a previous run go back to `pending` and are
queued again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from registry import logs
from registry.db import unit_of_work, utcnow
from registry.lifetime import exit_with, identity
from registry.media import leases, redactions
from registry.vision import analysis, faces, video_redact, video_tracks
from registry.worker import forkserver, jobs

logger = logging.getLogger("registry")


def start_fork_server() -> None:
    """Start the fork server now: it loads the face models and the job code (seconds) while
    the caller goes on importing and starting the web app, instead of after it."""
    forkserver.start()


def _start_worker(owner: tuple[int, str | None]) -> None:
    """Each worker process: exit when the process that owns the pool dies (even by kill -9),
    then load the models (already in memory when the fork server preloaded them)."""
    # Ctrl-C reaches the terminal's whole process group: the owner stops its workers, which
    # would otherwise each print a KeyboardInterrupt traceback (plain text in a JSON log).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with(owner)
    faces.load_models()


def _ready() -> int:
    """Runs in a worker process once it is up, with the models loaded."""
    faces.load_models()  # already loaded by the fork server: returns at once
    time.sleep(0.2)  # keep this process busy so the next warm-up call starts another
    return os.getpid()


def take_pool(lock_path: Path) -> TextIO | None:
    """With several web processes and no broker, the one that locks `lock_path` first runs the
    pool (and the periodic jobs) for all; the lock is the open file returned, held as long as
    the process lives (the system drops it when the process ends, even by kill -9, so the
    process that replaces it can take it). None: another process holds it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


class LocalPool:
    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._lock = threading.Lock()
        self._processes = self._new_processes()
        self._threads = ThreadPoolExecutor(
            max_workers=self.workers * 2, thread_name_prefix="clearance"
        )
        self.ready = threading.Event()

    def _new_processes(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=forkserver.context(),
            initializer=_start_worker,
            initargs=(identity(),),
        )

    def warm(self) -> None:
        """Start every worker process now (models loaded) rather than on the first photo;
        `ready` is set when they are up."""
        try:
            futures = [self._processes.submit(_ready) for _ in range(self.workers)]
            for future in futures:
                future.result()
        except Exception:  # the pool restarts itself on a broken process; jobs still run
            logger.exception("warming the clearance pool failed")
        finally:
            self.ready.set()

    def analyse(
        self, data: bytes | Path, window: jobs.Window | None = None
    ) -> analysis.Analysis | video_tracks.VideoAnalysis:
        result: analysis.Analysis | video_tracks.VideoAnalysis = self.submit(
            jobs.analyse_bytes, data, window
        ).result()
        return result

    def alive(self) -> int:
        """Worker processes alive now (for the metrics)."""
        processes = getattr(self._processes, "_processes", None) or {}
        return sum(1 for p in list(processes.values()) if p.is_alive())

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Run a pure function on a worker process (models loaded): an analysis, part of a
        check or of a redaction. When a worker died (out of memory, killed), the pool is broken
        for every job: the job that saw it fails (and is tried again), and the next one starts a
        fresh pool."""
        with self._lock:
            if getattr(self._processes, "_broken", False):
                self._processes.shutdown(wait=False, cancel_futures=True)
                self._processes = self._new_processes()
            return self._processes.submit(fn, *args, **kwargs)

    def _run(self, media_id: uuid.UUID) -> None:
        def share(more: int) -> None:  # a video's other parts: for other threads to take
            self.enqueue([media_id] * more)

        try:
            if jobs.clear_and_check(media_id, analyse=self.analyse, fan_out=share):
                self.enqueue([media_id])  # a retry after a crash: queue it once more
        except Exception:
            logger.exception("clearance job for %s failed", media_id)

    def check(self, data: bytes) -> analysis.Analysis:
        """Analyse a redacted photo again on a worker process (models loaded)."""
        found = self.analyse(data)
        if not isinstance(found, analysis.Analysis):
            raise TypeError("a photo's check gave a video's result")
        return found

    def encode_part(self, *args: Any, **kwargs: Any) -> int:
        """Encode a part of a video's redaction on a worker process."""
        frames: int = self.submit(video_redact.redact_part, *args, **kwargs).result()
        return frames

    def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None:
        request_id = logs.request_id()
        for rendition_id in rendition_ids:
            self._threads.submit(self._redact, request_id, rendition_id)

    def _redact(self, request_id: str | None, rendition_id: uuid.UUID) -> None:
        def share(more: int) -> None:  # the other parts: for other threads to take
            self.enqueue_redactions([rendition_id] * more)

        with logs.context(request_id=request_id):
            try:
                jobs.redact(rendition_id, fan_out=share, encode=self.encode_part, check=self.check)
            except Exception:
                logger.exception("redaction job for %s failed", rendition_id)

    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None:
        # The request that caused the jobs (an upload) names them in their log lines.
        request_id = logs.request_id()
        for media_id in media_ids:
            self._threads.submit(self._run_for, request_id, media_id)

    def _run_for(self, request_id: str | None, media_id: uuid.UUID) -> None:
        with logs.context(request_id=request_id):
            self._run(media_id)

    def recover(self) -> int:
        """Queue every pending photo, and those the previous run left half-done (this process
        is the only one running jobs, so every `processing` photo is orphaned)."""
        with unit_of_work() as session:
            pending = leases.release_stale(session=session, at=utcnow() + leases.lease() * 2)
            unfinished = redactions.active(session=session)
        self.enqueue(pending)
        # Redactions the previous run left: their parts' leases run out by the time a job takes
        # them (or are free already), so they resume where they were.
        self.enqueue_redactions(unfinished)
        return len(pending) + len(unfinished)

    def shutdown(self) -> None:
        """Stop at once: queued jobs are dropped (they stay pending and are queued again on the
        next start) and worker processes are terminated, not left to finish."""
        self._threads.shutdown(wait=False, cancel_futures=True)
        workers = list((getattr(self._processes, "_processes", None) or {}).values())
        self._processes.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            if process.is_alive():
                process.terminate()
