"""The dashboard's recent activity in words: every action the registry records has a sentence,
and the page shows sentences and links, never audit keys and ids."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from registry.audit import words
from registry.auth.models import Role, StaffUser
from registry.consent.models import ConsentAction
from registry.events.models import BookingAction, Event
from registry.media.models import ObjectionDecision
from tests.auth.factories import login_page

REGISTRY = Path(__file__).resolve().parents[2] / "registry"
LITERAL = re.compile(r'action="([a-z_]+\.[a-z_]+)"')


def _recorded_actions() -> set[str]:
    """Every action key the code can record: literals, and the enum-made families."""
    found: set[str] = set()
    for path in REGISTRY.rglob("*.py"):
        found.update(LITERAL.findall(path.read_text()))
    found.update(f"booking.{a.value}" for a in BookingAction)
    found.update(f"consent.{a.value}" for a in ConsentAction if a.value != "requested")
    found.update(
        f"media.objection_{d.value}" for d in ObjectionDecision if d != ObjectionDecision.pending
    )
    found.update(
        f"media.face_{d}" for d in ("confirm", "not_this_person", "consented_otherwise", "objector")
    )
    found.update({"mail.bounced", "mail.failed", "staff_user.disabled"})
    return found


def test_every_recorded_action_has_words() -> None:
    missing = sorted(a for a in _recorded_actions() if a not in words.ACTIONS)
    assert not missing, f"actions without words for the dashboard: {missing}"


def test_the_dashboard_says_what_happened_in_words(
    client: TestClient, make_staff: Callable[..., StaffUser], make_event: Callable[..., Event]
) -> None:
    event = make_event(name="Words Day")
    login_page(client, make_staff(Role.comms))
    html = client.get("/").text
    recent = html.split('id="recent-h"')[1]
    assert "An event was created" in recent
    assert f'href="/events/{event.id}"' in recent
    assert "event.created" not in recent
    assert str(event.id) not in recent.replace(f'href="/events/{event.id}"', "")
