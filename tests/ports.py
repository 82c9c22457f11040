"""Servers tests start: a loopback port nobody listens on, and children that die with pytest."""

from __future__ import annotations

import ctypes
import signal
import socket
import sys


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:
    """preexec_fn for servers a test starts: on Linux, the kernel kills the child when the
    process that started it dies (even by kill -9), so nothing is left running."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
