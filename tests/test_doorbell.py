"""The doorbell between one serve's processes: a ring reaches the listener with its word and
ids; ringing when nobody listens says so (the caller does the work itself)."""

from __future__ import annotations

import uuid

import pytest

from registry.config import get_settings
from registry.dispatch import doorbell


@pytest.fixture
def var_dir(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "var_dir", tmp_path)


@pytest.mark.usefixtures("var_dir")
def test_a_ring_reaches_the_listener_and_nobody_listening_is_reported() -> None:
    assert doorbell.ring("test", "mail") is False
    bell = doorbell.Bell("test")
    try:
        ids = [uuid.uuid4(), uuid.uuid4()]
        assert doorbell.ring("test", "clear", ids) is True
        assert doorbell.ring("test", "mail") is True
        assert bell.wait(timeout=2) == [("clear", ids), ("mail", [])]
        assert bell.wait(timeout=0.05) == []
    finally:
        bell.close()
    assert doorbell.ring("test", "mail") is False  # gone: the caller sends itself


@pytest.mark.usefixtures("var_dir")
def test_a_stale_bell_left_by_a_dead_process_is_not_a_listener() -> None:
    bell = doorbell.Bell("test")
    bell._socket.close()  # the process died without removing its socket file
    assert doorbell.path("test").exists()
    assert doorbell.ring("test", "mail") is False
