"""Item 11: a revoked certificate is not "valid". The API's check asks whether it was revoked;
the revocation list has its own type and is refused as a certificate (by the API and by
`registry verify`); and a 4xx answer from the issuer's status check is a failure, not "not
checked"."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from registry.config import get_settings
from registry.db import utcnow
from registry.publishing import certificates
from tests.live import SECRET, Live, new_event


def _plain_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 140, 160)).save(out, format="JPEG")
    return out.getvalue()


def _verify(live: Live, token: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{uuid.uuid4().hex}.jwt"
    path.write_text(token)
    return subprocess.run(
        [sys.executable, "-m", "registry", "verify", str(path)],
        env=live.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_revoked_certificates_and_the_revocation_list_are_not_valid(
    live: Live, tmp_path: Path
) -> None:
    with live.client("admin") as api:
        event = new_event(api, channels=["internal"])
        [uploaded] = api.post(
            "/api/media",
            files={"files": ("empty-room.jpg", _plain_photo(), "image/jpeg")},
            data={"event_id": event["id"]},
        ).json()
        deadline = time.monotonic() + 120
        while api.get(f"/api/media/{uploaded['id']}").json()["status"] != "cleared":
            assert time.monotonic() < deadline, "the photo was not cleared"
            time.sleep(0.5)
        published = api.post(
            f"/api/media/{uploaded['id']}/publications",
            json={"channel": "internal", "url": "https://intranet.example/empty-room"},
        )
        assert published.status_code == 201, published.text
        certificate = published.json()["certificate"]
        check = api.post("/api/certificates/verify", json={"certificate": certificate}).json()
        assert check["valid"] is True
        assert _verify(live, certificate, tmp_path).returncode == 0

        api.post(
            f"/api/publications/{published.json()['id']}/takedown", json={"note": "removed"}
        ).raise_for_status()
        check = api.post("/api/certificates/verify", json={"certificate": certificate}).json()
        assert check["valid"] is False
        assert check["revoked"]["reason"] == "taken_down"
        assert "Revoked" in check["reason"]
        assert _verify(live, certificate, tmp_path).returncode != 0

        crl = api.get("/.well-known/revoked-certificates").text
        check = api.post("/api/certificates/verify", json={"certificate": crl}).json()
        assert check["valid"] is False
        assert "not a clearance certificate" in check["reason"]
    answer = _verify(live, crl, tmp_path)
    assert answer.returncode != 0
    assert "not a clearance certificate" in answer.stdout + answer.stderr


def test_a_certificate_the_issuer_does_not_know_fails(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed with the issuer's key but naming no publication of it: its status check answers
    404, which must fail the check (it was "revocation: not checked")."""
    settings = get_settings()
    monkeypatch.setattr(settings, "secret_key", SECRET)
    monkeypatch.setattr(settings, "signing_key", "")
    monkeypatch.setattr(settings, "base_url", live.url)
    now = utcnow()
    token = certificates.issue(
        claims={"jti": str(uuid.uuid4()), "sub": "urn:sha256:" + "0" * 64, "channel": "internal"},
        issued=now,
        expires=now + timedelta(days=1),
    )
    answer = _verify(live, token, tmp_path)
    assert answer.returncode != 0
    assert "does not know this certificate" in answer.stdout + answer.stderr
    with live.client("admin") as api:
        check = api.post("/api/certificates/verify", json={"certificate": token}).json()
        assert check["valid"] is False
