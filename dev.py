#!/usr/bin/env python3
"""Run the registry from a fresh checkout with nothing installed but python3 >= 3.11.

    python3 dev.py serve --demo    install on first run, migrate, seed demo data, start on SQLite
    python3 dev.py test [ARGS]     run the whole test suite, one process per core (ARGS go to
                                   pytest; `-n 0` runs it in one process)
    python3 dev.py ARGS            any other `registry` command, e.g. `db upgrade`

It finds uv (or installs it into ./.tools from PyPI), syncs the locked dependencies into
./.venv with this python3, and runs the command there.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
UV_VERSION = "0.13.9"


def say(message: str) -> None:
    print(f"[dev] {message}", file=sys.stderr, flush=True)


def find_uv() -> str | None:
    candidates = [
        shutil.which("uv"),
        str(TOOLS / "bin" / "uv"),
        str(TOOLS / "pip" / "bin" / "uv"),
        str(Path.home() / ".local" / "bin" / "uv"),
        str(Path.home() / ".cargo" / "bin" / "uv"),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _wheel_matches(filename: str) -> bool:
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        return "manylinux" in filename and machine in filename
    if sys.platform == "darwin":
        return "macosx" in filename and ("arm64" if machine == "aarch64" else "x86_64") in filename
    return False


def install_uv() -> str:
    """Install uv into ./.tools: with pip when there is one, else straight from PyPI's wheel."""
    TOOLS.mkdir(exist_ok=True)
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            str(TOOLS / "pip"),
            f"uv=={UV_VERSION}",
        ],
        check=False,
    )
    if pip.returncode == 0 and (TOOLS / "pip" / "bin" / "uv").exists():
        return str(TOOLS / "pip" / "bin" / "uv")
    say("pip is not available; fetching the uv wheel from PyPI")
    with urllib.request.urlopen(f"https://pypi.org/pypi/uv/{UV_VERSION}/json", timeout=60) as r:
        files = json.load(r)["urls"]
    wheel = next(
        (f for f in files if f["filename"].endswith(".whl") and _wheel_matches(f["filename"])), None
    )
    if wheel is None:
        sys.exit(f"[dev] no uv wheel for {sys.platform}/{platform.machine()}; install uv yourself")
    target = TOOLS / wheel["filename"]
    urllib.request.urlretrieve(wheel["url"], target)
    with zipfile.ZipFile(target) as zf:
        member = next(n for n in zf.namelist() if n.endswith("/scripts/uv"))
        (TOOLS / "bin").mkdir(exist_ok=True)
        (TOOLS / "bin" / "uv").write_bytes(zf.read(member))
    uv = TOOLS / "bin" / "uv"
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    target.unlink()
    return str(uv)


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        sys.exit(f"[dev] Python 3.11 or newer is needed; this is {platform.python_version()}")
    uv = find_uv()
    if uv is None:
        say("installing uv (first run only)")
        uv = install_uv()
    env = {
        **os.environ,
        # Use this interpreter; never download one.
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PROJECT_ENVIRONMENT": str(ROOT / ".venv"),
    }
    sync = subprocess.run([uv, "sync", "--frozen", "--quiet"], cwd=ROOT, env=env, check=False)
    if sync.returncode != 0:
        return sync.returncode
    if argv[:1] == ["test"]:
        spread = (
            []
            if any(a == "-n" or a.startswith("-n") for a in argv[1:])
            else ["-n", "auto", "--dist", "worksteal"]
        )
        command = ["pytest", *spread, *argv[1:]]
    else:
        command = ["registry", *argv] if argv else ["registry", "--help"]
    os.chdir(ROOT)
    os.execvpe(uv, [uv, "run", "--frozen", "--no-sync", *command], env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
