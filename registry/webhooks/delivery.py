"""Sending webhook deliveries: signed (Standard Webhooks), to the address checked at send time,
retried with backoff, logged per endpoint; an endpoint that keeps failing is disabled and staff
are told.

`send_pending` runs after every commit that queued deliveries (a background thread) and every
few seconds in the web app (retries, and what a process lost). Rows are claimed with
`FOR UPDATE SKIP LOCKED`, so several processes may run it at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import ColumnElement
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.crypto import DecryptionFailed
from registry.db import begin_write, patiently, unit_of_work, utcnow
from registry.dispatch import doorbell
from registry.errors import Invalid
from registry.publishing import notify
from registry.webhooks import service
from registry.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("registry.webhooks")

# Between tries: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h (about a day in all).
BACKOFF = (5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200)
MAX_ATTEMPTS = len(BACKOFF) + 1
DISABLE_AFTER = 50  # failed tries in a row (across deliveries) before an endpoint is disabled
TIMEOUT = 10.0
_sending = threading.Lock()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `id.timestamp.body` (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def headers_for(
    delivery: WebhookDelivery, secrets: list[str], body: bytes, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "content-type": "application/json",
        "user-agent": "registry-webhooks/1",
        "webhook-id": delivery.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, delivery.id, timestamp, body) for s in secrets),
    }


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST to the address resolved and checked now, as at registration (not to a second
    lookup), the original host named in Host and TLS; no redirects followed."""
    address = service.destination(url)[0]
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    headers = {**headers, "host": parts.netloc}
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
        request = client.build_request(
            "POST",
            target,
            content=body,
            headers=headers,
            extensions={"sni_hostname": parts.hostname or ""},
        )
        response = client.send(request, stream=True)
        try:
            response.read()
        finally:
            response.close()
        return response


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF)) - 1])


def _disable(session: Session, endpoint: WebhookEndpoint, why: str) -> None:
    service.disable(session=session, actor=SYSTEM, endpoint=endpoint, reason=why)
    page = f"{get_settings().base_url.rstrip('/')}/webhooks/{endpoint.id}"
    notify.queue(
        session=session,
        subject="A webhook endpoint was disabled",
        body=(
            f"Deliveries to {endpoint.url} kept failing ({why}), so it was disabled: the systems "
            "behind it are no longer told about takedowns and clearances. Fix the receiver, "
            f"enable it again on its page ({page}) and replay what failed (its delivery log "
            "lists them)."
        ),
    )


CLAIM = timedelta(minutes=2)  # a claimed delivery is due again after this if its sender died


@dataclass(frozen=True)
class _Claimed:
    """A delivery taken for one try: what to post where, or why it cannot be posted."""

    id: str
    endpoint_id: uuid.UUID
    url: str = ""
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # set: not posted, recorded as this try's failure
    gone: bool = False  # the endpoint is disabled or deleted: the delivery fails for good


def send_pending(
    *,
    limit: int = 200,
    now: datetime | None = None,
    units: Callable[[], AbstractContextManager[Session]] = unit_of_work,
) -> int:
    """Send what is due; returns how many were delivered. An endpoint that fails is not tried
    again in this round. Each delivery is claimed in one short unit of work and its outcome
    recorded in another; the receiver is called outside any transaction, so a slow receiver
    never holds the database's write lock."""
    delivered = 0
    failing: set[object] = set()
    with _sending:
        for _ in range(limit):
            at = now or utcnow()
            claimed = patiently(lambda: _claim(units, at, failing))  # noqa: B023
            if claimed is None:
                break
            status, answer, error = _post_claimed(claimed)
            ok = patiently(lambda: _record(units, claimed, at, status, answer, error))  # noqa: B023
            if ok:
                delivered += 1
            elif not claimed.gone:
                failing.add(claimed.endpoint_id)
    return delivered


def _claim(
    units: Callable[[], AbstractContextManager[Session]], now: datetime, skip: set[object]
) -> _Claimed | None:
    """Take the next due delivery and push its next attempt past this try (so no other sender
    takes it meanwhile); None when nothing is due."""
    due: list[ColumnElement[bool]] = [
        col(WebhookDelivery.state) == DeliveryState.queued,
        col(WebhookDelivery.next_attempt_at) <= now,
    ]
    if skip:
        due.append(col(WebhookDelivery.endpoint_id).not_in(list(skip)))
    with units() as session:
        if session.exec(select(WebhookDelivery.id).where(*due).limit(1)).first() is None:
            return None  # nothing due: no write lock taken
        begin_write(session)  # on SQLite, take the write lock before reading what is free
        delivery = session.exec(
            select(WebhookDelivery)
            .where(*due)
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if delivery is None:
            return None
        assert delivery.id is not None
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled or endpoint.deleted_at is not None:
            return _Claimed(delivery.id, delivery.endpoint_id, gone=True)
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        delivery.attempts += 1
        delivery.last_attempt_at = utcnow()
        delivery.next_attempt_at = utcnow() + CLAIM
        session.add(delivery)
        try:
            headers = headers_for(delivery, service.signing_secrets(endpoint), body, utcnow())
        except DecryptionFailed:
            error = "its secret cannot be read with this installation's key: rotate it"
            return _Claimed(delivery.id, endpoint.id, error=error)
        return _Claimed(delivery.id, endpoint.id, endpoint.url, body, headers)


def _post_claimed(claimed: _Claimed) -> tuple[int | None, str | None, str | None]:
    """(status, the receiver's answer, error) of one try; no database work here."""
    if claimed.gone or claimed.error is not None:
        return None, None, claimed.error
    try:
        response = _post(claimed.url, claimed.body, claimed.headers)
    except Invalid as exc:
        return None, None, exc.message
    except httpx.HTTPError as exc:
        return None, None, f"{type(exc).__name__}: {exc}"[:500]
    return response.status_code, response.text[:500], None


def _record(
    units: Callable[[], AbstractContextManager[Session]],
    claimed: _Claimed,
    at: datetime,
    status: int | None,
    answer: str | None,
    error: str | None,
) -> bool:
    """Write one try's outcome on its delivery and endpoint; True when it was delivered."""
    with units() as session:
        begin_write(session)
        delivery = session.get(WebhookDelivery, claimed.id, populate_existing=True)
        endpoint = session.get(WebhookEndpoint, claimed.endpoint_id, populate_existing=True)
        assert delivery is not None
        if claimed.gone or endpoint is None:
            delivery.state = DeliveryState.failed
            delivery.last_error = "the endpoint is disabled or deleted"
            session.add(delivery)
            return False
        delivery.last_status, delivery.last_response, delivery.last_error = status, answer, error
        ok = status is not None and 200 <= status < 300
        if ok:
            delivery.state, delivery.delivered_at = DeliveryState.delivered, utcnow()
            endpoint.failures = 0
        else:
            endpoint.failures += 1
            logger.warning(
                "webhook %s to endpoint %s failed (try %d): %s",
                delivery.id,
                endpoint.id,
                delivery.attempts,
                error or f"HTTP {status}",
            )
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.state = DeliveryState.failed
                _disable(session, endpoint, f"delivery {delivery.id} failed {MAX_ATTEMPTS} times")
            else:
                delivery.next_attempt_at = at + _backoff(delivery.attempts)
                if endpoint.failures >= DISABLE_AFTER:
                    _disable(session, endpoint, f"{endpoint.failures} failed tries in a row")
        session.add(delivery)
        session.add(endpoint)
        session.flush()
        return ok


def _send_quietly() -> None:
    try:
        send_pending()
    except Exception:  # a receiver's failure must never take the process down
        logger.exception("Sending webhooks failed")


def _after_commit(session: OrmSession) -> None:
    """Send what this commit queued: the sender process of `registry serve` when it listens,
    else (a test's app, a command) a short-lived thread of this process."""
    if session.info.pop(service.DUE, False) and not doorbell.ring(doorbell.SENDER, "webhooks"):
        threading.Thread(target=_send_quietly, name="registry-webhooks", daemon=True).start()


def install() -> None:
    """Deliver after every commit that queued deliveries (bound by `registry.reactions`)."""
    if not sa_event.contains(OrmSession, "after_commit", _after_commit):
        sa_event.listen(OrmSession, "after_commit", _after_commit)
