"""Staff notifications: the outbox, sent through a real SMTP server (aiosmtpd) after commit."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, text
from sqlmodel import select

from registry.config import get_settings
from registry.db import unit_of_work
from registry.publishing import notify
from registry.publishing.models import Notification
from tests.ports import free_port


class Inbox:
    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> Iterator[Inbox]:
    port = free_port()
    inbox = Inbox(f"smtp://127.0.0.1:{port}")
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_url", inbox.url)
    monkeypatch.setattr(settings, "notify_emails", ["comms-team@example.org"])
    try:
        yield inbox
    finally:
        controller.stop()
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM notification"))


def test_queued_mail_is_sent_through_smtp_once(smtp: Inbox) -> None:
    with unit_of_work() as session:
        queued = notify.queue(session=session, subject="Take down 1 publication", body="Why: x")
        assert queued is not None
    notify.send_pending()
    notify.send_pending()  # nothing left: not sent twice

    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["Subject"] == "Take down 1 publication"
    assert message["To"] == "comms-team@example.org"
    assert "Why: x" in message.get_payload()
    with unit_of_work() as session:
        [row] = session.exec(select(Notification)).all()
        assert row.sent_at is not None
        assert row.attempts == 1


def test_mail_server_down_keeps_the_message_for_later(
    smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "smtp_url", f"smtp://127.0.0.1:{free_port()}")
    with unit_of_work() as session:
        notify.queue(session=session, subject="Take down", body="later")
    assert notify.send_pending() == 0
    with unit_of_work() as session:
        [row] = session.exec(select(Notification)).all()
        assert row.sent_at is None
        assert row.last_error

    monkeypatch.setattr(get_settings(), "smtp_url", smtp.url)
    assert notify.send_pending() == 1
    assert [m["Subject"] for m in smtp.messages] == ["Take down"]


def test_rolled_back_change_sends_nothing(smtp: Inbox) -> None:
    def failing_change() -> None:
        with unit_of_work() as session:
            notify.queue(session=session, subject="never", body="rolled back")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    notify.send_pending()
    assert smtp.messages == []
