"""A real `registry serve` for tests that speak HTTP to it: its own database (a SQLite file, or
with REGISTRY_TEST_DATABASE_URL a database of its own on that PostgreSQL server), media folder,
an admin and a comms user, and (mail on) a real SMTP server on loopback."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.mailbox import Inbox, smtp_server
from tests.ports import free_port

ADMIN = ("sec-admin@example.org", "security admin password")
COMMS = ("sec-comms@example.org", "security comms password")
SECRET = "security-secret-key-that-is-long-enough-0123456789"


@dataclass
class Live:
    """A running server: its URL, environment, log and (mail on) the SMTP server's inbox."""

    url: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes]
    inbox: Inbox | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def registry(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "registry", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def client(self, role: str | None = None, **kwargs: Any) -> httpx.Client:
        """An HTTP client; with `role` ("admin" or "comms") it carries that staff token."""
        client = httpx.Client(base_url=self.url, timeout=60, **kwargs)
        if role is not None:
            if role not in self.tokens:
                email, password = ADMIN if role == "admin" else COMMS
                answer = httpx.post(
                    f"{self.url}/api/auth/token", data={"username": email, "password": password}
                )
                answer.raise_for_status()
                self.tokens[role] = answer.json()["access_token"]
            client.headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return client

    def rss_kb(self) -> int:
        """The server process's resident memory."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        assert match is not None
        return int(match.group(1))


def new_database(tmp: Path, name: str) -> str:
    """A fresh database for one server: a SQLite file, or a new database on the suite's
    PostgreSQL server."""
    base = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        return f"sqlite:///{tmp / (name + '.db')}"
    url = make_url(base)
    database = f"{url.database}_{name}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return url.set(database=database).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        return
    url = make_url(database_url)
    admin = create_engine(
        url.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@contextlib.contextmanager
def live_server(
    tmp: Path,
    name: str,
    *,
    mail: bool,
    database: str | None = None,
    users: bool = True,
    workers: int = 1,
    **settings: str,
) -> Iterator[Live]:
    """`registry serve` on a free loopback port with its own database and media folder, and
    an admin and a comms user; stopped (and its database dropped) afterwards. With `database`
    (one the caller made and drops) and `users=False` it serves what is there (a restore)."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    owned = database is None
    database = database or new_database(tmp, name)
    with contextlib.ExitStack() as stack:
        inbox = stack.enter_context(smtp_server()) if mail else None
        env = {
            **os.environ,
            "REGISTRY_ENV": "test",
            "REGISTRY_SECRET_KEY": SECRET,
            "REGISTRY_VAR_DIR": str(tmp),
            "REGISTRY_DATABASE_URL": database,
            "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}",
            "REGISTRY_BROKER_URL": "",
            "REGISTRY_WARM_WORKERS": "false",
            "REGISTRY_WORKERS": "1",
            "REGISTRY_HOUSEKEEPING_HOURS": "0",
            "REGISTRY_CHECKPOINT_MINUTES": "0",
            "REGISTRY_SMTP_URL": inbox.url if inbox else "",
            "REGISTRY_SMTP_ALLOW_PLAINTEXT": "true" if inbox else "false",
            **settings,
        }
        log = tmp / f"{name}.log"
        commands = [["db", "upgrade"]] + [
            ["user", "create", email, "--role", role, "--password", password]
            for (email, password), role in ((ADMIN, "admin"), (COMMS, "comms"))
            if users
        ]
        for command in commands:
            subprocess.run(
                [sys.executable, "-m", "registry", *command],
                env=env,
                capture_output=True,
                check=True,
                timeout=120,
            )
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "registry",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start:\n{log.read_text()}")
                time.sleep(0.2)
            yield Live(f"http://127.0.0.1:{port}", env, log, process, inbox)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if owned:
                drop_database(database)


def new_event(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Security day",
        "starts_at": "2031-03-01T09:00:00+00:00",
        "filming_notice": "We photograph and film this event; opt out at any time.",
        **fields,
    }
    answer = client.post("/api/events", json=body)
    assert answer.status_code == 201, answer.text
    event: dict[str, Any] = answer.json()
    return event


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


@contextlib.contextmanager
def signed_in(live: Live, role: str = "comms") -> Iterator[httpx.Client]:
    """A browser-like client signed in on the staff pages (session cookie)."""
    email, password = ADMIN if role == "admin" else COMMS
    with live.client(follow_redirects=False) as client:
        form = client.get("/login")
        answer = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
        )
        assert answer.status_code == 303, answer.text
        yield client
