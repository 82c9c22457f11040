"""Watching the service run: a request id and an access line for every request, HTTP figures,
and `GET /metrics` for Prometheus.

`/metrics` answers an admin's bearer token, the `REGISTRY_METRICS_TOKEN` (as a bearer token), or
a client on this machine (loopback, with no forwarding header of any kind: a proxy's word never
lets a client in). What it shows: the counters and histograms every process of this machine's
service keeps (`registry.metrics`), and figures read from the database at the moment of the
scrape (photos and videos by state, mail by state and the age of the oldest queued, takedowns
open, the embedded pool's worker processes alive).
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.core import GaugeMetricFamily
from sqlmodel import Session

from registry import logs, metrics, origin
from registry.auth import service as auth_service
from registry.auth.models import Role
from registry.auth.security import read_access_token
from registry.config import get_settings
from registry.deps import SessionDep
from registry.errors import Forbidden, Unauthorized, error_responses
from registry.mail import service as mail
from registry.media import service as media
from registry.publishing import takedowns

access_log = logging.getLogger("registry.access")
Scope = dict[str, Any]


class RequestObserver:
    """ASGI middleware: every request gets an id (the caller's `X-Request-ID`, or a new one),
    echoed in the response's `X-Request-ID` and carried by every log line written while it is
    served (and by the jobs it starts); its route template, method, status and duration are
    counted, and written as an access line when logging JSON (`access`). Being outermost, it
    first settles who the client is (`origin.settle_client`), for everything inside."""

    def __init__(self, app: Any, *, access: bool = False) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin.settle_client(scope)
        headers = dict(scope.get("headers") or [])
        given = headers.get(logs.REQUEST_ID.encode(), b"").decode("latin-1")
        rid = logs.new_request_id(given)
        started = time.perf_counter()
        status = 500

        async def with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                name = logs.REQUEST_ID.encode()
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() != name),
                    (name, rid.encode()),
                ]
            await send(message)

        with logs.context(request_id=rid):
            try:
                await self.app(scope, receive, with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = _route(scope)
                method = str(scope["method"])
                figures = metrics.get()
                figures.http_requests.labels(route, method, str(status)).inc()
                figures.http_seconds.labels(route, method).observe(elapsed)
                if self.access:
                    access_log.info(
                        "%s %s %s",
                        method,
                        route,
                        status,
                        extra={
                            "route": route,
                            "method": method,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 1),
                        },
                    )


def _route(scope: Scope) -> str:
    """The route template that answered (`/api/media/{media_id}`): never the raw path (it may
    hold a private link's token, and every id would be its own series); "unmatched" else."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


# --- GET /metrics -----------------------------------------------------------------------------

router = APIRouter(tags=["operations"])


def _allowed(request: Request, session: Session) -> None:
    settings = get_settings()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if token and settings.metrics_token and hmac.compare_digest(token, settings.metrics_token):
        return
    if token:
        claims = read_access_token(secret=settings.resolved_secret_key(), token=token)
        user = auth_service.user_for_claims(session=session, claims=claims)
        if user is not None and user.role == Role.admin:
            return
        if user is not None:
            raise Forbidden("Only an admin (or the metrics token) may read the metrics.")
    if origin.direct_from_this_machine(request.scope):
        return
    raise Unauthorized("Send an admin's bearer token or the metrics token.")


class Database:
    """Figures read from the database when Prometheus scrapes: right however many processes
    serve and work."""

    def __init__(self, session: Session, jobs: Any | None) -> None:
        self.session, self.jobs = session, jobs

    def collect(self) -> Any:
        jobs = GaugeMetricFamily(
            "registry_clearance_jobs",
            "Photos and videos by clearance state (pending, processing, failed ...).",
            labels=["state", "kind"],
        )
        for (kind, state), count in media.state_counts(session=self.session).items():
            jobs.add_metric([state, kind], count)
        yield jobs
        outbox = GaugeMetricFamily(
            "registry_outbox_messages", "Mail in the outbox by state.", labels=["state"]
        )
        for state, count in mail.state_counts(session=self.session).items():
            outbox.add_metric([state], count)
        yield outbox
        yield GaugeMetricFamily(
            "registry_outbox_oldest_queued_seconds",
            "Age of the oldest message still queued (0: none).",
            value=mail.oldest_queued_seconds(session=self.session),
        )
        yield GaugeMetricFamily(
            "registry_takedowns_open",
            "Publications whose basis was withdrawn and that are not marked taken down yet.",
            value=len(takedowns.takedowns(session=self.session)),
        )
        alive = getattr(self.jobs, "alive", None)
        if callable(alive):
            yield GaugeMetricFamily(
                "registry_pool_processes",
                "Worker processes of the embedded clearance pool alive.",
                value=alive(),
            )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **error_responses(Unauthorized, Forbidden),
    },
)
def metrics_page(request: Request, session: SessionDep) -> Response:
    """Prometheus metrics (an admin's bearer token, `REGISTRY_METRICS_TOKEN`, or loopback)."""
    _allowed(request, session)
    body = metrics.exposition(Database(session, getattr(request.app.state, "jobs", None)))
    return Response(
        body,
        media_type="text/plain; version=0.0.4; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )
