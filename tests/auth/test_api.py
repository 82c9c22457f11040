from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.auth import service
from registry.auth.models import Role, StaffUser
from registry.auth.security import TOKEN_ALGORITHM, TOKEN_AUDIENCE, issue_access_token
from registry.config import Settings
from registry.db import utcnow
from registry.errors import RateLimited, Unauthorized
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


def test_repeated_failures_slow_the_account_but_never_lock_its_owner_out(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    settings: Settings,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Someone guessing from another network cannot lock a staff member out: after the free
    failures each try waits 2, 4, 8 … at most 30 s, then the right password works."""
    import time

    from registry.auth import service as auth
    from registry.auth import throttle as throttles

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    limiter = throttles.LoginThrottle(
        max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds
    )
    user = make_staff()

    def sign_in(password: str, network: str) -> object:
        try:
            return auth.authenticate(
                session=session,
                throttle=limiter,
                email=user.email,
                password=password,
                client=network,
            )
        except (RateLimited, Unauthorized) as exc:
            return exc

    for n in range(30):  # the attacker, from many networks, as fast as they are let
        clock[0] += 31 if n % 10 == 9 else 0.01
        sign_in("guess-guess", f"203.0.113.{n}")
    waited = sign_in(PASSWORD, "198.51.100.7")
    assert isinstance(waited, RateLimited)
    assert 0 < int(waited.headers["Retry-After"]) <= 30
    clock[0] += 30
    assert sign_in(PASSWORD, "198.51.100.7") == user  # never locked out for longer


def test_a_network_that_guesses_too_much_is_stopped(
    client: TestClient, make_staff: Callable[..., StaffUser], settings: Settings
) -> None:
    users = [make_staff() for _ in range(5)]  # a shared network may try several accounts
    statuses = [
        client.post("/api/auth/token", data={"username": u.email, "password": "x"}).status_code
        for u in users
        for _ in range(settings.login_max_failures)
    ]
    assert statuses[: 4 * settings.login_max_failures] == [401] * 4 * settings.login_max_failures
    assert statuses[-1] == 429
    fresh = make_staff()  # an account nobody guessed: refused because of the network
    blocked = client.post("/api/auth/token", data={"username": fresh.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "from your network" in blocked.json()["detail"]
    assert int(blocked.headers["Retry-After"]) > 0


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
        {"sub": str(user.id), "ver": 1, "aud": TOKEN_AUDIENCE}, "", algorithm="none"
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


def test_disabling_an_account_ends_its_tokens_at_once_and_is_audited(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    admin_headers: dict[str, str],
    session: Session,
) -> None:
    from sqlmodel import select

    from registry.audit.models import AuditEntry

    comms = make_staff(role=Role.comms)
    token = bearer(client, comms)
    assert client.get("/api/auth/me", headers=token).status_code == 200
    off = client.post(f"/api/auth/users/{comms.id}/disable", headers=admin_headers)
    assert off.status_code == 200
    assert off.json()["is_active"] is False
    assert client.get("/api/auth/me", headers=token).status_code == 401  # at once
    refused = client.post("/api/auth/token", data={"username": comms.email, "password": PASSWORD})
    assert refused.status_code == 401
    on = client.post(f"/api/auth/users/{comms.id}/enable", headers=admin_headers)
    assert on.json()["is_active"] is True
    assert client.get("/api/auth/me", headers=token).status_code == 401  # old tokens stay dead
    assert client.get("/api/auth/me", headers=bearer(client, comms)).status_code == 200
    actions = session.exec(
        select(AuditEntry.action).where(AuditEntry.entity_id == str(comms.id))
    ).all()
    assert "staff_user.disabled" in actions
    assert "staff_user.enabled" in actions
    assert client.post("/api/auth/users/999999/disable", headers=admin_headers).status_code == 404
    comms_token = bearer(client, comms)
    assert (
        client.post(f"/api/auth/users/{comms.id}/disable", headers=comms_token).status_code == 403
    )


def test_the_last_admin_cannot_be_disabled(
    client: TestClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    from registry.errors import Conflict

    admin = make_staff(role=Role.admin)
    for user in service.list_users(session=session):
        if user.role == Role.admin and user.id != admin.id and user.is_active:
            service.set_active(session=session, actor=SYSTEM, user=user, active=False)
    with pytest.raises(Conflict, match="last active admin"):
        service.set_active(session=session, actor=SYSTEM, user=admin, active=False)
