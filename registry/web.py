"""Server-rendered pages: templates, CSRF protection and flash messages shared by every domain."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRouter
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup

from registry import channels, plurals, zones
from registry.auth.security import csrf_token_for, csrf_token_valid, new_csrf_secret
from registry.config import ROOT_DIR, get_settings
from registry.errors import Forbidden, NotFound

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


class Flashes:
    """The messages a page shows once (post/redirect/get).

    A message may name a `place` on the page (next to the form it is about): the page takes it
    with `take(place)` and shows it there, focused; the messages no part of the page took are
    shown at the top (`rest()`, called by the base template after the content is rendered).
    `kept` carries form choices that are safe to restore after an error (e.g. a ticked box).
    """

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self._taken: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Any:
        return iter(self.items)

    def take(self, place: str) -> list[dict[str, Any]]:
        self._taken.add(place)
        return [m for m in self.items if m.get("place") == place]

    def rest(self) -> list[dict[str, Any]]:
        return [m for m in self.items if m.get("place") not in self._taken]

    def kept(self, field: str) -> Any:
        for m in self.items:
            keep = m.get("keep")
            if isinstance(keep, dict) and field in keep:
                return keep[field]
        return None


def _read_flashes(request: Request) -> Flashes:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return Flashes([])
    try:
        data = _flash_serializer().loads(raw)
    except BadSignature:
        return Flashes([])
    items = [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []
    return Flashes(items)


def flash(
    response: Response,
    message: str,
    category: str = "success",
    *,
    place: str | None = None,
    keep: dict[str, Any] | None = None,
) -> Response:
    """Show a message on the next page the browser renders (post/redirect/get); `place` names
    where on that page (else it is shown at the top)."""
    item: dict[str, Any] = {"message": message, "category": category}
    if place:
        item["place"] = place
    if keep:
        item["keep"] = keep
    value = _flash_serializer().dumps([item])
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
        "default_timezone": get_settings().timezone,
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


def redirect(
    url: str,
    *,
    message: str | None = None,
    category: str = "success",
    place: str | None = None,
    keep: dict[str, Any] | None = None,
) -> Response:
    """303 See Other to a page, optionally with a flash message (shown at `place` if given:
    the URL should then end with that place's fragment, so the browser scrolls to it)."""
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(response, message, category, place=place, keep=keep)
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


def path_uuid(value: str, what: str) -> uuid.UUID:
    """An id from a page's path; a 404 page ("No event with this id.") when it is not one."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"No {what} with this id.") from None


def safe_next(url: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in; anything else (other hosts, schemes) becomes default."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url


def json_script(value: Any) -> str:
    """JSON safe to embed in a <script type=application/json> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def thumb_height(media: Any, width: int) -> Markup:
    """` height="N"` for a thumbnail shown `width` wide, from the media's stored size: the page
    keeps its layout while thumbnails load (nothing moves under a person's click)."""
    w, h = getattr(media, "width", None), getattr(media, "height", None)
    if not w or not h:
        return Markup("")
    return Markup(f' height="{max(1, round(width * h / w))}"')


_in_zone = zones.in_default_zone
long_datetime = zones.long_datetime
short_datetime = zones.short_datetime
long_date = zones.long_date
last_day = zones.last_day


templates.env.filters["json_script"] = json_script
templates.env.filters["long_datetime"] = long_datetime
templates.env.filters["long_date"] = long_date
templates.env.filters["short_datetime"] = short_datetime
templates.env.filters["last_day"] = last_day
templates.env.filters["in_zone"] = _in_zone
templates.env.globals["channel_words"] = channels.words
templates.env.globals["thumb_height"] = thumb_height
templates.env.filters["count"] = plurals.count
templates.env.globals["timezone_names"] = zones.names
