"""Staff API over HTTP and audit-log appends: throughput and latency figures.

Starts a real `registry serve` on loopback (SQLite in a temp folder unless REGISTRY_DATABASE_URL is
set), signs in, then sends a bounded number of requests from several client threads.

    uv run python bench/api.py [--requests 4000] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def hammer(
    port: int, path: str, headers: dict[str, str], total: int, clients: int
) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // clients

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for _ in range(per_client):
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(clients)]
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


def audit_appends(database_url: str, count: int) -> float:
    """Appends per second through the service, one unit of work per append (as requests do)."""
    from registry.audit import service
    from registry.audit.service import SYSTEM
    from registry.db import engine_for, unit_of_work

    engine = engine_for(database_url)
    start = time.perf_counter()
    for i in range(count):
        with unit_of_work(engine) as session:
            service.record(
                session=session,
                actor=SYSTEM,
                action="bench.append",
                entity_type="bench",
                entity_id=i,
                after={"i": i},
            )
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "REGISTRY_ENV": "dev",
        "REGISTRY_VAR_DIR": str(tmp),
        "REGISTRY_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "REGISTRY_LOG_LEVEL": "warning",
    }
    env.setdefault("REGISTRY_DATABASE_URL", f"sqlite:///{tmp / 'bench.db'}")
    cli = [sys.executable, "-m", "registry.cli"]
    password = "bench password 123"
    subprocess.run(
        [*cli, "user", "create", "bench@example.org", "--role", "admin", "--password", password],
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        body = urllib.parse.urlencode({"username": "bench@example.org", "password": password})
        conn = http.client.HTTPConnection("127.0.0.1", port)
        start = time.perf_counter()
        conn.request(
            "POST", "/api/auth/token", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        token = json.loads(conn.getresponse().read())["access_token"]
        sign_in_ms = (time.perf_counter() - start) * 1000
        auth = {"Authorization": f"Bearer {token}"}

        print(
            f"database: {env['REGISTRY_DATABASE_URL'].split(':')[0]}, "
            f"{args.clients} client threads, one server process, {os.cpu_count()} cores"
        )
        print(f"sign-in (argon2 verify + token): {sign_in_ms:.0f} ms")
        for label, path, headers in (
            ("GET /healthz (baseline, no auth, no DB)", "/healthz", {}),
            ("GET /api/auth/me (token check + user load)", "/api/auth/me", auth),
        ):
            r = hammer(port, path, headers, args.requests, args.clients)
            print(
                f"{label:45s} {r['per_s']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   "
                f"p99 {r['p99_ms']:6.2f} ms   ({int(r['requests'])} requests)"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    os.environ["REGISTRY_VAR_DIR"] = str(tmp)
    os.environ["REGISTRY_SECRET_KEY"] = env["REGISTRY_SECRET_KEY"]
    rate = audit_appends(env["REGISTRY_DATABASE_URL"], 2000)
    print(f"audit appends (one transaction each): {rate:8.0f} /s")


if __name__ == "__main__":
    main()
