"""SQLite writers take turns instead of polling for the lock, across threads and processes, and
background senders wait out a busy database instead of failing."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from registry.db import engine_for, patiently

pytestmark = pytest.mark.own_sqlite

WRITER = """
import sys
from sqlalchemy import event, text
from registry.db import engine_for
engine = engine_for(sys.argv[1])
event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA busy_timeout=50"))
for i in range(int(sys.argv[2])):
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": sys.argv[3]})
        connection.execute(text("SELECT count(*) FROM t")).one()
"""


def _database(tmp_path: Path) -> str:
    """A database whose connections give up on a busy lock after 50 ms (not 10 s): a writer
    that polled for the lock instead of waiting its turn would fail at once."""
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    event.listen(engine_for(url), "connect", lambda c, _r: c.execute("PRAGMA busy_timeout=50"))
    with engine_for(url).begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    return url


def _count(url: str) -> int:
    with engine_for(url).connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_many_threads_and_processes_write_at_once_without_a_locked_database(
    tmp_path: Path,
) -> None:
    url = _database(tmp_path)
    engine = engine_for(url)
    errors: list[BaseException] = []

    def write(who: str) -> None:
        try:
            for _ in range(25):
                with engine.begin() as connection:
                    connection.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": who})
                    # A read inside the write transaction, as services do.
                    connection.execute(text("SELECT count(*) FROM t")).one()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    others = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, "100", f"process {n}"])
        for n in range(2)
    ]
    threads = [threading.Thread(target=write, args=(f"thread {n}",)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [p.wait(timeout=120) for p in others] == [0, 0]
    assert not errors, errors[:3]
    assert _count(url) == 24 * 25 + 2 * 100


def test_a_rolled_back_write_hands_the_turn_on(tmp_path: Path) -> None:
    url = _database(tmp_path)
    engine = engine_for(url)

    def fail() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t (who) VALUES ('gone')"))
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        fail()
    done = threading.Event()

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t (who) VALUES ('next')"))
        done.set()

    threading.Thread(target=write).start()
    assert done.wait(timeout=5), "the turn stayed with a rolled-back transaction"
    assert _count(url) == 1


def test_patiently_waits_out_a_busy_database_and_lets_other_errors_through() -> None:
    tries: list[int] = []

    def busy_twice() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        return "written"

    assert patiently(busy_twice, first_wait=0.001) == "written"
    assert len(tries) == 3

    def broken() -> None:
        raise OperationalError("UPDATE", {}, Exception("no such table: t"))

    with pytest.raises(OperationalError):
        patiently(broken, first_wait=0.001)
