"""A doorbell between the processes of one `registry serve`: a datagram on a UNIX socket in the
var folder, telling the one process that listens that work is waiting.

Two bells: the sender's (`registry serve` runs one sender process for mail and webhooks: a web
process rings it after a commit that queued a message, so no web process composes a badge or
waits on a mail server while people wait on it) and the clearance pool's (with several web
processes and no broker, one of them holds the pool; the others ring it with the ids of what
they queued). A ring carries a word and ids, never personal data, and is only ever a nudge: what
it announces is already committed, and the listener's own polling and sweep find anything a lost
ring would have announced. Ringing a bell nobody listens to returns False, so the caller can do
the work itself (a test's app, a command).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from registry.config import get_settings

logger = logging.getLogger("registry")
SENDER = "sender"
POOL = "pool"
_MAX = 60_000  # bytes a ring may carry (well under a datagram's limit)


def path(name: str) -> Path:
    """Where the bell `name` of this installation's var folder is."""
    return get_settings().var_dir / "run" / f"{name}.sock"


def ring(name: str, word: str, ids: Iterable[uuid.UUID] = ()) -> bool:
    """Tell the listener of bell `name`: `word`, with `ids`. False when nobody listens."""
    body = json.dumps({"word": word, "ids": [str(i) for i in ids]}).encode()
    if len(body) > _MAX:  # more ids than one datagram: the listener looks for them itself
        body = json.dumps({"word": word, "ids": []}).encode()
    target = path(name)
    if not target.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
        client.setblocking(False)
        try:
            client.sendto(body, str(target))
        except (FileNotFoundError, ConnectionRefusedError):
            return False  # the listener is gone
        except BlockingIOError:
            return True  # its queue is full: it has plenty to wake up for already
    return True


class Bell:
    """The listening end of bell `name`: `wait` returns the words and ids rung since."""

    def __init__(self, name: str) -> None:
        self.path = path(name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)  # a previous run's, whose process is gone
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.path))
        os.chmod(self.path, 0o600)

    def wait(self, timeout: float) -> list[tuple[str, list[uuid.UUID]]]:
        """What was rung within `timeout` seconds (everything waiting once one ring came)."""
        rings: list[tuple[str, list[uuid.UUID]]] = []
        self._socket.settimeout(timeout)
        while True:
            try:
                data = self._socket.recv(_MAX + 1024)
            except (TimeoutError, BlockingIOError):
                return rings
            except OSError:  # closed
                return rings
            try:
                message = json.loads(data)
                rings.append((str(message["word"]), [uuid.UUID(i) for i in message["ids"]]))
            except (ValueError, KeyError, TypeError):
                logger.warning("ignored a malformed ring on %s", self.path.name)
            self._socket.setblocking(False)  # gather what else is waiting, then answer

    def listen(self, answer: Callable[[str, list[uuid.UUID]], None]) -> threading.Thread:
        """Answer every ring on a daemon thread until `close`."""

        def loop() -> None:
            while self._socket.fileno() != -1:
                for word, ids in self.wait(1.0):
                    try:
                        answer(word, ids)
                    except Exception:
                        logger.exception("answering a %r ring failed", word)

        thread = threading.Thread(target=loop, name=f"bell-{self.path.stem}", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._socket.close()
        self.path.unlink(missing_ok=True)


class PoolBell:
    """The job queue of a web process that does not hold the clearance pool (several web
    processes, no broker): its jobs go to the one that does. If that one is not listening (it
    is starting again), it queues every pending photo itself when it starts."""

    def enqueue(self, media_ids: Iterable[uuid.UUID]) -> None:
        if not ring(POOL, "clear", media_ids):
            logger.info("the clearance pool is not listening; it takes pending photos on start")

    def enqueue_redactions(self, rendition_ids: Iterable[uuid.UUID]) -> None:
        if not ring(POOL, "redact", rendition_ids):
            logger.info("the clearance pool is not listening; it resumes redactions on start")
