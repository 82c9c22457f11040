"""Staff notifications by email, through an outbox.

`queue()` writes the message in the caller's transaction; it is sent after that transaction
commits (a rolled-back change sends nothing) by a short-lived thread, and again by the periodic
job if the mail server was down (a crash loses nothing). Without `REGISTRY_SMTP_URL` messages go
to the server log, which is what development needs.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from registry.auth.models import StaffUser
from registry.config import ConfigError, get_settings
from registry.db import unit_of_work, utcnow
from registry.publishing.models import Notification

logger = logging.getLogger("registry.mail")
MAX_ATTEMPTS = 8
_OUTBOX = "registry_outbox"
_sending = threading.Lock()

Sender = Callable[[EmailMessage], None]


def recipients(*, session: Session) -> list[str]:
    """Who hears about takedowns: `REGISTRY_NOTIFY_EMAILS`, else every active staff user."""
    configured = get_settings().notify_emails
    if configured:
        return list(configured)
    return list(
        session.exec(
            select(StaffUser.email)
            .where(col(StaffUser.is_active).is_(True))
            .order_by(col(StaffUser.email))
        ).all()
    )


def queue(*, session: Session, subject: str, body: str) -> Notification | None:
    """Write a message to the outbox (sent once the caller's transaction commits)."""
    to = recipients(session=session)
    if not to:
        logger.warning("No one to notify about: %s", subject)
        return None
    message = Notification(recipients=to, subject=subject[:300], body=body)
    session.add(message)
    session.flush()
    session.info[_OUTBOX] = True
    return message


def _smtp_sender(url: str) -> Sender:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            "REGISTRY_SMTP_URL must look like smtp://user:pass@host:587 or smtps://host"
        )

    def send(message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if parts.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                parts.hostname or "", parts.port or 465, context=context, timeout=20
            )
        else:
            client = smtplib.SMTP(parts.hostname or "", parts.port or 587, timeout=20)
        with client:
            if parts.scheme == "smtp":
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)

    return send


def _log_sender(message: EmailMessage) -> None:
    logger.warning(
        "Mail (no REGISTRY_SMTP_URL set) to %s: %s\n%s",
        message["To"],
        message["Subject"],
        message.get_content(),
    )


def sender() -> Sender:
    url = get_settings().smtp_url
    return _smtp_sender(url) if url else _log_sender


def _message(note: Notification) -> EmailMessage:
    message = EmailMessage()
    message["From"] = get_settings().mail_from
    message["To"] = ", ".join(note.recipients)
    message["Subject"] = note.subject
    message.set_content(note.body)
    return message


def send_pending(*, send: Sender | None = None, limit: int = 100) -> int:
    """Send unsent messages (each in its own transaction); returns how many went out."""
    send = send or sender()
    sent = 0
    with _sending:  # one sender per process; rows are claimed with a lock across processes
        for _ in range(limit):
            with unit_of_work() as session:
                note = session.exec(
                    select(Notification)
                    .where(
                        col(Notification.sent_at).is_(None),
                        Notification.attempts < MAX_ATTEMPTS,
                    )
                    .order_by(col(Notification.id))
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if note is None:
                    break
                note.attempts += 1
                try:
                    send(_message(note))
                except (OSError, smtplib.SMTPException) as exc:
                    note.last_error = str(exc)[:500]
                    session.add(note)
                    logger.warning("Could not send mail %s: %s", note.id, exc)
                    break  # the server is down: the periodic job tries again
                note.sent_at = utcnow()
                session.add(note)
                sent += 1
    return sent


def _after_commit(session: OrmSession) -> None:
    if session.info.pop(_OUTBOX, False):
        threading.Thread(target=_send_quietly, name="registry-mail", daemon=True).start()


def _send_quietly() -> None:
    try:
        send_pending()
    except Exception:  # a mail failure must never take the process down
        logger.exception("Sending notifications failed")


# Send the outbox after every commit that wrote to it.
if not event.contains(OrmSession, "after_commit", _after_commit):
    event.listen(OrmSession, "after_commit", _after_commit)
