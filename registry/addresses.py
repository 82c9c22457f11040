"""Email addresses as people type them: exactly one address, or nothing.

Every address the service stores or sends to goes through `one_address`: a comma, a display
name, a second address or a line break makes it invalid, so a form can never turn one booking
into mail to several recipients (`victim@example.org, attacker@evil.example`) sent from the
organisation's server. The same check as the API's `EmailStr` (email-validator).
"""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BeforeValidator, Field

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


def _address(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("an email address is text")
    address = one_address(value)
    if address is None:
        raise ValueError(
            "Enter one email address, like name@example.org (no name before it, no second address)."
        )
    return address


# The API's email field: exactly one address, as `one_address` reads it. Pydantic's `EmailStr`
# accepts `"victim@x" <attacker@evil.example>` and keeps the second address.
Address = Annotated[
    str,
    BeforeValidator(_address),
    Field(json_schema_extra={"format": "email"}, max_length=MAX_LENGTH),
]


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
