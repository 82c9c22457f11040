"""Processes that must not outlive the one that started them.

The clearance pool's worker processes are children of multiprocessing's fork server, and each
holds the fork server's "alive" pipe open, so neither notices on its own when `registry serve`
dies. Each worker therefore watches the serve process itself (by pid and start time, so a reused
pid is not mistaken for it) and exits within a second of its death, even by `kill -9`; the fork
server and the resource tracker then see their pipes close and exit too. Servers that tests start
use `die_with_parent` (Linux's parent-death signal).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _started(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/pid/stat), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]


def identity(pid: int | None = None) -> tuple[int, str | None]:
    """(pid, start time) of a process, to recognise it later."""
    pid = pid or os.getpid()
    return pid, _started(pid)


def exit_with(owner: tuple[int, str | None], *, every: float = 0.5) -> None:
    """End this process (at once, no clean-up) when the process `owner` names has ended."""
    pid, started = owner

    def gone() -> bool:
        if started is not None:
            return _started(pid) != started
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def watch() -> None:
        while not gone():
            time.sleep(every)
        os._exit(0)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def die_with_parent() -> None:
    """preexec_fn for a server a test starts: the kernel kills it when its parent dies (Linux),
    elsewhere a thread watches the parent."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0:
                return
        except OSError:
            pass
    exit_with(identity(os.getppid()))
