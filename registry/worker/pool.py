"""The embedded default: clearance jobs in a pool of worker processes inside `registry serve`.

dlib is not thread-safe, so analysis runs in processes (forkserver: a clean interpreter, one
model load per process); a few threads in the web process claim photos, hand their bytes to the
pool and store the results. On start, photos left `processing` by a previous run go back to
`pending` and are queued again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from registry.db import unit_of_work, utcnow
from registry.media import clearance
from registry.vision import analysis, faces
from registry.worker import jobs

logger = logging.getLogger("registry")


class LocalPool:
    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._lock = threading.Lock()
        self._processes = self._new_processes()
        self._threads = ThreadPoolExecutor(
            max_workers=self.workers * 2, thread_name_prefix="clearance"
        )

    def _new_processes(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=faces.load_models,
        )

    def analyse(self, data: bytes) -> analysis.Analysis:
        try:
            return self._processes.submit(jobs.analyse_bytes, data).result()
        except BrokenProcessPool:
            # A worker died (out of memory, killed): start a fresh pool; the job is retried.
            with self._lock:
                self._processes.shutdown(wait=False, cancel_futures=True)
                self._processes = self._new_processes()
            raise

    def _run(self, media_id: uuid.UUID) -> None:
        try:
            if jobs.clear_and_check(media_id, analyse=self.analyse):
                self.enqueue([media_id])  # a retry after a crash: queue it once more
        except Exception:
            logger.exception("clearance job for %s failed", media_id)

    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None:
        for media_id in media_ids:
            self._threads.submit(self._run, media_id)

    def recover(self) -> int:
        """Queue every pending photo, and those the previous run left half-done (this process
        is the only one running jobs, so every `processing` photo is orphaned)."""
        with unit_of_work() as session:
            pending = clearance.release_stale(session=session, at=utcnow() + clearance.lease() * 2)
        self.enqueue(pending)
        return len(pending)

    def shutdown(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._processes.shutdown(wait=False, cancel_futures=True)
