"""Turning errors into answers: JSON for the API, a page for a browser.

Every handler runs after the request's unit of work has rolled back (the session dependency
exits first), so a form error can never leave half a change committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from registry import links
from registry.db import get_session
from registry.deps import identify
from registry.errors import FormError, Invalid, RedirectWith, RegistryError
from registry.web import redirect, render, safe_next

logger = logging.getLogger("registry")


def _is_api(request: Request) -> bool:
    return (
        request.url.path.startswith("/api")
        or "application/json" in request.headers.get("accept", "").split(",")[0]
    )


def _page(request: Request, status_code: int, title: str, message: str, **extra: Any) -> Response:
    if status_code == 401:
        next_url = safe_next(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
        return render(
            request,
            "auth/login.html",
            {"next": next_url, "error": None if message == "Sign in to continue." else message},
            status_code=401,
        )
    return render(
        request,
        "error.html",
        {"status_code": status_code, "title": title, "message": message, **extra},
        status_code=status_code,
    )


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route answers on this path (asked of the router, method by method)."""
    methods = {
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        out.append(
            {"field": ".".join(loc) or None, "message": err.get("msg"), "type": err.get("type")}
        )
    return out


async def _form_page(request: Request, exc: FormError) -> Response:
    """The form again, with its error and what was typed; fresh data read after the rollback."""
    context: dict[str, Any] = {**exc.context, "error": exc.message}
    loader = exc.load
    # The app's own unit of work (tests override it), a new one after the rollback (which
    # expired every object the request had read).
    factory = request.app.dependency_overrides.get(get_session, get_session)

    def load() -> dict[str, Any]:
        with contextmanager(factory)() as session:
            return dict(loader(session)) if loader is not None else {}

    context.update(await run_in_threadpool(load))
    response = render(request, exc.template, context, status_code=exc.status_code)
    response.headers.update(exc.headers)
    return response


def install_handlers(app: FastAPI) -> None:
    """One place that turns every error into JSON (API) or a friendly page (browser)."""

    @app.exception_handler(RegistryError)
    async def registry_error(request: Request, exc: RegistryError) -> Response:
        if isinstance(exc, FormError) and not _is_api(request):
            return await _form_page(request, exc)
        if isinstance(exc, RedirectWith) and not _is_api(request):
            return redirect(
                exc.url, message=exc.message, category="error", place=exc.place, keep=exc.keep
            )
        if _is_api(request):
            return JSONResponse(exc.payload(), status_code=exc.status_code, headers=exc.headers)
        response = _page(request, exc.status_code, exc.title, exc.message)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields = _field_errors(exc.errors())
        if any(f["type"] == "json_invalid" for f in fields):
            detail = "The request body is not valid JSON."
        else:
            parts = [
                f"{f['field']}: {f['message']}" if f["field"] else f["message"] for f in fields
            ]
            detail = "Invalid input — " + "; ".join(parts[:5])
        if _is_api(request):
            return JSONResponse({"detail": detail, "errors": fields}, status_code=422)
        return _page(request, 422, Invalid.title, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404:
            detail = "Not found"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Every method the path answers, not only those of the first route that matched.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        if _is_api(request):
            body: dict[str, Any] = {"detail": detail}
            if exc.status_code == 422:
                body["errors"] = [{"field": None, "message": detail, "type": "value_error"}]
            return JSONResponse(body, status_code=exc.status_code, headers=headers)
        await run_in_threadpool(identify, request)  # the page's navigation for staff
        title = "Not found" if exc.status_code == 404 else "Request failed"
        response = _page(request, exc.status_code, title, detail)
        response.headers.update(headers)
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # The path may hold a private link token: logged redacted, like the access log.
        logger.exception("unhandled error on %s %s", request.method, links.redact(request.url.path))
        message = "Something went wrong on our side. It has been logged; please try again."
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=500)
        return _page(request, 500, "Server error", message)
