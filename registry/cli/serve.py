"""`registry serve`: migrate, then run the web app (with the in-process pool unless a broker
is configured)."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
from typing import Annotated

import typer

from registry import demo as demo_data
from registry import logs, metrics
from registry.cli.console import fail, out
from registry.cli.startup import bucket_ready, load_settings, migrate_or_fail
from registry.config import get_settings
from registry.db import unit_of_work
from registry.lifetime import die_with_parent, identity
from registry.worker import sender as send_loop
from registry.worker.pool import start_fork_server

logger = logging.getLogger("registry")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Seed a demo event, bookings and staff login.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            help="Web server processes (about one per core). Without a broker, one of them "
            "runs the clearance pool for all.",
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
    # Every process this command starts (web processes, the pool's workers) counts in one
    # folder, summed by GET /metrics; emptied now, before any of them writes.
    metrics.use_folder(settings.var_dir / "metrics" / f"serve-{port}", fresh=True)
    if not settings.broker_url and settings.warm_workers and workers == 1:
        # The face models load while the web app starts. (With several web processes, the one
        # that takes the pool starts its own, once it knows it is the one.)
        start_fork_server()
    migrate_or_fail(settings)
    bucket_ready(settings)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if "REGISTRY_BASE_URL" not in os.environ:
        # Links (manage, consent) must point at where this server actually listens.
        os.environ["REGISTRY_BASE_URL"] = url.rstrip("/")
    if demo:
        # The demo's mail is read in the log (only in dev: refused in production above).
        os.environ["REGISTRY_LOG_MAIL_BODIES"] = "true"
    # Each web process knows it is one of several: without a broker one of them takes the pool.
    os.environ["REGISTRY_WEB_PROCESSES"] = str(workers)
    get_settings.cache_clear()
    settings = load_settings()
    # Mail and webhooks go out from a process of their own, started before the web processes
    # so that their first commits find its bell.
    atexit.register(_stop, _start_sender())
    if settings.log_format == "json":
        # Every line a log collector reads is JSON, this command's own included.
        logs.configure(level=settings.log_level, fmt="json")
    if demo:
        _seed_demo()
    where = f"(database {settings.database_url.split(':')[0]}, API docs {url}docs)"
    if settings.log_format == "json":
        logger.info("Registry on %s %s", url, where)
    else:
        out.print(f"Registry on [bold]{url}[/]  {where}")
    uvicorn.run(
        "registry.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=logs.uvicorn_config(level=settings.log_level, fmt=settings.log_format),
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,  # only these may name the client
        workers=workers,
        # A web process that is still importing cannot answer the supervisor's ping; on a busy
        # machine that takes more than uvicorn's 5 s default, which killed (and restarted, and
        # killed) every child.
        timeout_worker_healthcheck=60,
    )


def sender(
    owner: Annotated[int, typer.Option(help="The process this one ends with.")],
) -> None:
    """Send mail and webhook deliveries for `registry serve` (started by it)."""
    settings = load_settings()
    logs.configure(level=settings.log_level, fmt=settings.log_format)
    send_loop.run(identity(owner))


def _start_sender() -> subprocess.Popen[bytes]:
    """The sender process: mail and webhooks, out of the web processes (it ends with this one,
    even by kill -9)."""
    return subprocess.Popen(
        [sys.executable, "-m", "registry", "sender", "--owner", str(os.getpid())],
        preexec_fn=_sender_child,  # noqa: PLW1509 - only sets signal dispositions
    )


def _sender_child() -> None:
    """In the sender before it runs: it dies with this process, and a terminal's Ctrl-C (sent
    to the whole group) is left to this process, which stops it (no traceback mid-import)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _seed_demo() -> None:
    """Seed the demo event and print its staff login, so the person who started it can sign in."""
    with unit_of_work() as session:
        info = demo_data.seed(session=session)
    if get_settings().log_format == "json":
        # One line each, as printed in text (dev only: --demo is refused in production).
        for line in [f"Staff login:  {info.email}  password {info.password}", *info.lines]:
            logger.info("Demo data: %s", line)
        return
    out.rule("[bold]Demo data")
    out.print(f"Staff login:  [bold]{info.email}[/]  password [bold]{info.password}[/]")
    for line in info.lines:
        out.print(line)
    out.rule()
