"""A member of staff signs in with a real browser and reaches the dashboard."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import E2E_ADMIN, Server, sign_in


def test_staff_signs_in_and_sees_the_dashboard(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/")
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text(f"Signed in as {E2E_ADMIN[0]}")).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Staff").get_by_role("link", name="Audit log")
    ).to_be_visible()


def test_wrong_password_shows_an_error_and_no_session(page: Any, server: Server) -> None:
    sign_in(page, server, password="not the password")
    expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password.")
    page.goto(f"{server.url}/")
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()


def test_sign_out_from_the_header(page: Any, server: Server) -> None:
    sign_in(page, server)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{server.url}/audit")
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()


def test_keyboard_user_can_skip_to_content_and_sign_in(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.get_by_label("Email").focus()
    page.keyboard.type(E2E_ADMIN[0])
    page.keyboard.press("Tab")
    page.keyboard.type(E2E_ADMIN[1])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.screenshot(path=str(server.var_dir / "dashboard.png"), full_page=True)
