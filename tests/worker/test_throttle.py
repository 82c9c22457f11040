"""Sign-in throttling shared by several web processes through Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from registry.auth.throttle import RedisLoginThrottle
from tests.ports import free_port

pytestmark = pytest.mark.worker


def test_two_processes_count_the_same_failures(redis_url: str) -> None:
    first = RedisLoginThrottle(redis_url, max_failures=3, window_seconds=60)
    second = RedisLoginThrottle(redis_url, max_failures=3, window_seconds=60)
    keys = [("user:a@example.org", 1), ("client:10.0.0.1", 4)]
    first.fail(["user:a@example.org", "client:10.0.0.1"])
    second.fail(["user:a@example.org", "client:10.0.0.1"])
    assert first.retry_after(keys) == 0
    first.fail(["user:a@example.org", "client:10.0.0.1"])
    assert 0 < second.retry_after(keys) <= 61  # the third failure, counted elsewhere
    second.clear("user:a@example.org")
    assert first.retry_after(keys) == 0
    # No email or address is written to Redis.
    import redis

    names = [str(k) for k in redis.Redis.from_url(redis_url, decode_responses=True).keys("*")]
    assert names
    assert not any("example.org" in n or "10.0.0.1" in n for n in names)


def test_without_redis_each_process_still_counts() -> None:
    throttle = RedisLoginThrottle(
        f"redis://127.0.0.1:{free_port()}/0", max_failures=2, window_seconds=60
    )
    keys = [("user:b@example.org", 1)]
    throttle.fail(["user:b@example.org"])
    throttle.fail(["user:b@example.org"])
    assert throttle.retry_after(keys) > 0


@pytest.mark.own_sqlite
def test_serve_with_two_web_processes_shares_the_throttle(
    redis_url: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **worker_env,
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "REGISTRY_LOGIN_MAX_FAILURES": "3",
    }
    cli = [sys.executable, "-m", "registry"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*cli, "user", "create", "c@example.org", "--role", "admin", "--password", "a long pw 123"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = None
        deadline = time.monotonic() + 120  # two processes start while other tests load the CPU
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                    ready = json.loads(response.read())
                    break
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        assert ready is not None, (tmp_path / "serve.log").read_text()
        assert ready["status"] == "ok"

        def sign_in() -> int:
            body = urllib.parse.urlencode(
                {"username": "c@example.org", "password": "wrong"}
            ).encode()
            request = urllib.request.Request(f"{base}/api/auth/token", data=body)
            request.add_header("Connection", "close")  # a new connection: either process
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return int(response.status)
            except urllib.error.HTTPError as exc:
                return exc.code

        codes = [sign_in() for _ in range(4)]
        # The fourth try waits (the account's failures are counted across both processes).
        assert codes == [401, 401, 401, 429]
    finally:
        os.killpg(server.pid, 15)
        server.wait(20)
        log.close()
