"""Structured logs (issue 28, item 2): with REGISTRY_LOG_FORMAT=json a real server writes one
JSON object a line, each request's with its id, route template, status and duration, and the
clearance job an upload started carries that upload's request id. No token, name or address
is in any line."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.live import Live, live_server, new_event


@pytest.fixture(scope="module")
def json_logging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(
        tmp_path_factory.mktemp("json-logs"),
        "jsonlogs",
        mail=False,
        REGISTRY_LOG_FORMAT="json",
        REGISTRY_LOG_LEVEL="info",
    ) as server:
        yield server


def _lines(log: Path) -> list[dict[str, object]]:
    out = []
    for raw in log.read_text().splitlines():
        if not raw.startswith("{"):
            continue  # what the CLI printed before the server took over its log
        out.append(json.loads(raw))
    return out


def test_json_lines_carry_request_ids_routes_and_jobs(json_logging: Live) -> None:
    live = json_logging
    with live.client() as anyone:
        assert anyone.get("/healthz", headers={"X-Request-ID": "probe-1"}).status_code == 200
        forged = "0" * 33 + ".forgedtokenvalue"
        assert anyone.get(f"/b/{forged}").status_code == 404
    photo = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 120, 150)).save(photo, format="JPEG")
    with live.client("admin") as staff:
        event = new_event(staff, name="Logged day")
        [uploaded] = staff.post(
            "/api/media",
            files={"files": ("room.jpg", photo.getvalue(), "image/jpeg")},
            data={"event_id": event["id"]},
            headers={"X-Request-ID": "upload-7"},
        ).json()
        deadline = time.monotonic() + 120
        while staff.get(f"/api/media/{uploaded['id']}").json()["status"] != "cleared":
            assert time.monotonic() < deadline
            time.sleep(0.3)
    deadline = time.monotonic() + 30  # the job logs its last line after the status changes
    while not any(
        x.get("request_id") == "upload-7" and x.get("media_id") for x in _lines(live.log)
    ):
        assert time.monotonic() < deadline, "the job's lines never reached the log"
        time.sleep(0.1)
    lines = _lines(live.log)
    assert len(lines) > 5
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)
    [probe] = [x for x in lines if x.get("request_id") == "probe-1" and x.get("route")]
    assert (probe["route"], probe["method"], probe["status"]) == ("/healthz", "GET", 200)
    assert isinstance(probe["duration_ms"], float)
    linked = [x for x in lines if x.get("route") == "/b/{token}"]
    assert linked
    assert linked[0]["status"] == 404
    job = [x for x in lines if x.get("request_id") == "upload-7" and x.get("media_id")]
    assert job, "the job the upload started logs with the upload's request id"
    assert job[0]["media_id"] == uploaded["id"]
    assert job[0]["job_id"]
    text = live.log.read_text()
    assert "forgedtokenvalue" not in text
    assert "sec-admin@example.org" not in text
