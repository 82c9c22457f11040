"""Engine, unit of work and the metadata naming convention."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

from registry.config import get_settings

# Set before any model is imported so that constraints get stable names in migrations.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata
T = TypeVar("T")


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message is one line an operator can act on."""


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Deleted rows are overwritten, not left in free pages (erasure must leave no trace).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class _Writer:
    """The turn to write to one SQLite database: a lock of this process, then a lock file beside
    the database shared with the other processes (web processes, the sender, the pool)."""

    def __init__(self, database: str | None) -> None:
        self._path = f"{database}.writer" if database else None
        self._open()
        # A forked child (a pool worker, a Celery child) must not share the parent's lock file
        # (a lock on it is the parent's too) nor a turn a thread of the parent held.
        os.register_at_fork(after_in_child=self._open)

    def _open(self) -> None:
        self._turn = threading.Lock()
        self.holding: set[int] = set()  # connections holding the turn (by id of the driver's)
        self._file = open(self._path, "a") if self._path else None  # noqa: SIM115

    def take(self, wait: float = 30.0) -> bool:
        """Wait for the turn (False: not within `wait`; then SQLite's own wait decides)."""
        deadline = time.monotonic() + wait
        if not self._turn.acquire(timeout=wait):
            return False
        while self._file is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._turn.release()
                    return False
                time.sleep(0.0005)  # another process writes: it is done within milliseconds
        return True

    def give(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        self._turn.release()


def _one_writer_at_a_time(engine: Engine, database: str | None) -> None:
    """SQLite lets one connection write at a time and makes the others poll for the lock,
    sleeping longer each time (up to 100 ms): under a wave of bookings a waiter keeps missing it
    while the others hand it round, past the busy timeout ("database is locked"), and every
    request thread waits. So a transaction's first write first takes its turn (`_Writer`), and
    gives it up the moment its commit or rollback is done: writers queue instead of polling."""
    writer = _Writer(database)
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def before(
        connection: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        raw = id(connection.connection.dbapi_connection)
        if raw not in writer.holding and statement.lstrip()[:7].upper().startswith(_WRITES):
            if writer.take():
                writer.holding.add(raw)

    def ended(connection: Any) -> None:
        # (The dialect is handed the pool's proxy; the pool's events the driver's connection.)
        raw = id(getattr(connection, "dbapi_connection", connection))
        if raw in writer.holding:
            writer.holding.discard(raw)
            writer.give()

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            ended(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            ended(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine.pool, "close", lambda dbapi_connection, _record: ended(dbapi_connection))


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine (and pool) per database URL, per process."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=64,
            max_overflow=64,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _one_writer_at_a_time(engine, database if database != ":memory:" else None)
        return engine
    settings = get_settings()
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
    )


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


def check_reachable(engine: Engine | None = None) -> None:
    """Raise DatabaseUnavailable with a one-line reason when the database cannot be reached."""
    engine = engine or get_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"cannot reach the database at {redact_url(str(engine.url))}: {reason}"
        ) from None


@contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def begin_write(session: Session) -> None:
    """On SQLite, start the write transaction now: every read that follows sees the latest
    commit and no other writer can commit until this one ends. (On PostgreSQL callers lock the
    rows they read with SELECT ... FOR UPDATE instead.)"""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE audit_head SET id = id WHERE 0"))


def is_busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked" (another writer held it past the busy timeout)."""
    return "locked" in str(exc.orig or exc).lower() or "busy" in str(exc.orig or exc).lower()


def patiently(unit: Callable[[], T], *, tries: int = 6, first_wait: float = 0.05) -> T:
    """Run `unit` (a whole unit of work) again when the database was too busy to take its write
    (past SQLite's busy timeout), waiting longer each time: for background senders, for which a
    busy database is a wait, never an error. Other errors, and the last try's, propagate."""
    for attempt in range(tries):
        try:
            return unit()
        except OperationalError as exc:
            if not is_busy(exc) or attempt == tries - 1:
                raise
            time.sleep(first_wait * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def savepoint(session: Session) -> SessionTransaction:
    """A savepoint in the caller's transaction (to retry or skip one insert that may collide).

    On SQLite the write transaction is begun first: pysqlite begins one only before a write, and
    a SAVEPOINT outside a transaction would commit everything on its RELEASE."""
    begin_write(session)
    return session.begin_nested()


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one unit of work per request."""
    with unit_of_work() as session:
        yield session


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)


_WAL_TRUNCATE = "registry.wal_truncate"


def request_wal_truncate(session: Session) -> None:
    """After this session commits, fold SQLite's write-ahead log into the database file and
    empty it: erased text must not linger in the log (freed pages are overwritten by
    `secure_delete`). Nothing to do on PostgreSQL."""
    session.info[_WAL_TRUNCATE] = True


def _truncate_wal(session: OrmSession) -> None:
    if not session.info.pop(_WAL_TRUNCATE, False):
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


if not event.contains(OrmSession, "after_commit", _truncate_wal):
    event.listen(OrmSession, "after_commit", _truncate_wal)
