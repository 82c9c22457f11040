"""Consent requests for tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.consent import decisions, notices, service
from registry.consent.models import ConsentRequest

MakeConsent = Callable[..., ConsentRequest]


@pytest.fixture
def make_consent(session: Session) -> Callable[..., ConsentRequest]:
    def make(**overrides: Any) -> ConsentRequest:
        fields: dict[str, Any] = {
            "subject_name": "Sam Patient",
            "subject_email": "sam@example.org",
            "purpose": "Show how knee rehabilitation exercises are done, in our member magazine.",
            "description": "Three photos of Sam doing knee exercises in clinic room 2.",
            "channels": ["closed_network", "print"],
        }
        fields.update(overrides)
        return service.create_request(session=session, actor=SYSTEM, **fields)

    return make


def grant(session: Session, request: ConsentRequest, decision: str = "grant") -> Any:
    """Decide through the link, as the patient, on the current notice."""
    return decisions.decide(
        session=session,
        request=request,
        decision=decision,  # type: ignore[arg-type]
        notice_version=notices.current_notice(session=session).version,
    )
