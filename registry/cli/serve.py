"""`registry serve`: migrate, then run the web app (with the in-process pool unless a broker
is configured)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from registry import demo as demo_data
from registry import metrics
from registry.cli.console import fail, out
from registry.cli.startup import bucket_ready, load_settings, migrate_or_fail
from registry.config import get_settings
from registry.db import unit_of_work
from registry.worker.pool import start_fork_server


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Seed a demo event, bookings and staff login.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            help="Web server processes. More than one needs REGISTRY_BROKER_URL (the in-process "
            "clearance pool lives in one process).",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Migrate the database and start the web app."""
    import uvicorn

    settings = load_settings()
    if demo and settings.env == "production":
        fail("--demo is refused when REGISTRY_ENV=production")
    if workers > 1 and not settings.broker_url:
        fail(
            "--workers > 1 needs REGISTRY_BROKER_URL: without a broker, clearance runs in one "
            "web process's pool"
        )
    # Every process this command starts (web processes, the pool's workers) counts in one
    # folder, summed by GET /metrics; emptied now, before any of them writes.
    metrics.use_folder(settings.var_dir / "metrics" / f"serve-{port}", fresh=True)
    if not settings.broker_url and settings.warm_workers:
        start_fork_server()  # the face models load while the web app starts
    migrate_or_fail(settings)
    bucket_ready(settings)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if "REGISTRY_BASE_URL" not in os.environ:
        # Links (manage, consent) must point at where this server actually listens.
        os.environ["REGISTRY_BASE_URL"] = url.rstrip("/")
    if demo:
        # The demo's mail is read in the log (only in dev: refused in production above).
        os.environ["REGISTRY_LOG_MAIL_BODIES"] = "true"
    get_settings.cache_clear()
    settings = load_settings()
    if demo:
        _seed_demo()
    out.print(
        f"Registry on [bold]{url}[/]  (database {settings.database_url.split(':')[0]}, "
        f"API docs {url}docs)"
    )
    uvicorn.run(
        "registry.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,  # only these may name the client
        workers=workers,
        # A web process that is still importing cannot answer the supervisor's ping; on a busy
        # machine that takes more than uvicorn's 5 s default, which killed (and restarted, and
        # killed) every child.
        timeout_worker_healthcheck=60,
    )


def _seed_demo() -> None:
    """Seed the demo event and print its staff login, so the person who started it can sign in."""
    with unit_of_work() as session:
        info = demo_data.seed(session=session)
    out.rule("[bold]Demo data")
    out.print(f"Staff login:  [bold]{info.email}[/]  password [bold]{info.password}[/]")
    for line in info.lines:
        out.print(line)
    out.rule()
