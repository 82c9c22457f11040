"""Issue 34, item 7: a request from loopback that carries a forwarding header of any kind
(`Forwarded`, `X-Real-IP`, `X-Forwarded-*`, `Via` ...) came through a proxy, so `/metrics` does
not trust it as "on this machine"; a trusted proxy (`REGISTRY_TRUSTED_PROXIES`) names the client
with any of the usual headers, and the throttles count that client; an untrusted peer's
headers name nobody. Over HTTP against real `registry serve` processes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TypedDict

import pytest

from tests.live import Live, live_server

FORWARDING = [
    {"Forwarded": "for=8.8.8.8"},
    {"Forwarded": 'for="[2001:db8::1]:4711";proto=https'},
    {"Forwarded": "for=127.0.0.1"},
    {"X-Real-IP": "8.8.8.8"},
    {"X-Real-IP": "127.0.0.1"},
    {"X-Forwarded-For": "8.8.8.8"},
    {"X-Forwarded-For": "127.0.0.1"},
    {"X-Forwarded-Host": "registry.example.org"},
    {"X-Forwarded-Proto": "https"},
    {"Via": "1.1 proxy.example.org"},
    {"True-Client-IP": "8.8.8.8"},
    {"CF-Connecting-IP": "8.8.8.8"},
    {"X-Client-IP": "8.8.8.8"},
]


class _Throttle(TypedDict):
    """Settings by name (a TypedDict, so `**` cannot fill live_server's other parameters)."""

    REGISTRY_LOGIN_MAX_FAILURES: str
    REGISTRY_LOGIN_WINDOW_SECONDS: str


# One failed sign-in allowed per account, four (1 x 4) per client address, per window.
LOGIN = _Throttle(REGISTRY_LOGIN_MAX_FAILURES="1", REGISTRY_LOGIN_WINDOW_SECONDS="3600")
PER_CLIENT = 4
_emails = (f"nobody{n}@example.org" for n in itertools.count())


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The default: a proxy on this machine (127.0.0.1) is trusted."""
    with live_server(tmp_path_factory.mktemp("trusting"), "trusting", mail=False, **LOGIN) as live:
        yield live


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Only a proxy elsewhere is trusted: what loopback's headers say is not believed."""
    with live_server(
        tmp_path_factory.mktemp("untrusting"),
        "untrusting",
        mail=False,
        REGISTRY_TRUSTED_PROXIES="10.9.9.9",
        **LOGIN,
    ) as live:
        yield live


def _sign_in(live: Live, headers: dict[str, str]) -> int:
    with live.client() as client:
        answer = client.post(
            "/api/auth/token",
            data={"username": next(_emails), "password": "not the password"},
            headers=headers,
        )
    return answer.status_code


@pytest.mark.parametrize("server", ["trusting", "untrusting"])
def test_metrics_trust_loopback_only_without_any_forwarding_header(
    request: pytest.FixtureRequest, server: str
) -> None:
    live: Live = request.getfixturevalue(server)
    with live.client() as client:
        assert client.get("/metrics").status_code == 200  # on this machine, not forwarded
        for headers in FORWARDING:
            answer = client.get("/metrics", headers=headers)
            assert answer.status_code == 401, (server, headers, answer.status_code)


@pytest.mark.parametrize(
    ("header", "first", "second"),
    [
        ("Forwarded", "for=198.51.100.7", 'for="203.0.113.9:1234"'),
        ("Forwarded", 'for="[2001:db8:aa::1]"', "for=192.0.2.44;proto=https"),
        ("X-Real-IP", "198.51.100.70", "203.0.113.90"),
        ("X-Forwarded-For", "198.51.100.170", "203.0.113.190"),
    ],
)
def test_a_trusted_proxy_names_the_client_the_throttle_counts(
    trusting: Live, header: str, first: str, second: str
) -> None:
    for _ in range(PER_CLIENT):
        assert _sign_in(trusting, {header: first}) == 401
    assert _sign_in(trusting, {header: first}) == 429  # that client's limit
    assert _sign_in(trusting, {header: second}) == 401  # another client: not its limit


def test_a_client_cannot_add_itself_in_front_of_what_the_proxy_appended(trusting: Live) -> None:
    for n in range(PER_CLIENT):
        assert _sign_in(trusting, {"Forwarded": f"for=10.0.{n}.1, for=192.0.2.77"}) == 401
    assert _sign_in(trusting, {"Forwarded": "for=10.0.9.1, for=192.0.2.77"}) == 429


def test_an_untrusted_peer_cannot_choose_its_address(untrusting: Live) -> None:
    spoofed = [
        {"Forwarded": "for=198.51.100.1"},
        {"X-Real-IP": "198.51.100.2"},
        {"X-Forwarded-For": "198.51.100.3"},
        {"Forwarded": "for=198.51.100.4", "X-Real-IP": "198.51.100.5"},
    ]
    for headers in spoofed:
        assert _sign_in(untrusting, headers) == 401
    # All counted against the peer itself, whatever each said.
    assert _sign_in(untrusting, {"X-Real-IP": "198.51.100.6"}) == 429
    assert _sign_in(untrusting, {}) == 429


def _scope(peer: str, *headers: tuple[str, str]) -> dict[str, object]:
    return {
        "type": "http",
        "client": (peer, 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
    }


def test_the_rule_itself() -> None:
    from registry.origin import client_host, forwarded

    trusted = "127.0.0.1, 10.0.0.0/8"
    assert client_host(_scope("127.0.0.1"), trusted) == "127.0.0.1"
    assert not forwarded(_scope("127.0.0.1"))
    for headers in FORWARDING:
        assert forwarded(_scope("127.0.0.1", *headers.items()))
    cases = [
        (("Forwarded", "for=198.51.100.7"), "198.51.100.7"),
        (("Forwarded", 'for="[2001:db8::1]:80", for=10.1.1.1'), "2001:db8::1"),
        (("Forwarded", "for=192.0.2.1, for=198.51.100.9;by=10.0.0.2"), "198.51.100.9"),
        (("Forwarded", "for=unknown"), "unknown"),
        (("X-Real-IP", "198.51.100.8"), "198.51.100.8"),
        (("X-Real-IP", "not an address"), "127.0.0.1"),
        (("X-Forwarded-For", "192.0.2.1, 198.51.100.10"), "198.51.100.10"),
        (("X-Forwarded-For", "10.2.2.2, 127.0.0.1"), "10.2.2.2"),
    ]
    for header, client in cases:
        assert client_host(_scope("127.0.0.1", header), trusted) == client, header
        assert client_host(_scope("192.0.2.200", header), trusted) == "192.0.2.200", header
    # X-Forwarded-For (what uvicorn reads too) is preferred, then Forwarded, then X-Real-IP.
    both = _scope(
        "10.0.0.2",
        ("X-Real-IP", "198.51.100.3"),
        ("Forwarded", "for=198.51.100.2"),
        ("X-Forwarded-For", "198.51.100.1"),
    )
    assert client_host(both, trusted) == "198.51.100.1"
    assert client_host(both, "*") == "198.51.100.1"
    assert client_host(_scope("10.0.0.2", ("X-Real-IP", "198.51.100.3")), "") == "10.0.0.2"
