"""One error hierarchy; services raise these, the handlers turn them into JSON or pages."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("registry")


class ErrorBody(BaseModel):
    """Body of every API error."""

    detail: str


class RegistryError(Exception):
    """Base of every error the service reports to a user."""

    status_code = 400
    title = "Bad request"

    def __init__(self, message: str, *, status_code: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra
        self.headers: dict[str, str] = {}

    def payload(self) -> dict[str, Any]:
        return {"detail": self.message, **self.extra}


class Invalid(RegistryError):
    status_code = 422
    title = "Invalid input"


class Unauthorized(RegistryError):
    status_code = 401
    title = "Sign-in required"

    def __init__(self, message: str = "Not authenticated", **extra: Any) -> None:
        super().__init__(message, **extra)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(RegistryError):
    status_code = 403
    title = "Not allowed"


class NotFound(RegistryError):
    status_code = 404
    title = "Not found"


class Gone(RegistryError):
    status_code = 410
    title = "No longer available"


class Conflict(RegistryError):
    status_code = 409
    title = "Conflict"


class TooLarge(RegistryError):
    status_code = 413
    title = "Too large"


class UnsupportedMedia(RegistryError):
    status_code = 415
    title = "Unsupported file type"


class RateLimited(RegistryError):
    status_code = 429
    title = "Too many attempts"

    def __init__(self, message: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.headers = {"Retry-After": str(retry_after)}


class Unavailable(RegistryError):
    status_code = 503
    title = "Busy"


def error_responses(*errors: type[RegistryError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the errors a route may return."""
    return {err.status_code: {"model": ErrorBody, "description": err.title} for err in errors}


def _is_api(request: Request) -> bool:
    return (
        request.url.path.startswith("/api")
        or "application/json" in request.headers.get("accept", "").split(",")[0]
    )


def _page(request: Request, status_code: int, title: str, message: str, **extra: Any) -> Response:
    # Imported here: pages need the template layer, which itself imports this module.
    from registry.web import render, safe_next

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


def _field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        out.append(
            {"field": ".".join(loc) or None, "message": err.get("msg"), "type": err.get("type")}
        )
    return out


def install_handlers(app: FastAPI) -> None:
    """One place that turns every error into JSON (API) or a friendly page (browser)."""

    @app.exception_handler(RegistryError)
    async def registry_error(request: Request, exc: RegistryError) -> Response:
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
        if _is_api(request):
            return JSONResponse(
                {"detail": detail},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        title = "Not found" if exc.status_code == 404 else "Request failed"
        return _page(request, exc.status_code, title, detail)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "Something went wrong on our side. It has been logged; please try again."
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=500)
        return _page(request, 500, "Server error", message)
