"""GET /metrics: who may read it, and the figures a clearance and a gate decision move
(issue 28, item 1); request ids on every answer (item 2)."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from registry.config import get_settings
from registry.events.models import Event
from registry.media.models import MediaStatus


def _value(text: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus text (0 when it is not there)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        head, _, inner = metric.partition("{")
        found = ",".join(sorted(inner.rstrip("}").split(","))) if inner else ""
        if head == name and found == wanted:
            return float(value)
    return 0.0


def test_who_may_read_the_metrics(
    client: TestClient,
    admin_headers: dict[str, str],
    comms_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert client.get("/metrics").status_code == 401  # the test client is not on loopback
    assert client.get("/metrics", headers=comms_headers).status_code == 403
    answer = client.get("/metrics", headers=admin_headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    monkeypatch.setattr(get_settings(), "metrics_token", "scrape-token-0123456789abcdef")
    scraped = client.get(
        "/metrics", headers={"Authorization": "Bearer scrape-token-0123456789abcdef"}
    )
    assert scraped.status_code == 200
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401


def test_a_clearance_and_a_gate_decision_move_the_figures(
    session: Session,
    client: TestClient,
    admin_headers: dict[str, str],
    make_event: Callable[..., Event],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    before = client.get("/metrics", headers=admin_headers).text
    event = make_event(channels=["internal"])
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), (90, 120, 150)).save(photo, format="JPEG")
    [uploaded] = client.post(
        "/api/media",
        files={"files": ("room.jpg", photo.getvalue(), "image/jpeg")},
        data={"event_id": str(event.id)},
        headers=admin_headers,
    ).json()
    waiting = client.get("/metrics", headers=admin_headers).text
    pending = _value(before, "registry_clearance_jobs", state="pending", kind="photo")
    assert _value(waiting, "registry_clearance_jobs", state="pending", kind="photo") == pending + 1

    assert run_job(uuid.UUID(uploaded["id"])) == MediaStatus.cleared
    gate = client.get(
        f"/api/media/{uploaded['id']}/publishable?channel=internal", headers=admin_headers
    )
    assert gate.json()["allowed"] is True
    client.get(f"/api/media/{uploaded['id']}/publishable?channel=print", headers=admin_headers)
    after = client.get("/metrics", headers=admin_headers).text

    assert _value(after, "registry_clearance_jobs", state="pending", kind="photo") == pending
    cleared = _value(before, "registry_clearance_jobs", state="cleared", kind="photo")
    assert _value(after, "registry_clearance_jobs", state="cleared", kind="photo") == cleared + 1
    count = "registry_clearance_latency_seconds_count"
    assert _value(after, count, kind="photo") == _value(before, count, kind="photo") + 1
    assert _value(after, "registry_faces_per_photo_count") >= 1
    assert _value(after, "registry_analysis_stage_seconds_count", stage="detect") >= 1
    for result, channel in (("allowed", "internal"), ("refused", "print")):
        name = "registry_gate_decisions_total"
        labels = {"result": result, "channel": channel}
        assert _value(after, name, **labels) == _value(before, name, **labels) + 1
    route = "/api/media/{media_id}/publishable"
    requests = _value(
        after, "registry_http_requests_total", route=route, method="GET", status="200"
    )
    assert requests >= 2
    assert re.search(r"registry_outbox_messages\{state=\"queued\"\}", after)
    assert "registry_takedowns_open" in after


def test_every_answer_carries_a_request_id(client: TestClient) -> None:
    mine = client.get("/healthz", headers={"X-Request-ID": "trace-42.abc"})
    assert mine.headers["x-request-id"] == "trace-42.abc"
    made = client.get("/login")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    # A value that could smuggle text into logs is replaced, not echoed.
    odd = client.get("/healthz", headers={"X-Request-ID": "bad id\\nforged: line"})
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"])
    big = client.post(
        "/api/events", content=b"x" * 200_000, headers={"Content-Type": "application/json"}
    )
    assert big.status_code == 413
    assert big.headers["x-request-id"]
