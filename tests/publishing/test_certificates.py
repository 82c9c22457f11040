"""Clearance certificates: Ed25519 JWTs that verify offline, and fail loudly when they should."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.config import ConfigError
from registry.db import utcnow
from registry.errors import Invalid
from registry.publishing import certificates

FILE = b"the exact published bytes"
CLAIMS = {
    "jti": "8c4bd0b6-5b0f-4c43-9d0e-3c3f1f6f0a11",
    "sub": f"urn:sha256:{hashlib.sha256(FILE).hexdigest()}",
    "channel": "public_social",
    "basis": {"consents": ["1d6c1b0e-0000-4000-8000-000000000001"], "event": None},
}


def _issue(**window: timedelta) -> str:
    now = utcnow() + window.get("shift", timedelta())
    return certificates.issue(
        claims=CLAIMS, issued=now, expires=now + window.get("valid", timedelta(days=1))
    )


def test_issued_certificate_verifies_against_own_key_and_published_jwks() -> None:
    token = _issue()
    assert certificates.verify(token)["channel"] == "public_social"
    assert certificates.verify(token, keys=certificates.jwks())["sub"] == CLAIMS["sub"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == certificates.jwks()["keys"][0]["kid"]


def _tamper(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["channel"] = "print"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


@pytest.mark.parametrize(
    ("token", "phrase"),
    [
        (lambda: _tamper(_issue()), "altered or forged"),
        (lambda: _issue(shift=timedelta(days=-3)), "expired"),
        (lambda: _issue(shift=timedelta(days=2)), "not valid yet"),
        (lambda: "not-a-jwt", "not a certificate"),
        (lambda: jwt.encode(CLAIMS, "k" * 32, algorithm="HS256"), "expected EdDSA"),
        (lambda: jwt.encode(CLAIMS, "", algorithm="none"), "expected EdDSA"),
    ],
    ids=["tampered", "expired", "not-yet-valid", "garbage", "hs256", "alg-none"],
)
def test_bad_certificates_are_rejected_with_the_reason(token, phrase: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid, match=phrase):
        certificates.verify(token())


def test_certificate_from_another_key_is_not_accepted() -> None:
    other = Ed25519PrivateKey.generate()
    now = utcnow()
    token = jwt.encode(
        {
            **CLAIMS,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(now.timestamp()) + 60,
        },
        other,
        algorithm="EdDSA",
        headers={"kid": "someone-else", "typ": certificates.TYPE},
    )
    with pytest.raises(Invalid, match="another key"):
        certificates.verify(token, keys=certificates.jwks())
    with pytest.raises(Invalid, match="altered or forged"):
        certificates.verify(token)


def test_signing_key_from_a_pem_file(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "signing.pem"
    path.write_text(pem)
    loaded = certificates._load(str(path), "unused")
    assert loaded.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    with pytest.raises(ConfigError):
        certificates._load(str(tmp_path / "missing.pem"), "unused")


def _verify_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registry", "verify", *args],
        env={**os.environ, "REGISTRY_VAR_DIR": str(tmp_path / "elsewhere")},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_registry_verify_offline_with_jwks_and_file(tmp_path: Path) -> None:
    cert, keys, good, wrong = (tmp_path / n for n in ("c.jwt", "jwks.json", "a.jpg", "b.jpg"))
    cert.write_text(_issue())
    keys.write_text(json.dumps(certificates.jwks()))
    good.write_bytes(FILE)
    wrong.write_bytes(FILE + b"!")

    ok = _verify_cli(str(cert), "--jwks", str(keys), "--file", str(good), tmp_path=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert '"channel": "public_social"' in ok.stdout
    assert "valid" in ok.stdout
    assert "revocation: not checked" in ok.stdout  # nobody answers at the issuer here

    other_file = _verify_cli(
        str(cert), "--jwks", str(keys), "--file", str(wrong), tmp_path=tmp_path
    )
    assert other_file.returncode == 1
    assert "not the file" in other_file.stderr

    cert.write_text(_tamper(cert.read_text()))
    forged = _verify_cli(str(cert), "--jwks", str(keys), tmp_path=tmp_path)
    assert forged.returncode == 1
    assert "forged" in forged.stderr
    assert "Traceback" not in forged.stderr

    no_keys = _verify_cli(str(cert), "--jwks", str(tmp_path / "none.json"), tmp_path=tmp_path)
    assert no_keys.returncode == 1
    assert "cannot read the key set" in no_keys.stderr
