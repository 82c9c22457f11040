"""The broker's client side: queue and task names, the Celery app's configuration, and sending.

Only configuration is imported here, so any layer may send work (the web process, the CLI, the
sweep) without importing the tasks or the domains they touch. The tasks themselves are bound to
the app in `registry/worker/celery_app.py`, which only a worker (and the CLI that starts one)
imports.

Delivery is at-least-once: tasks are acknowledged after they finish (`acks_late`), a task whose
process dies is requeued (`reject_on_worker_lost`), and the job itself is idempotent.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeout

from registry import crypto, logs
from registry.config import Settings, get_settings
from registry.errors import Unavailable

QUEUE = "registry"
INTERACTIVE = "registry.interactive"  # requests waiting on an answer go first
RETRY = "registry.retry"  # photos a dead worker held: ahead of the backlog
QUEUES = (INTERACTIVE, RETRY, QUEUE)  # what a worker consumes, in this order
CLEAR = "registry.clear_media"
SWEEP = "registry.sweep"
HOUSEKEEPING = "registry.housekeeping"
CHECKPOINT = "registry.audit_checkpoint"
REFERENCE_FACES = "registry.reference_faces"
ANALYSE = "registry.analyse"
SCAN = "registry.scan_video"
REDACT = "registry.redact_video"
WAIT_SECONDS = 30.0


def make_app(settings: Settings) -> Celery:
    """A Celery app for the configured broker (no tasks bound: see `worker/celery_app.py`)."""
    # Results are kept only for the interactive calls, briefly, and read once.
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
    if settings.checkpoint_minutes:
        schedule["audit-checkpoint"] = {
            "task": CHECKPOINT,
            "schedule": float(settings.checkpoint_minutes * 60),
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
        # Dead workers are found by the lease and the sweep (seconds); Redis's own redelivery of
        # unacknowledged messages is only a backstop, slower than any job.
        broker_transport_options={"visibility_timeout": settings.broker_visibility_seconds},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
        timezone="UTC",
        beat_schedule=schedule,
    )
    return app


@lru_cache
def _app_for(broker_url: str) -> Celery:
    return make_app(get_settings())


def get_app() -> Celery:
    """The process's Celery app for the configured broker."""
    return _app_for(get_settings().broker_url)


def send_clear(
    media_ids: Iterable[uuid.UUID], *, countdown: float | None = None, retry: bool = False
) -> int:
    """Queue a clearance job per photo (`retry`: on the queue workers take before the backlog,
    for photos a dead worker held); how many were sent."""
    app, sent = get_app(), 0
    # The request that caused the job (an upload) names it: the job's log lines carry its id.
    request_id = logs.request_id()
    for media_id in media_ids:
        app.send_task(
            CLEAR,
            args=[str(media_id)],
            kwargs={"request_id": request_id} if request_id else {},
            queue=RETRY if retry else QUEUE,
            countdown=countdown,
        )
        sent += 1
    return sent


def send_redact(rendition_ids: Iterable[uuid.UUID], *, retry: bool = False) -> int:
    """Queue a job of each video redaction (it takes parts until none is left)."""
    app, sent = get_app(), 0
    request_id = logs.request_id()
    for rendition_id in rendition_ids:
        app.send_task(
            REDACT,
            args=[str(rendition_id)],
            kwargs={"request_id": request_id} if request_id else {},
            queue=RETRY if retry else QUEUE,
        )
        sent += 1
    return sent


class CeleryQueue:
    """JobQueue for a web process when a broker is configured: send, never run."""

    def __init__(self, *, retry: bool = False) -> None:
        self.retry = retry

    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None:
        send_clear(media_ids, retry=self.retry)

    def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None:
        send_redact(rendition_ids, retry=self.retry)


def seal(value: bytes, label: str) -> str:
    """Bytes as they travel through Redis: encrypted with the biometric key (AES-GCM), bound to
    this job, base64. Selfies and face encodings never rest in Redis readable."""
    return base64.b64encode(crypto.encrypt(value, bound_to=f"job:{label}")).decode()


def unseal(value: str, label: str) -> bytes:
    return crypto.decrypt(base64.b64decode(value), bound_to=f"job:{label}")


def open_job(sealed: str, label: str, deadline: float) -> bytes | None:
    """On the worker: the job's bytes, or None when the caller stopped waiting (do nothing,
    store nothing)."""
    if time.time() > deadline:
        return None
    return unseal(sealed, label)


def seal_answer(answer: Any, label: str) -> str:
    return seal(json.dumps(answer).encode(), f"{label}:answer")


def call(task: str, data: bytes) -> Any:
    """Run an interactive task on a worker and wait for its answer (at most WAIT_SECONDS).
    Both ways the payload is sealed with the biometric key; the answer is deleted from the
    result store once read; a job whose caller gave up is revoked, and a worker that still gets
    it does nothing."""
    [answer] = call_many(task, [data], wait=WAIT_SECONDS)
    return answer


def call_many(task: str, payloads: list[bytes], *, wait: float) -> list[Any]:
    """`call` for several payloads at once (run by as many workers as are free), waiting at
    most `wait` seconds for all of them; their answers in order."""
    deadline = time.time() + wait
    sent = []
    for data in payloads:
        label = uuid.uuid4().hex
        pending = get_app().send_task(
            task, args=[seal(data, label), label, deadline], queue=INTERACTIVE, ignore_result=False
        )
        sent.append((label, pending))
    answers: list[Any] = []
    try:
        for label, pending in sent:
            try:
                sealed = pending.get(timeout=max(0.1, deadline - time.time()), propagate=True)
            except CeleryTimeout:
                raise Unavailable(
                    "Face matching is busy at the moment. Please try again in a minute."
                ) from None
            answers.append(json.loads(unseal(sealed, f"{label}:answer")))
    finally:
        for _label, pending in sent:
            if not pending.ready():
                pending.revoke()
            pending.forget()
    return answers
