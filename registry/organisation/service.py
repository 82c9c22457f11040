"""The controller's details: set by an admin (stored), else from the settings, else unset."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import Session

from registry.addresses import one_address, phone_e164
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.config import get_settings
from registry.errors import Invalid
from registry.organisation.models import Organisation

UNSET_NAME = "the organisation running this service"


@dataclass(frozen=True)
class Profile:
    """What people are told about the controller. `is_set` is False until an admin (or the
    settings) named the organisation and its privacy contact: pages then say so to staff."""

    name: str
    email: str
    address: str
    privacy_policy_url: str
    is_set: bool
    phone: str = ""  # the organisation's own numbers, comma-separated

    @property
    def display_name(self) -> str:
        return self.name or UNSET_NAME


def profile(*, session: Session) -> Profile:
    """The organisation's details as people should see them now."""
    row = session.get(Organisation, 1)
    if row is not None:
        return Profile(row.name, row.email, row.address, row.privacy_policy_url, True, row.phone)
    settings = get_settings()
    return Profile(
        settings.controller_name,
        settings.controller_email,
        settings.controller_address,
        settings.privacy_policy_url,
        bool(settings.controller_name and settings.controller_email),
        settings.controller_phone,
    )


def update(
    *,
    session: Session,
    actor: Actor,
    name: str,
    email: str,
    address: str = "",
    privacy_policy_url: str = "",
    phone: str | None = None,
) -> Profile:
    """Set the organisation's details (audited); every page, receipt and email uses them."""
    name, email = name.strip(), email.strip().lower()
    address, url = address.strip(), privacy_policy_url.strip()
    if not name:
        raise Invalid("Enter the organisation's name.", field="name")
    if one_address(email) is None:
        raise Invalid("Enter the privacy contact's email, like privacy@example.org.", field="email")
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        raise Invalid("The privacy policy must be a full https:// address.", field="url")
    numbers = [n.strip() for n in (phone or "").split(",") if n.strip()]
    for number in numbers:
        if phone_e164(number) is None:
            raise Invalid(
                f"“{number}” is not a phone number: write it as 020 7946 0000 or +44 20 7946 0000.",
                field="phone",
            )
    before = profile(session=session)
    row = session.get(Organisation, 1) or Organisation(id=1, name=name, email=email, updated_by="")
    row.name, row.email, row.address, row.privacy_policy_url = name, email, address, url
    if phone is not None:
        row.phone = ", ".join(numbers)
    row.updated_by = actor.label
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="organisation.updated",
        entity_type="organisation",
        entity_id=1,
        before={"name": before.name, "email": before.email, "address": before.address},
        after={
            "name": name,
            "email": email,
            "address": address,
            "privacy_policy_url": url,
            "phone": row.phone,
        },
    )
    return profile(session=session)
