"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from registry import migrations
from registry.config import get_settings
from registry.db import DatabaseUnavailable, check_reachable, get_engine, redact_url
from registry.media.storage import S3Storage, get_storage

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    detail: str | None = None


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up (no dependency is checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request) -> JSONResponse:
    """The database is reachable, its schema is at the latest migration, and (without a broker)
    the clearance pool is warm: "warming" while its processes load the face models."""
    return check_ready(getattr(request.app.state, "jobs", None))


def check_ready(jobs: object | None = None) -> JSONResponse:
    """The readiness answer (`jobs`: the app's job queue, whose `ready` event says it is warm)."""
    ready = getattr(jobs, "ready", None)
    if ready is not None and not ready.is_set():
        detail = "warming: the clearance workers are loading the face models"
        return JSONResponse(Health(status="warming", detail=detail).model_dump(), 503)
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
    problem = _broker_problem(settings.broker_url) or _storage_problem()
    if problem:
        return JSONResponse(Health(status="unavailable", detail=problem).model_dump(), 503)
    parts = [f"schema {head} on {settings.database_url.split(':')[0]}"]
    if settings.broker_url:
        parts.append("broker reachable")
    if settings.storage_url:
        parts.append("bucket reachable")
    return JSONResponse(Health(status="ok", detail="; ".join(parts)).model_dump())


def _broker_problem(url: str) -> str | None:
    """With a broker, jobs cannot be queued when it is down: not ready."""
    if not url:
        return None
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except (redis.RedisError, OSError) as exc:
        return f"cannot reach the broker at {redact_url(url)}: {exc}"
    return None


def _storage_problem() -> str | None:
    settings = get_settings()
    if not settings.storage_url:
        return None
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    try:
        storage.client.head_bucket(Bucket=storage.bucket)
    except Exception as exc:  # botocore's errors: no such bucket, access denied, unreachable
        return f"cannot reach the bucket {settings.storage_url}: {exc}"
    return None
