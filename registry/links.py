"""Unguessable public link tokens (manage links, consent links) that carry no personal data.

A token is `<record id hex><version>.<HMAC-SHA256>` (256-bit MAC, base64url): it names a random
record id, never a person; bumping the record's link version revokes every older token; expiry is
checked by the caller against the record (e.g. the event's retention date). Nothing is stored, so
the same link can be shown again to staff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import uuid
from dataclasses import dataclass

from registry.config import get_settings


@dataclass(frozen=True)
class LinkRef:
    record_id: uuid.UUID
    version: int


def _mac(kind: str, body: str) -> str:
    key = get_settings().resolved_secret_key().encode()
    digest = hmac.new(key, f"link:{kind}:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(kind: str, record_id: uuid.UUID, version: int) -> str:
    body = f"{record_id.hex}{version:x}"
    return f"{body}.{_mac(kind, body)}"


def read_token(kind: str, token: str) -> LinkRef | None:
    """The record a genuine token names, else None (forged, truncated, other kind)."""
    body, _, mac = token.partition(".")
    if len(body) < 33 or len(body) > 48 or not mac:
        return None
    if not hmac.compare_digest(_mac(kind, body), mac):
        return None
    try:
        return LinkRef(record_id=uuid.UUID(hex=body[:32]), version=int(body[32:], 16))
    except ValueError:
        return None


# Public link tokens are bearer secrets: never in logs.
_LINK_PATH = re.compile(r"/(b|c)/[^/?\s\"']+")


def redact(text: str) -> str:
    """`/b/<token>/badge.pdf` -> `/b/[token]/badge.pdf` (for anything that is logged)."""
    return _LINK_PATH.sub(r"/\1/[token]", text)


class RedactLinkTokens(logging.Filter):
    """Rewrite link tokens in a log record's message and arguments (access and error logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_logs(*names: str) -> None:
    """Install the filter on these loggers (once each)."""
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactLinkTokens) for f in target.filters):
            target.addFilter(RedactLinkTokens())
