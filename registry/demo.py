"""Demo data for `registry serve --demo`: a staff login (and, as domains arrive, sample records)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlmodel import Session

from registry.audit.service import CLI
from registry.auth import service as auth_service
from registry.auth.models import Role

DEMO_EMAIL = "demo@example.org"


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
    return DemoInfo(email=DEMO_EMAIL, password=password)
