"""Staff notifications (takedowns) by email, through the outbox of `registry.mail`."""

from __future__ import annotations

import logging

from sqlmodel import Session, col, select

from registry.auth.models import StaffUser
from registry.config import get_settings
from registry.mail import service as mail
from registry.mail.models import OutboxMessage

logger = logging.getLogger("registry.mail")


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


def queue(*, session: Session, subject: str, body: str) -> OutboxMessage | None:
    """Write a message to staff in the outbox (sent once the caller's transaction commits)."""
    to = recipients(session=session)
    if not to:
        logger.warning("No one to notify about: %s", subject)
        return None
    return mail.queue_staff_notice(session=session, to=to, subject=subject, body=body)


send_pending = mail.send_pending
