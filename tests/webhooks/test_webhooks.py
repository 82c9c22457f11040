"""Webhooks: registered by admins, signed as Standard Webhooks says, verified by a real receiver
with the `standardwebhooks` package; a withdrawal after publication reaches it, a receiver that
was down gets it when it is back, forged and replayed messages are rejected by it, secrets
rotate with a grace period, and private addresses are refused."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.config import get_settings
from registry.consent.models import ConsentRequest
from registry.db import utcnow
from registry.events.models import Booking, Event
from registry.media.models import Media
from registry.webhooks import delivery, service
from registry.webhooks.models import WebhookDelivery
from tests.consent.factories import grant
from tests.webhooks.receiver import Receiver, receiver


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_loopback", True)


@pytest.fixture
def hook(loopback: None) -> Iterator[Receiver]:
    with receiver() as box:
        yield box


def send(session: Session, *, now: datetime | None = None) -> int:
    """Deliver what is due from inside the test's transaction (a savepoint per delivery)."""

    @contextmanager
    def unit() -> Iterator[Session]:
        with session.begin_nested():
            yield session

    return delivery.send_pending(units=unit, now=now)


def register(client: TestClient, headers: dict[str, str], url: str, *events: str) -> dict[str, Any]:
    made = client.post(
        "/api/webhooks",
        json={"url": url, "events": list(events), "description": "CMS"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    endpoint: dict[str, Any] = made.json()
    return endpoint


def test_a_withdrawal_after_publication_reaches_the_receiver_signed_without_names(
    client: TestClient,
    admin_headers: dict[str, str],
    session: Session,
    hook: Receiver,
    make_media: Callable[..., Media],
    make_consent: Callable[..., ConsentRequest],
) -> None:
    endpoint = register(
        client, admin_headers, hook.url, "publication.takedown_required", "consent.revoked"
    )
    hook.secret = endpoint["secret"]
    assert endpoint["secret"].startswith("whsec_")
    assert len(base64.b64decode(endpoint["secret"].removeprefix("whsec_"))) == 32
    assert "secret" not in client.get("/api/webhooks", headers=admin_headers).json()[0]

    media = make_media(faces=[("clear", None)])
    consent = make_consent(subject_name="Maria Gonzalez", channels=["print"], media_ids=[media.id])
    grant(session, consent)
    published = client.post(
        f"/api/media/{media.id}/publications",
        json={"channel": "print", "url": "https://cms.example/posts/7"},
        headers=admin_headers,
    ).json()
    assert send(session) == 0  # nothing it subscribed to yet
    revoked = client.post(
        f"/api/consent-requests/{consent.id}/revoke",
        json={"note": "Phoned to withdraw"},
        headers=admin_headers,
    )
    assert revoked.status_code == 200, revoked.text
    assert send(session) == 2
    assert hook.rejected == []
    by_type = {m["type"]: m for m in hook.accepted}
    takedown = by_type["publication.takedown_required"]["data"]
    assert takedown == {
        "publication_id": published["id"],
        "media_id": str(media.id),
        "channel": "print",
        "url": "https://cms.example/posts/7",
        "published_at": takedown["published_at"],
        "reason_class": "consent_withdrawn",
    }
    assert by_type["consent.revoked"]["data"] == {
        "consent_id": str(consent.id),
        "media_ids": [str(media.id)],
    }
    assert "Maria" not in json.dumps(hook.accepted)
    log = client.get(f"/api/webhooks/{endpoint['id']}/deliveries", headers=admin_headers).json()
    assert {(d["event"], d["state"], d["last_status"]) for d in log} == {
        ("publication.takedown_required", "delivered", 204),
        ("consent.revoked", "delivered", 204),
    }


def test_a_receiver_that_was_down_gets_it_when_it_is_back_and_a_replay_is_recognised(
    client: TestClient,
    admin_headers: dict[str, str],
    session: Session,
    hook: Receiver,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
) -> None:
    endpoint = register(client, admin_headers, hook.url, "booking.opted_out")
    hook.secret = endpoint["secret"]
    event = make_event()
    booking = make_booking(event=event)
    hook.stop()  # the receiver is down
    opted = client.patch(
        f"/api/bookings/{booking.id}",
        json={"photo_opt_out": True},
        headers=admin_headers,
    )
    assert opted.status_code == 200, opted.text
    assert send(session) == 0
    [queued] = client.get(
        f"/api/webhooks/{endpoint['id']}/deliveries", headers=admin_headers
    ).json()
    assert queued["state"] == "queued"
    assert queued["attempts"] == 1
    assert queued["last_error"].startswith("ConnectError")
    assert send(session) == 0  # not due yet (backoff)

    hook.start()  # back
    assert send(session, now=utcnow() + timedelta(seconds=6)) == 1
    [message] = hook.accepted
    assert message == {
        "id": queued["id"],
        "type": "booking.opted_out",
        "timestamp": message["timestamp"],
        "data": {"event_id": str(event.id)},
    }
    # A replay by staff carries the same id: the receiver recognises it and does not act twice.
    replayed = client.post(
        f"/api/webhooks/{endpoint['id']}/deliveries/{queued['id']}/replay", headers=admin_headers
    )
    assert replayed.status_code == 202
    assert send(session) == 1
    assert len(hook.accepted) == 1
    assert hook.rejected == [f"replayed {queued['id']}"]


def test_forged_and_stale_messages_are_rejected_by_the_receiver(hook: Receiver) -> None:
    secret = service.new_secret()
    hook.secret = secret
    body = b'{"type":"media.cleared","timestamp":"2026-12-04T10:00:00+00:00","data":{}}'
    now = utcnow()
    row = WebhookDelivery(id=service.message_id(), endpoint_id=None, event="x", payload={})  # type: ignore[arg-type]
    good = delivery.headers_for(row, [secret], body, now)
    assert hook.check(body, good) == 204
    forged = delivery.headers_for(
        WebhookDelivery(id=service.message_id(), endpoint_id=None, event="x", payload={}),  # type: ignore[arg-type]
        [service.new_secret()],
        body,
        now,
    )
    assert hook.check(body, forged) == 401
    tampered = dict(good, **{"webhook-id": service.message_id()})
    assert hook.check(body, tampered) == 401
    stale = delivery.headers_for(row, [secret], body, now - timedelta(minutes=10))
    assert hook.check(body, stale) == 401  # outside the package's tolerance: a replay
    assert len(hook.rejected) == 3


def test_a_rotated_secret_signs_beside_the_new_one_for_its_grace_period(
    client: TestClient,
    admin_headers: dict[str, str],
    session: Session,
    hook: Receiver,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
) -> None:
    endpoint = register(client, admin_headers, hook.url, "booking.opted_out")
    old = endpoint["secret"]
    rotated = client.post(
        f"/api/webhooks/{endpoint['id']}/rotate-secret", headers=admin_headers
    ).json()
    assert rotated["secret"] != old
    hook.secret = old  # a receiver not yet updated still verifies
    booking = make_booking(event=make_event())
    client.patch(
        f"/api/bookings/{booking.id}",
        json={"photo_opt_out": True},
        headers=admin_headers,
    ).raise_for_status()
    assert send(session) == 1
    [row] = session.exec(select(WebhookDelivery)).all()
    endpoint_row = service.get_endpoint(session=session, endpoint_id=row.endpoint_id)
    body = b"{}"
    signatures = delivery.headers_for(row, service.signing_secrets(endpoint_row), body, utcnow())
    assert len(signatures["webhook-signature"].split(" ")) == 2
    # After the grace period only the new secret signs.
    endpoint_row.previous_until = utcnow() - timedelta(seconds=1)
    assert service.signing_secrets(endpoint_row) == [rotated["secret"]]


def test_endpoints_must_be_https_on_public_addresses(
    client: TestClient, admin_headers: dict[str, str], comms_headers: dict[str, str]
) -> None:
    """Production settings: loopback, private, link-local and metadata addresses refused."""
    for url, words in [
        ("http://127.0.0.1:9/hook", "private, loopback or reserved"),
        ("https://127.0.0.1/hook", "private, loopback or reserved"),
        ("https://10.1.2.3/hook", "private, loopback or reserved"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or reserved"),
        ("https://[::1]/hook", "private, loopback or reserved"),
        ("https://[::ffff:192.168.0.1]/hook", "private, loopback or reserved"),
        ("https://localhost/hook", "private, loopback or reserved"),
        ("ftp://example.org/hook", "https://"),
        ("https://user:pw@example.org/hook", "no credentials"),
        ("https://does-not-exist.invalid/hook", "does not resolve"),
        ("https://[::1/hook", "https://"),  # not an address at all: refused, never a 500
        ("https://example.org:99999/hook", "https://"),
        ("https://example.org:port/hook", "https://"),
    ]:
        refused = client.post(
            "/api/webhooks",
            json={"url": url, "events": ["media.cleared"]},
            headers=admin_headers,
        )
        assert refused.status_code == 422, (url, refused.text)
        assert words in refused.json()["detail"], (url, refused.json())
    unknown = client.post(
        "/api/webhooks",
        json={"url": "https://example.org/h", "events": ["media.deleted"]},
        headers=admin_headers,
    )
    assert unknown.status_code == 422
    # Comms staff cannot manage webhooks.
    assert client.get("/api/webhooks", headers=comms_headers).status_code == 403


def test_the_address_is_checked_again_at_send_time(
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    admin_headers: dict[str, str],
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
) -> None:
    """A public name registered, then re-pointed at a private address (DNS rebinding): the
    delivery refuses to connect and says why."""
    real = socket.getaddrinfo
    answers = {"hooks.example.org": "93.184.216.34"}

    def lookup(host: str, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], 443))]
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    endpoint = register(client, admin_headers, "https://hooks.example.org/in", "booking.opted_out")
    answers["hooks.example.org"] = "10.0.0.5"
    booking = make_booking(event=make_event())
    client.patch(
        f"/api/bookings/{booking.id}",
        json={"photo_opt_out": True},
        headers=admin_headers,
    ).raise_for_status()
    assert send(session) == 0
    [row] = client.get(f"/api/webhooks/{endpoint['id']}/deliveries", headers=admin_headers).json()
    assert "10.0.0.5" in row["last_error"]
    assert row["last_status"] is None


def test_an_endpoint_that_keeps_failing_is_disabled_and_staff_are_told(
    client: TestClient,
    admin_headers: dict[str, str],
    session: Session,
    hook: Receiver,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
) -> None:
    endpoint = register(client, admin_headers, hook.url, "booking.opted_out")
    hook.secret = endpoint["secret"]
    hook.status = 500
    booking = make_booking(event=make_event())
    client.patch(
        f"/api/bookings/{booking.id}",
        json={"photo_opt_out": True},
        headers=admin_headers,
    ).raise_for_status()
    at = utcnow()
    for _ in range(delivery.MAX_ATTEMPTS):
        send(session, now=at)
        at += timedelta(days=1)
    [row] = client.get(f"/api/webhooks/{endpoint['id']}/deliveries", headers=admin_headers).json()
    assert (row["state"], row["attempts"], row["last_status"]) == (
        "failed",
        delivery.MAX_ATTEMPTS,
        500,
    )
    [state] = client.get("/api/webhooks", headers=admin_headers).json()
    assert state["enabled"] is False
    assert "failed" in state["disabled_reason"]
    from registry.mail.models import OutboxMessage

    notices = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "staff.notice")).all()
    assert any("webhook endpoint was disabled" in str(n.payload) for n in notices)
    # Enabled again, the failed delivery replayed: delivered.
    hook.status = 204
    client.post(f"/api/webhooks/{endpoint['id']}/enable", headers=admin_headers).raise_for_status()
    client.post(
        f"/api/webhooks/{endpoint['id']}/deliveries/{row['id']}/replay", headers=admin_headers
    ).raise_for_status()
    assert send(session) == 1
    assert (
        client.delete(f"/api/webhooks/{endpoint['id']}", headers=admin_headers).status_code == 204
    )
    assert client.get("/api/webhooks", headers=admin_headers).json() == []


def test_staff_disable_an_endpoint_nothing_is_queued_or_replayed_until_it_is_enabled(
    client: TestClient,
    admin_headers: dict[str, str],
    session: Session,
    hook: Receiver,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
) -> None:
    endpoint = register(client, admin_headers, hook.url, "booking.opted_out")
    hook.secret = endpoint["secret"]
    event = make_event()
    first = make_booking(event=event)
    client.patch(
        f"/api/bookings/{first.id}",
        json={"photo_opt_out": True},
        headers=admin_headers,
    ).raise_for_status()
    assert send(session) == 1
    [sent] = client.get(f"/api/webhooks/{endpoint['id']}/deliveries", headers=admin_headers).json()

    disabled = client.post(f"/api/webhooks/{endpoint['id']}/disable", headers=admin_headers)
    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["enabled"], disabled.json()["disabled_reason"]) == (
        False,
        service.BY_STAFF,
    )
    second = make_booking(event=event)
    client.patch(
        f"/api/bookings/{second.id}",
        json={"photo_opt_out": True},
        headers=admin_headers,
    ).raise_for_status()
    log = client.get(f"/api/webhooks/{endpoint['id']}/deliveries", headers=admin_headers).json()
    assert [d["id"] for d in log] == [sent["id"]]  # nothing queued while disabled
    refused = client.post(
        f"/api/webhooks/{endpoint['id']}/deliveries/{sent['id']}/replay", headers=admin_headers
    )
    assert refused.status_code == 422
    assert "Enable the endpoint first" in refused.json()["detail"]

    client.post(f"/api/webhooks/{endpoint['id']}/enable", headers=admin_headers).raise_for_status()
    client.post(
        f"/api/webhooks/{endpoint['id']}/deliveries/{sent['id']}/replay", headers=admin_headers
    ).raise_for_status()
    assert send(session) == 1
    assert hook.rejected == [f"replayed {sent['id']}"]
