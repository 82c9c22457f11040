from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.actors import SYSTEM
from registry.events.models import Event
from registry.media import service
from registry.media.models import MediaStatus
from tests.media.samples import png


def test_upload_returns_202_with_a_result_per_file(
    client: TestClient, comms_headers: dict[str, str], make_event: Callable[..., Event]
) -> None:
    event = make_event()
    files = [
        ("files", ("a.png", png((1, 2, 3)), "image/png")),
        ("files", ("b.txt", b"not a photo", "text/plain")),
        ("files", ("a-again.png", png((1, 2, 3)), "image/png")),
    ]
    response = client.post(
        "/api/media", files=files, data={"event_id": str(event.id)}, headers=comms_headers
    )
    assert response.status_code == 202, response.text
    first, bad, again = response.json()
    assert first["status"] == "pending"
    assert (bad["status"], "not an image" in bad["detail"]) == ("failed", True)
    assert (again["id"], again["duplicate"]) == (first["id"], True)
    listed = client.get(f"/api/media?event_id={event.id}&status=failed", headers=comms_headers)
    assert [m["id"] for m in listed.json()] == [bad["id"]]


def test_media_detail_after_clearance_and_face_review(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    session: Session,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    event = make_event()
    [(media, _)] = service.upload(
        session=session,
        actor=SYSTEM,
        files=[service.Upload("x.png", png((9, 9, 9)))],
        event=event,
    )
    assert run_job(media.id) == MediaStatus.cleared
    body = client.get(f"/api/media/{media.id}", headers=comms_headers).json()
    assert body["status"] == "cleared"
    assert body["faces"] == []
    assert body["renditions"] == []
    missing = client.post(
        f"/api/media/{media.id}/faces/1/review",
        json={"decision": "not_this_person"},
        headers=comms_headers,
    )
    assert missing.status_code == 404
    bad = client.post(
        f"/api/media/{media.id}/faces/1/review", json={"decision": "maybe"}, headers=comms_headers
    )
    assert bad.status_code == 422


def test_unknown_media_and_event(client: TestClient, comms_headers: dict[str, str]) -> None:
    assert client.get(f"/api/media/{uuid.uuid4()}", headers=comms_headers).status_code == 404
    response = client.post(
        "/api/media",
        files=[("files", ("a.png", png((5, 5, 5)), "image/png"))],
        data={"event_id": str(uuid.uuid4())},
        headers=comms_headers,
    )
    assert response.status_code == 404
    no_files = client.post("/api/media", headers=comms_headers)
    assert no_files.status_code == 422


def test_redact_before_clearance_is_409_and_after_gives_a_downloadable_rendition(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    session: Session,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    [(media, _)] = service.upload(
        session=session,
        actor=SYSTEM,
        files=[service.Upload("y.png", png((20, 40, 60)))],
        event=make_event(),
    )
    early = client.post(f"/api/media/{media.id}/redact", headers=comms_headers)
    assert early.status_code == 409
    run_job(media.id)
    made = client.post(f"/api/media/{media.id}/redact", headers=comms_headers)
    assert made.status_code == 201, made.text
    rendition = made.json()
    assert rendition["verified"] is True
    download = client.get(rendition["url"], headers=comms_headers)
    assert download.headers["content-type"] == "image/jpeg"
    assert download.content.startswith(b"\xff\xd8")
    detail = client.get(f"/api/media/{media.id}", headers=comms_headers).json()
    assert [r["id"] for r in detail["renditions"]] == [rendition["id"]]
    other = client.get(f"/api/media/{media.id}/renditions/{uuid.uuid4()}", headers=comms_headers)
    assert other.status_code == 404
