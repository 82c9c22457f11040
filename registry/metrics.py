"""What the service counts for Prometheus (`GET /metrics`; the list is in the README).

Counters and histograms are kept where the work happens (a web process, a clearance worker
process). With several processes on one machine (`serve --workers N`, the embedded pool's
processes, a Celery worker's children) they share a folder (prometheus_client's multiprocess
mode: `use_folder` before any metric is touched), and the exposition sums them. Figures that are
the database's (photos waiting, mail queued, takedowns open) are read from it at scrape time
(`registry.monitoring`), so they are right however many processes there are.
"""

from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)

FOLDER_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CLEARANCE = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
STAGE = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
FACES = (0, 1, 2, 5, 10, 20, 50, 100, 200)


def use_folder(folder: Path, *, fresh: bool = False) -> None:
    """Count in `folder`, shared with the other processes of this machine's service (they
    inherit the setting); `fresh` empties it first (at start, before any process writes)."""
    if fresh and folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[FOLDER_ENV] = str(folder)
    values.ValueClass = values.get_value_class()  # pick up the folder if already imported
    _metrics.cache_clear()


def folder() -> Path | None:
    value = os.environ.get(FOLDER_ENV)
    return Path(value) if value else None


class Metrics:
    def __init__(self) -> None:
        # Their own registry (not the library's global one): made again after `use_folder`.
        self.own = CollectorRegistry()
        own = self.own
        self.http_requests = Counter(
            "registry_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=own,
        )
        self.http_seconds = Histogram(
            "registry_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=LATENCY,
            registry=own,
        )
        self.clearance_seconds = Histogram(
            "registry_clearance_latency_seconds",
            "From upload to a final decision (cleared, flagged, needs review or failed).",
            ["kind"],
            buckets=CLEARANCE,
            registry=own,
        )
        self.faces_per_photo = Histogram(
            "registry_faces_per_photo", "Faces found in a photo.", buckets=FACES, registry=own
        )
        self.stage_seconds = Histogram(
            "registry_analysis_stage_seconds",
            "Seconds an analysis spent per stage (decode, detect, encode, check, qr).",
            ["stage"],
            buckets=STAGE,
            registry=own,
        )
        self.gate_decisions = Counter(
            "registry_gate_decisions",
            "Publish-gate answers, by result (allowed, refused) and channel.",
            ["result", "channel"],
            registry=own,
        )
        self.lease_expiries = Counter(
            "registry_lease_expiries",
            "Jobs whose worker stopped renewing its lease (presumed dead): queued again.",
            registry=own,
        )
        self.lease_recoveries = Counter(
            "registry_lease_recoveries",
            "Jobs queued again by the sweep (expired leases, and pending ones nudged).",
            registry=own,
        )
        self.worker_processes = Gauge(
            "registry_worker_processes",
            "Clearance worker processes alive (a Celery worker's children).",
            multiprocess_mode="livesum",
            registry=own,
        )


@lru_cache(maxsize=1)
def _metrics() -> Metrics:
    return Metrics()


def get() -> Metrics:
    """The service's metrics (made on first use, in the folder if one is set)."""
    return _metrics()


def registry() -> CollectorRegistry:
    """Every process's counters: the folder's, summed (or this process's when none is set)."""
    from prometheus_client import multiprocess

    own = get().own
    if folder() is None:
        return own
    summed = CollectorRegistry()
    multiprocess.MultiProcessCollector(summed)
    return summed


def exposition(extra: Any | None = None) -> bytes:
    """The Prometheus text of every process's counters (the folder's, when set) and of an
    `extra` collector (figures read from the database at scrape time)."""
    summed = registry()
    if extra is None:
        return bytes(generate_latest(summed))
    combined = CollectorRegistry()
    combined.register(_Both(summed, extra))
    return bytes(generate_latest(combined))


class _Both:
    def __init__(self, registry: CollectorRegistry, extra: Any) -> None:
        self.registry, self.extra = registry, extra

    def collect(self) -> Any:
        yield from self.registry.collect()
        yield from self.extra.collect()


def mark_process_dead(pid: int) -> None:
    """A process of this machine's service ended: its live gauges stop counting."""
    if folder() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
