"""Item 15: retention deletes a stored file only when no other record shares it, renditions
included. The same photo uploaded to two events gives the same redacted copy (one file); when
the older upload is deleted, the newer one's copy stays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit.service import SYSTEM
from registry.db import utcnow
from registry.events.models import Event
from registry.media import service as media_service
from registry.media.models import Media, MediaStatus, Rendition
from registry.media.storage import get_storage
from registry.rights import retention
from tests.media.samples import png


def test_a_rendition_file_two_media_share_outlives_one_of_them(
    session: Session,
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
) -> None:
    now = utcnow()
    old = make_event(starts_at=now - timedelta(days=800), ends_at=now - timedelta(days=799))
    new = make_event(starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1))
    same = png((40, 90, 140))
    photos = []
    for event in (old, new):
        [(media, _)] = media_service.upload(
            session=session,
            actor=SYSTEM,
            files=[media_service.Upload("hall.png", same)],
            event=event,
        )
        media.status = MediaStatus.cleared  # no faces: as clearance would decide
        if event is old:  # uploaded long ago, never published: due for deletion
            media.created_at = now - timedelta(days=400)
        session.add(media)
        session.flush()
        photos.append(media.id)
        made = client.post(f"/api/media/{media.id}/redact", headers=comms_headers)
        assert made.status_code == 201, made.text
    keys = {r.sha256 for r in session.exec(select(Rendition)).all()}
    assert len(keys) == 1  # one file for both copies
    [key] = keys

    counts = retention.run(session=session)
    assert counts["unpublished_media"] == 1
    assert session.get(Media, photos[0]) is None
    retention.delete_pending_files(session)  # what the commit does (tests never commit)
    assert get_storage().exists(key, kind="renditions")
    kept = client.get(
        f"/api/media/{photos[1]}/renditions/{session.exec(select(Rendition.id)).one()}",
        headers=comms_headers,
    )
    assert kept.status_code == 200
