"""Where a public request came from, kept only as much as proof needs (IP anonymised)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from fastapi import Request

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
