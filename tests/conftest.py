"""Test settings, a migrated database, one rolled-back transaction per test, and an API client.

REGISTRY_TEST_DATABASE_URL selects PostgreSQL (CI runs the suite once on each backend);
unset, a SQLite file in a temporary folder is used.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="registry-tests-"))


def _per_worker() -> None:
    """Under pytest-xdist (`-n 2`) each worker process gets its own PostgreSQL database
    (`<name>_gw0`, made here; servers' and workers' databases are named after it) and its own
    Redis database number; SQLite files and media folders are already its own (`_TMP`)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    number = int(worker.removeprefix("gw"))
    redis_url = os.environ.get("REGISTRY_TEST_REDIS_URL")
    if redis_url:
        base, _, _db = redis_url.rpartition("/")
        os.environ["REGISTRY_TEST_REDIS_URL"] = f"{base}/{number}"
    database_url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if database_url and database_url.startswith("postgresql"):
        from sqlalchemy import create_engine as _create_engine
        from sqlalchemy import make_url
        from sqlalchemy import text as _text

        from registry.config import normalise_database_url

        url = make_url(normalise_database_url(database_url))
        own = f"{url.database}_{worker}"
        admin = _create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(_text(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
            conn.execute(_text(f'CREATE DATABASE "{own}"'))
        admin.dispose()
        os.environ["REGISTRY_TEST_DATABASE_URL"] = url.set(database=own).render_as_string(
            hide_password=False
        )


_per_worker()
os.environ.update(
    {
        "REGISTRY_ENV": "test",
        "REGISTRY_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "REGISTRY_VAR_DIR": str(_TMP),
        "REGISTRY_DATABASE_URL": os.environ.get("REGISTRY_TEST_DATABASE_URL")
        or f"sqlite:///{_TMP / 'test.db'}",
        "REGISTRY_BROKER_URL": "",
        # Unit tests' apps start no worker processes unless a test runs a job.
        "REGISTRY_WARM_WORKERS": "false",
        # Tests write audit checkpoints when they mean to, not at every app start.
        "REGISTRY_CHECKPOINT_MINUTES": "0",
    }
)

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402
from sqlmodel import Session, create_engine  # noqa: E402

from registry import migrations, reactions  # noqa: E402
from registry.config import Settings, get_settings  # noqa: E402
from registry.db import get_session  # noqa: E402
from registry.main import create_app  # noqa: E402

# Domains' reactions to each other's signals, bound as the app, the CLI and the worker bind them.
reactions.wire()

pytest_plugins = [
    "tests.browser",
    "tests.auth.factories",
    "tests.consent.factories",
    "tests.events.factories",
    "tests.publishing.factories",
    "tests.faces",
    "tests.jobs",
    "tests.mailbox",
    "tests.s3",
]


# Tests that never touch the database under test run once, in the SQLite run: the browser
# journeys drive a server with its own SQLite database, vision is pure functions, and tests
# marked `own_sqlite` give the commands they run a SQLite database of their own. With
# REGISTRY_TEST_DATABASE_URL on PostgreSQL they are deselected (REGISTRY_TEST_ALL=1 keeps them).
_BACKEND_FREE = ("e2e", "vision")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql") or os.environ.get("REGISTRY_TEST_ALL"):
        return
    here = Path(__file__).parent
    folders = [here / name for name in _BACKEND_FREE]
    once = [
        i
        for i in items
        if any(i.path.is_relative_to(f) for f in folders) or i.get_closest_marker("own_sqlite")
    ]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [i for i in items if i not in once]


@pytest.fixture(scope="session")
def settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


def _reset_schema(url: str) -> None:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    """The test database, built by running the migrations."""
    _reset_schema(settings.database_url)
    migrations.upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    if engine.dialect.name == "sqlite":
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLite see every BEGIN.
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=ON")
            dbapi_connection.execute("PRAGMA busy_timeout=10000")

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN")

    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    if engine.dialect.name == "sqlite":
        # Take the write lock first (waiting for it), as the service's own units of work do
        # (db.begin_write): a test that read first and wrote later would otherwise get an
        # immediate "database is locked" whenever a job thread of an app held the lock.
        connection.exec_driver_sql("UPDATE audit_head SET id = id WHERE 0")
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def app(session: Session, settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(settings)

    def _session() -> Iterator[Session]:
        # Each request is its own unit of work (a savepoint), like one request in production:
        # a failed request undoes its own writes, not the test's setup.
        nested = session.begin_nested()
        try:
            yield session
            nested.commit()
        except BaseException:
            nested.rollback()
            raise

    application.dependency_overrides[get_session] = _session
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# --- nothing left running --------------------------------------------------------------------
# Servers, workers and browsers that tests start must end with them, even when something is
# killed. pytest becomes a "subreaper", so processes orphaned by a killed parent are re-parented
# here rather than to init, and the run fails if any process it started is still alive at the end.

PR_SET_CHILD_SUBREAPER = 36
# This process's own multiprocessing helpers: they end when pytest does, by design.
_OWN_HELPERS = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")


def _descendants(root: int) -> dict[int, str]:
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":  # a zombie has already ended
            continue
        parents[int(entry.name)] = int(fields[1])
        commands[int(entry.name)] = command.strip()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = commands[pid]
                frontier.append(pid)
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)


def _leftovers() -> str:
    """Processes this one started that are still running (waited for a moment, then killed):
    their description, or "" when there are none."""
    me = os.getpid()
    deadline = time.monotonic() + 15  # a stopped server's helpers take a moment to go
    while True:
        left = {
            pid: command
            for pid, command in _descendants(me).items()
            if not _helper_of_mine(pid, me)
        }
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return "\n".join(f"  {pid}: {command[:200]}" for pid, command in sorted(left.items()))


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_running() -> Iterator[None]:
    """Checked when this process's last test ends (an error there fails the run, with
    pytest-xdist too: each worker checks what it started)."""
    yield
    if sys.platform.startswith("linux") and (left := _leftovers()):
        pytest.fail(f"processes the tests started were still running (killed now):\n{left}")


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    # After every other finisher (under xdist the controller's own ends its workers).
    yield
    if sys.platform.startswith("linux") and (left := _leftovers()):
        sys.stderr.write(
            f"\nprocesses the tests started were still running (killed now):\n{left}\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _parent_of(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _helper_of_mine(pid: int, me: int) -> bool:
    """This pytest process's own fork server or resource tracker (they end with it)."""
    if _parent_of(pid) != me:
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return any(helper in command for helper in _OWN_HELPERS)
