"""Clearance certificates: Ed25519-signed JWTs a downstream tool can verify offline.

A certificate names the exact file (sha256 of the published rendition), the channel and the
basis (consent ids or the event's filming notice) and is valid for a short window, never past
the earliest expiry of the consents it rests on. Verifiers fetch the public key once from
`/.well-known/jwks.json`; `registry verify CERT` does the same check from the command line.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from registry.config import ConfigError, get_settings
from registry.errors import Invalid

ALGORITHM = "EdDSA"
TYPE = "registry-clearance+jwt"
# The revocation list is signed with the same key: its own type keeps it from passing for a
# certificate (and a certificate from passing for a list).
REVOCATION_LIST_TYPE = "registry-revocation-list+jwt"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@lru_cache(maxsize=4)
def _load(signing_key: str, secret_key: str) -> Ed25519PrivateKey:
    if signing_key:
        pem = signing_key
        if "-----BEGIN" not in pem:
            path = Path(pem).expanduser()
            if not path.is_file():
                raise ConfigError(f"REGISTRY_SIGNING_KEY: no PEM key and no file at {path}.")
            pem = path.read_text()
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"REGISTRY_SIGNING_KEY is not a PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(
                "REGISTRY_SIGNING_KEY must be an Ed25519 key (openssl genpkey -algorithm ed25519)."
            )
        return key
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"registry certificate signing v1"
    ).derive(secret_key.encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key() -> Ed25519PrivateKey:
    settings = get_settings()
    return _load(settings.signing_key, settings.resolved_secret_key())


def key_id(key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint of the public key."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64(_raw_public(key))}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canonical).digest())


def jwks() -> dict[str, list[dict[str, str]]]:
    """The public key set verifiers use (RFC 8037 OKP key)."""
    public = private_key().public_key()
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": _b64(_raw_public(public)),
                "kid": key_id(public),
                "use": "sig",
                "alg": ALGORITHM,
            }
        ]
    }


def window(issued: datetime, basis_expires: datetime | None) -> datetime:
    """When a certificate issued now stops being valid."""
    longest = issued + timedelta(days=get_settings().certificate_days)
    return min(longest, basis_expires) if basis_expires else longest


def issue(*, claims: dict[str, Any], issued: datetime, expires: datetime, typ: str = TYPE) -> str:
    """Sign the claims (plus iss, iat, nbf, exp) with the service's key, as a `typ` token."""
    key = private_key()
    payload = {
        "iss": get_settings().base_url,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        **claims,
    }
    return jwt.encode(
        payload,
        key,
        algorithm=ALGORITHM,
        headers={"kid": key_id(key.public_key()), "typ": typ},
    )


def _public_from_jwks(keys: dict[str, Any], kid: str | None) -> Ed25519PublicKey:
    for jwk in keys.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and jwk.get("kid") == kid:
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            return Ed25519PublicKey.from_public_bytes(raw)
    raise Invalid(f"No key {kid!r} in the key set: the certificate was signed by another key.")


def verify(token: str, *, keys: dict[str, Any] | None = None) -> dict[str, Any]:
    """The certificate's claims if its signature and validity window check out (against the
    given JWKS, else this service's own key); Invalid with the reason otherwise."""
    token = token.strip()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Invalid("This is not a certificate (not a signed JWT).") from None
    if header.get("alg") != ALGORITHM:
        raise Invalid(f"Unexpected signature algorithm {header.get('alg')!r}; expected EdDSA.")
    if header.get("typ") != TYPE:
        raise Invalid(
            f"This is not a clearance certificate (its type is {header.get('typ')!r}): the "
            "revocation list, or another token signed with the same key."
        )
    public = (
        _public_from_jwks(keys, header.get("kid"))
        if keys is not None
        else private_key().public_key()
    )
    try:
        return jwt.decode(
            token,
            public,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "nbf", "jti", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise Invalid(
            "The certificate has expired: ask for the media to be cleared again."
        ) from None
    except jwt.ImmatureSignatureError:
        raise Invalid("The certificate is not valid yet.") from None
    except jwt.InvalidSignatureError:
        raise Invalid(
            "The signature does not match: the certificate was altered or forged."
        ) from None
    except jwt.PyJWTError as exc:
        raise Invalid(f"The certificate is not valid: {exc}.") from None
