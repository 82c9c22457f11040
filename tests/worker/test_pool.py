"""The embedded pool's worker processes (real ones, from the fork server with the models): a
worker that dies fails the one job it had, and the next job runs on a fresh pool, so a redaction
part or an analysis that saw the death is tried again rather than failing until a restart."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from registry.worker.pool import LocalPool


def _die() -> None:
    os._exit(9)  # as a worker killed by the OOM killer


def test_a_worker_that_dies_fails_its_job_and_the_next_runs_on_a_fresh_pool() -> None:
    pool = LocalPool(1)
    try:
        first = pool.submit(os.getpid).result(timeout=120)
        with pytest.raises(BrokenProcessPool):
            pool.submit(_die).result(timeout=120)
        again = pool.submit(os.getpid).result(timeout=120)
        assert again != first  # a new process
        assert pool.alive() == 1
    finally:
        pool.shutdown()
