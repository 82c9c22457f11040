"""The `registry` command's entry point (and `python -m registry`).

It imports almost nothing itself, so that `registry serve` with the embedded pool can start
the pool's fork server first: the fork server loads the face models and the job code on one
core while this process imports the web app on the other (each takes about three seconds).
Every other command, and `serve` with a broker, goes straight to `registry.cli`."""

from __future__ import annotations

import sys


def _option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def _start_pool_early(argv: list[str]) -> None:
    """For `registry serve` without a broker: count metrics in the serve's folder (the pool's
    processes inherit it) and start the fork server. Anything unexpected (bad settings, a bad
    port) is left for `serve` itself to report."""
    if argv[:1] != ["serve"] or "--help" in argv or _option(argv, "--workers", "1") != "1":
        return  # (with several web processes, the one that takes the pool starts its own)
    try:
        from registry import metrics
        from registry.config import get_settings
        from registry.worker import forkserver

        settings = get_settings()
        if settings.broker_url or not settings.warm_workers:
            return
        port = int(_option(argv, "--port", "8000"))
        metrics.use_folder(settings.var_dir / "metrics" / f"serve-{port}", fresh=True)
        forkserver.start()
    except Exception:  # noqa: BLE001 - serve reports it, with its own message
        return


def main() -> None:
    _start_pool_early(sys.argv[1:])
    from registry.cli import app

    app()
