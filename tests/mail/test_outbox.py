"""The outbox through a real SMTP server (aiosmtpd): sent once after commit, kept when the server
is down, never sent over plain text unless allowed for a loopback relay, bounces recorded, and
without a server, logged with links redacted and listed on the staff Outbox page."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from registry.audit.models import AuditEntry
from registry.auth.models import Role, StaffUser
from registry.config import ConfigError, get_settings
from registry.db import unit_of_work
from registry.events.models import Booking
from registry.mail import service as mail
from registry.mail import transport
from registry.mail.models import MailState, OutboxMessage
from registry.publishing import notify
from tests.auth.factories import csrf_from, login_page
from tests.consent.factories import MakeConsent
from tests.mailbox import Inbox, deliver, links_in, smtp_server, text_of
from tests.ports import free_port


@pytest.fixture
def committed(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests that commit (the real after-commit path) clean the outbox afterwards."""
    monkeypatch.setattr(get_settings(), "notify_emails", ["comms-team@example.org"])
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox_message"))


def test_queued_mail_is_sent_once_after_commit(committed: None, inbox: Inbox) -> None:
    with unit_of_work() as session:
        queued = notify.queue(session=session, subject="Take down 1 publication", body="Why: x")
        assert queued is not None
    mail.send_pending()
    mail.send_pending()  # nothing left: not sent twice (the after-commit thread may have sent it)

    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["Subject"] == "Take down 1 publication"
    assert message["To"] == "comms-team@example.org"
    assert "Why: x" in text_of(message)
    assert message["Auto-Submitted"] == "auto-generated"
    with unit_of_work() as session:
        [row] = session.exec(select(OutboxMessage)).all()
        assert row.state == MailState.sent
        assert row.sent_at is not None
        assert row.attempts == 1


def test_one_round_sends_its_messages_over_one_connection(session: Session, inbox: Inbox) -> None:
    for n in range(3):
        mail.queue_staff_notice(
            session=session, to=["comms-team@example.org"], subject=f"Notice {n}", body="x"
        )
    assert deliver(session) == 3
    assert len(inbox.messages) == 3
    assert len(set(inbox.connections)) == 1  # not a connection (and TLS session) a message
    assert deliver(session) == 0


def test_mail_server_down_keeps_the_message_and_backs_off(
    committed: None, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "smtp_url", f"smtp://127.0.0.1:{free_port()}")
    with unit_of_work() as session:
        notify.queue(session=session, subject="Take down", body="later")
    assert mail.send_pending() == 0
    with unit_of_work() as session:
        [row] = session.exec(select(OutboxMessage)).all()
        assert row.state == MailState.queued
        assert row.last_error
        assert row.next_attempt_at > row.created_at  # not retried at once
        due_at = row.next_attempt_at

    monkeypatch.setattr(get_settings(), "smtp_url", inbox.url)
    assert mail.send_pending() == 0  # not due yet
    assert mail.send_pending(now=due_at) == 1
    assert [m["Subject"] for m in inbox.messages] == ["Take down"]


def test_rolled_back_change_sends_nothing(committed: None, inbox: Inbox) -> None:
    def failing_change() -> None:
        with unit_of_work() as session:
            notify.queue(session=session, subject="never", body="rolled back")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    mail.send_pending()
    assert inbox.messages == []


def test_a_server_without_starttls_gets_nothing(
    session: Session, make_booking: Callable[..., Booking], monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server() as box:
        monkeypatch.setattr(get_settings(), "smtp_url", box.url.replace("smtp://", "smtp://u:pw@"))
        monkeypatch.setattr(get_settings(), "smtp_allow_plaintext", False)
        make_booking(email="tls@example.org")
        assert deliver(session) == 0
        assert box.messages == []
    row = session.exec(select(OutboxMessage)).one()
    assert row.state == MailState.queued
    assert "does not offer STARTTLS" in (row.last_error or "")


def test_plaintext_is_never_allowed_to_a_remote_server() -> None:
    with pytest.raises(ConfigError, match="only for a relay on this machine"):
        transport.smtp_sender("smtp://mail.example.org:25", allow_plaintext=True)
    with pytest.raises(ConfigError):
        transport.smtp_sender("http://mail.example.org")


def test_a_refused_address_is_recorded_as_bounced_and_audited(
    session: Session, inbox: Inbox, make_booking: Callable[..., Booking]
) -> None:
    inbox.refuse.add("gone@example.org")
    booking = make_booking(email="gone@example.org")
    make_booking(email="fine@example.org")
    assert deliver(session) == 1  # the bounce does not hold up the next message
    bounced = session.exec(select(OutboxMessage).where(OutboxMessage.record_id == booking.id)).one()
    assert bounced.state == MailState.bounced
    assert "550" in (bounced.last_error or "")
    assert [m["To"] for m in inbox.messages] == ["fine@example.org"]
    actions = session.exec(
        select(AuditEntry.action).where(AuditEntry.entity_id == str(booking.id))
    ).all()
    assert "mail.queued" in actions
    assert "mail.bounced" in actions
    queued = session.exec(
        select(AuditEntry).where(
            AuditEntry.entity_id == str(booking.id), AuditEntry.action == "mail.queued"
        )
    ).one()
    assert queued.after == {"kind": "booking.confirmation", "message_id": bounced.id}


def test_without_a_mail_server_messages_are_logged_without_links_or_addresses(
    session: Session,
    make_booking: Callable[..., Booking],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only under `serve --demo` (dev, `log_mail_bodies`) does the log show a message's text,
    and then with links and the address withheld (issue 26, item 12 has the default)."""
    monkeypatch.setattr(get_settings(), "smtp_url", "")
    monkeypatch.setattr(get_settings(), "env", "dev")
    monkeypatch.setattr(get_settings(), "log_mail_bodies", True)
    make_booking(email="quiet.person@example.org")
    with caplog.at_level(logging.WARNING, logger="registry.mail"):
        assert deliver(session) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Your booking" in logged
    assert "[link redacted]" in logged
    assert "/b/" not in logged
    assert "http" not in logged
    assert "quiet.person@example.org" not in logged
    assert "q•••@example.org" in logged
    row = session.exec(select(OutboxMessage)).one()
    assert row.state == MailState.logged


def test_the_outbox_page_lists_states_without_links_and_retries(
    session: Session,
    client: TestClient,
    inbox: Inbox,
    make_booking: Callable[..., Booking],
    make_staff: Callable[..., StaffUser],
) -> None:
    inbox.refuse.add("bounce@example.org")
    make_booking(email="bounce@example.org")
    deliver(session)
    login_page(client, make_staff(role=Role.comms))
    page = client.get("/outbox")
    assert page.status_code == 200
    assert "Booking confirmation (with badge)" in page.text
    assert "b•••@example.org" in page.text
    assert "bounce@example.org" not in page.text
    assert "bounced: recipient refused: 550" in page.text
    assert "/b/" not in page.text

    message = session.exec(select(OutboxMessage)).one()
    inbox.refuse.clear()
    retried = client.post(f"/outbox/{message.id}/retry", data={"csrf_token": csrf_from(page.text)})
    assert retried.status_code == 200
    assert "queued again" in retried.text
    assert deliver(session) == 1
    [sent] = inbox.to("bounce@example.org")
    assert any("/b/" in link for link in links_in(sent))
    assert client.get("/outbox?state=sent").text.count("<tr>") == 2  # header + the message
    assert client.get("/outbox?state=nonsense").status_code == 422
    again = client.post(f"/outbox/{message.id}/retry", data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 409


def test_finished_messages_are_forgotten_after_the_retention_period(
    session: Session, make_booking: Callable[..., Booking], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "smtp_url", "")
    make_booking(email="old@example.org")
    deliver(session)
    message = session.exec(select(OutboxMessage)).one()
    assert mail.purge(session=session) == 0
    message.created_at = message.created_at - timedelta(days=mail.RETENTION_DAYS + 1)
    session.add(message)
    make_booking(email="waiting@example.org")  # queued: kept however old
    assert mail.purge(session=session) == 1
    assert [m.recipient for m in session.exec(select(OutboxMessage)).all()] == ["w•••@example.org"]


def test_a_line_break_in_a_name_does_not_break_the_message(
    session: Session, inbox: Inbox, make_consent: MakeConsent
) -> None:
    make_consent(purpose="Line one\nLine two: our magazine")
    assert deliver(session) == 1
    assert inbox.messages[0]["Subject"] == "Your consent is asked: Line one Line two: our magazine"
