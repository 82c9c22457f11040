"""The organisation's details: asked for on the dashboard until set, then named everywhere."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.audit import service as audit
from registry.auth.models import Role, StaffUser
from registry.organisation import service
from tests.auth.factories import csrf_from, login_page


def test_dashboard_asks_admins_for_the_details_until_they_are_set(
    client: TestClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    admin: StaffUser = make_staff(role=Role.admin)
    login_page(client, admin)
    dashboard = client.get("/").text
    assert "Your organisation's details are not set" in dashboard
    form = client.get("/organisation")
    bad = client.post(
        "/organisation",
        data={"name": "North Physio", "email": "nobody", "csrf_token": csrf_from(form.text)},
    )
    assert bad.status_code == 422
    assert "privacy contact" in bad.text
    assert service.profile(session=session).is_set is False  # nothing half-saved

    saved = client.post(
        "/organisation",
        data={
            "name": "North Physio",
            "email": "Privacy@NorthPhysio.example",
            "address": "1 Clinic Road",
            "csrf_token": csrf_from(form.text),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    profile = service.profile(session=session)
    assert (profile.name, profile.email, profile.is_set) == (
        "North Physio",
        "privacy@northphysio.example",
        True,
    )
    assert "Your organisation's details are not set" not in client.get("/").text
    [entry] = [e for e in audit.list_entries(session=session) if e.action == "organisation.updated"]
    assert entry.actor == f"staff:{admin.id}"


def test_comms_staff_cannot_change_the_details(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    comms: StaffUser = make_staff(role=Role.comms)
    login_page(client, comms)
    assert "Ask an administrator to set them" in client.get("/").text
    assert client.get("/organisation").status_code == 403
