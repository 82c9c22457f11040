"""The Celery worker's side: the task functions, bound to the broker's app (`worker_app`).

Selected by `REGISTRY_BROKER_URL`. `registry worker` runs a Celery worker whose prefork children
each load the face models once. What Redis cannot redeliver (a whole worker killed, a message
lost) the sweep finds: photos whose lease ran out, or pending too long, are queued again. Beat
(`registry worker --beat`, on one machine) runs the sweep and the daily housekeeping.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from celery import Celery, signals

from registry import logs, metrics, reactions
from registry.config import get_settings
from registry.db import get_engine
from registry.dispatch import broker, compute
from registry.lifetime import die_with_parent
from registry.media.storage import get_storage
from registry.vision import analysis, faces
from registry.worker import jobs, periodic

logger = logging.getLogger("registry")

RETRY_DELAY = 5.0  # seconds before a crashed analysis is tried again


def clear_task(media_id: str, request_id: str | None = None) -> None:
    key = uuid.UUID(media_id)

    def share(more: int) -> None:  # a video's other parts: for other workers to take
        broker.send_clear([key] * more)

    with logs.context(request_id=request_id):
        if jobs.clear_and_check(key, fan_out=share):
            broker.send_clear([key], countdown=RETRY_DELAY, retry=True)


def redact_task(rendition_id: str, request_id: str | None = None) -> None:
    key = uuid.UUID(rendition_id)

    def share(more: int) -> None:  # the other parts: for other workers to take
        broker.send_redact([key] * more)

    with logs.context(request_id=request_id):
        # Checked here (the worker has the models loaded): a task never waits on other tasks.
        jobs.redact(key, fan_out=share, scan=compute.scan_here, check=analysis.analyse)


def scan_task(sealed: str, label: str, deadline: float) -> str | None:
    """Part of a redacted video's check: the copy is read from storage by its key."""
    storage = get_storage()
    return compute.scan_task(
        sealed, label, deadline, lambda key: storage.local_copy(key, kind="renditions")
    )


def sweep_task() -> int:
    return periodic.sweep_once(broker.CeleryQueue(retry=True))


def housekeeping_task() -> None:
    periodic.run_once()


def checkpoint_task() -> None:
    periodic.checkpoint_once()


def worker_app() -> Celery:
    """The broker's app with every task bound (what `registry worker` runs)."""
    reactions.wire()
    app = broker.get_app()
    if broker.CLEAR not in app.tasks:
        app.task(name=broker.CLEAR)(clear_task)
        app.task(name=broker.SWEEP)(sweep_task)
        app.task(name=broker.HOUSEKEEPING)(housekeeping_task)
        app.task(name=broker.CHECKPOINT)(checkpoint_task)
        app.task(name=broker.REFERENCE_FACES, ignore_result=False)(compute.reference_faces_task)
        app.task(name=broker.ANALYSE, ignore_result=False)(compute.analyse_task)
        app.task(name=broker.SCAN, ignore_result=False)(scan_task)
        app.task(name=broker.REDACT)(redact_task)
    return app


def _logging(**_: Any) -> None:
    """The service's log format (text, or one JSON object a line) instead of Celery's own."""
    settings = get_settings()
    logs.configure(level=settings.log_level, fmt=settings.log_format)


def _preload_models(**_: Any) -> None:
    """The worker loads the face models once, before it forks its children: each child starts
    with them in memory (shared copy-on-write), so no job, and no child restarted after a
    crash, waits for a model load."""
    faces.load_models()


def _child_started(**_: Any) -> None:
    """A prefork child ends with its worker (even when that is killed with -9) and opens its
    own database connections (none may cross the fork)."""
    die_with_parent()
    get_engine().dispose(close=False)
    faces.load_models()  # inherited from the parent: returns at once
    metrics.get().worker_processes.inc()  # a live gauge: this process's 1 goes when it ends


def _child_ended(pid: int | None = None, **_: Any) -> None:
    metrics.mark_process_dead(pid or os.getpid())


# Celery's signals, connected by call (its decorators are untyped).
signals.setup_logging.connect(_logging)
signals.worker_init.connect(_preload_models)
signals.worker_process_init.connect(_child_started)
signals.worker_process_shutdown.connect(_child_ended)
