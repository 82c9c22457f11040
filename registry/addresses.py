"""Email addresses as people type them: exactly one address, or nothing.

Every address the service stores or sends to goes through `one_address`: a comma, a display
name, a second address or a line break makes it invalid, so a form can never turn one booking
into mail to several recipients (`victim@example.org, attacker@evil.example`) sent from the
organisation's server. The same check as the API's `EmailStr` (email-validator).
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 320


def one_address(text: str | None) -> str | None:
    """The address, normalised (the domain in lower case), if `text` is exactly one valid
    email address; else None."""
    value = (text or "").strip()
    if not value or len(value) > MAX_LENGTH:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None
