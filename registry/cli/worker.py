"""`registry worker`: a Celery worker for the jobs a broker carries."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from registry import logs, metrics, migrations
from registry.cli.console import err, fail
from registry.cli.startup import bucket_ready, load_settings
from registry.db import DatabaseUnavailable, check_reachable, get_engine, redact_url
from registry.dispatch import broker
from registry.worker import celery_app


def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            help="Processes running jobs (0: REGISTRY_WORKERS, else one per core).", min=0
        ),
    ] = 0,
    beat: Annotated[
        bool,
        typer.Option(
            "--beat",
            help="Also run the scheduler (lease sweep, daily housekeeping). Exactly one worker "
            "of a deployment should.",
        ),
    ] = False,
) -> None:
    """Run a Celery worker for clearance jobs (needs REGISTRY_BROKER_URL)."""

    settings = load_settings()
    if not settings.broker_url:
        fail("REGISTRY_BROKER_URL is not set: without a broker, `registry serve` runs the jobs")
    try:
        check_reachable()
    except DatabaseUnavailable as exc:
        fail(str(exc))
    if not migrations.is_at_head(settings.database_url):
        fail(
            f"the database at {redact_url(settings.database_url)} is not migrated: run "
            "`registry db upgrade` (or start `registry serve`) first"
        )
    bucket_ready(settings)
    json_logs = settings.log_format == "json"
    if json_logs:  # every line JSON: this command's own, and no Celery banner
        logs.configure(level=settings.log_level, fmt="json")
    get_engine().dispose()  # no connection may cross the fork into the worker's children
    # This worker's children count in one folder of their own, served on metrics_port.
    metrics.use_folder(settings.var_dir / "metrics" / f"worker-{os.getpid()}", fresh=True)
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr="0.0.0.0", registry=metrics.registry())
        _say(f"worker metrics on port {settings.metrics_port}", json_logs=json_logs)

    processes = concurrency or settings.workers or os.cpu_count() or 1
    argv = [
        *(["--quiet"] if json_logs else []),
        "worker",
        f"--concurrency={processes}",
        f"--loglevel={settings.log_level.upper()}",
        f"--queues={','.join(broker.QUEUES)}",  # answers awaited, then dead workers' photos
        f"--hostname=registry-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={settings.var_dir / 'celerybeat-schedule'}"]
    _say(
        f"worker: {processes} process(es) on {redact_url(settings.broker_url)}"
        + (" with the scheduler" if beat else ""),
        json_logs=json_logs,
    )
    celery_app.worker_app().worker_main(argv)


def _say(message: str, *, json_logs: bool) -> None:
    """A start-up line for the operator: logged under json, else on stderr as before."""
    if json_logs:
        logging.getLogger("registry").info("%s", message)
    else:
        err.print(message)
