"""Item 10: every integer a route takes (path, query, form, JSON body) is bounded to the
database's integer range, so an enormous number is a 422, never an OverflowError (500)."""

from __future__ import annotations

import typing

from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from pydantic import BaseModel

from registry.deps import MAX_ROW
from registry.main import ROUTERS
from tests.live import Live, csrf_of, signed_in

HUGE = "99999999999999999999"


def _upper(metadata: list[typing.Any]) -> int | None:
    bounds = [m.le for m in metadata if hasattr(m, "le")]
    bounds += [m.lt - 1 for m in metadata if hasattr(m, "lt")]
    return min(bounds) if bounds else None


def _ints_of(model: type[BaseModel], where: str, seen: set[type]) -> list[tuple[str, int | None]]:
    if model in seen:
        return []
    seen.add(model)
    found = []
    for name, field in model.model_fields.items():
        for kind in typing.get_args(field.annotation) or (field.annotation,):
            inner = typing.get_args(kind) or (kind,)
            if int in inner:
                found.append((f"{where}.{name}", _upper(field.metadata)))
            for each in inner:
                if isinstance(each, type) and issubclass(each, BaseModel):
                    found += _ints_of(each, f"{where}.{name}", seen)
    return found


def test_every_integer_a_route_takes_is_bounded() -> None:
    unbounded = []
    for router in ROUTERS:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            fields: list[tuple[str, int | None]] = []
            for param in get_flat_params(route.dependant):
                if int in (
                    typing.get_args(param.field_info.annotation) or (param.field_info.annotation,)
                ):
                    fields.append((param.name, _upper(param.field_info.metadata)))
            body = route.body_field.field_info.annotation if route.body_field else None
            if isinstance(body, type) and issubclass(body, BaseModel):
                fields += _ints_of(body, "body", set())
            unbounded += [
                f"{sorted(route.methods or ())} {route.path}: {name}"
                for name, upper in fields
                if upper is None or upper > MAX_ROW
            ]
    assert unbounded == []


def test_enormous_numbers_are_422_over_http(live: Live) -> None:
    with live.client("admin") as api:
        made = api.post(
            "/api/events",
            json={
                "name": "Bounds",
                "starts_at": "2030-01-01T10:00:00+00:00",
                "filming_notice": "This event is filmed.",
            },
        )
        assert made.status_code == 201, made.text
        assert api.get(f"/api/audit?before_seq={HUGE}").status_code == 422
        assert api.post(f"/api/auth/users/{HUGE}/disable").status_code == 422
        media = "00000000-0000-0000-0000-000000000000"
        review = api.post(f"/api/media/{media}/faces/{HUGE}/review", json={"decision": "confirm"})
        assert review.status_code == 404  # the media is looked up first: there is none
    with signed_in(live, "admin") as page:
        staff = page.get("/staff")
        answer = page.post(
            f"/staff/{HUGE}/active", data={"active": "no", "csrf_token": csrf_of(staff.text)}
        )
        assert answer.status_code == 422
        assert page.get(f"/audit?before_seq={HUGE}").status_code == 422
    with live.client() as anyone:
        event = made.json()["id"]
        form = anyone.get("/login")
        answer = anyone.post(
            f"/events/{event}/book",
            data={
                "name": "A",
                "email": "a@example.org",
                "notice_version": HUGE,
                "csrf_token": csrf_of(form.text),
            },
        )
        assert answer.status_code == 422
