"""Counting failed sign-ins so that password guessing is slowed down.

One process (`registry serve`): counted in memory. Several web processes: with a broker (or on
several API machines) counted in Redis; `serve --workers N` without one, in a small SQLite file
its processes share. Either way N processes do not give a guesser N times the attempts. Keys are
hashed: no email or address is written to Redis or the file.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
import uuid
from collections import defaultdict, deque
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger("registry")


class Throttle(Protocol):
    max_failures: int
    window_seconds: int

    def retry_after(self, keys: list[tuple[str, int]]) -> int: ...

    def fail(self, keys: list[str]) -> None: ...

    def clear(self, key: str) -> None: ...

    def recent(self, key: str) -> tuple[int, float | None]:
        """Failures of `key` in the window, and seconds since the latest (None: none)."""
        ...


def progressive_wait(count: int, since_last: float | None, *, free: int) -> int:
    """Seconds before the next try of an account with `count` recent failures: none for the
    first `free`, then 2, 4, 8 … at most 30 after the latest failure. Guessing is slowed to a
    crawl; the owner is never locked out for longer than half a minute."""
    if count < free or since_last is None:
        return 0
    gap = min(2 ** (count - free + 1), 30)
    return max(0, int(gap - since_last + 0.999))


class LoginThrottle:
    """Sliding-window failure counter per key (account, client address); per process."""

    def __init__(self, *, max_failures: int, window_seconds: int) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        bucket = self._failures[key]
        while bucket and bucket[0] <= now - self.window_seconds:
            bucket.popleft()
        return bucket

    def retry_after(self, keys: list[tuple[str, int]]) -> int:
        """Seconds to wait when any key has reached its limit (limit = max_failures × factor)."""
        now = time.monotonic()
        with self._lock:
            wait = 0
            for key, factor in keys:
                bucket = self._trim(key, now)
                if len(bucket) >= self.max_failures * factor:
                    wait = max(wait, int(bucket[0] + self.window_seconds - now) + 1)
            return wait

    def fail(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._trim(key, now).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def recent(self, key: str) -> tuple[int, float | None]:
        now = time.monotonic()
        with self._lock:
            bucket = self._trim(key, now)
            return len(bucket), (now - bucket[-1]) if bucket else None


class RedisLoginThrottle:
    """The same sliding window, shared by every web process through Redis (one sorted set of
    failure times per key, expiring with the window). If Redis fails, this process's own
    counter takes over until it is back: slower guessing still, never a locked-out service."""

    PREFIX = "registry:login-failures:"

    def __init__(self, url: str, *, max_failures: int, window_seconds: int) -> None:
        import redis

        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._redis: Any = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._local = LoginThrottle(max_failures=max_failures, window_seconds=window_seconds)

    def _key(self, key: str) -> str:
        return self.PREFIX + hashlib.sha256(key.encode()).hexdigest()

    def retry_after(self, keys: list[tuple[str, int]]) -> int:
        now = time.time()
        try:
            pipe = self._redis.pipeline()
            for key, _ in keys:
                name = self._key(key)
                pipe.zremrangebyscore(name, "-inf", now - self.window_seconds)
                pipe.zcard(name)
                pipe.zrange(name, 0, 0, withscores=True)
            replies = pipe.execute()
        except self._errors:
            logger.warning("login throttle: Redis unreachable, counting in this process")
            return self._local.retry_after(keys)
        wait = 0
        for n, (_, factor) in enumerate(keys):
            count, oldest = replies[3 * n + 1], replies[3 * n + 2]
            if count >= self.max_failures * factor and oldest:
                wait = max(wait, int(oldest[0][1] + self.window_seconds - now) + 1)
        return wait

    def fail(self, keys: list[str]) -> None:
        now = time.time()
        self._local.fail(keys)
        try:
            pipe = self._redis.pipeline()
            for key in keys:
                name = self._key(key)
                pipe.zadd(name, {f"{now}:{uuid.uuid4().hex[:8]}": now})
                pipe.expire(name, self.window_seconds + 1)
            pipe.execute()
        except self._errors:
            logger.warning("login throttle: Redis unreachable, counting in this process")

    def clear(self, key: str) -> None:
        self._local.clear(key)
        try:
            self._redis.delete(self._key(key))
        except self._errors:
            logger.warning("login throttle: Redis unreachable, counting in this process")

    def recent(self, key: str) -> tuple[int, float | None]:
        now = time.time()
        name = self._key(key)
        try:
            pipe = self._redis.pipeline()
            pipe.zremrangebyscore(name, "-inf", now - self.window_seconds)
            pipe.zcard(name)
            pipe.zrange(name, -1, -1, withscores=True)
            _, count, latest = pipe.execute()
        except self._errors:
            logger.warning("login throttle: Redis unreachable, counting in this process")
            return self._local.recent(key)
        return int(count), (now - latest[0][1]) if latest else None


class FileThrottle:
    """The same sliding window, shared by the web processes of one `registry serve --workers N`
    without a broker: a small SQLite file of its own in the var folder (hashed keys and times,
    nothing else), so N processes do not give a guesser N times the tries."""

    def __init__(self, path: Path, name: str, *, max_failures: int, window_seconds: int) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._path, self._table = path, f"failures_{name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {self._table} (key TEXT, at REAL)")
            db.execute(f"CREATE INDEX IF NOT EXISTS {self._table}_key ON {self._table} (key)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=5, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    @staticmethod
    def _hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def _window(self, db: sqlite3.Connection, key: str, now: float) -> list[float]:
        db.execute(
            f"DELETE FROM {self._table} WHERE key = ? AND at <= ?",
            (self._hash(key), now - self.window_seconds),
        )
        rows = db.execute(
            f"SELECT at FROM {self._table} WHERE key = ? ORDER BY at", (self._hash(key),)
        ).fetchall()
        return [float(at) for (at,) in rows]

    def retry_after(self, keys: list[tuple[str, int]]) -> int:
        now, wait = time.time(), 0
        with closing(self._connect()) as db:
            for key, factor in keys:
                times = self._window(db, key, now)
                if len(times) >= self.max_failures * factor:
                    wait = max(wait, int(times[0] + self.window_seconds - now) + 1)
        return wait

    def fail(self, keys: list[str]) -> None:
        now = time.time()
        with closing(self._connect()) as db:
            db.executemany(
                f"INSERT INTO {self._table} (key, at) VALUES (?, ?)",
                [(self._hash(key), now) for key in keys],
            )

    def clear(self, key: str) -> None:
        with closing(self._connect()) as db:
            db.execute(f"DELETE FROM {self._table} WHERE key = ?", (self._hash(key),))

    def recent(self, key: str) -> tuple[int, float | None]:
        now = time.time()
        with closing(self._connect()) as db:
            times = self._window(db, key, now)
        return len(times), (now - times[-1]) if times else None


def make_throttle(
    *,
    broker_url: str,
    max_failures: int,
    window_seconds: int,
    shared: tuple[Path, str] | None = None,
) -> Throttle:
    """In Redis with a broker; else in `shared` (a file, and a name for this counter) when
    several web processes serve; else in this process."""
    if broker_url:
        return RedisLoginThrottle(
            broker_url, max_failures=max_failures, window_seconds=window_seconds
        )
    if shared is not None:
        path, name = shared
        return FileThrottle(path, name, max_failures=max_failures, window_seconds=window_seconds)
    return LoginThrottle(max_failures=max_failures, window_seconds=window_seconds)
