"""Real Redis, a database every process can see, and `registry worker` processes.

Redis: REGISTRY_TEST_REDIS_URL, else a `redis-server` started here on a free loopback port; without
either these tests skip, unless REGISTRY_E2E_REQUIRED=1 (as in CI), where they fail. The database
is a fresh PostgreSQL database on the server of REGISTRY_TEST_DATABASE_URL (when set), else a
SQLite file: workers are other processes, so nothing can hide in a rolled-back test transaction.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from registry import migrations
from registry.config import Settings, get_settings, normalise_database_url
from tests.ports import free_port
from tests.required import missing

REGISTRY = Path(sys.executable).parent / "registry"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("REGISTRY_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        missing(
            "redis-server not found (apt-get install redis-server, or set REGISTRY_TEST_REDIS_URL)"
        )
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The test's Redis, emptied (each test sees only its own messages)."""
    import redis

    redis.Redis.from_url(redis_server).flushdb()
    return redis_server


@pytest.fixture
def broker(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This process sends to the test's Redis (as a web process with a broker would)."""
    monkeypatch.setenv("REGISTRY_BROKER_URL", redis_url)
    get_settings.cache_clear()
    yield redis_url
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def shared_database(tmp_path: Path) -> Iterator[str]:
    """A migrated database of its own, visible to every process (committed writes only)."""
    base = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        migrations.upgrade(url)
        yield url
        return
    admin = create_engine(normalise_database_url(base), isolation_level="AUTOCOMMIT")
    name = f"registry_w_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = (
        make_url(normalise_database_url(base))
        .set(database=name)
        .render_as_string(hide_password=False)
    )
    try:
        migrations.upgrade(url)
        yield url
    finally:
        from registry.db import engine_for

        engine_for(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def kill(self) -> None:
        """kill -9 the worker and its children, as a crash or an OOM kill would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@dataclass
class Workers:
    env: dict[str, str]
    folder: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, *args: str) -> Worker:
        log = self.folder / f"worker-{len(self.started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(REGISTRY), "worker", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 takes the children too
            )
        worker = Worker(process, log)
        self.started.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(f"--- worker {n} ---\n{w.output()}" for n, w in enumerate(self.started))

    def wait_ready(self, timeout: float = 180) -> None:
        """Until every started worker has loaded the models and consumes its queues (Celery
        logs "ready."): a busy machine may take a while, and a test must not race it."""
        wait_for(
            lambda: all(" ready." in w.output() for w in self.started),
            timeout=timeout,
            what="the workers to be ready",
            logs=self.logs,
        )


@pytest.fixture
def worker_env(
    settings: Settings, shared_database: str, redis_url: str, tmp_path: Path
) -> dict[str, str]:
    """What `registry worker` processes see: the shared database, Redis, this test's media."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        {
            "REGISTRY_ENV": "test",
            "REGISTRY_SECRET_KEY": settings.resolved_secret_key(),
            "REGISTRY_VAR_DIR": str(tmp_path / "worker-var"),
            "REGISTRY_MEDIA_DIR": str(settings.media_path()),
            "REGISTRY_DATABASE_URL": shared_database,
            "REGISTRY_BROKER_URL": redis_url,
            "REGISTRY_JOB_LEASE_SECONDS": "8",
            "REGISTRY_HEARTBEAT_SECONDS": "2",
            "REGISTRY_SWEEP_SECONDS": "1",
            "REGISTRY_HOUSEKEEPING_HOURS": "0",
            "REGISTRY_LOG_LEVEL": "info",
        }
    )
    return env


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(worker_env, tmp_path)
    try:
        yield pool
    finally:
        for worker in pool.started:
            worker.stop()


def wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, logs: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")
