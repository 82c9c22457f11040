"""A hook every domain calls when the basis for publishing some media may have gone.

Consent decisions, opt-outs, re-clearance and reviews call `changed()` in their own transaction;
publishing then marks affected publications for takedown and queues a note to staff. Publishing
depends on every other domain, so it is imported here, late, rather than by them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlmodel import Session


def changed(
    *,
    session: Session,
    media_ids: Iterable[uuid.UUID] | None = None,
    event_id: uuid.UUID | None = None,
) -> None:
    from registry.publishing import service

    service.notice_takedowns(session=session, media_ids=media_ids, event_id=event_id)
