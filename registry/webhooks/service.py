"""Webhooks for the systems that hold the posts (a website's CMS, a scheduling tool).

An admin registers an endpoint (`https`, and a public address) with the events it wants. Every
state change is audited; the audit entries that matter outside become deliveries written in the
same transaction (an outbox: nothing is told about a change that did not commit, and nothing
committed goes untold), sent after commit and retried with backoff by `delivery.send_pending`.
Payloads carry ids, channels, places and reason classes — never a person's name or address.

Events:
- `publication.takedown_required` {publication_id, media_id, channel, url, reason_class}
- `media.cleared` / `media.flagged` {media_id, event_id, status}
- `consent.revoked` {consent_id, media_ids}
- `booking.opted_out` {event_id} (the event only: who opted out stays here)

Messages follow the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256>`; secrets `whsec_<base64>`), so receivers verify them
with the `standardwebhooks` package. A rotated secret keeps signing beside the new one for a
grace period.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

from sqlmodel import Session, col, select

from registry import crypto
from registry.audit import service as audit
from registry.audit.models import AuditEntry
from registry.audit.service import Actor
from registry.config import get_settings
from registry.consent.models import ConsentMedia
from registry.db import utcnow
from registry.errors import Invalid, NotFound
from registry.events.models import Booking
from registry.media.models import Media
from registry.publishing.models import Publication
from registry.webhooks.models import EVENTS, DeliveryState, WebhookDelivery, WebhookEndpoint

GRACE = timedelta(hours=24)  # a rotated secret still signs for this long
MAX_ENDPOINTS = 50
BY_STAFF = "an administrator turned it off"


# --- secrets ----------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _key() -> bytes:
    # Bound to the secret key, not the biometric key (rotating that must not cut off receivers).
    return crypto.key_from(secret_key=get_settings().resolved_secret_key() + "|webhooks")


def seal(endpoint_id: uuid.UUID, secret: str) -> bytes:
    return crypto.encrypt(secret.encode(), bound_to=f"webhook:{endpoint_id}", key=_key())


def unseal(endpoint_id: uuid.UUID, blob: bytes) -> str:
    return crypto.decrypt(blob, bound_to=f"webhook:{endpoint_id}", key=_key()).decode()


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one during
    its grace period."""
    out = [unseal(endpoint.id, endpoint.secret)]
    if endpoint.previous_secret and endpoint.previous_until and endpoint.previous_until > utcnow():
        out.append(unseal(endpoint.id, endpoint.previous_secret))
    return out


# --- where deliveries may go --------------------------------------------------------------------


class Unsafe(Invalid):
    """An endpoint address that deliveries may not go to."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 4291, 6052, 8215): a
# translator or the kernel connects to that IPv4 address, so it is the one judged.
_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def carried(ip: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    """The IPv4 addresses an IPv6 address carries, and how (IPv4-mapped or -compatible, NAT64,
    6to4, both ends of Teredo)."""
    last = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found: list[tuple[ipaddress.IPv4Address, str]] = []
    if ip.ipv4_mapped is not None:
        found.append((ip.ipv4_mapped, "IPv4-mapped"))
    elif ip in _COMPATIBLE and int(ip) > 1:  # not :: or ::1
        found.append((last, "IPv4-compatible"))
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        found.append((last, "NAT64"))
    if ip.sixtofour is not None:
        found.append((ip.sixtofour, "6to4"))
    if ip.teredo is not None:
        server, client = ip.teredo
        found += [(server, "Teredo server"), (client, "Teredo client")]
    return found


def _loopback(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _public(ip: IPAddress) -> bool:
    if ip.is_multicast or not ip.is_global:
        return False
    return not (isinstance(ip, ipaddress.IPv6Address) and (ip.is_reserved or ip.is_site_local))


def refusal(ip: IPAddress, *, loopback_ok: bool) -> str | None:
    """Why deliveries may not go to `ip` (None: they may): it, or an IPv4 address it carries,
    is private, loopback, link-local, reserved or multicast. Loopback itself (127.0.0.0/8, ::1,
    ::ffff:127.0.0.1) is allowed when `loopback_ok`; loopback carried through a translator is
    not (it would be the translator's own)."""
    if loopback_ok and _loopback(ip):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        inside = carried(ip)
        for address, how in inside:
            if not _public(address):
                return f"{ip}, which carries {address} ({how})"
        if ip.ipv4_mapped is not None or (inside and (ip in _NAT64 or ip.sixtofour)):
            return None  # a public IPv4 address, reached through a translator or relay
    return None if _public(ip) else str(ip)


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def resolve(url: str) -> list[str]:
    """The addresses a delivery to `url` may connect to, resolved now: every address the name
    resolves to must be public (private, link-local, loopback, reserved, multicast and the cloud
    metadata address are refused, written as IPv4 or carried in IPv6) unless
    `webhook_allow_loopback` allows loopback; and the port must be one `webhook_ports` lists
    (loopback allowed: any). Deliveries connect to the address checked here, never to a second
    resolution (no DNS rebinding)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    settings = get_settings()
    loopback_ok = settings.webhook_allow_loopback
    port = _port(parts)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unsafe(
            f"The endpoint's host {host!r} does not resolve ({exc}).", field="url"
        ) from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise Unsafe(f"The endpoint's host {host!r} has no address.", field="url")
    ips = [ipaddress.ip_address(address.split("%")[0]) for address in addresses]
    for ip in ips:
        why = refusal(ip, loopback_ok=loopback_ok)
        if why is not None:
            raise Unsafe(
                f"The endpoint's host {host!r} resolves to {why}, a private, loopback or "
                "reserved address: webhooks only go to public addresses.",
                field="url",
            )
    if port not in settings.webhook_ports and not (loopback_ok and all(map(_loopback, ips))):
        allowed = ", ".join(str(p) for p in settings.webhook_ports) or "none"
        raise Unsafe(
            f"The endpoint's port {port} is not allowed: webhooks go to port(s) {allowed} "
            "(REGISTRY_WEBHOOK_PORTS lists the ports allowed).",
            field="url",
        )
    return addresses


def destination(url: str) -> list[str]:
    """Check an endpoint URL whole and return the addresses a delivery may connect to now:
    https (http only to loopback in development), no credentials, an allowed port, a host that
    resolves to allowed addresses. Registration and every send run it."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port out of range or not a number
    except ValueError:
        raise Invalid("The endpoint must be a full https:// address.", field="url") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid("The endpoint must be a full https:// address.", field="url")
    if parts.username or parts.password:
        raise Invalid("Put no credentials in the endpoint's address.", field="url")
    if len(url) > 2000:
        raise Invalid("The endpoint's address is too long (at most 2,000 characters).", field="url")
    addresses = resolve(url)
    if parts.scheme == "http" and not (
        get_settings().webhook_allow_loopback
        and all(_loopback(ipaddress.ip_address(a.split("%")[0])) for a in addresses)
    ):
        raise Invalid(
            "The endpoint must use https (plain http only to 127.0.0.1 when "
            "REGISTRY_WEBHOOK_ALLOW_LOOPBACK is set, for development).",
            field="url",
        )
    return addresses


def checked_url(url: str) -> str:
    """An endpoint URL that may be registered (`destination` says what is checked)."""
    url = (url or "").strip()
    destination(url)
    return url


# --- endpoints --------------------------------------------------------------------------------


def _events_checked(events: Sequence[str]) -> list[str]:
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown or not chosen:
        raise Invalid(
            f"Choose events from {', '.join(EVENTS)}"
            + (f" ({', '.join(unknown)} is not one)." if unknown else "."),
            field="events",
        )
    return chosen


def register(
    *, session: Session, actor: Actor, url: str, events: Sequence[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown once: only a sealed copy is kept)."""
    url = checked_url(url)
    chosen = _events_checked(events)
    live = session.exec(
        select(WebhookEndpoint.id).where(col(WebhookEndpoint.deleted_at).is_(None))
    ).all()
    if len(live) >= MAX_ENDPOINTS:
        raise Invalid(f"At most {MAX_ENDPOINTS} endpoints; delete one first.", field="url")
    endpoint_id = uuid.uuid4()
    secret = new_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        url=url,
        events=chosen,
        description=description.strip()[:200],
        secret=seal(endpoint_id, secret),
        created_by=actor.label,
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="webhook.registered",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        after={"url": url, "events": chosen},
    )
    return endpoint, secret


def endpoints(*, session: Session) -> list[WebhookEndpoint]:
    return list(
        session.exec(
            select(WebhookEndpoint)
            .where(col(WebhookEndpoint.deleted_at).is_(None))
            .order_by(col(WebhookEndpoint.created_at))
        ).all()
    )


def get_endpoint(*, session: Session, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise NotFound("No webhook endpoint with this id.")
    return endpoint


def delete(*, session: Session, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Stop sending to it (its delivery log is kept until retention; queued ones are dropped)."""
    endpoint.deleted_at, endpoint.enabled = utcnow(), False
    session.add(endpoint)
    for delivery in session.exec(
        select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.state == DeliveryState.queued,
        )
    ):
        delivery.state, delivery.last_error = DeliveryState.failed, "endpoint deleted"
        session.add(delivery)
    audit.record(
        session=session,
        actor=actor,
        action="webhook.deleted",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
    )
    session.flush()


def rotate(*, session: Session, actor: Actor, endpoint: WebhookEndpoint) -> str:
    """A new secret (returned once); the old one keeps signing for GRACE beside it."""
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_until = utcnow() + GRACE
    endpoint.secret = seal(endpoint.id, secret)
    session.add(endpoint)
    audit.record(
        session=session,
        actor=actor,
        action="webhook.secret_rotated",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        after={"previous_until": endpoint.previous_until.isoformat()},
    )
    session.flush()
    return secret


def disable(
    *, session: Session, actor: Actor, endpoint: WebhookEndpoint, reason: str = BY_STAFF
) -> None:
    """Stop sending to it for now (what comes meanwhile is not queued; enable sends again)."""
    endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, utcnow(), reason[:500]
    session.add(endpoint)
    audit.record(
        session=session,
        actor=actor,
        action="webhook.disabled",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        after={"reason": reason[:200]},
    )
    session.flush()


def enable(*, session: Session, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Send to it again after it was disabled (what failed meanwhile can be replayed)."""
    endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = True, None, None
    endpoint.failures = 0
    session.add(endpoint)
    audit.record(
        session=session,
        actor=actor,
        action="webhook.enabled",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
    )
    session.flush()


def deliveries(
    *, session: Session, endpoint: WebhookEndpoint, limit: int = 100
) -> list[WebhookDelivery]:
    return list(
        session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc())
            .limit(limit)
        ).all()
    )


def replay(
    *, session: Session, actor: Actor, endpoint: WebhookEndpoint, delivery_id: str
) -> WebhookDelivery:
    """Send a delivery again, now (same id: a receiver that did get it can tell)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound("No such delivery for this endpoint.")
    if not endpoint.enabled:
        # It would only be marked failed again: nothing is sent to a disabled endpoint.
        raise Invalid("Enable the endpoint first: nothing is sent to it while it is disabled.")
    delivery.state, delivery.next_attempt_at = DeliveryState.queued, utcnow()
    delivery.attempts = 0
    session.add(delivery)
    audit.record(
        session=session,
        actor=actor,
        action="webhook.replayed",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        after={"delivery": delivery.id},
    )
    _due(session)
    session.flush()
    return delivery


def purge(*, session: Session, days: int) -> int:
    """Delete the log of deliveries finished (delivered or failed) more than `days` ago."""
    cutoff = utcnow() - timedelta(days=days)
    old = session.exec(
        select(WebhookDelivery).where(
            WebhookDelivery.state != DeliveryState.queued,
            col(WebhookDelivery.created_at) < cutoff,
        )
    ).all()
    for row in old:
        session.delete(row)
    session.flush()
    return len(old)


# --- what outside systems are told ---------------------------------------------------------------


def message_id() -> str:
    return "msg_" + base64.b32encode(os.urandom(16)).decode().rstrip("=").lower()


def reason_class(reasons: Sequence[str]) -> str:
    """Why a post must come down, as a class (the reasons themselves name people)."""
    text = " ".join(reasons).lower()
    for needle, label in (
        ("withdrew consent", "consent_withdrawn"),
        ("revoked", "consent_withdrawn"),
        ("expired", "consent_expired"),
        ("declined", "consent_declined"),
        ("caption", "caption_identifies"),
        ("objected", "objection"),
        ("opted out", "opted_out"),
        ("notice", "channel_not_covered"),
        ("does not cover", "channel_not_covered"),
    ):
        if needle in text:
            return label
    return "basis_withdrawn"


def _payload(session: Session, entry: AuditEntry) -> tuple[str, dict[str, Any]] | None:
    """The event and payload an audit entry means for outside systems (None: nothing)."""
    action = entry.action
    if action == "publication.takedown_required":
        publication = session.get(Publication, uuid.UUID(entry.entity_id))
        if publication is None:
            return None
        return action, {
            "publication_id": str(publication.id),
            "media_id": str(publication.media_id),
            "channel": publication.channel,
            "url": publication.url,
            "published_at": publication.published_at.isoformat(),
            "reason_class": reason_class((entry.personal or {}).get("reasons") or []),
        }
    if action == "media.cleared":
        status = str((entry.after or {}).get("status", ""))
        if status not in ("cleared", "flagged"):
            return None
        media = session.get(Media, uuid.UUID(entry.entity_id))
        if media is None:
            return None
        return f"media.{status}", {
            "media_id": str(media.id),
            "event_id": str(media.event_id) if media.event_id else None,
            "status": status,
        }
    if action == "consent.revoked":
        consent_id = uuid.UUID(entry.entity_id)
        media_ids = session.exec(
            select(ConsentMedia.media_id).where(ConsentMedia.consent_request_id == consent_id)
        ).all()
        return action, {
            "consent_id": str(consent_id),
            "media_ids": sorted(str(m) for m in media_ids),
        }
    if action == "booking.opted_out":
        booking = session.get(Booking, uuid.UUID(entry.entity_id))
        if booking is None:
            return None
        return action, {"event_id": str(booking.event_id)}
    return None


DUE = "registry.webhooks.due"  # session.info: a commit queued deliveries (`delivery` sends them)


def _due(session: Session) -> None:
    session.info[DUE] = True


def on_audited(*, session: Session, entry: AuditEntry) -> None:
    """An audit entry was recorded: queue a delivery to every endpoint that wants its event."""
    if entry.action not in _ACTIONS:
        return
    wanted = session.exec(
        select(WebhookEndpoint).where(
            col(WebhookEndpoint.enabled).is_(True), col(WebhookEndpoint.deleted_at).is_(None)
        )
    ).all()
    if not wanted:
        return
    found = _payload(session, entry)
    if found is None:
        return
    kind, data = found
    now = utcnow()
    for endpoint in wanted:
        if kind not in endpoint.events:
            continue
        session.add(
            WebhookDelivery(
                id=message_id(),
                endpoint_id=endpoint.id,
                event=kind,
                payload={"type": kind, "timestamp": now.isoformat(), "data": data},
                next_attempt_at=now,
                created_at=now,
            )
        )
        _due(session)
    session.flush()


_ACTIONS = {
    "publication.takedown_required",
    "media.cleared",
    "consent.revoked",
    "booking.opted_out",
}
