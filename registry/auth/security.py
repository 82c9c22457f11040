"""Password hashing, bearer tokens, page sessions and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from registry.db import utcnow

_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal existence.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "registry-api"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; always spends one argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    version: int


def issue_access_token(*, secret: str, user_id: int, version: int, minutes: int) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "ver": version,
        "aud": TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def read_access_token(*, secret: str, token: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token, else None."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            audience=TOKEN_AUDIENCE,
            options={"require": ["sub", "exp", "ver"]},
        )
        return TokenClaims(user_id=int(claims["sub"]), version=int(claims["ver"]))
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


def _session_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="registry.session")


def issue_session(*, secret: str, user_id: int, version: int) -> str:
    return _session_serializer(secret).dumps({"uid": user_id, "ver": version})


def read_session(*, secret: str, value: str, max_age_seconds: int) -> TokenClaims | None:
    try:
        data = _session_serializer(secret).loads(value, max_age=max_age_seconds)
        return TokenClaims(user_id=int(data["uid"]), version=int(data["ver"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def new_csrf_secret() -> str:
    return secrets.token_urlsafe(32)


def csrf_token_for(*, secret: str, csrf_secret: str) -> str:
    """The form token for a browser's CSRF cookie: an HMAC only the server can compute."""
    return hmac.new(secret.encode(), b"csrf:" + csrf_secret.encode(), hashlib.sha256).hexdigest()


def csrf_token_valid(*, secret: str, csrf_secret: str | None, token: str | None) -> bool:
    if not csrf_secret or not token:
        return False
    return hmac.compare_digest(csrf_token_for(secret=secret, csrf_secret=csrf_secret), token)
