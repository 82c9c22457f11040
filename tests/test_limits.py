"""Bodies over the limit are refused (413) before they are read: declared or chunked, public
forms with a small limit, staff routes with the large one; nothing is written."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.config import get_settings
from registry.events.models import Booking, Event
from registry.limits import WriteQueue
from tests.auth.factories import csrf_from


def test_a_public_form_over_its_limit_is_refused_before_parsing(
    session: Session, client: TestClient, make_event: Callable[..., Event]
) -> None:
    event = make_event()
    token = csrf_from(client.get(f"/events/{event.id}/book").text)
    padding = "x" * (get_settings().max_form_kb * 1000)
    answer = client.post(
        f"/events/{event.id}/book",
        data={"name": "Big", "email": "big@example.org", "csrf_token": token, "pad": padding},
    )
    assert answer.status_code == 413
    assert "too large" in answer.text
    assert session.exec(select(Booking).where(Booking.email == "big@example.org")).first() is None
    ok = client.post(
        f"/events/{event.id}/book",
        data={"name": "Small", "email": "small@example.org", "csrf_token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 200  # booked: without mail outside development, the thank-you page
    assert session.exec(select(Booking).where(Booking.email == "small@example.org")).first()


def test_a_chunked_body_is_cut_off_at_the_limit(
    client: TestClient, make_event: Callable[..., Event]
) -> None:
    event = make_event()

    def chunks() -> Iterator[bytes]:
        for _ in range(200):
            yield b"a" * 1000

    answer = client.post(
        f"/events/{event.id}/link",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413


def test_staff_uploads_have_their_own_limit_and_json_errors(
    client: TestClient, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_request_mb", 1)
    answer = client.post(
        "/api/media",
        files={"files": ("big.jpg", b"\xff" * 1_200_000, "image/jpeg")},
        headers=admin_headers,
    )
    assert answer.status_code == 413
    assert answer.json() == {"detail": "The request is too large: at most 1 MB is accepted here."}


def test_every_page_carries_the_security_headers(
    client: TestClient, make_booking: Callable[..., Booking], monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.events import service as events

    booking = make_booking()
    for path in ("/login", f"/events/{booking.event_id}/book", "/api/auth/me"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in headers
    token_page = client.get(f"/b/{events.manage_token(booking)}")
    assert token_page.status_code == 200
    assert token_page.headers["referrer-policy"] == "no-referrer"
    monkeypatch.setattr(get_settings(), "base_url", "https://registry.example.org")
    assert "max-age=" in client.get("/login").headers["strict-transport-security"]


def test_writes_queue_in_the_event_loop_beyond_their_share_and_reads_do_not() -> None:
    """WriteQueue lets at most `at_once` requests that change data into the app at a time (the
    rest wait without a thread); reads and uploads pass straight through."""
    inside = {"now": 0, "most": 0}

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        inside["now"] += 1
        inside["most"] = max(inside["most"], inside["now"])
        await asyncio.sleep(0.01)
        inside["now"] -= 1

    queue = WriteQueue(app, at_once=3)

    def scope(method: str, content_type: bytes = b"application/json") -> dict[str, object]:
        return {"type": "http", "method": method, "headers": [(b"content-type", content_type)]}

    async def run(method: str, content_type: bytes = b"application/json") -> None:
        inside["most"] = 0
        await asyncio.gather(*(queue(scope(method, content_type), None, None) for _ in range(20)))

    asyncio.run(run("POST"))
    assert inside["most"] == 3
    asyncio.run(run("GET"))
    assert inside["most"] == 20
    asyncio.run(run("POST", b"multipart/form-data; boundary=x"))
    assert inside["most"] == 20
