"""Where a request came from: the client's address, by one rule for every use (throttles,
consent records, `/metrics`), and kept only as much as proof needs (IP anonymised).

The peer that connected is the client unless it is a trusted proxy (`REGISTRY_TRUSTED_PROXIES`:
addresses or networks, `*` for any). A trusted proxy names the client with `X-Forwarded-For`
(as uvicorn reads it), else `Forwarded` (RFC 7239), else `X-Real-IP`: in the first two the
rightmost address that is not itself a trusted proxy (a client may write anything in front of
what the proxies appended). An untrusted peer's headers name nobody. A proxy's word is enough to
count a client, never to let it in: "on this machine" means loopback with no forwarding header
of any kind (`direct_from_this_machine`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import Request

from registry.config import get_settings

Scope = MutableMapping[str, Any]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Headers by which a proxy says it forwarded a request (or whom for). A client on this machine
# sends none of them; one that does came through something that is not this machine.
FORWARDING = frozenset(
    {
        b"forwarded",
        b"via",
        b"x-real-ip",
        b"x-client-ip",
        b"true-client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
        b"x-cluster-client-ip",
        b"forwarded-for",
        b"x-forwarded",
        b"x-original-forwarded-for",
    }
)


def forwarded(scope: Scope) -> bool:
    """The request carries a forwarding header of any kind (`Forwarded`, `Via`, `X-Real-IP`,
    any `X-Forwarded-*` ...)."""
    return any(
        name in FORWARDING or name.startswith(b"x-forwarded-")
        for name, _ in scope.get("headers") or []
    )


@dataclass(frozen=True)
class Proxies:
    """The trusted proxies: `*`, or addresses and networks (other words match literally)."""

    anyone: bool
    networks: tuple[IPNetwork, ...]
    names: frozenset[str]

    def trust(self, host: str) -> bool:
        if self.anyone:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return host in self.names
        return any(ip in network for network in self.networks)


@lru_cache(maxsize=16)
def proxies(setting: str) -> Proxies:
    networks: list[IPNetwork] = []
    names: set[str] = set()
    words = [w.strip() for w in setting.split(",") if w.strip()]
    for word in words:
        try:
            networks.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            names.add(word)
    return Proxies("*" in words, tuple(networks), frozenset(names))


def _host(value: str) -> str:
    """The address in a forwarded value: `1.2.3.4`, `1.2.3.4:80`, `[v6]`, `[v6]:80`, `v6`."""
    value = value.strip().strip('"').strip()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value


def _values(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers") or [] if k == name]


def _forwarded_for(scope: Scope) -> list[str]:
    """The `for=` addresses of a `Forwarded` header, first hop first."""
    found = []
    for element in ",".join(_values(scope, b"forwarded")).split(","):
        for pair in element.split(";"):
            key, _, value = pair.partition("=")
            if key.strip().lower() == "for" and value.strip():
                found.append(_host(value))
    return found


def _nearest_untrusted(hops: list[str], trusted: Proxies) -> str:
    for host in reversed(hops):
        if not trusted.trust(host):
            return host
    return hops[0]  # every hop a trusted proxy: the first is the client


def client_host(scope: Scope, trusted_proxies: str) -> str | None:
    """The client's address by the rule above (the peer's, unless a trusted proxy names one)."""
    client = scope.get("client")
    peer = str(client[0]) if client else None
    trusted = proxies(trusted_proxies)
    if peer is None or not trusted.trust(peer):
        return peer
    hops = [_host(h) for v in _values(scope, b"x-forwarded-for") for h in v.split(",")]
    hops = [h for h in hops if h]
    if hops:
        return _nearest_untrusted(hops, trusted)
    hops = _forwarded_for(scope)
    if hops:
        return _nearest_untrusted(hops, trusted)
    for value in _values(scope, b"x-real-ip"):
        try:
            return str(ipaddress.ip_address(_host(value)))
        except ValueError:
            pass
    return peer


def settle_client(scope: Scope) -> None:
    """Put the client's address (`client_host`) in the ASGI scope, so every reader of
    `request.client` (throttles, consent records) follows the one rule. The server's own proxy
    handling (uvicorn's, for X-Forwarded-For) agrees with it, so applying both is the same."""
    client = scope.get("client")
    host = client_host(scope, get_settings().trusted_proxies)
    if client and host is not None and host != client[0]:
        scope["client"] = (host, 0)


def direct_from_this_machine(scope: Scope) -> bool:
    """The client is on this machine (loopback) and nothing forwarded the request."""
    client = scope.get("client")
    if not client or forwarded(scope):
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


USER_AGENT_MAX = 300


@dataclass(frozen=True)
class Origin:
    user_agent: str | None = None
    ip_prefix: str | None = None


def anonymise_ip(address: str | None) -> str | None:
    """The network, not the host: IPv4 /24, IPv6 /48 (as web analytics anonymisation does)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def origin_of(request: Request) -> Origin:
    agent = request.headers.get("user-agent") or None
    return Origin(
        user_agent=agent[:USER_AGENT_MAX] if agent else None,
        ip_prefix=anonymise_ip(request.client.host if request.client else None),
    )
