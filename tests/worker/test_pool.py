"""The embedded pool's worker processes (real ones, from the fork server with the models): a
worker that dies fails the one job it had, and the next job runs on a fresh pool, so a redaction
part or an analysis that saw the death is tried again rather than failing until a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from registry.worker.pool import LocalPool


def _die() -> None:
    os._exit(9)  # as a worker killed by the OOM killer


def test_a_worker_that_dies_fails_its_job_and_the_next_runs_on_a_fresh_pool() -> None:
    pool = LocalPool(1)
    try:
        first = pool.submit(os.getpid).result(timeout=120)
        with pytest.raises(BrokenProcessPool):
            pool.submit(_die).result(timeout=120)
        again = pool.submit(os.getpid).result(timeout=120)
        assert again != first  # a new process
        assert pool.alive() == 1
    finally:
        pool.shutdown()


_PROBE = """
import json, multiprocessing.forkserver as fs, os, sys
from registry import launch
launch._start_pool_early(sys.argv[1:])
print(json.dumps({
    "fork_server": fs._forkserver._forkserver_pid is not None,
    "metrics": os.environ.get("PROMETHEUS_MULTIPROC_DIR"),
    "web_app_imported": "registry.cli" in sys.modules,
}))
"""


@pytest.mark.parametrize(
    ("argv", "env", "started"),
    [
        (["serve", "--port", "5999"], {}, True),
        (["serve", "--port=5999"], {}, True),
        (["serve", "--port", "5999"], {"REGISTRY_BROKER_URL": "redis://127.0.0.1:1/0"}, False),
        (["serve", "--port", "5999"], {"REGISTRY_WARM_WORKERS": "false"}, False),
        (["serve", "--help"], {}, False),
        (["db", "upgrade"], {}, False),
    ],
)
def test_serve_starts_the_pools_fork_server_before_it_imports_the_web_app(
    tmp_path: Path, argv: list[str], env: dict[str, str], started: bool
) -> None:
    """`registry serve` with the embedded pool starts the fork server first (it loads the
    models and the job code while the web app imports), counting metrics in the serve's
    folder; with a broker, without warm workers, or for any other command, nothing starts."""
    environ = {
        **os.environ,
        "REGISTRY_VAR_DIR": str(tmp_path),
        "REGISTRY_WARM_WORKERS": "true",
        "REGISTRY_BROKER_URL": "",
        **env,
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["web_app_imported"] is False
    assert seen["fork_server"] is started
    expected = str(tmp_path / "metrics" / "serve-5999") if started else None
    assert seen["metrics"] == expected
