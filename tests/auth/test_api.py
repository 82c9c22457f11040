from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import jwt
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.auth import service
from registry.auth.models import Role, StaffUser
from registry.auth.security import TOKEN_ALGORITHM, TOKEN_AUDIENCE, issue_access_token
from registry.config import Settings
from registry.db import utcnow
from tests.auth.factories import PASSWORD, bearer


def test_token_for_valid_credentials_opens_the_api(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    user = make_staff(Role.comms, email="Comms@Example.org")
    response = client.post(
        "/api/auth/token", data={"username": "comms@example.org", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    assert "password_hash" not in me.json()


def test_wrong_password_and_unknown_user_get_the_same_401(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    user = make_staff()
    wrong = client.post("/api/auth/token", data={"username": user.email, "password": "nope-nope-1"})
    unknown = client.post(
        "/api/auth/token", data={"username": "ghost@example.org", "password": "nope-nope-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect email or password."}


def test_repeated_failures_are_rate_limited_even_with_the_right_password(
    client: TestClient, make_staff: Callable[..., StaffUser], settings: Settings
) -> None:
    user = make_staff()
    for _ in range(settings.login_max_failures):
        response = client.post("/api/auth/token", data={"username": user.email, "password": "x"})
        assert response.status_code == 401
    blocked = client.post("/api/auth/token", data={"username": user.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many" in blocked.json()["detail"]


def test_inactive_user_cannot_sign_in(
    client: TestClient, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    user = make_staff()
    user.is_active = False
    session.add(user)
    session.flush()
    response = client.post("/api/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 401


def test_forged_expired_and_revoked_tokens_are_refused(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    settings: Settings,
    session: Session,
) -> None:
    user = make_staff()
    assert user.id is not None
    forged = jwt.encode(
        {
            "sub": str(user.id),
            "ver": 1,
            "aud": TOKEN_AUDIENCE,
            "exp": utcnow() + timedelta(hours=1),
        },
        "not-the-secret-but-just-as-long-as-a-real-one-0123",
        algorithm=TOKEN_ALGORITHM,
    )
    expired = jwt.encode(
        {
            "sub": str(user.id),
            "ver": 1,
            "aud": TOKEN_AUDIENCE,
            "exp": utcnow() - timedelta(seconds=5),
        },
        settings.resolved_secret_key(),
        algorithm=TOKEN_ALGORITHM,
    )
    unsigned = jwt.encode(
        {"sub": str(user.id), "ver": 1, "aud": TOKEN_AUDIENCE}, None, algorithm="none"
    )
    for token in (forged, expired, unsigned, "garbage"):
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.headers["WWW-Authenticate"] == "Bearer"

    valid = issue_access_token(
        secret=settings.resolved_secret_key(),
        user_id=user.id,
        version=user.token_version,
        minutes=5,
    )
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {valid}"}).status_code == 200
    )
    service.set_password(session=session, user=user, password="another long password", actor=SYSTEM)
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {valid}"}).status_code == 401
    )


def test_admin_creates_staff_and_duplicate_is_a_conflict(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    body = {"email": "new@example.org", "role": "comms", "password": "long enough pw"}
    created = client.post("/api/auth/users", json=body, headers=admin_headers)
    assert created.status_code == 201
    assert created.json()["role"] == "comms"
    again = client.post("/api/auth/users", json=body, headers=admin_headers)
    assert again.status_code == 409
    assert "exists" in again.json()["detail"]


def test_short_password_is_a_field_error(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.post(
        "/api/auth/users",
        json={"email": "x@example.org", "role": "comms", "password": "short"},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "password"


def test_comms_cannot_create_staff(client: TestClient, comms_headers: dict[str, str]) -> None:
    response = client.post(
        "/api/auth/users",
        json={"email": "x@example.org", "role": "admin", "password": "long enough pw"},
        headers=comms_headers,
    )
    assert response.status_code == 403


def test_bearer_helper_roundtrip(client: TestClient, make_staff: Callable[..., StaffUser]) -> None:
    headers = bearer(client, make_staff(Role.admin))
    assert client.get("/api/audit", headers=headers).status_code == 200
