"""The sender process of `registry serve`: mail and webhook deliveries, out of the web processes.

A web process that commits a queued message rings the sender's bell (`registry.dispatch.doorbell`)
and answers its request; this process composes the message (a booking's confirmation carries its
badge as a PDF), speaks to the mail server or the receiver, and records the outcome. It also
looks for what is due on its own (retries, and anything a lost ring announced): mail every
minute, webhooks every five seconds. It ends with the `registry serve` that started it.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

from registry.dispatch import doorbell
from registry.lifetime import exit_with
from registry.mail import service as mail
from registry.webhooks import delivery as webhook_delivery

logger = logging.getLogger("registry")
MAIL_EVERY = 60.0
WEBHOOKS_EVERY = 5.0


def run(owner: tuple[int, str | None]) -> None:
    """Send what is rung for and what falls due, until `owner` ends or this process is told to
    stop."""
    exit_with(owner)
    bell = doorbell.Bell(doorbell.SENDER)
    stopping = False

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)  # (a Ctrl-C stays ignored: `serve` stops this process)
    last = {"mail": 0.0, "webhooks": 0.0}
    every = {"mail": MAIL_EVERY, "webhooks": WEBHOOKS_EVERY}
    sends = {"mail": mail.send_pending, "webhooks": webhook_delivery.send_pending}
    try:
        while not stopping:
            rung = {word for word, _ids in bell.wait(timeout=1.0)}
            now = time.monotonic()
            for word, send in sends.items():
                if word in rung or now - last[word] >= every[word]:
                    last[word] = now
                    try:
                        send()
                    except Exception:  # a mail server's or receiver's failure: next round
                        logger.exception("sending %s failed; trying again shortly", word)
    finally:
        bell.close()
