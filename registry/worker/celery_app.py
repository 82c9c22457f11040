"""Scale-out: the same jobs on Celery workers, with Redis as the broker.

Selected by `REGISTRY_BROKER_URL`. The web process only sends messages (`CeleryQueue`); `registry
worker` runs a Celery worker whose prefork children each load the face models once. Delivery is
at-least-once: tasks are acknowledged after they finish (`acks_late`), a task whose process dies
is requeued (`reject_on_worker_lost`), and the job itself is idempotent (a claimed photo with a
live lease is skipped; storing a result on a photo already decided changes nothing). What Redis
cannot redeliver (a whole worker killed, a message lost) the sweep finds: photos whose lease ran
out, or pending too long, are queued again. Beat (`registry worker --beat`, on one machine) runs
the sweep and the daily housekeeping.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from celery import Celery, signals

from registry.config import Settings, get_settings
from registry.worker import compute, jobs, periodic

logger = logging.getLogger("registry")

QUEUE = "registry"
CLEAR = "registry.clear_media"
SWEEP = "registry.sweep"
HOUSEKEEPING = "registry.housekeeping"
RETRY_DELAY = 5.0  # seconds before a crashed analysis is tried again


def make_app(settings: Settings) -> Celery:
    # Results are kept only for the interactive calls (compute.py), briefly, and read once.
    app = Celery(
        "registry", broker=settings.broker_url, backend=settings.broker_url, set_as_current=False
    )
    schedule: dict[str, dict[str, Any]] = {
        "sweep": {"task": SWEEP, "schedule": float(settings.sweep_seconds)},
    }
    if settings.housekeeping_hours:
        schedule["housekeeping"] = {
            "task": HOUSEKEEPING,
            "schedule": float(settings.housekeeping_hours * 3600),
        }
    app.conf.update(
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_expires=300,
        result_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A message not acknowledged within the lease goes back on the queue (a dead worker).
        broker_transport_options={"visibility_timeout": settings.job_lease_seconds},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
        timezone="UTC",
        beat_schedule=schedule,
    )
    app.task(name=CLEAR)(clear_task)
    app.task(name=SWEEP)(sweep_task)
    app.task(name=HOUSEKEEPING)(housekeeping_task)
    app.task(name=compute.REFERENCE_FACES, ignore_result=False)(compute.reference_faces_task)
    app.task(name=compute.ANALYSE, ignore_result=False)(compute.analyse_task)
    return app


@lru_cache
def _app_for(broker_url: str) -> Celery:
    return make_app(get_settings())


def get_app() -> Celery:
    """The process's Celery app for the configured broker."""
    return _app_for(get_settings().broker_url)


def send_clear(media_ids: Iterable[uuid.UUID], *, countdown: float | None = None) -> int:
    app, sent = get_app(), 0
    for media_id in media_ids:
        app.send_task(CLEAR, args=[str(media_id)], queue=QUEUE, countdown=countdown)
        sent += 1
    return sent


class CeleryQueue:
    """JobQueue for a web process when a broker is configured: send, never run."""

    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None:
        send_clear(media_ids)


def clear_task(media_id: str) -> None:
    if jobs.clear_and_check(uuid.UUID(media_id)):
        send_clear([uuid.UUID(media_id)], countdown=RETRY_DELAY)


def sweep_task() -> int:
    return periodic.sweep_once(CeleryQueue())


def housekeeping_task() -> None:
    periodic.run_once()


@signals.worker_process_init.connect
def _load_models(**_: Any) -> None:
    """Each prefork child loads the face models once, before its first job, and opens its own
    database connections (none may be shared across the fork)."""
    from registry.db import get_engine
    from registry.vision import faces

    get_engine().dispose(close=False)
    faces.load_models()
