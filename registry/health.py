"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from registry import migrations
from registry.config import get_settings
from registry.db import DatabaseUnavailable, check_reachable, get_engine, redact_url
from registry.media.storage import S3Storage, get_storage

router = APIRouter(tags=["health"])
logger = logging.getLogger("registry")


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
    the clearance pool is warm: "warming" while its processes load the face models. Public: it
    says what is wrong in general words; hosts, users and errors go to the server log."""
    return check_ready(getattr(request.app.state, "jobs", None))


_last_logged: str | None = None  # the last "not ready" reason logged


def check_ready(jobs: object | None = None, *, public: bool = True) -> JSONResponse:
    """The readiness answer (`jobs`: the app's job queue, whose `ready` event says it is warm);
    `public=False` gives the full detail (for the log, the CLI and tests)."""
    global _last_logged
    status, general, detail = _diagnose(jobs)
    if status != "ok" and detail != _last_logged:
        # Once per state, not once per poll (a load balancer polls every few seconds).
        logger.warning("not ready: %s", detail)
    _last_logged = detail if status != "ok" else None
    body = Health(status=status, detail=general if public else detail)
    return JSONResponse(body.model_dump(), 200 if status == "ok" else 503)


def _diagnose(jobs: object | None) -> tuple[str, str, str]:
    """(status, what the public may read, the full detail)."""
    ready = getattr(jobs, "ready", None)
    if ready is not None and not ready.is_set():
        detail = "warming: the clearance workers are loading the face models"
        return "warming", detail, detail
    try:
        check_reachable()
        current = migrations.current_revision(get_engine())
    except DatabaseUnavailable as exc:
        return "unavailable", "the database is unreachable", str(exc)
    head = migrations.head_revision()
    if current != head:
        detail = f"schema is at {current or 'nothing'}, expected {head}: run `registry db upgrade`"
        return "unavailable", "the database schema is not up to date", detail
    settings = get_settings()
    broker = _broker_problem(settings.broker_url)
    if broker:
        return "unavailable", "the job broker is unreachable", broker
    storage = _storage_problem()
    if storage:
        return "unavailable", "the media storage is unreachable", storage
    parts = [f"schema {head} on {settings.database_url.split(':')[0]}"]
    if settings.broker_url:
        parts.append("broker reachable")
    if settings.storage_url:
        parts.append("bucket reachable")
    return "ok", "ready", "; ".join(parts)


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
