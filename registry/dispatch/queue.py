"""The one job interface, and the one way services queue jobs: with the unit of work that made
the rows they work on.

`clear_after_commit` (photos and videos to clear) and `redact_after_commit` (redacted copies to
make) hold the ids on the session; they are sent once it commits and dropped if it rolls back,
so no job ever looks for a row that is not there yet (or never will be), and a route's answer
never waits for them. What this process sends through is set by whoever runs it (`use`: the
web app's pool); without one, a broker's queue when one is configured, else nothing, and the
sweep takes up what waits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from registry.config import get_settings
from registry.dispatch import broker

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


@dataclass
class _Waiting:
    """Jobs a unit of work queued, each id once, in the order queued."""

    clear: dict[uuid.UUID, None] = field(default_factory=dict)
    redact: dict[uuid.UUID, None] = field(default_factory=dict)


_WAITING = "registry.jobs_after_commit"


def _waiting(session: OrmSession) -> _Waiting:
    waiting: _Waiting = session.info.setdefault(_WAITING, _Waiting())
    return waiting


def clear_after_commit(session: OrmSession, media_ids: Iterable[uuid.UUID]) -> None:
    """Queue these media's clearance once this unit of work commits (dropped on rollback)."""
    _waiting(session).clear.update(dict.fromkeys(media_ids))


def redact_after_commit(session: OrmSession, rendition_ids: Iterable[uuid.UUID]) -> None:
    """Queue these redactions' jobs once this unit of work commits (dropped on rollback)."""
    _waiting(session).redact.update(dict.fromkeys(rendition_ids))


def _send(session: OrmSession) -> None:
    waiting: _Waiting | None = session.info.pop(_WAITING, None)
    if waiting is None:
        return
    queue = current()
    jobs: list[tuple[str, list[uuid.UUID], Callable[[Iterable[uuid.UUID]], None]]] = [
        ("clearance", list(waiting.clear), queue.enqueue),
        ("redaction", list(waiting.redact), queue.enqueue_redactions),
    ]
    for kind, ids, send in jobs:
        if not ids:
            continue
        try:
            send(ids)
        except Exception:  # the commit stands; the sweep queues what waits
            logger.exception("queueing %d %s job(s) failed; the sweep will", len(ids), kind)


def _drop(session: OrmSession) -> None:
    session.info.pop(_WAITING, None)


if not event.contains(OrmSession, "after_commit", _send):
    event.listen(OrmSession, "after_commit", _send)
    event.listen(OrmSession, "after_rollback", _drop)
