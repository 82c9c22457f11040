"""The outbox: queue a message in the caller's transaction; compose and send it after commit.

`queue()` writes a row (kind, record, idempotency key) and one audit entry naming the kind and
the record, never a body, link or address. Once the transaction commits, a short-lived thread
sends what is due; the periodic mailer retries temporary failures with backoff. A message is
composed only when it is sent, by the renderer its domain registered for its kind (wired in
`registry.reactions`): links are made from the record then, so none is ever stored.

Templates live in `web/templates/mail/`: `<name>.txt` and `<name>.html` for every message, both
naming the controller and how to contact them; no tracking pixels or redirect links.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import lru_cache
from typing import Any

import jinja2
from sqlalchemy import event, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from registry import channels, signals, zones
from registry.addresses import one_address
from registry.audit import service as audit
from registry.audit.service import SYSTEM, Actor
from registry.config import ROOT_DIR, get_settings
from registry.db import begin_write, patiently, savepoint, unit_of_work, utcnow
from registry.dispatch import doorbell
from registry.errors import Conflict, NotFound
from registry.mail import transport
from registry.mail.models import MailState, OutboxMessage
from registry.organisation import service as organisation

logger = logging.getLogger("registry.mail")
MAX_ATTEMPTS = 8
RETENTION_DAYS = 90  # finished messages (their state, masked address) are kept this long
_OUTBOX = "registry_outbox"
_sending = threading.Lock()
TEMPLATES = ROOT_DIR / "web" / "templates" / "mail"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


@dataclass
class Letter:
    """A message ready to compose: who to, the subject, the template pair and its context."""

    to: list[str]
    subject: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)


# Returns the letter, or None when the message no longer applies (record gone or cancelled).
Renderer = Callable[[Session, OutboxMessage], Letter | None]
# Called in the sending transaction once a mail server accepted the message (never when it was
# only written to the log): what the message carried has now reached its recipient.
Delivered = Callable[[Session, OutboxMessage], None]
_renderers: dict[str, Renderer] = {}
_delivered: dict[str, Delivered] = {}


def register(kind: str, renderer: Renderer, delivered: Delivered | None = None) -> None:
    """Bind the renderer of a kind of message, and what to record once one is delivered
    (idempotent; `registry.reactions.wire()`)."""
    _renderers[kind] = renderer
    if delivered is not None:
        _delivered[kind] = delivered


def kinds() -> list[str]:
    return sorted(_renderers)


# --- queueing ------------------------------------------------------------------------------


def queue(
    *,
    session: Session,
    actor: Actor,
    kind: str,
    key: str,
    entity_type: str,
    record_id: uuid.UUID | None,
    to: str,
    payload: dict[str, object] | None = None,
) -> OutboxMessage:
    """Add a message to the outbox (sent once the caller's transaction commits). The same key
    again returns the message already queued: reminders and retries never send twice."""
    if kind not in _renderers:
        raise signals.NotWired(f"no renderer for mail kind {kind!r}: call reactions.wire()")
    key = key[:200]
    existing = session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()
    if existing is not None:
        return existing
    message = OutboxMessage(
        key=key,
        kind=kind,
        entity_type=entity_type,
        record_id=record_id,
        recipient=transport.mask(to) if "@" in to else to[:200],
        payload=payload or {},
    )
    try:
        with savepoint(session):
            session.add(message)
            session.flush()
    except IntegrityError:  # queued concurrently under the same key
        found = session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).one()
        return found
    audit.record(
        session=session,
        actor=actor,
        action="mail.queued",
        entity_type=entity_type,
        entity_id=record_id or message.id,
        after={"kind": kind, "message_id": message.id},
    )
    session.info[_OUTBOX] = True
    return message


def retry(*, session: Session, actor: Actor, message_id: int) -> OutboxMessage:
    """Queue a message again now (after fixing the mail server, or a bounced address)."""
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound("No message with this number.")
    if message.state == MailState.sent:
        raise Conflict("This message was sent; it is not sent twice.")
    before = message.state
    message.state = MailState.queued
    message.attempts = 0
    message.next_attempt_at = utcnow()
    session.add(message)
    audit.record(
        session=session,
        actor=actor,
        action="mail.retried",
        entity_type=message.entity_type,
        entity_id=message.record_id or message.id,
        before={"state": before},
        after={"kind": message.kind, "message_id": message.id, "state": message.state},
    )
    session.info[_OUTBOX] = True
    return message


def purge(*, session: Session, days: int = RETENTION_DAYS) -> int:
    """Forget finished messages after `days` (the audit log keeps that they were queued)."""
    cutoff = utcnow() - timedelta(days=days)
    old = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.state != MailState.queued, col(OutboxMessage.created_at) < cutoff
        )
    ).all()
    for message in old:
        session.delete(message)
    session.flush()
    return len(old)


def list_messages(
    *, session: Session, state: MailState | None = None, limit: int = 200
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
    if state is not None:
        query = query.where(OutboxMessage.state == state)
    return list(session.exec(query).all())


def state_counts(*, session: Session) -> dict[str, int]:
    """How many messages are in each state (every state named, 0 included)."""
    counts = {s.value: 0 for s in MailState}
    rows = session.exec(
        select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    ).all()
    for state, count in rows:
        counts[str(state)] = int(count)
    return counts


def oldest_queued_seconds(*, session: Session, now: datetime | None = None) -> float:
    """How long the oldest message still queued has waited (0: none is)."""
    oldest = session.exec(
        select(func.min(OutboxMessage.created_at)).where(OutboxMessage.state == MailState.queued)
    ).first()
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, ((now or utcnow()) - oldest).total_seconds())


def latest_for(
    *, session: Session, record_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, OutboxMessage]:
    """The latest message about each record (e.g. a booking's confirmation or link)."""
    ids = list(record_ids)
    latest: dict[uuid.UUID, OutboxMessage] = {}
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.record_id).in_(ids[start : start + 500]))
            .order_by(col(OutboxMessage.id))
        ).all()
        for row in rows:
            if row.record_id is not None:
                latest[row.record_id] = row
    return latest


# --- composing -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        lstrip_blocks=True,
    )
    env.filters["long_datetime"] = zones.long_datetime
    env.filters["long_date"] = zones.long_date
    env.filters["last_day"] = zones.last_day
    env.globals["channel_words"] = channels.words
    env.filters["first_upper"] = lambda value: str(value)[:1].upper() + str(value)[1:]
    return env


def compose(*, session: Session, letter: Letter) -> EmailMessage:
    """The MIME message: plain text and HTML alternatives, then any attachments."""
    settings = get_settings()
    org = organisation.profile(session=session)
    context = {
        **letter.context,
        "subject": letter.subject,
        "org": org,
        "base_url": settings.base_url.rstrip("/"),
    }
    env = _environment()
    text = env.get_template(f"{letter.template}.txt").render(context)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    html = env.get_template(f"{letter.template}.html").render(context)
    message = EmailMessage()
    message["From"] = settings.mail_from
    to = [one_address(a) for a in letter.to]
    if not to or None in to:
        # Each recipient must be exactly one valid address (a stored address from before this
        # check, or a crafted one, never becomes several recipients).
        raise ValueError(f"not one valid address each: {len(letter.to)} recipient(s)")
    message["To"] = ", ".join(a for a in to if a)
    if org.email:
        message["Reply-To"] = org.email
    message["Subject"] = " ".join(letter.subject.split())  # names may hold line breaks
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for item in letter.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(
            item.data, maintype=maintype, subtype=subtype, filename=item.filename
        )
    return message


def render(*, session: Session, message: OutboxMessage) -> EmailMessage | None:
    """The message as it would be sent now (None: it no longer applies)."""
    renderer = _renderers.get(message.kind)
    if renderer is None:
        raise signals.NotWired(f"no renderer for mail kind {message.kind!r}")
    letter = renderer(session, message)
    return None if letter is None else compose(session=session, letter=letter)


# --- sending -------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, at most 6 hours, between tries."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def _finish(
    session: Session, message: OutboxMessage, state: MailState, error: str | None = None
) -> None:
    message.state = state
    message.last_error = error[:500] if error else None
    if state in (MailState.sent, MailState.logged):
        message.sent_at = utcnow()
    session.add(message)
    if state == MailState.sent and (delivered := _delivered.get(message.kind)) is not None:
        delivered(session, message)
    if state in (MailState.bounced, MailState.failed):
        audit.record(
            session=session,
            actor=SYSTEM,
            action=f"mail.{state.value}",
            entity_type=message.entity_type,
            entity_id=message.record_id or message.id,
            after={"kind": message.kind, "message_id": message.id},
        )


CLAIM = timedelta(minutes=5)  # a claimed message is due again after this if its sender died


BATCH = 20  # messages claimed (and their outcomes recorded) per transaction


@dataclass(frozen=True)
class _Outcome:
    message_id: int
    state: MailState | None  # None: a temporary failure (try again after a backoff)
    error: str | None = None


def send_pending(
    *,
    limit: int = 100,
    now: datetime | None = None,
    units: Callable[[], AbstractContextManager[Session]] = unit_of_work,
) -> int:
    """Send the messages that are due; returns how many the mail server accepted (or, without
    one, how many went to the log). Stops at the first temporary failure: the server is down,
    the mailer tries again later.

    Messages are claimed a batch at a time in one short unit of work (from `units`): their next
    attempt is pushed past the send, so no other sender, in this process or another, takes
    them meanwhile. Each is composed (reads only) and sent outside any transaction, so a slow
    server never holds the database's write lock, and the batch's outcomes are recorded in one
    more. A sender that dies before recording leaves its messages due again after `CLAIM`."""
    send = transport.sender()
    done = 0
    with _sending, closing_sender(send):  # one sender per process; claims keep processes apart
        while done < limit:
            at = now or utcnow()
            claimed = patiently(lambda: _claim(units, at, min(BATCH, limit - done)))  # noqa: B023
            if not claimed:
                break
            outcomes: list[_Outcome] = []
            for message_id in claimed:
                outcomes.append(_send_one(units, send, message_id))
                if outcomes[-1].state is None:
                    break  # the server is unavailable: the rest wait for the next round
            patiently(lambda: _record(units, outcomes, claimed))  # noqa: B023
            done += sum(o.state in (MailState.sent, MailState.logged) for o in outcomes)
            if outcomes[-1].state is None or len(claimed) < BATCH:
                break
    return done


@contextmanager
def closing_sender(send: transport.SmtpSender | None) -> Iterator[None]:
    """The round's connection to the mail server ends with the round."""
    try:
        yield
    finally:
        if send is not None:
            send.close()


def _claim(
    units: Callable[[], AbstractContextManager[Session]], at: datetime, count: int
) -> list[int]:
    due = (OutboxMessage.state == MailState.queued, col(OutboxMessage.next_attempt_at) <= at)
    with units() as session:
        if session.exec(select(OutboxMessage.id).where(*due).limit(1)).first() is None:
            return []  # nothing due: no write lock taken
        begin_write(session)  # on SQLite, take the write lock before reading what is free
        messages = session.exec(
            select(OutboxMessage)
            .where(*due)
            .order_by(col(OutboxMessage.id))
            .limit(count)
            .with_for_update(skip_locked=True)
        ).all()
        for message in messages:
            message.next_attempt_at = utcnow() + CLAIM
            session.add(message)
        return [m.id for m in messages if m.id is not None]


def _send_one(
    units: Callable[[], AbstractContextManager[Session]],
    send: Callable[[EmailMessage], None] | None,
    message_id: int,
) -> _Outcome:
    """Compose and send one claimed message: what happened to it."""
    with units() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        kind, entity_type, record_id = message.kind, message.entity_type, message.record_id
        try:
            email = render(session=session, message=message)
        except Exception as exc:  # a broken template must not block the queue
            logger.exception("Could not compose mail %s (%s)", message_id, kind)
            return _Outcome(message_id, MailState.failed, f"could not be composed: {exc!r}")
    if email is None:
        return _Outcome(message_id, MailState.dropped, "no longer applies")
    if send is None:
        transport.log_sender(email, what=f"{kind} for {entity_type} {record_id}")
        return _Outcome(message_id, MailState.logged, "no mail server configured")
    try:
        send(email)
    except transport.Bounced as exc:
        return _Outcome(message_id, MailState.bounced, str(exc))
    except transport.Temporary as exc:
        logger.warning("Could not send mail %s: %s", message_id, exc)
        return _Outcome(message_id, None, str(exc))
    return _Outcome(message_id, MailState.sent)


def _record(
    units: Callable[[], AbstractContextManager[Session]],
    outcomes: list[_Outcome],
    claimed: list[int],
) -> None:
    """Write the batch's outcomes; what was claimed but not tried is due again at once."""
    with units() as session:
        begin_write(session)
        for outcome in outcomes:
            message = session.get(OutboxMessage, outcome.message_id, populate_existing=True)
            assert message is not None
            message.attempts += 1
            if outcome.state is not None:
                _finish(session, message, outcome.state, outcome.error)
            elif message.attempts >= MAX_ATTEMPTS:
                _finish(session, message, MailState.failed, outcome.error)
            else:
                message.last_error = (outcome.error or "")[:500]
                message.next_attempt_at = utcnow() + backoff(message.attempts)
                session.add(message)
        tried = {o.message_id for o in outcomes}
        for message_id in claimed:
            if message_id not in tried:
                message = session.get(OutboxMessage, message_id, populate_existing=True)
                if message is not None:
                    message.next_attempt_at = utcnow()
                    session.add(message)


def _after_commit(session: OrmSession) -> None:
    """Send what this commit queued: the sender process of `registry serve` when it listens,
    else (a test's app, a command) a short-lived thread of this process."""
    if session.info.pop(_OUTBOX, False) and not doorbell.ring(doorbell.SENDER, "mail"):
        threading.Thread(target=_send_quietly, name="registry-mail", daemon=True).start()


def _send_quietly() -> None:
    try:
        send_pending()
    except Exception:  # a mail failure must never take the process down
        logger.exception("Sending mail failed")


# Send the outbox after every commit that wrote to it.
if not event.contains(OrmSession, "after_commit", _after_commit):
    event.listen(OrmSession, "after_commit", _after_commit)


# --- staff notices (no record: their text is the payload) -----------------------------------


def _staff_notice(_session: Session, message: OutboxMessage) -> Letter:
    payload = message.payload
    return Letter(
        to=[str(a) for a in payload.get("to", [])],  # type: ignore[attr-defined]
        subject=str(payload["subject"]),
        template="staff_notice",
        context={"body": str(payload["body"])},
    )


def queue_staff_notice(
    *, session: Session, to: list[str], subject: str, body: str, key: str | None = None
) -> OutboxMessage:
    return queue(
        session=session,
        actor=SYSTEM,
        kind="staff.notice",
        key=key or f"staff.notice:{uuid.uuid4()}",
        entity_type="outbox_message",
        record_id=None,
        to=f"{len(to)} staff",
        payload={"to": to, "subject": subject[:300], "body": body},
    )


register("staff.notice", _staff_notice)
