"""The one job interface: whatever runs clearance jobs, callers hand it photo ids (and the ids
of redactions to make).

`LocalPool` (pool.py) runs them in worker processes inside `registry serve`; `CeleryQueue`
(celery_app.py) sends them to Celery workers when a broker is configured.

Services queue work with the unit of work that made it (`redact_after_commit`): it is sent once
that commits, and dropped if it rolls back, so no job ever looks for a row that is not there
yet (or never will be). What the process sends through is set by whoever runs it (`use`: the
web app's pool); without one, a broker's queue when one is configured, else nothing, and the
sweep takes up what waits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from registry.config import get_settings
from registry.worker import broker

logger = logging.getLogger("registry")


class JobQueue(Protocol):
    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None: ...

    def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None: ...


class PendingOnly:
    """No engine in this process: photos stay pending until one picks them up (the sweep)."""

    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None:
        return None

    def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None:
        return None


_engine: JobQueue | None = None


def use(queue: JobQueue | None) -> None:
    """Send this process's jobs through `queue` (None: back to the default)."""
    global _engine
    _engine = queue


def current() -> JobQueue:
    """Where this process sends jobs: the engine set by `use`, else the broker's queue when one
    is configured, else nowhere (the sweep finds the work)."""
    if _engine is not None:
        return _engine
    return broker.CeleryQueue() if get_settings().broker_url else PendingOnly()


_REDACTIONS = "registry.queue.redactions"


def redact_after_commit(session: OrmSession, rendition_ids: Iterable[uuid.UUID]) -> None:
    """Queue these redactions' jobs once this unit of work commits (dropped on rollback)."""
    session.info.setdefault(_REDACTIONS, []).extend(rendition_ids)


def _send(session: OrmSession) -> None:
    ids = session.info.pop(_REDACTIONS, None)
    if not ids:
        return
    try:
        current().enqueue_redactions(ids)
    except Exception:  # the commit stands; the sweep queues what waits
        logger.exception("queueing %d redaction(s) failed; the sweep will", len(ids))


def _drop(session: OrmSession) -> None:
    session.info.pop(_REDACTIONS, None)


if not event.contains(OrmSession, "after_commit", _send):
    event.listen(OrmSession, "after_commit", _send)
    event.listen(OrmSession, "after_rollback", _drop)
