"""Two jobs claiming the same work at the same moment, each in its own transaction on its own
connection as in production (no test rollback): exactly one gets it.

On PostgreSQL the claim locks the row it reads (SELECT ... FOR UPDATE). SQLite has no row locks
and pysqlite begins a transaction only at the first write, so both jobs used to read the part as
free and both took it; the second's finish then deleted the file the first had stored under the
same content address and the join failed ("The file is missing."). Each claim (a photo's
lease, a video's part, a redaction's part) now begins the write transaction first on SQLite
(`begin_write`)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.db import unit_of_work
from registry.media import leases, redactions
from registry.media import service as media_service
from registry.media.models import Media, MediaStatus
from tests.publishing.factories import jpeg_with_gps
from tests.video import compose_clip


@pytest.fixture
def committed(engine: Engine) -> Iterator[list[uuid.UUID]]:
    made: list[uuid.UUID] = []
    yield made
    # Other tests share this database inside rolled-back transactions: leave nothing behind.
    with engine.begin() as conn:
        for media_id in made:
            m = str(media_id) if conn.dialect.name == "postgresql" else media_id.hex
            for sql in (
                "DELETE FROM rendition_part WHERE rendition_id IN "
                "(SELECT id FROM rendition WHERE media_id = :m)",
                "DELETE FROM rendition WHERE media_id = :m",
                "DELETE FROM video_segment WHERE media_id = :m",
                "DELETE FROM media_face WHERE media_id = :m",
                "DELETE FROM media WHERE id = :m",
            ):
                conn.execute(text(sql), {"m": m})


def _upload(name: str, data: bytes, committed: list[uuid.UUID]) -> uuid.UUID:
    with unit_of_work() as session:
        [(media, _)] = media_service.upload(
            session=session, actor=SYSTEM, files=[media_service.Upload(name, data)], event=None
        )
        committed.append(media.id)
        return media.id


def _race(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> tuple[Any, Any]:
    """`first` claims and holds its transaction open for a moment; `second` claims meanwhile
    on another connection. Their results."""
    results: dict[str, Any] = {}
    errors: list[BaseException] = []
    began = threading.Event()

    def other() -> None:
        try:
            began.wait(10)
            with unit_of_work() as session:
                results["second"] = second(session)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    with unit_of_work() as session:
        results["first"] = first(session)
        began.set()
        time.sleep(0.6)  # the other job reads now, before this one commits
    thread.join(30)
    assert not thread.is_alive()
    assert not errors, errors
    return results["first"], results["second"]


def test_a_photo_claimed_by_two_jobs_at_once_goes_to_one(committed: list[uuid.UUID]) -> None:
    media_id = _upload("race.jpg", jpeg_with_gps(7), committed)

    def claim(session: Any) -> str | None:
        return leases.claim(session=session, media_id=media_id)

    first, second = _race(claim, claim)
    assert first is not None
    assert second is None
    with unit_of_work() as session:
        media = session.get(Media, media_id)
        assert media is not None
        assert (media.status, media.attempts) == (MediaStatus.processing, 1)


def test_a_redaction_part_claimed_by_two_jobs_at_once_goes_to_one(
    committed: list[uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "video_segment_seconds", 1.0)
    media_id = _upload("race.mp4", compose_clip([], seconds=3.0, audio=False), committed)
    with unit_of_work() as session:
        media = session.get(Media, media_id)
        assert media is not None
        media.status = MediaStatus.cleared
        session.add(media)
        rendition_id = redactions.start(session=session, actor=SYSTEM, media=media).id

    def claim(session: Any) -> int | None:
        step = redactions.claim(session=session, rendition_id=rendition_id)
        return None if step is None else step.number

    first, second = _race(claim, claim)
    assert (first, second) == (1, 2)
