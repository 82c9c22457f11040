"""With a broker configured, the web process sends clearance jobs to Redis and runs none."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from registry.config import get_settings
from registry.db import get_session
from registry.dispatch.broker import CLEAR, QUEUE, CeleryQueue
from registry.events.models import Event
from registry.main import create_app
from tests.s3 import S3

pytestmark = pytest.mark.worker


def test_uploads_become_messages_on_the_queue(
    broker: str,
    session: Session,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
) -> None:
    application = create_app(get_settings())

    def _session() -> Iterator[Session]:
        nested = session.begin_nested()
        yield session
        nested.commit()

    application.dependency_overrides[get_session] = _session
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 9, 7)).save(photo, format="PNG")
    with TestClient(application) as client:
        assert isinstance(application.state.jobs, CeleryQueue)  # no local pool started
        response = client.post(
            "/api/media",
            files=[("files", ("a.png", photo.getvalue(), "image/png"))],
            data={"event_id": str(make_event().id)},
            headers=comms_headers,
        )
        assert response.status_code == 202, response.text
        media_id = response.json()[0]["id"]
        assert response.json()[0]["status"] == "pending"
    messages = [json.loads(m) for m in redis.Redis.from_url(broker).lrange(QUEUE, 0, -1)]
    assert [(m["headers"]["task"], media_id in m["headers"]["argsrepr"]) for m in messages] == [
        (CLEAR, True)
    ]


def test_readiness_checks_the_broker_and_the_bucket(
    broker: str, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functools import partial

    from registry.health import check_ready

    readyz = partial(check_ready, public=False)
    ready = json.loads(bytes(readyz().body))
    assert ready["status"] == "ok"
    assert "broker reachable" in ready["detail"]
    assert "bucket reachable" in ready["detail"]

    monkeypatch.setenv("REGISTRY_STORAGE_URL", "s3://no-such-bucket-here/x")
    get_settings.cache_clear()
    missing = readyz()
    assert missing.status_code == 503
    assert "no-such-bucket-here" in json.loads(bytes(missing.body))["detail"]

    monkeypatch.setenv("REGISTRY_BROKER_URL", "redis://:secret@127.0.0.1:1/0")
    get_settings.cache_clear()
    down = readyz()
    assert down.status_code == 503
    detail = json.loads(bytes(down.body))["detail"]
    assert "cannot reach the broker" in detail
    assert "secret" not in detail
    # The public answer names no host, user or error.
    public = json.loads(bytes(check_ready().body))
    assert public == {"status": "unavailable", "detail": "the job broker is unreachable"}


def test_the_sweep_hands_lost_photos_to_the_queue_once(
    shared_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What beat (or serve's pool) runs every REGISTRY_SWEEP_SECONDS, on committed data."""
    from datetime import timedelta

    from registry.audit.service import CLI
    from registry.db import engine_for, unit_of_work
    from registry.media import service as media_service
    from registry.worker import periodic

    monkeypatch.setenv("REGISTRY_DATABASE_URL", shared_database)
    get_settings.cache_clear()
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (3, 9, 7)).save(photo, format="PNG")
    with unit_of_work(engine_for(shared_database)) as session:
        [(media, _)] = media_service.upload(
            session=session,
            actor=CLI,
            files=[media_service.Upload("lost.png", photo.getvalue())],
            event=None,
        )
        # Its message was lost: nobody took it for longer than the resend period.
        media.created_at -= timedelta(minutes=get_settings().pending_resend_minutes, seconds=1)
        session.add(media)

    class Recorder:
        def __init__(self) -> None:
            self.sent: list[object] = []

        def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None:
            self.sent.extend(media_ids)

        def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None:
            self.sent.extend(rendition_ids)

    queue = Recorder()
    assert periodic.sweep_once(queue) == 1
    assert periodic.sweep_once(queue) == 0  # not again within the resend period
    assert queue.sent == [media.id]
    monkeypatch.undo()
    get_settings.cache_clear()
