"""Every line is JSON under REGISTRY_LOG_FORMAT=json (issue 36, item 6), from the first: the
command's banner, uvicorn's start-up and shutdown lines (it sets up its loggers before the
app's lifespan does) and LiteRT's native "Created TensorFlow Lite XNNPACK delegate" line,
written on fd 2 by the pool's worker processes. In text the banner is printed as before."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from registry import logs, metrics
from registry.cli import serve as serve_command
from registry.config import get_settings
from registry.lifetime import die_with_parent
from registry.vision import blazeface
from tests.live import SECRET
from tests.ports import free_port


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the server (`kill -INT`), then wait for every process of its group (the pool's,
    the sender) to be gone, so nothing writes after the logs are read."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    finally:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.own_sqlite
def test_every_line_of_a_json_server_is_json_from_start_to_stop(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "REGISTRY_ENV": "test",
        "REGISTRY_SECRET_KEY": SECRET,
        "REGISTRY_VAR_DIR": str(tmp_path),
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'startup.db'}",
        "REGISTRY_BASE_URL": url,
        "REGISTRY_BROKER_URL": "",
        # The pool's worker processes start (and make LiteRT's interpreter) before /readyz.
        "REGISTRY_WARM_WORKERS": "true",
        "REGISTRY_WORKERS": "1",
        "REGISTRY_HOUSEKEEPING_HOURS": "0",
        "REGISTRY_CHECKPOINT_MINUTES": "0",
        "REGISTRY_LOG_FORMAT": "json",
        "REGISTRY_LOG_LEVEL": "info",
    }
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "registry", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: waited for, and killed, whole
            preexec_fn=die_with_parent,
        )
    try:
        deadline = time.monotonic() + 90
        while not _ready(url):
            logs = stdout.read_text() + stderr.read_text()
            assert process.poll() is None, logs
            assert time.monotonic() < deadline, logs
            time.sleep(0.2)
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
            assert answer.status == 200
    finally:
        _stop(process)

    lines = []
    for raw in (stdout.read_text() + stderr.read_text()).splitlines():
        if raw.strip():
            line = json.loads(raw)  # fails on any plain-text line, naming it
            assert isinstance(line, dict)
            assert "message" in line
            lines.append(line)
    messages = [str(x["message"]) for x in lines]
    assert f"Registry on {url}/ (database sqlite, API docs {url}/docs)" in messages
    assert any(m.startswith("Started server process") for m in messages)
    assert "Waiting for application startup." in messages
    assert any(m.startswith("Finished server process") for m in messages)
    assert not any("XNNPACK" in m for m in messages)  # kept at debug, below info
    assert any(x.get("route") == "/healthz" for x in lines)


class _NoSender:
    """Stands for the sender process (stopped at exit)."""

    def terminate(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def kill(self) -> None: ...


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """`registry serve` in this process up to `uvicorn.run`, which is recorded, not run."""
    called: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: called.update(kwargs))
    monkeypatch.setattr(serve_command, "migrate_or_fail", lambda settings: None)
    monkeypatch.setattr(serve_command, "bucket_ready", lambda settings: None)
    monkeypatch.setattr(metrics, "use_folder", lambda folder, fresh=False: None)
    monkeypatch.setattr(serve_command, "_start_sender", _NoSender)
    monkeypatch.setenv("REGISTRY_BASE_URL", "http://127.0.0.1:8123")
    monkeypatch.setenv("REGISTRY_WARM_WORKERS", "false")
    yield called
    get_settings.cache_clear()  # `serve` read the settings of this test's environment


def test_text_format_prints_the_banner_and_gives_uvicorn_the_text_format(
    fake_uvicorn: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REGISTRY_LOG_FORMAT", "text")
    get_settings.cache_clear()
    serve_command.serve(port=8123)
    printed = capsys.readouterr().out
    assert "Registry on http://127.0.0.1:8123/  (database " in printed
    assert "API docs http://127.0.0.1:8123/docs)" in printed
    config = fake_uvicorn["log_config"]
    # uvicorn's lines in the service's text format from the first ("Started server process"
    # looked like the lines after it); its access line is its own, as before.
    assert config["formatters"]["default"] == {"format": logs.TEXT}
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["access"]


class _Kept(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_litert_start_up_line_goes_to_the_log_not_to_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    handler = _Kept(logging.DEBUG)
    records = handler.records
    logger = logging.getLogger("registry")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        capfd.readouterr()
        blazeface._LiteRT(blazeface.weights_path(), blazeface.TILE)
        with pytest.raises(RuntimeError):  # noqa: PT012 (the error is raised inside the block)
            with blazeface._native_stderr_logged("native"):
                os.write(2, b"ERROR: something broke\n")
                raise RuntimeError("while the fd was redirected")
        os.write(2, b"after\n")  # fd 2 is back, even after the error
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert capfd.readouterr().err == "after\n"
    said = [(r.levelno, r.getMessage()) for r in records]
    assert (logging.WARNING, "native: ERROR: something broke") in said


FIRST_INTERPRETER = """
import logging, sys
from registry.vision import blazeface
logging.basicConfig(stream=sys.stdout, level=logging.DEBUG, format="%(levelname)s %(message)s")
blazeface._LiteRT(blazeface.weights_path(), blazeface.TILE)
"""


def test_litert_first_interpreter_line_is_logged_not_written_to_stderr() -> None:
    """LiteRT says "Created TensorFlow Lite XNNPACK delegate" once per process (at the first
    interpreter), so this runs in a fresh one."""
    done = subprocess.run(
        [sys.executable, "-c", FIRST_INTERPRETER], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "XNNPACK" not in done.stderr
    assert "DEBUG LiteRT: INFO: Created TensorFlow Lite XNNPACK delegate for CPU." in done.stdout
