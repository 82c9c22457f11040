"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from registry import migrations
from registry.config import get_settings
from registry.db import DatabaseUnavailable, check_reachable, get_engine

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    detail: str | None = None


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up (no dependency is checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz() -> JSONResponse:
    """The database is reachable and its schema is at the latest migration."""
    try:
        check_reachable()
        current = migrations.current_revision(get_engine())
    except DatabaseUnavailable as exc:
        return JSONResponse(Health(status="unavailable", detail=str(exc)).model_dump(), 503)
    head = migrations.head_revision()
    if current != head:
        detail = f"schema is at {current or 'nothing'}, expected {head}: run `registry db upgrade`"
        return JSONResponse(Health(status="unavailable", detail=detail).model_dump(), 503)
    settings = get_settings()
    return JSONResponse(
        Health(
            status="ok", detail=f"schema {head} on {settings.database_url.split(':')[0]}"
        ).model_dump()
    )
