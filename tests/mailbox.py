"""A real SMTP server (aiosmtpd) on loopback for tests, and helpers to read what it received."""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from PIL import Image
from sqlmodel import Session

from registry.config import get_settings
from registry.mail import service as mail
from tests.ports import free_port

LINK = re.compile(r"https?://\S+")


class Inbox:
    """Messages the server accepted; `refuse` makes it answer RCPT with a permanent 550."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.connections: list[int] = []  # for each message, which connection brought it
        self.refuse: set[str] = set()

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append(list(envelope.rcpt_tos))
        self.connections.append(id(session))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def settled(
        self, address: str, *, at_least: int = 0, quiet: float = 1.0, seconds: float = 60
    ) -> list[EmailMessage]:
        """The messages to `address` once `at_least` have come and then none for `quiet`
        seconds: for counting what a server sent after its answer, when one too many could
        still be on its way."""
        deadline = time.monotonic() + seconds
        count, since = -1, time.monotonic()
        while True:
            now = len(self.to(address))
            if now != count:
                count, since = now, time.monotonic()
            elif now >= at_least and time.monotonic() - since >= quiet:
                return self.to(address)
            assert time.monotonic() < deadline, (
                f"{now} message(s) to {address}, {at_least} expected"
            )
            time.sleep(0.1)


@contextmanager
def smtp_server(*, starttls: bool = False) -> Iterator[Inbox]:
    port = free_port()
    inbox = Inbox(f"smtp://127.0.0.1:{port}")
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """Mail on: a loopback relay without STARTTLS, allowed explicitly."""
    with smtp_server() as box:
        settings = get_settings()
        monkeypatch.setattr(settings, "smtp_url", box.url)
        monkeypatch.setattr(settings, "smtp_allow_plaintext", True)
        yield box


def deliver(session: Session) -> int:
    """Send what the outbox holds from inside the test's transaction (each message in a
    savepoint, as each is its own unit of work in production)."""

    @contextmanager
    def unit() -> Iterator[Session]:
        with session.begin_nested():
            yield session

    return mail.send_pending(units=unit)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def links_in(message: EmailMessage) -> list[str]:
    return LINK.findall(text_of(message))


def pdf_pages(data: bytes) -> list[Image.Image]:
    """The page images of a PDF written by `registry.events.badges.write_pdf`."""
    pages = []
    for match in re.finditer(
        rb"/Width (\d+) /Height (\d+) .*?/Length (\d+) >>\nstream\n", data, re.S
    ):
        width, height, length = (int(g) for g in match.groups())
        raw = zlib.decompress(data[match.end() : match.end() + length])
        pages.append(Image.frombytes("RGB", (width, height), raw))
    return pages
