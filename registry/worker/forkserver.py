"""The embedded pool's fork server, kept light to import: `registry serve` starts it first
(`registry.launch`), so it loads the face models and the job code on one core while the web
app imports on the other. Every worker process is forked from it with both already in memory
(shared copy-on-write) and starts at once, instead of importing them itself."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver

# Imported by the fork server before it forks any worker: the models, then what a job runs.
PRELOAD = ["registry.vision.preload", "registry.worker.pool"]


def context() -> multiprocessing.context.BaseContext:
    found = multiprocessing.get_context("forkserver")
    found.set_forkserver_preload(PRELOAD)
    return found


def start() -> None:
    """Start the fork server now (it loads in the background; a second call does nothing)."""
    context()
    multiprocessing.forkserver.ensure_running()
