"""Demo data for `registry serve --demo`: a staff login, an event, bookings, a consent request."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session, select

from registry.audit.service import CLI
from registry.auth import service as auth_service
from registry.auth.models import Role
from registry.config import get_settings
from registry.consent import links as consent_links
from registry.consent import service as consent
from registry.consent.models import ConsentRequest
from registry.db import utcnow
from registry.events import service as events
from registry.events.models import Event
from registry.organisation import service as organisation

DEMO_EMAIL = "demo@example.org"
DEMO_EVENT = "Demo: Physiotherapy Spring Conference"
DEMO_NOTICE = """This event will be photographed and filmed by our staff and contractors, for \
our website, our members' magazine, printed materials and our public social media channels \
(Instagram, LinkedIn, X, Facebook), for up to five years."""
DEMO_PATIENT = "Demo Patient"
DEMO_ORGANISATION = {
    "name": "Demo Physiotherapy Society",
    "email": "privacy@example.org",
    "address": "1 Demo Street, London SW1A 1AA",
    "phone": "020 7946 0000",
}
DEMO_BOOKINGS = [
    ("Alex Morgan", "alex.morgan@example.org", False),
    ("Priya Shah", "priya.shah@example.org", True),
    ("Sam O'Neill", "sam.oneill@example.org", False),
]


@dataclass
class DemoInfo:
    email: str
    password: str
    lines: list[str] = field(default_factory=list)


def seed(*, session: Session) -> DemoInfo:
    """Create the demo records once; on every run give the demo login a fresh password."""
    password = secrets.token_urlsafe(9)
    user = auth_service.get_by_email(session=session, email=DEMO_EMAIL)
    if user is None:
        auth_service.create_user(
            session=session, email=DEMO_EMAIL, role=Role.admin, password=password, actor=CLI
        )
    else:
        auth_service.set_password(session=session, user=user, password=password, actor=CLI)
    info = DemoInfo(email=DEMO_EMAIL, password=password)
    if not organisation.profile(session=session).is_set:
        # The demo's organisation has details, so pages, receipts and the caption check (its
        # own phone number and postcode may be given in a post) work as they will for real.
        organisation.update(session=session, actor=CLI, **DEMO_ORGANISATION)
    event = session.exec(select(Event).where(Event.name == DEMO_EVENT)).first()
    if event is None:
        start = (utcnow() + timedelta(days=21)).replace(hour=9, minute=0, second=0, microsecond=0)
        event = events.create_event(
            session=session,
            actor=CLI,
            name=DEMO_EVENT,
            starts_at=start,
            ends_at=start + timedelta(hours=8),
            venue="Conference Centre, Hall B",
            filming_notice=DEMO_NOTICE,
        )
    base = get_settings().base_url.rstrip("/")
    info.lines.append(f"Demo event:   {event.name}  ({base}/events/{event.id})")
    info.lines.append(f"Booking page: {base}/events/{event.id}/book")
    for name, email, opt_out in DEMO_BOOKINGS:
        booking, _ = events.create_booking(
            session=session, actor=CLI, event=event, name=name, email=email, photo_opt_out=opt_out
        )
        choice = "opted out " if booking.photo_opt_out else "may appear"
        info.lines.append(
            f"Booking:      {name:<12} {choice}  badge {booking.badge_code}  "
            f"manage {events.manage_url(booking)}"
        )
    request = session.exec(
        select(ConsentRequest).where(ConsentRequest.subject_name == DEMO_PATIENT)
    ).first()
    if request is None:
        request = consent.create_request(
            session=session,
            actor=CLI,
            subject_name=DEMO_PATIENT,
            purpose="A case study of knee rehabilitation in our members' magazine and website.",
            description="Three photos of your knee exercises in clinic room 2, face visible.",
            channels=["closed_network", "print"],
            expires_at=utcnow() + timedelta(days=365),
        )
    info.lines.append(
        f"Consent link: {DEMO_PATIENT} ({request.status})  {consent_links.link_url(request)}"
    )
    return info
