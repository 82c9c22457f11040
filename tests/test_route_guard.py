"""Every staff route refuses anonymous callers (401) and callers whose role is not allowed (403)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from registry.auth.models import Role, StaffUser
from registry.deps import PUBLIC_API_PATHS, PageRole, StaffRole
from registry.main import ROUTERS
from tests.auth.factories import bearer, csrf_from, login_page

# Pages that anyone may open: sign-in, and the public booking, manage and consent pages.
PUBLIC_PAGES = {
    "/login",
    "/logout",
    "/events/{event_id}/book",
    "/events/{event_id}/link",
    "/events/{event_id}/notice",
    "/b/{token}",
    "/c/{token}",
    "/c/{token}/receipt",
    "/c/{token}/receipt.pdf",
    "/c/{token}/receipt.json",
    "/c/{token}/media/{media_id}",
    "/b/{token}/badge.pdf",
    "/b/{token}/badge.png",
    "/b/{token}/export",
    "/c/{token}/export",
    "/b/{token}/photos",
    "/b/{token}/photos/{media_id}",
    "/b/{token}/objections",
    "/b/{token}/erase",
    "/erased",
    "/b/{token}/references",
    "/b/{token}/references/{photo_id}",
    "/b/{token}/references/{photo_id}/delete",
}
NON_STAFF_PATHS = {
    "/healthz",
    "/readyz",
    "/metrics",  # its own check (an admin's or the metrics token, or loopback): tests/test_ops
    "/.well-known/jwks.json",
    "/.well-known/revoked-certificates",
}


def _guards(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        if isinstance(dep.call, StaffRole | PageRole):
            yield dep.call
        yield from _guards(dep)


def _routes() -> list[tuple[str, str, tuple[Role, ...] | None]]:
    out = []
    for route in (r for router in ROUTERS for r in router.routes):
        if not isinstance(route, APIRoute):
            continue
        guards = list(_guards(route.dependant))
        roles = guards[0].roles if guards else None
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, route.path, roles))
    return out


ROUTES = _routes()


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _is_public(path: str) -> bool:
    return (
        path in PUBLIC_API_PATHS
        or path in NON_STAFF_PATHS
        or path in PUBLIC_PAGES
        or path.startswith(("/docs", "/openapi", "/redoc"))
    )


def test_every_route_is_either_guarded_or_declared_public() -> None:
    unguarded = [(m, p) for m, p, roles in ROUTES if roles is None and not _is_public(p)]
    assert unguarded == []
    assert len([r for r in ROUTES if r[2]]) >= 5


@pytest.mark.parametrize(("method", "path", "roles"), [r for r in ROUTES if r[2]])
def test_staff_route_refuses_anonymous(
    client: TestClient, method: str, path: str, roles: tuple[Role, ...]
) -> None:
    data = None
    if not path.startswith("/api") and method != "GET":
        # A genuine form post (valid CSRF token), so only the missing sign-in can refuse it.
        data = {"csrf_token": csrf_from(client.get("/login").text)}
    response = client.request(method, _concrete(path), data=data)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    ("method", "path", "roles"), [r for r in ROUTES if r[2] and Role.comms not in r[2]]
)
def test_admin_route_refuses_comms(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    method: str,
    path: str,
    roles: tuple[Role, ...],
) -> None:
    user = make_staff(Role.comms)
    if path.startswith("/api"):
        response = client.request(method, _concrete(path), headers=bearer(client, user))
    else:
        login_page(client, user)
        data = {"csrf_token": csrf_from(client.get("/").text)} if method != "GET" else None
        response = client.request(method, _concrete(path), data=data)
    assert response.status_code == 403, response.text
