"""Periodic jobs (daily): delete what retention says is due (bookings, media, consents, mail
records: `registry.rights.retention`) and biometric data past retention, record expired
consents, tell staff about publications whose consent has since expired, queue reminders
(events, consents ending), send mail that could not go out; and every minute, the mailer.

Run by the in-process scheduler of `registry serve`, or once by `registry housekeeping`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from sqlmodel import Session

from registry import checkpoints
from registry.consent import letters as consent_letters
from registry.consent import renewals as consent_renewals
from registry.db import unit_of_work
from registry.dispatch.queue import JobQueue
from registry.events import letters as event_letters
from registry.events import references
from registry.mail import service as mail
from registry.media import biometrics, leases, redactions
from registry.publishing import takedowns
from registry.rights import retention
from registry.webhooks import delivery as webhook_delivery

logger = logging.getLogger("registry")


@dataclass(frozen=True)
class Report:
    references_purged: int
    consents_expired: int
    photo_encodings_purged: int = 0
    takedowns_noticed: int = 0
    event_reminders: int = 0
    consent_reminders: int = 0
    messages_purged: int = 0
    retention: dict[str, int] = field(default_factory=dict)


def run_daily(*, session: Session) -> Report:
    references_purged = references.purge_expired(session=session)
    consents_expired = consent_renewals.record_expiries(session=session)
    photo_encodings_purged = biometrics.purge_biometrics(session=session)
    takedowns_noticed = takedowns.notice_takedowns(session=session)
    kept = retention.run(session=session)
    return Report(
        references_purged=references_purged,
        consents_expired=consents_expired,
        photo_encodings_purged=photo_encodings_purged,
        takedowns_noticed=takedowns_noticed,
        event_reminders=event_letters.queue_reminders(session=session),
        consent_reminders=consent_letters.queue_reminders(session=session),
        messages_purged=kept.get("mail_records", 0),
        retention=kept,
    )


EXPIRY_BATCH = 100  # consents marked expired per transaction


def run_once() -> Report:
    """One run in its own units of work (as a background job must). Consents that expired are
    marked first, a hundred a transaction: after downtime or an import there can be thousands,
    and one transaction for all of them would hold the database's write lock (on SQLite, every
    booking's) for seconds."""
    expired = 0
    while True:
        with unit_of_work() as session:
            done = consent_renewals.record_expiries(session=session, limit=EXPIRY_BATCH)
        expired += done
        if done < EXPIRY_BATCH:
            break
    with unit_of_work() as session:
        report = run_daily(session=session)
    report = replace(report, consents_expired=report.consents_expired + expired)
    mail.send_pending()
    logger.info(
        "housekeeping: %d reference photo(s) and %d photo face encoding(s) purged, "
        "%d consent(s) marked expired, %d publication(s) newly due for takedown, "
        "%d event and %d consent reminder(s) queued; retention: %s",
        report.references_purged,
        report.photo_encodings_purged,
        report.consents_expired,
        report.takedowns_noticed,
        report.event_reminders,
        report.consent_reminders,
        ", ".join(f"{k} {v}" for k, v in report.retention.items() if v) or "nothing due",
    )
    return report


async def scheduler(*, first_delay: float, interval: float) -> None:
    """Run the daily jobs for ever (until cancelled), in a thread so requests are not blocked."""
    await asyncio.sleep(first_delay)
    while True:
        try:
            await asyncio.to_thread(run_once)
        except Exception:  # a failed run must not stop the next one; it is logged in full
            logger.exception("housekeeping failed; retrying at the next interval")
        await asyncio.sleep(interval)


def checkpoint_once() -> str:
    """Sign the audit chain's head and store it outside the database; the checkpoint's name."""
    with unit_of_work() as session:
        point = checkpoints.write(session=session)
    logger.info("audit checkpoint %s (entry %d)", point.name, point.seq)
    return point.name


async def checkpointer(*, interval: float) -> None:
    """Write an audit checkpoint now and every `interval` seconds, until cancelled."""
    while True:
        try:
            await asyncio.to_thread(checkpoint_once)
        except Exception:
            logger.exception("audit checkpoint failed; retrying at the next interval")
        await asyncio.sleep(interval)


async def mailer(*, interval: float) -> None:
    """Send what the outbox has due (retries after a temporary failure, messages whose
    after-commit send was lost with a process) for ever, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(mail.send_pending)
        except Exception:
            logger.exception("sending mail failed; retrying at the next interval")


async def webhooker(*, interval: float) -> None:
    """Send webhook deliveries that are due (retries with backoff, and what a commit's own
    send lost with its process), until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(webhook_delivery.send_pending)
        except Exception:
            logger.exception("sending webhooks failed; retrying at the next interval")


def sweep_once(queue: JobQueue) -> int:
    """Queue again the photos whose worker died or whose job was lost (see leases.sweep)."""
    with unit_of_work() as session:
        due = leases.sweep(session=session)
        redacting = redactions.sweep(session=session)
    if due:
        logger.info("sweep: queued %d photo(s) again (lease ran out or job lost)", len(due))
        queue.enqueue(due)
    if redacting:
        logger.info("sweep: queued %d redaction(s) again (a step's lease ran out)", len(redacting))
        queue.enqueue_redactions(redacting)
    return len(due) + len(redacting)


async def sweeper(queue: JobQueue, *, interval: float) -> None:
    """The embedded pool's sweep (beat runs it when a broker is configured)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(sweep_once, queue)
        except Exception:
            logger.exception("sweep failed; retrying at the next interval")
