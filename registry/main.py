"""The application factory."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from registry import __version__, health, links, logs, monitoring, openapi, reactions
from registry.audit import api as audit_api
from registry.audit import pages as audit_pages
from registry.auth import api as auth_api
from registry.auth import pages as auth_pages
from registry.auth.throttle import make_throttle
from registry.config import Settings, get_settings
from registry.consent import api as consent_api
from registry.consent import pages as consent_pages
from registry.dashboard import pages as dashboard_pages
from registry.deps import carries_staff_credential
from registry.dispatch import broker, compute, doorbell, queue
from registry.events import api as events_api
from registry.events import pages as events_pages
from registry.events import public_pages as events_public_pages
from registry.exception_handlers import install_handlers
from registry.lifetime import exit_with, identity
from registry.limits import BodyLimit, SecurityHeaders, WriteQueue
from registry.mail import pages as mail_pages
from registry.media import api as media_api
from registry.media import pages as media_pages
from registry.media import people_pages
from registry.monitoring import RequestObserver
from registry.organisation import pages as organisation_pages
from registry.publishing import api as publishing_api
from registry.publishing import pages as publishing_pages
from registry.rights import api as rights_api
from registry.rights import pages as rights_pages
from registry.rights import public_pages as rights_public_pages
from registry.web import STATIC_DIR
from registry.webhooks import api as webhooks_api
from registry.webhooks import pages as webhooks_pages
from registry.worker import periodic
from registry.worker.pool import LocalPool, start_fork_server, take_pool

logger = logging.getLogger("registry")

# Every router of the service, in matching order; tests walk this list to check route guards.
ROUTERS: list[APIRouter] = [
    health.router,
    monitoring.router,
    auth_api.router,
    audit_api.router,
    events_api.router,
    consent_api.router,
    media_api.router,
    publishing_api.router,
    publishing_api.public_router,
    rights_api.router,
    rights_api.objections_router,
    webhooks_api.router,
    auth_pages.router,
    dashboard_pages.router,
    organisation_pages.router,
    events_pages.router,
    events_public_pages.router,
    consent_pages.router,
    media_pages.router,
    people_pages.router,
    publishing_pages.router,
    audit_pages.router,
    mail_pages.router,
    rights_pages.router,
    rights_public_pages.router,
    webhooks_pages.router,
]


def _redact_access_log() -> None:
    # Public link tokens are bearer secrets: keep them out of every log that names a path.
    links.redact_logs("uvicorn.access", "uvicorn.error", "registry")


DESCRIPTION = (
    "Patient consent by link, event bookings with photo opt-outs and QR badges, photo "
    "clearance and a publish gate. Staff routes need a bearer token from "
    "`POST /api/auth/token`."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web application: API routers, pages, static files and error handlers."""
    settings = settings or get_settings()
    settings.resolved_secret_key()  # fail at start-up, not on the first request
    reactions.wire()
    app = FastAPI(
        title="Consent & event-media registry",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan(settings),
    )
    _add_throttles(app, settings)
    install_handlers(app)
    openapi.install(app)
    _add_middleware(app, settings)
    _add_routes(app)
    return app


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What runs beside the requests while the app is up: logging, timers, clearance jobs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The service's own messages (jobs, sweeps, housekeeping counts) beside the server's, at
        # its log level and in its format (text, or one JSON object a line).
        logs.configure(level=settings.log_level, fmt=settings.log_format)
        _redact_access_log()
        # A thread that holds the database's write turn gets the interpreter back within 1 ms
        # of its query, not 5 (the default), when dozens of request threads want it too: under
        # a booking wave every writer waits on that one (bench/load.py: +25% requests/s).
        sys.setswitchinterval(0.001)
        if settings.web_processes > 1:
            # One of `registry serve --workers N`'s processes: it ends with the serve, even
            # when that is killed outright (the supervisor cannot stop it then).
            exit_with(identity(os.getppid()))
        if settings.web_processes > 1 and not settings.broker_url:
            # Several web processes, no broker: one runs the pool and the timers for all.
            app.state.pool_lock = take_pool(settings.var_dir / "run" / "pool.lock")
            if app.state.pool_lock is None:
                async with _handing_jobs_over(app):
                    yield
                return
            if settings.warm_workers:  # this process is the one: load the models beside the app
                start_fork_server()
        timers = _start_timers(settings)
        async with _clearance_jobs(app, settings):
            yield
            for timer in timers:  # before the pool they may feed stops
                timer.cancel()

    return lifespan


def _start_timers(settings: Settings) -> list[asyncio.Task[None]]:
    """The periodic work of this process; with a broker, Celery beat runs housekeeping and
    checkpoints instead."""
    timers: list[asyncio.Task[None]] = []
    if not (settings.broker_url or settings.housekeeping_hours == 0):
        timers.append(
            asyncio.create_task(
                periodic.scheduler(first_delay=30, interval=settings.housekeeping_hours * 3600)
            )
        )
    # The outbox's retries (every web process may run it: rows are claimed with a lock).
    timers.append(asyncio.create_task(periodic.mailer(interval=60.0)))
    timers.append(asyncio.create_task(periodic.webhooker(interval=5.0)))
    # Signed audit checkpoints outside the database (beat writes them with a broker).
    if settings.checkpoint_minutes and not settings.broker_url:
        timers.append(
            asyncio.create_task(periodic.checkpointer(interval=settings.checkpoint_minutes * 60.0))
        )
    return timers


@asynccontextmanager
async def _clearance_jobs(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Clearance jobs go to a broker's workers when one is configured, else to an in-process
    pool that lives as long as the app."""
    if settings.broker_url:
        # Jobs services queue after their commit (uploads, redactions) go to the broker.
        app.state.jobs = broker.CeleryQueue()
        queue.use(app.state.jobs)
        yield
        queue.use(None)
        return
    pool = LocalPool(settings.workers)
    app.state.jobs = pool
    compute.use_processes(pool.submit, pool.workers)  # a video's check, shared out
    # Start the worker processes (models loaded) now, not on the first photo; /readyz
    # says "warming" until they are up.
    warming = None
    if settings.warm_workers:
        warming = asyncio.create_task(asyncio.to_thread(pool.warm))
    else:
        pool.ready.set()
    # Jobs services queue after their commit (uploads, redactions) go to the pool.
    queue.use(pool)
    recovered = pool.recover()
    if recovered:
        logger.info("queued %d photo(s) left pending by the previous run", recovered)
    sweeper = asyncio.create_task(periodic.sweeper(pool, interval=float(settings.sweep_seconds)))
    # Other web processes of this serve (if any) ring their jobs over.
    bell = doorbell.Bell(doorbell.POOL) if settings.web_processes > 1 else None
    if bell is not None:

        def answer(word: str, ids: list[uuid.UUID]) -> None:
            (pool.enqueue if word == "clear" else pool.enqueue_redactions)(ids)

        bell.listen(answer)
    yield
    if bell is not None:
        bell.close()
    sweeper.cancel()
    compute.use_processes(None)
    queue.use(None)
    pool.shutdown()
    if warming is not None:
        warming.cancel()


@asynccontextmanager
async def _handing_jobs_over(app: FastAPI) -> AsyncIterator[None]:
    """A web process beside the one that holds the pool: its jobs are rung over to that one."""
    app.state.jobs = doorbell.PoolBell()
    queue.use(app.state.jobs)
    yield
    queue.use(None)


def _add_throttles(app: FastAPI, settings: Settings) -> None:
    """Counters of failed sign-ins and of public link requests, shared through the broker's
    Redis when there is one, else (several web processes) through a file of theirs."""
    shared = settings.var_dir / "run" / "throttles.sqlite" if settings.web_processes > 1 else None
    app.state.login_throttle = make_throttle(
        broker_url=settings.broker_url,
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
        shared=(shared, "login") if shared else None,
    )
    # Public link requests (lost-link form, booking an address already booked): the limits are
    # the key factors (per address, per network), one counter per request.
    app.state.link_throttle = make_throttle(
        broker_url=settings.broker_url,
        max_failures=1,
        window_seconds=settings.link_request_window_seconds,
        shared=(shared, "links") if shared else None,
    )


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Added innermost first: the last one added sees every request and answer first."""
    # Writers queue in the event loop, so a thread is always free for the one writing.
    app.add_middleware(WriteQueue)
    # Outside the routes: bodies over the limit are never read; the large limit is for staff.
    app.add_middleware(BodyLimit, is_staff=carries_staff_credential)
    app.add_middleware(SecurityHeaders)  # even a 413 carries them
    # Outermost: every answer, a 413 too, has its request id, is counted and (JSON) logged.
    app.add_middleware(RequestObserver, access=settings.log_format == "json")


def _add_routes(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
