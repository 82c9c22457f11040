"""Ask a certificate's issuer whether it still stands (`GET /api/certificates/{jti}/status`).

The signature proves who cleared a file and until when; only the issuer knows whether the
consent or clearance behind it was withdrawn since, so a verifier asks over HTTP. The answer
keeps "the issuer said no" apart from "nobody could be asked": the first refuses the
certificate, the second leaves it unchecked."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Standing(StrEnum):
    valid = "valid"
    revoked = "revoked"
    unknown = "unknown"  # the issuer answered 4xx: it never issued this certificate
    not_checked = "not_checked"  # no answer to go by (down, unreachable, 5xx)


@dataclass(frozen=True)
class IssuerAnswer:
    standing: Standing
    url: str
    code: int | None = None  # the HTTP status of an error answer
    reason: str | None = None  # why it was revoked
    revoked_at: str | None = None
    problem: str = ""  # why it could not be checked, for the operator


def status_url(claims: dict[str, Any]) -> str:
    """The issuer's status address for these claims (its `iss` names the service)."""
    return f"{str(claims.get('iss', '')).rstrip('/')}/api/certificates/{claims['jti']}/status"


def ask_issuer(claims: dict[str, Any], *, timeout: float = 10) -> IssuerAnswer:
    """The issuer's word on a verified certificate's claims: still valid, revoked, unknown to
    it, or not checked (with why)."""
    url = status_url(claims)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            state = json.loads(response.read())
        if not isinstance(state, dict):
            raise ValueError("the answer is not a JSON object")
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500:
            return IssuerAnswer(Standing.unknown, url, code=exc.code)
        return IssuerAnswer(
            Standing.not_checked,
            url,
            code=exc.code,
            problem=f"{url} answered {exc.code}; try again",
        )
    except (OSError, ValueError) as exc:
        return IssuerAnswer(
            Standing.not_checked, url, problem=f"cannot reach {url} ({exc}); offline"
        )
    if state.get("status") != "valid":
        return IssuerAnswer(
            Standing.revoked, url, reason=state.get("reason"), revoked_at=state.get("revoked_at")
        )
    return IssuerAnswer(Standing.valid, url)
