"""The one job interface: whatever runs clearance jobs, callers hand it photo ids (and the ids
of video redactions to make).

`LocalPool` (pool.py) runs them in worker processes inside `registry serve`; `CeleryQueue`
(celery_app.py) sends them to Celery workers when a broker is configured.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol


class JobQueue(Protocol):
    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None: ...

    def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None: ...


class PendingOnly:
    """No engine in this process: photos stay pending until one picks them up (the sweep)."""

    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None:
        return None

    def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None:
        return None
