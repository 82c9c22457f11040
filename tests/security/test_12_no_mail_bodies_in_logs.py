"""Item 12: with no mail server the log says which message was not sent (kind, record, masked
address), never its body: a consent request's text names the patient and their condition, and
the log is out of erasure's reach."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlmodel import Session

from registry.config import get_settings
from registry.consent.models import ConsentRequest
from tests.mailbox import deliver


@pytest.mark.parametrize("env", ["test", "production"])
def test_a_consent_request_is_logged_without_its_body(
    session: Session,
    make_consent: Callable[..., ConsentRequest],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    env: str,
) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_url", "")
    monkeypatch.setattr(settings, "env", env)
    # Even asked for, bodies are never logged outside dev (`serve --demo` is refused there).
    monkeypatch.setattr(settings, "log_mail_bodies", env == "production")
    request = make_consent(
        subject_name="Oliver Testpatient",
        subject_email="oliver.testpatient@example.org",
        purpose="Video of Oliver Testpatient during HIV clinic consultation",
    )
    with caplog.at_level(logging.DEBUG):
        assert deliver(session) >= 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Mail not sent" in logged
    assert f"consent_request {request.id}" in logged  # which record, for staff to find
    assert "o•••@example.org" in logged
    for secret in ("Oliver", "Testpatient", "HIV", "oliver.testpatient@example.org", "/c/"):
        assert secret not in logged
