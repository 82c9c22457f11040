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
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.crypto import DecryptionFailed
from registry.db import unit_of_work, utcnow
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


def _claim(session: Session, now: datetime, skip: set[object]) -> WebhookDelivery | None:
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.state == DeliveryState.queued,
            col(WebhookDelivery.next_attempt_at) <= now,
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if skip:
        query = query.where(col(WebhookDelivery.endpoint_id).not_in(list(skip)))
    return session.exec(query).first()


def send_pending(
    *,
    limit: int = 200,
    now: datetime | None = None,
    units: Callable[[], AbstractContextManager[Session]] = unit_of_work,
) -> int:
    """Send what is due (each in its own transaction); returns how many were delivered. An
    endpoint that fails is not tried again in this round."""
    delivered = 0
    failing: set[object] = set()
    with _sending:
        for _ in range(limit):
            with units() as session:
                at = now or utcnow()
                delivery = _claim(session, at, failing)
                if delivery is None:
                    break
                endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
                if endpoint is None or not endpoint.enabled or endpoint.deleted_at is not None:
                    delivery.state = DeliveryState.failed
                    delivery.last_error = "the endpoint is disabled or deleted"
                    session.add(delivery)
                    continue
                if _attempt(session, endpoint, delivery, at):
                    delivered += 1
                else:
                    failing.add(endpoint.id)
    return delivered


def _attempt(
    session: Session, endpoint: WebhookEndpoint, delivery: WebhookDelivery, at: datetime
) -> bool:
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    delivery.attempts += 1
    delivery.last_attempt_at = utcnow()
    status, answer, error = None, None, None
    try:
        headers = headers_for(delivery, service.signing_secrets(endpoint), body, utcnow())
        response = _post(endpoint.url, body, headers)
        status, answer = response.status_code, response.text[:500]
    except DecryptionFailed:
        error = "its secret cannot be read with this installation's key: rotate it"
    except Invalid as exc:
        error = exc.message
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
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
    if session.info.pop(service.DUE, False):
        threading.Thread(target=_send_quietly, name="registry-webhooks", daemon=True).start()


def install() -> None:
    """Deliver after every commit that queued deliveries (bound by `registry.reactions`)."""
    if not sa_event.contains(OrmSession, "after_commit", _after_commit):
        sa_event.listen(OrmSession, "after_commit", _after_commit)
