"""Staff API over HTTP and audit-log appends: throughput and latency figures.

Starts a real `registry serve` on loopback (SQLite in a temp folder unless REGISTRY_DATABASE_URL is
set), signs in, then sends a bounded number of requests from several client threads.

    uv run python bench/api.py [--requests 4000] [--clients 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import bench_env, create_admin, hammer, line, server, sign_in  # noqa: E402


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
    env = bench_env(tmp)
    create_admin(env)
    with server(env) as port:
        auth, sign_in_ms = sign_in(port)
        print(
            f"database: {env['REGISTRY_DATABASE_URL'].split(':')[0]}, "
            f"{args.clients} client threads, one server process, {os.cpu_count()} cores"
        )
        print(f"sign-in (argon2 verify + token): {sign_in_ms:.0f} ms")
        for label, path, headers in (
            ("GET /healthz (baseline, no auth, no DB)", "/healthz", {}),
            ("GET /api/auth/me (token check + user load)", "/api/auth/me", auth),
        ):
            print(line(label, hammer(port, path, headers, args.requests, args.clients)))
    os.environ["REGISTRY_VAR_DIR"] = str(tmp)
    os.environ["REGISTRY_SECRET_KEY"] = env["REGISTRY_SECRET_KEY"]
    rate = audit_appends(env["REGISTRY_DATABASE_URL"], 2000)
    print(f"audit appends (one transaction each): {rate:8.0f} /s")


if __name__ == "__main__":
    main()
