from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from registry.auth.models import Role, StaffUser
from registry.web import CSRF_COOKIE, SESSION_COOKIE
from tests.auth.factories import PASSWORD, csrf_from, login_page


def test_anonymous_dashboard_shows_login_with_401(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 401
    assert "Staff sign-in" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_login_sets_httponly_samesite_session_and_reaches_dashboard(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    user = make_staff(Role.comms)
    page = client.get("/login")
    cookie_header = page.headers["set-cookie"]
    assert CSRF_COOKIE in cookie_header
    assert "HttpOnly" in cookie_header
    assert "SameSite=lax" in cookie_header
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    session_cookie = [c for c in response.headers.get_list("set-cookie") if SESSION_COOKIE in c][0]
    assert "HttpOnly" in session_cookie
    assert "SameSite=lax" in session_cookie
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Dashboard" in dashboard.text
    assert user.email in dashboard.text


def test_login_without_csrf_token_is_refused(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    user = make_staff()
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "did not come from this site" in response.text
    forged = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403


def test_wrong_password_rerenders_the_form_with_a_generic_message(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    user = make_staff()
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login", data={"email": user.email, "password": "wrong-wrong", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Incorrect email or password." in response.text


def test_login_never_redirects_off_site(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    user = make_staff()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        token = csrf_from(client.get("/login").text)
        response = client.post(
            "/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/", target
        client.cookies.delete(SESSION_COOKIE)


def test_logout_ends_the_session(client: TestClient, make_staff: Callable[..., StaffUser]) -> None:
    login_page(client, make_staff())
    assert client.get("/").status_code == 200
    token = csrf_from(client.get("/").text)
    copied = client.cookies.get("registry_session")
    assert copied
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 200
    assert "You are signed out." in response.text
    assert client.get("/").status_code == 401
    # A copy of the cookie taken before signing out is worthless: the server ended the session.
    client.cookies.set("registry_session", copied)
    assert client.get("/").status_code == 401


def test_an_admin_disables_and_enables_an_account_on_the_staff_page(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    comms = make_staff(Role.comms)
    login_page(client, make_staff(Role.admin))
    page = client.get("/staff")
    assert f'Disable<span class="visually-hidden"> {comms.email}' in page.text
    done = client.post(
        f"/staff/{comms.id}/active", data={"active": "no", "csrf_token": csrf_from(page.text)}
    )
    assert f"{comms.email} is disabled" in done.text
    assert f'Enable<span class="visually-hidden"> {comms.email}' in done.text


def test_comms_user_gets_403_page_on_admin_pages(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    login_page(client, make_staff(Role.comms))
    response = client.get("/audit")
    assert response.status_code == 403
    assert "Not allowed" in response.text


def test_admin_creates_staff_on_the_page(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    login_page(client, make_staff(Role.admin))
    token = csrf_from(client.get("/staff").text)
    response = client.post(
        "/staff",
        data={
            "email": "page@example.org",
            "role": "comms",
            "password": "long enough pw",
            "csrf_token": token,
        },
    )
    assert response.status_code == 200
    assert "Created page@example.org (comms)." in response.text
    short = client.post(
        "/staff",
        data={"email": "p2@example.org", "role": "comms", "password": "short", "csrf_token": token},
    )
    assert short.status_code == 422
    assert "at least 10 characters" in short.text


def test_a_role_there_is_not_is_refused_on_the_page_as_in_the_api(
    client: TestClient, make_staff: Callable[..., StaffUser]
) -> None:
    login_page(client, make_staff(Role.admin))
    token = csrf_from(client.get("/staff").text)
    response = client.post(
        "/staff",
        data={
            "email": "owner@example.org",
            "role": "owner",
            "password": "long enough pw",
            "csrf_token": token,
        },
    )
    assert response.status_code == 422
    assert "Choose a role: admin or comms." in response.text
    assert "owner@example.org" not in client.get("/staff").text  # no account was made
