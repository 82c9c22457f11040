from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image

from registry.db import utcnow

BODY: dict[str, Any] = {
    "subject_name": "Robin Patient",
    "subject_email": "robin@example.org",
    "purpose": "Case study of shoulder rehabilitation for members.",
    "description": "Two photos of Robin's shoulder exercises.",
    "channels": ["closed_network"],
    "media_ids": [],
}

# Every mandatory element of ISO/IEC TS 27560 the issue lists, as the receipt names it.
MANDATORY_TOP = [
    "schema_version",
    "record_id",
    "pii_principal_id",
    "privacy_notice",
    "language",
    "purposes",
    "pii_controllers",
    "jurisdiction",
    "parties",
    "event",
]
MANDATORY_PURPOSE = [
    "purpose",
    "pii_information",
    "pii_controllers",
    "storage_locations",
    "retention_period",
    "jurisdiction",
    "recipient_third_parties",
    "withdrawal_method",
]
MANDATORY_EVENT = ["event_time", "validity_duration", "entity", "event_type", "event_state"]


def create(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/consent-requests", json={**BODY, **overrides}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def decide(client: TestClient, link: str, decision: str) -> None:
    from tests.auth.factories import csrf_from

    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get(f"/{path}")
    assert page.status_code == 200, page.text
    response = client.post(
        f"/{path}",
        data={"decision": decision, "notice_version": "1", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_create_returns_a_pending_request_with_link_and_qr(
    client: TestClient, comms_headers: dict[str, str]
) -> None:
    created = create(client, comms_headers)
    assert created["status"] == "pending"
    assert "/c/" in created["link"]
    assert created["id"] not in created["link"]
    qr = client.get(created["qr_url"].split("8000", 1)[-1], headers=comms_headers)
    assert qr.status_code == 200
    assert qr.headers["content-type"] == "image/png"
    [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.content)))
    assert decoded.text == created["link"]


def upload_png(client: TestClient, headers: dict[str, str], shade: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (shade, 100, 150)).save(out, format="PNG")
    response = client.post(
        "/api/media", files=[("files", ("case.png", out.getvalue(), "image/png"))], headers=headers
    )
    return str(response.json()[0]["id"])


def test_get_shows_status_channels_and_history(
    client: TestClient, comms_headers: dict[str, str]
) -> None:
    created = create(client, comms_headers, media_ids=[upload_png(client, comms_headers, 1)])
    decide(client, created["link"], "grant")
    body = client.get(f"/api/consent-requests/{created['id']}", headers=comms_headers).json()
    assert body["status"] == "granted"
    assert body["channels"] == ["closed_network"]
    assert len(body["media_ids"]) == 1
    assert [h["action"] for h in body["history"]] == ["requested", "viewed", "granted"]
    assert all({"action", "at", "notice_version"} <= h.keys() for h in body["history"])


def test_list_filters_by_status_and_expiry_window(
    client: TestClient, comms_headers: dict[str, str]
) -> None:
    soon = (utcnow() + timedelta(days=5)).isoformat()
    granted = create(client, comms_headers, expires_at=soon)
    pending = create(client, comms_headers)
    decide(client, granted["link"], "grant")

    def ids(query: str) -> set[str]:
        response = client.get(f"/api/consent-requests?{query}", headers=comms_headers)
        assert response.status_code == 200
        return {r["id"] for r in response.json()}

    assert granted["id"] in ids("status=granted")
    assert pending["id"] not in ids("status=granted")
    assert pending["id"] in ids("status=pending")
    assert granted["id"] in ids("expiring_within_days=30")
    assert client.get("/api/consent-requests?status=nope", headers=comms_headers).status_code == 422


def test_receipt_carries_every_mandatory_27560_field(
    client: TestClient, comms_headers: dict[str, str]
) -> None:
    created = create(client, comms_headers, guardian_name="Pat Parent", guardian_relation="parent")
    decide(client, created["link"], "grant")
    decide(client, created["link"], "revoke")
    receipt = client.get(
        f"/api/consent-requests/{created['id']}/receipt", headers=comms_headers
    ).json()
    for field in MANDATORY_TOP:
        assert receipt.get(field), field
    assert receipt["schema_version"] == "ISO/IEC TS 27560:2023"
    assert receipt["record_id"] == f"urn:uuid:{created['id']}"
    assert "Robin" not in receipt["pii_principal_id"]
    purpose = receipt["purposes"][0]
    for field in MANDATORY_PURPOSE:
        assert purpose.get(field), field
    assert [e["event_state"] for e in receipt["event"]][-1] == "withdrawn"
    for event in receipt["event"]:
        assert set(MANDATORY_EVENT) <= event.keys()
    granted = next(e for e in receipt["event"] if e["event_state"] == "given")
    assert granted["validity_duration"] == "until withdrawn"
    assert "on behalf" in granted["entity"]
    assert {p["party_type"] for p in receipt["parties"]} == {
        "pii_principal",
        "pii_controller",
        "guardian",
    }
    assert receipt["pii_controllers"][0]["pii_controller"]
    assert receipt["status"] == "revoked"


def test_reissue_link_stops_the_old_one(client: TestClient, comms_headers: dict[str, str]) -> None:
    created = create(client, comms_headers)
    fresh = client.post(f"/api/consent-requests/{created['id']}/link", headers=comms_headers)
    assert fresh.status_code == 200
    assert fresh.json()["link"] != created["link"]
    old_path = created["link"].split("8000", 1)[-1]
    assert client.get(old_path).status_code == 404


def test_staff_recorded_withdrawal(client: TestClient, comms_headers: dict[str, str]) -> None:
    created = create(client, comms_headers)
    decide(client, created["link"], "grant")
    response = client.post(
        f"/api/consent-requests/{created['id']}/revoke",
        json={"note": "Phoned the clinic"},
        headers=comms_headers,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert response.json()["history"][-1]["actor_role"] == "staff"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channels": ["billboard"]}, "channels"),
        ({"channels": []}, "channels"),
        ({"subject_name": ""}, "subject_name"),
        ({"subject_email": "not-an-email"}, "subject_email"),
        ({"media_ids": ["nope"]}, "media_ids.0"),
        ({"media_ids": ["7a1f0c9e-4b7e-4c39-9d3a-2f4f3f0e9b11"]}, "media_ids"),
        ({"expires_at": "2020-01-01T00:00:00+00:00"}, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ],
)
def test_malformed_input_gets_422_with_field_errors(
    client: TestClient, comms_headers: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    before = client.get("/api/consent-requests", headers=comms_headers).json()
    response = client.post(
        "/api/consent-requests", json={**BODY, **overrides}, headers=comms_headers
    )
    assert response.status_code == 422, response.text
    body = response.json()
    fields = [e["field"] for e in body.get("errors", [])] + [body.get("field")]
    assert any(f and f.endswith(field) for f in fields), body
    assert client.get("/api/consent-requests", headers=comms_headers).json() == before


def test_unknown_ids_are_404(client: TestClient, comms_headers: dict[str, str]) -> None:
    for path in ("", "/receipt", "/qr.png"):
        response = client.get(f"/api/consent-requests/{uuid.uuid4()}{path}", headers=comms_headers)
        assert response.status_code == 404
        assert response.json()["detail"]
    assert client.get("/api/consent-requests/42", headers=comms_headers).status_code == 422


def test_only_admins_edit_the_notice(
    client: TestClient, comms_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    text = "A new version of the notice that is long enough to be accepted."
    refused = client.put("/api/consent-notice", json={"text": text}, headers=comms_headers)
    assert refused.status_code == 403
    saved = client.put("/api/consent-notice", json={"text": text}, headers=admin_headers)
    assert saved.status_code == 200
    assert saved.json()["version"] >= 2
    current = client.get("/api/consent-notice", headers=comms_headers).json()
    assert current["text"] == text


def test_patient_sees_thumbnails_of_the_covered_media_only(
    client: TestClient, comms_headers: dict[str, str]
) -> None:
    covered = upload_png(client, comms_headers, 2)
    other = upload_png(client, comms_headers, 3)
    created = create(client, comms_headers, media_ids=[covered])
    path = "/" + created["link"].split("://", 1)[1].split("/", 1)[1]
    page = client.get(path)
    assert f"{path}/media/{covered}" in page.text
    thumb = client.get(f"{path}/media/{covered}")
    assert thumb.headers["content-type"] == "image/jpeg"
    assert client.get(f"{path}/media/{other}").status_code == 404
