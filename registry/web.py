"""Server-rendered pages: templates, CSRF protection and flash messages shared by every domain."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRouter
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer

from registry import channels
from registry.auth.security import csrf_token_for, csrf_token_valid, new_csrf_secret
from registry.config import ROOT_DIR, get_settings
from registry.errors import Forbidden

TEMPLATES_DIR = ROOT_DIR / "web" / "templates"
STATIC_DIR = ROOT_DIR / "web" / "static"
CSRF_COOKIE = "registry_csrf"
CSRF_FIELD = "csrf_token"
FLASH_COOKIE = "registry_flash"
SESSION_COOKIE = "registry_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _secret() -> str:
    return get_settings().resolved_secret_key()


def _csrf_secret(request: Request) -> str:
    """The browser's CSRF secret; a new one is made (and set on the response) if it has none."""
    existing = getattr(request.state, "csrf_secret", None) or request.cookies.get(CSRF_COOKIE)
    if not existing:
        existing = new_csrf_secret()
        request.state.csrf_secret_is_new = True
    request.state.csrf_secret = existing
    return str(existing)


def _flash_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(_secret(), salt="registry.flash")


def _read_flashes(request: Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        data = _flash_serializer().loads(raw)
    except BadSignature:
        return []
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


def flash(response: Response, message: str, category: str = "success") -> Response:
    """Show a message on the next page the browser renders (post/redirect/get)."""
    value = _flash_serializer().dumps([{"message": message, "category": category}])
    response.set_cookie(
        FLASH_COOKIE,
        value,
        max_age=120,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
    )
    return response


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    """Set an HttpOnly, SameSite=Lax cookie (Secure when served over https)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
        path="/",
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a page with the CSRF token, the signed-in staff user and pending flash messages."""
    csrf_secret = _csrf_secret(request)
    flashes = _read_flashes(request)
    ctx: dict[str, Any] = {
        "request": request,
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token_for(secret=_secret(), csrf_secret=csrf_secret),
        "staff": getattr(request.state, "staff", None),
        "flashes": flashes,
        "all_channels": channels.known(),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(
        request, template, ctx, status_code=status_code, headers=headers
    )
    if getattr(request.state, "csrf_secret_is_new", False):
        set_cookie(response, CSRF_COOKIE, csrf_secret)
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path="/")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def redirect(url: str, *, message: str | None = None, category: str = "success") -> Response:
    """303 See Other to a page, optionally with a flash message."""
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(response, message, category)
    return response


async def csrf_protect(request: Request) -> None:
    """Refuse state-changing page requests whose form token does not match the browser's cookie."""
    if request.method not in UNSAFE_METHODS:
        return
    content_type = request.headers.get("content-type", "")
    token: str | None = None
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    else:
        token = request.headers.get("x-csrf-token")
    if not csrf_token_valid(
        secret=_secret(), csrf_secret=request.cookies.get(CSRF_COOKIE), token=token
    ):
        raise Forbidden(
            "This form has expired or did not come from this site. Go back, reload the page "
            "and try again.",
            code="csrf",
        )


def page_router() -> APIRouter:
    """A router for HTML pages: hidden from the API schema and CSRF-protected on every form."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def safe_next(url: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in; anything else (other hosts, schemes) becomes default."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url


def json_script(value: Any) -> str:
    """JSON safe to embed in a <script type=application/json> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


templates.env.filters["json_script"] = json_script
templates.env.globals["channel_words"] = channels.words
