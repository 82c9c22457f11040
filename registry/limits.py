"""Request bodies are refused over a limit (413) before they are read or parsed, and every
response carries the security headers.

A declared `Content-Length` over the limit is answered at once; a body sent without one (chunked)
is counted as it arrives and cut off at the limit. Public forms get a small limit (a name and
an email address), a public reference photo its upload limit, and only a request that carries
a valid staff credential (session cookie or bearer token, checked by its signature before any
of the body is read) gets the largest (several photos or a video at once): an anonymous
request to a staff route is held to the public form limit, so it cannot make the server read
hundreds of megabytes before answering 401.

Text input holding a NUL character (in the address, a JSON body or a plain form) is refused
with a 422 the same way: no database column can store it and no person types it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from registry.config import get_settings

_PUBLIC_UPLOAD = re.compile(r"^/b/[^/]+/references/?$")
_PUBLIC_FORM = re.compile(r"^/(b|c)/|^/events/[^/]+/(book|link)/?$|^/login/?$|^/logout/?$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Scope = dict[str, Any]
Message = dict[str, Any]


class _TooLarge(BaseException):  # noqa: N818
    """Not an Exception: body parsers turn those into 400s; this must reach `BodyLimit`."""


class _NulText(BaseException):  # noqa: N818
    """A NUL character in text input (no database stores it; no person types it)."""


# How a NUL character is written in each kind of text body (multipart may carry files).
_NUL_SPELLINGS = {
    b"application/json": (b"\\u0000", b"\x00"),
    b"application/x-www-form-urlencoded": (b"%00", b"\x00"),
}


def _nul_spellings(scope: Scope) -> tuple[bytes, ...]:
    kind = dict(scope.get("headers") or []).get(b"content-type", b"")
    return _NUL_SPELLINGS.get(kind.split(b";")[0].strip().lower(), ())


def _nul_in_address(scope: Scope) -> bool:
    return "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")


def limit_for(path: str, *, staff: bool = False) -> int:
    """The largest body accepted on `path`, in bytes: `staff` when the request carries a valid
    staff credential (only then do staff routes get the large limit)."""
    settings = get_settings()
    if _PUBLIC_UPLOAD.match(path):
        return settings.max_upload_mb * 1_000_000 + 64_000
    if _PUBLIC_FORM.match(path) or not staff:
        return settings.max_form_kb * 1000
    return settings.max_request_mb * 1_000_000


def _words(limit: int) -> str:
    return f"{limit // 1_000_000} MB" if limit >= 1_000_000 else f"{limit // 1000} kB"


# Whether a request's headers carry a valid staff credential (the auth domain decides; the
# application factory passes it in, as this core module imports no domain).
StaffCheck = Callable[[Scope], bool]


class BodyLimit:
    """ASGI middleware: 413 for bodies over `limit_for(path, staff=...)`."""

    def __init__(self, app: Any, is_staff: StaffCheck | None = None) -> None:
        self.app = app
        self.is_staff = is_staff or (lambda scope: False)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _nul_in_address(scope):
            await _refuse_nul(scope, send)
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = limit_for(path, staff=self.is_staff(scope))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, limit)
            return
        seen = 0
        started = False
        spellings = _nul_spellings(scope)
        tail = b""

        async def counted() -> Message:
            nonlocal seen, tail
            message: Message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > limit:
                    raise _TooLarge
                if spellings:
                    window = tail + chunk
                    if any(s in window for s in spellings):
                        raise _NulText
                    tail = window[-8:]
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _refuse(scope, send, limit)
        except _NulText:
            if not started:
                await _refuse_nul(scope, send)


async def _refuse(scope: Scope, send: Any, limit: int) -> None:
    detail = f"The request is too large: at most {_words(limit)} is accepted here."
    await _answer(scope, send, 413, "Too large", detail, "Go back and send less.", {})


async def _refuse_nul(scope: Scope, send: Any) -> None:
    detail = "Text may not contain NUL characters (U+0000)."
    problem = {"errors": [{"field": None, "message": detail, "type": "nul_character"}]}
    await _answer(scope, send, 422, "Invalid input", detail, "Go back and correct it.", problem)


async def _answer(
    scope: Scope, send: Any, status: int, title: str, detail: str, hint: str, extra: dict[str, Any]
) -> None:
    if scope["path"].startswith("/api"):
        body = json.dumps({"detail": detail, **extra}).encode()
        kind = b"application/json"
    else:
        body = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
            f"<h1>{title}</h1><p>{detail}</p><p>{hint}</p></html>"
        ).encode()
        kind = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# No inline script or style anywhere (the pages use static files only); nothing may frame us.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_TOKEN_PAGE = re.compile(r"^/(b|c)/")


# FastAPI's interactive API docs load their script from a CDN with an inline bootstrap.
_DOCS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


def security_headers(path: str, *, https: bool) -> list[tuple[bytes, bytes]]:
    headers = [] if path in _DOCS else [(b"content-security-policy", CSP.encode())]
    headers += [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        # A page whose address is a private link must not leak it to another site.
        (b"referrer-policy", b"no-referrer" if _TOKEN_PAGE.match(path) else b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response (routes may override)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = get_settings().base_url.startswith("https://")
        extra = security_headers(scope["path"], https=https)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in extra if k not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


WRITES_AT_ONCE = 16  # requests that may change data inside one web process at a time


class WriteQueue:
    """Requests that change data (every method but GET, HEAD and OPTIONS; uploads aside) enter
    the app at most `WRITES_AT_ONCE` at a time per process; the rest wait here, in the event
    loop, holding no thread.

    Why: a sync route runs in a pool of threads (40), and so does the validation of its answer,
    after the route returns but before its unit of work commits. In a wave of bookings every
    thread could be a booking waiting for its turn to write while the one that has the turn
    waits for a thread to validate its answer in: every request would stall until a timeout.
    With writers capped well under the pool, a thread is always free for the writer that has
    the turn (and for reads). Uploads stream their bodies for minutes and take their own
    database turns briefly; they do not queue here."""

    def __init__(self, app: Any, at_once: int = WRITES_AT_ONCE) -> None:
        self.app = app
        self.at_once = at_once
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in ("GET", "HEAD", "OPTIONS")
            or _is_multipart(scope)
        ):
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # made in the server's event loop, on the first write
            self._slots = asyncio.Semaphore(self.at_once)
        async with self._slots:
            await self.app(scope, receive, send)


def _is_multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value).lower().startswith(b"multipart/")
    return False
