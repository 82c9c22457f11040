"""Sign-in throttling shared by the web processes of `serve --workers N` without a broker: one
file in the var folder, hashed keys only."""

from __future__ import annotations

from pathlib import Path

from registry.auth.throttle import FileThrottle


def test_two_processes_count_the_same_failures_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "run" / "throttles.sqlite"
    first = FileThrottle(path, "login", max_failures=3, window_seconds=60)
    second = FileThrottle(path, "login", max_failures=3, window_seconds=60)
    links = FileThrottle(path, "links", max_failures=3, window_seconds=60)
    keys = [("user:a@example.org", 1), ("client:10.0.0.1", 4)]
    first.fail(["user:a@example.org", "client:10.0.0.1"])
    second.fail(["user:a@example.org", "client:10.0.0.1"])
    assert first.retry_after(keys) == 0
    first.fail(["user:a@example.org", "client:10.0.0.1"])
    assert 0 < second.retry_after(keys) <= 61  # the third failure, counted by the other
    assert second.recent("user:a@example.org")[0] == 3
    assert links.retry_after(keys) == 0  # another counter in the same file
    second.clear("user:a@example.org")
    assert first.retry_after(keys) == 0
    assert b"example.org" not in path.read_bytes()
    assert not any(b"10.0.0.1" in p.read_bytes() for p in path.parent.iterdir())


def test_failures_older_than_the_window_no_longer_count(tmp_path: Path) -> None:
    throttle = FileThrottle(tmp_path / "t.sqlite", "login", max_failures=1, window_seconds=0)
    throttle.fail(["user:b@example.org"])
    assert throttle.retry_after([("user:b@example.org", 1)]) == 0
    assert throttle.recent("user:b@example.org") == (0, None)
