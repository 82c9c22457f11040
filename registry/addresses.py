"""Email addresses as people type them: exactly one address, or nothing.

Every address the service stores or sends to goes through `one_address`: a comma, a display
name, a second address or a line break makes it invalid, so a form can never turn one booking
into mail to several recipients (`victim@example.org, attacker@evil.example`) sent from the
organisation's server. The same check as the API's `EmailStr` (email-validator).
"""

from __future__ import annotations

import phonenumbers
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


def phone_e164(text: str | None, region: str = "GB") -> str | None:
    """A phone number as written (national numbers read as UK ones) in E.164, if it is a
    possible number; else None."""
    try:
        parsed = phonenumbers.parse((text or "").strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
