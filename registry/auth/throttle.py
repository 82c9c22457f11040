"""Counting failed sign-ins so that password guessing is slowed down."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


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
