"""Issue 34, item 6: a webhook endpoint is refused when its address is an internal IPv4 address
written as IPv6 (IPv4-compatible, IPv4-mapped, NAT64 well-known and local-use prefixes, 6to4,
Teredo), and when it names a port other than 443 (unless `webhook_ports` allows it); the same
check runs again at every send, for endpoints stored before it existed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.config import get_settings
from registry.db import utcnow
from registry.errors import Invalid
from registry.webhooks import delivery, service
from registry.webhooks.models import WebhookDelivery, WebhookEndpoint

# URL -> the internal IPv4 address it carries (named in the refusal).
INTERNAL = {
    "https://[::127.0.0.1]/hook": "127.0.0.1",  # IPv4-compatible
    "https://[::a00:1]/hook": "10.0.0.1",
    "https://[::ffff:7f00:1]/hook": "127.0.0.1",  # IPv4-mapped, in hex
    "https://[64:ff9b::7f00:1]/hook": "127.0.0.1",  # NAT64, well-known prefix
    "https://[64:ff9b::a9fe:a9fe]/latest/meta-data": "169.254.169.254",
    "https://[64:ff9b:1::a00:1]/hook": "10.0.0.1",  # NAT64, local-use prefix
    "https://[2002:7f00:1::]/hook": "127.0.0.1",  # 6to4
    "https://[2002:c0a8:1::1]/hook": "192.168.0.1",
    "https://[2001:0:808:808:8000:63bf:80ff:fffe]/hook": "127.0.0.1",  # Teredo client
    "https://[2001:0:a00:1:8000:63bf:f7f7:f7f7]/hook": "10.0.0.1",  # Teredo server
}
PORTS = ["https://8.8.8.8:22/hook", "https://8.8.8.8:8443/hook", "https://8.8.8.8:80/hook"]
PUBLIC = [
    "https://8.8.8.8/hook",
    "https://8.8.8.8:443/hook",
    "https://[64:ff9b::808:808]/hook",  # NAT64 to a public address (an IPv6-only network)
    "https://[2002:808:808::1]/hook",  # 6to4 of a public address
    "https://[2001:4860:4860::8888]/hook",
]


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_loopback", False)


@pytest.mark.parametrize(("url", "carried"), INTERNAL.items())
def test_ipv6_forms_of_internal_addresses_are_refused(
    production: None, url: str, carried: str
) -> None:
    with pytest.raises(Invalid) as refused:
        service.checked_url(url)
    assert carried in refused.value.message
    assert "private, loopback or reserved" in refused.value.message


@pytest.mark.parametrize("url", PORTS)
def test_only_port_443_by_default(production: None, url: str) -> None:
    with pytest.raises(Invalid) as refused:
        service.checked_url(url)
    assert "port" in refused.value.message


@pytest.mark.parametrize("url", PUBLIC)
def test_public_addresses_on_443_are_accepted(production: None, url: str) -> None:
    assert service.checked_url(url) == url


def test_a_setting_allows_other_ports(production: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_ports", [443, 8443])
    assert service.checked_url("https://8.8.8.8:8443/hook") == "https://8.8.8.8:8443/hook"
    with pytest.raises(Invalid, match="port"):
        service.checked_url("https://8.8.8.8:22/hook")


def test_loopback_for_tests_keeps_any_port_on_loopback_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_loopback", True)
    assert service.checked_url("http://127.0.0.1:8123/hook") == "http://127.0.0.1:8123/hook"
    assert service.checked_url("https://[::1]:9443/hook") == "https://[::1]:9443/hook"
    with pytest.raises(Invalid, match="port"):
        service.checked_url("https://8.8.8.8:22/hook")
    with pytest.raises(Invalid, match="127.0.0.1"):
        service.checked_url("https://[64:ff9b::7f00:1]/hook")


def test_the_api_refuses_them_and_accepts_a_public_nat64_address(
    production: None, client: TestClient, admin_headers: dict[str, str]
) -> None:
    for url, carried in [*INTERNAL.items(), *((u, "port") for u in PORTS)]:
        refused = client.post(
            "/api/webhooks", json={"url": url, "events": ["media.cleared"]}, headers=admin_headers
        )
        assert refused.status_code == 422, (url, refused.text)
        assert carried in refused.json()["detail"], (url, refused.json())
    made = client.post(
        "/api/webhooks",
        json={"url": "https://[64:ff9b::808:808]/hook", "events": ["media.cleared"]},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text


@contextmanager
def _no_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    tried: list[str] = []

    def refuse(self: httpx.Client, request: httpx.Request, **kwargs: object) -> httpx.Response:
        tried.append(str(request.url))
        raise AssertionError(f"a delivery connected to {request.url}")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    yield tried


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://8.8.8.8:22/in", "port"),
        ("https://[64:ff9b::7f00:1]/in", "127.0.0.1"),
        ("https://[2002:a9fe:a9fe::1]/in", "169.254.169.254"),
    ],
)
def test_an_endpoint_stored_before_the_check_is_refused_at_send_time(
    production: None, monkeypatch: pytest.MonkeyPatch, session: Session, url: str, words: str
) -> None:
    endpoint_id = uuid.uuid4()
    session.add(
        WebhookEndpoint(
            id=endpoint_id,
            url=url,
            events=["media.cleared"],
            secret=service.seal(endpoint_id, service.new_secret()),
            created_by="an older version",
        )
    )
    session.flush()
    now = utcnow()
    row = WebhookDelivery(
        id=service.message_id(),
        endpoint_id=endpoint_id,
        event="media.cleared",
        payload={"type": "media.cleared", "data": {}},
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()

    @contextmanager
    def unit() -> Iterator[Session]:
        with session.begin_nested():
            yield session

    with _no_connections(monkeypatch) as tried:
        assert delivery.send_pending(units=unit) == 0
    assert tried == []
    session.refresh(row)
    assert row.last_status is None
    assert row.last_error is not None
    assert words in row.last_error
