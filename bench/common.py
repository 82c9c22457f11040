"""Shared by the HTTP benchmarks: a real `registry serve` on loopback and a load generator."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

CLI = [sys.executable, "-m", "registry"]
PASSWORD = "bench password 123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_env(tmp: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "REGISTRY_ENV": "dev",
        "REGISTRY_VAR_DIR": str(tmp),
        "REGISTRY_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        # Quiet, unless the server's log is kept (BENCH_SERVER_LOG): then its timings too.
        "REGISTRY_LOG_LEVEL": "info" if os.environ.get("BENCH_SERVER_LOG") else "warning",
    }
    env.setdefault("REGISTRY_DATABASE_URL", f"sqlite:///{tmp / 'bench.db'}")
    return env


def create_admin(env: dict[str, str]) -> None:
    subprocess.run(
        [*CLI, "user", "create", "bench@example.org", "--role", "admin", "--password", PASSWORD],
        env=env,
        check=True,
        capture_output=True,
    )


@contextmanager
def server(env: dict[str, str], workers: int = 1) -> Iterator[int]:
    """`registry serve` on a free port until the block ends; yields the port once ready.
    (`workers` > 1 runs several web processes and needs REGISTRY_BROKER_URL in `env`.)"""
    port = free_port()
    log_path = os.environ.get("BENCH_SERVER_LOG")
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        for _ in range(300):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        if not isinstance(log, int):
            log.close()


def sign_in(port: int) -> tuple[dict[str, str], float]:
    """Bearer headers for the bench admin, and how long signing in took (ms)."""
    body = urllib.parse.urlencode({"username": "bench@example.org", "password": PASSWORD})
    conn = http.client.HTTPConnection("127.0.0.1", port)
    start = time.perf_counter()
    conn.request(
        "POST", "/api/auth/token", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    token = json.loads(conn.getresponse().read())["access_token"]
    return {"Authorization": f"Bearer {token}"}, (time.perf_counter() - start) * 1000


def hammer(
    port: int,
    paths: Sequence[str] | str,
    headers: dict[str, str],
    total: int,
    clients: int,
    check: Callable[[bytes], None] | None = None,
    bodies: Sequence[bytes] | None = None,
) -> dict[str, float]:
    """`total` requests from `clients` keep-alive connections, cycling through `paths` (GET),
    or POSTing `bodies` (JSON) to the one path when given."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // clients

    def run(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for i in range(per_client):
            n = offset * per_client + i
            path = paths[n % len(paths)]
            start = time.perf_counter()
            if bodies:
                post_headers = {**headers, "Content-Type": "application/json"}
                conn.request("POST", path, body=bodies[n % len(bodies)], headers=post_headers)
            else:
                conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status} {body[:200]!r}")
            if check is not None:
                check(body)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def line(label: str, r: dict[str, float]) -> str:
    return (
        f"{label:48s} {r['per_s']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   "
        f"p99 {r['p99_ms']:6.2f} ms   ({int(r['requests'])} requests)"
    )


def multipart(files: list[tuple[str, bytes]], event_id: object) -> tuple[bytes, str]:
    boundary = os.urandom(12).hex()
    field = 'Content-Disposition: form-data; name="event_id"'
    parts = [f"--{boundary}\r\n{field}\r\n\r\n{event_id}\r\n".encode()]
    for name, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@contextmanager
def launched(env: dict[str, str]) -> Iterator[tuple[int, dict[str, str], float]]:
    """`registry serve` launched now (no waiting for /readyz: a cold start counts); yields its
    port, the bench admin's headers once the API answers, and the launch time
    (perf_counter). The server is stopped when the block ends."""
    port = free_port()
    t0 = time.perf_counter()
    # BENCH_SERVER_LOG=path keeps the server's log (e.g. the redaction's timings per pass).
    keep = os.environ.get("BENCH_SERVER_LOG")
    log = open(keep, "ab") if keep else None  # noqa: SIM115 (closed with the server)
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                headers, _ = sign_in(port)
                break
            except (OSError, http.client.HTTPException, KeyError, ValueError):
                time.sleep(0.05)
        yield port, headers, t0
    finally:
        process.terminate()
        process.wait(60)
        if log is not None:
            log.close()
