"""Staff users and their credentials for tests."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.auth import service
from registry.auth.models import Role, StaffUser

PASSWORD = "a long test password"
_numbers = count(1)


@pytest.fixture
def make_staff(session: Session) -> Callable[..., StaffUser]:
    def make(
        role: Role = Role.comms, email: str | None = None, password: str = PASSWORD
    ) -> StaffUser:
        return service.create_user(
            session=session,
            email=email or f"staff{next(_numbers)}@example.org",
            role=role,
            password=password,
            actor=SYSTEM,
        )

    return make


def bearer(client: TestClient, user: StaffUser, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": user.email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def admin_headers(client: TestClient, make_staff: Callable[..., StaffUser]) -> dict[str, str]:
    return bearer(client, make_staff(Role.admin))


@pytest.fixture
def comms_headers(client: TestClient, make_staff: Callable[..., StaffUser]) -> dict[str, str]:
    return bearer(client, make_staff(Role.comms))


def login_page(client: TestClient, user: StaffUser, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a browser would (CSRF token included)."""
    client.get("/login")
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
