"""Browser tests: a real `registry serve` process driven through Debian's Chromium by Playwright.

Chromium comes from the OS (apt-get install chromium); Playwright's own browser download does not
work here. Without Chromium these tests skip, unless REGISTRY_E2E_REQUIRED=1 (as in CI), where a
missing browser is an error.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ports import free_port
from tests.required import missing

E2E_ADMIN = ("e2e-admin@example.org", "e2e admin password")


@dataclass
class Server:
    url: str
    var_dir: Path
    env: dict[str, str]

    def registry(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "registry", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


def server_env(var_dir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "REGISTRY_ENV": "dev",
        "REGISTRY_VAR_DIR": str(var_dir),
        "REGISTRY_DATABASE_URL": f"sqlite:///{var_dir / 'e2e.db'}",
        "REGISTRY_SECRET_KEY": "e2e-secret-key-that-is-long-enough-0123456789",
        "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}",
        "REGISTRY_BROKER_URL": "",
        "REGISTRY_WARM_WORKERS": "true",
        # Videos in parts of ~2 s: the pool's threads share a clip (stitched across the cuts).
        "REGISTRY_VIDEO_SEGMENT_SECONDS": "2",
        # Webhook receivers in tests listen on 127.0.0.1 (refused in production).
        "REGISTRY_WEBHOOK_ALLOW_LOOPBACK": "true",
    }


def start_server(srv: Server, port: int) -> subprocess.Popen[bytes]:
    """`registry serve` on the port, once /readyz answers (the log goes to var_dir)."""
    log = (srv.var_dir / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "registry", "serve", "--port", str(port)],
        env=srv.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{srv.url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"server did not start:\n{(srv.var_dir / 'server.log').read_text()}")
        time.sleep(0.2)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


_LOG_START = pytest.StashKey[int]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed browser test's report ends with the server's log since the test began: what the
    server did (a job that crashed, a step given back) is what says why the page did not change."""
    report = yield
    srv = getattr(item, "funcargs", {}).get("server")
    if call.when == "setup" and isinstance(srv, Server):
        log = srv.var_dir / "server.log"
        item.stash[_LOG_START] = log.stat().st_size if log.exists() else 0
    if report.failed and call.when == "call" and isinstance(srv, Server):
        log = srv.var_dir / "server.log"
        with contextlib.suppress(OSError), log.open("rb") as handle:
            handle.seek(item.stash.get(_LOG_START, 0))
            lines = handle.read().decode(errors="replace").splitlines()
            report.sections.append(("server log (this test)", "\n".join(lines[-200:])))
    return report


def new_server(var_dir: Path) -> tuple[Server, int]:
    port = free_port()
    srv = Server(url=f"http://127.0.0.1:{port}", var_dir=var_dir, env=server_env(var_dir, port))
    srv.registry("user", "create", E2E_ADMIN[0], "--role", "admin", "--password", E2E_ADMIN[1])
    return srv, port


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real service on a free loopback port, with its own SQLite database and media folder."""
    srv, port = new_server(tmp_path_factory.mktemp("e2e"))
    process = start_server(srv, port)
    try:
        yield srv
    finally:
        stop_server(process)


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """A staff member's browser: a desktop window."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """An attendee's or patient's phone (390 × 844, touch)."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- what a person sees ----------------------------------------------------------------------

SCREENSHOTS = (
    Path(
        os.environ.get("REGISTRY_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "artifacts"
    )
    / "screenshots"
)
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def shot(page: Any, name: str) -> None:
    """A full-page screenshot kept for people reviewing the pages (artifacts/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def in_view(locator: Any) -> None:
    """The element is on screen where the person is, not somewhere they would have to scroll to."""
    locator.wait_for(state="visible")
    box = locator.bounding_box()
    size = locator.page.viewport_size
    assert box is not None
    assert size is not None
    top, bottom = box["y"], box["y"] + box["height"]
    where = f"{locator} is at y={top:.0f}..{bottom:.0f}, outside the {size['height']} px viewport"
    assert top >= 0, where
    assert bottom <= size["height"], where


def _axe_source() -> str:
    if not AXE.exists():
        missing("axe-core not found: run `npm ci` in the project folder (CI does)")
    return AXE.read_text()


def check_accessibility(page: Any, what: str) -> None:
    """Run axe-core on the page as it is now; fail on any serious or critical violation.

    axe runs through the DevTools protocol (not an inline script), so the page's Content
    Security Policy stays in force. Colour-contrast checks axe cannot decide (text over images)
    are listed in the output for a person to look at.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source() + "\n;undefined")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations", "incomplete"]});
            const pick = (list) => list.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.html.slice(0, 120)).slice(0, 5)}));
            return {violations: pick(r.violations), incomplete: pick(r.incomplete)};
        }"""
    )
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    undecided = [v for v in result["incomplete"] if v["id"] == "color-contrast"]
    if undecided:
        print(f"[axe] {what}: contrast to check by eye: {undecided}")  # noqa: T201
    assert not bad, f"accessibility violations on {what}: {bad}"


def sign_in(
    page: Any, server: Server, email: str = E2E_ADMIN[0], password: str = E2E_ADMIN[1]
) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    # Done once the page the form leads to has loaded (signed in, or the error): the next step
    # never races the sign-in.
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")


@contextlib.contextmanager
def staff_api(server: Server) -> Iterator[Any]:
    """An httpx client signed in as the e2e admin (bearer token)."""
    import httpx

    with httpx.Client(base_url=server.url, timeout=60) as client:
        token = client.post(
            "/api/auth/token", data={"username": E2E_ADMIN[0], "password": E2E_ADMIN[1]}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def event_with_opted_out_attendee(
    api: Any, *, event_name: str, name: str, email: str, reference: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An event, and an attendee who opted out and gave a reference photo."""
    event = api.post(
        "/api/events",
        json={
            "name": event_name,
            "starts_at": "2031-02-01T09:00:00+00:00",
            "filming_notice": "We photograph this event; opt out any time.",
        },
    ).json()
    booking = api.post(
        f"/api/events/{event['id']}/bookings",
        json={"name": name, "email": email, "photo_opt_out": True},
    ).json()
    api.put(
        f"/api/bookings/{booking['id']}/reference-photo",
        files={"file": ("me.jpg", reference.read_bytes(), "image/jpeg")},
        data={"biometric_consent": "true"},
    ).raise_for_status()
    return event, booking
