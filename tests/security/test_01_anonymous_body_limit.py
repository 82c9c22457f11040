"""Item 1: a request without a valid staff credential gets the small public body limit, decided
before the body is read; only signed-in staff get the large one."""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from registry.config import get_settings
from tests.live import Live

MB = 1_000_000


def _connect(live: Live) -> socket.socket:
    parts = urlsplit(live.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _declared(live: Live, method: str, path: str, kind: str, headers: str = "") -> int:
    """Send only the headers of a 5 MB body and read the answer: it must come without the
    body ever being sent."""
    with _connect(live) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\n{headers}"
            f"Content-Length: {5 * MB}\r\n\r\n".encode()
        )
        return _status(sock.recv(65536))


def _chunked(live: Live, path: str, kind: str) -> tuple[int, int]:
    """Stream a 5 MB body in chunks, watching for the answer after each: (status, bytes sent
    before the server answered)."""
    chunk = b"a" * 16_384
    sent = 0
    # A multipart body is a file's start, then its bytes (the parser keeps reading them).
    opening = (
        b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'
        if kind.startswith("multipart")
        else b""
    )
    with _connect(live) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        if opening:
            sock.sendall(f"{len(opening):x}\r\n".encode() + opening + b"\r\n")
        while sent < 5 * MB:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
            time.sleep(0.002)
        sock.settimeout(10)
        return _status(sock.recv(65536)), sent


def test_anonymous_api_and_staff_page_bodies_are_refused_before_they_are_read(live: Live) -> None:
    for method, path, kind in (
        ("POST", "/api/events", "application/json"),
        ("POST", "/api/media", "multipart/form-data; boundary=x"),
        (
            "PUT",
            "/api/bookings/00000000-0000-0000-0000-000000000000/reference-photo",
            "multipart/form-data; boundary=x",
        ),
        ("POST", "/media", "multipart/form-data; boundary=x"),
        ("POST", "/events", "application/x-www-form-urlencoded"),
    ):
        assert _declared(live, method, path, kind) == 413, path
    # A forged or expired credential is no credential.
    assert (
        _declared(
            live, "POST", "/api/events", "application/json", "Authorization: Bearer x.y.z\r\n"
        )
        == 413
    )
    assert (
        _declared(
            live,
            "POST",
            "/media",
            "multipart/form-data; boundary=x",
            "Cookie: registry_session=forged.value.here\r\n",
        )
        == 413
    )


def test_an_anonymous_chunked_body_is_cut_off_near_the_public_limit_and_memory_stays_flat(
    live: Live,
) -> None:
    before = live.rss_kb()
    for _ in range(5):
        for path, kind in (
            ("/api/events", "application/json"),
            ("/api/media", "multipart/form-data; boundary=x"),
            ("/media", "multipart/form-data; boundary=x"),
        ):
            status, sent = _chunked(live, path, kind)
            assert status == 413, path
            # It answered before the body was all sent (what was sent includes the sockets'
            # buffers; `test_bytes_read_...` counts what the service itself read).
            assert sent < 3 * MB, (path, sent)
    grown = live.rss_kb() - before
    assert grown < 30_000, f"server memory grew by {grown} kB"


def test_signed_in_staff_still_get_the_large_limit(live: Live) -> None:
    with live.client("admin") as staff:
        big = {"name": "x" * 300_000, "starts_at": "2031-01-01T00:00:00Z", "filming_notice": "n"}
        answer = staff.post("/api/events", json=big)
        assert answer.status_code == 422, answer.text  # read and validated, not refused unread
    with live.client() as anonymous:
        assert anonymous.post("/api/events", json=big).status_code == 413
        # Small anonymous requests still get their 401.
        assert anonymous.post("/api/events", json={"name": "x"}).status_code == 401


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/api/events", "application/json"),
        ("/api/media", "multipart/form-data; boundary=x"),
        ("/media", "multipart/form-data; boundary=x"),
    ],
)
def test_bytes_read_from_an_anonymous_body_stop_at_the_public_limit(
    app: FastAPI, path: str, kind: str
) -> None:
    """The service itself (ASGI) pulls no more than the public limit and a chunk of an
    anonymous 5 MB body sent without a length."""
    pulled = 0
    answer: dict[str, Any] = {}
    opening = (
        b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'
        if kind.startswith("multipart")
        else b""
    )

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        body = (opening if pulled == 0 else b"") + b"a" * 16_384
        pulled += len(body)
        return {"type": "http.request", "body": body, "more_body": pulled < 5 * MB}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"x"), (b"content-type", kind.encode())],
    }
    # In a thread of its own: a browser test of the same run may hold this thread's event loop.
    runner = threading.Thread(target=lambda: asyncio.run(app(scope, receive, send)))
    runner.start()
    runner.join(timeout=60)
    assert answer["status"] == 413
    assert pulled <= get_settings().max_form_kb * 1000 + 16_384
