"""Item 3: erasure reaches every media record the person is tied to. An attendee who was not
found in a published photo objects to it by its address, then erases herself: her name is gone
from the publication's takedown reasons, the staff notice waiting in the outbox and the audit
entries' personal fields, and the photo stays blocked."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit import service as audit
from registry.audit.service import SYSTEM
from registry.events import service as events
from registry.events.models import Booking
from registry.mail.models import OutboxMessage
from registry.media.models import Media
from registry.publishing import facts
from registry.publishing.models import Publication
from registry.rights import erasure
from tests.auth.factories import csrf_from
from tests.rights.scene import Scene, rows_mentioning

pytestmark = pytest.mark.usefixtures("faces_dir")
CAROL = "Carolyn Oyelaran-Whitcombe"


def test_an_objector_who_erases_herself_is_named_nowhere(
    scene: Scene,
    client: TestClient,
    session: Session,
    make_booking: Callable[..., Booking],
) -> None:
    hall_id = scene.hall.id
    carol = make_booking(event=scene.event, email="carolyn@example.org")
    carol.name = CAROL
    session.add(carol)
    session.flush()
    token = events.manage_token(carol)
    page = client.get(f"/b/{token}/photos")
    answer = client.post(
        f"/b/{token}/objections",
        data={
            "csrf_token": csrf_from(page.text),
            "reference": "https://intranet.example/p/42",
            "explanation": "Far left, behind the man in the grey suit",
        },
    )
    assert "will not be published with you in it" in answer.text
    publication = session.get(Publication, scene.publication_id)
    assert publication is not None
    session.refresh(publication)
    assert any(CAROL in r for r in publication.takedown_reasons or [])
    assert rows_mentioning(session, CAROL)  # the takedown, the staff notice, the audit

    erasure.erase_booking(session=session, actor=SYSTEM, booking=carol)
    assert rows_mentioning(session, CAROL, "oyelaran", "whitcombe", "grey suit") == []
    session.expire_all()
    assert session.exec(select(OutboxMessage)).all()  # the notice is still there, nameless
    assert audit.verify(session=session).ok
    hall = session.get(Media, hall_id)
    assert hall is not None
    verdict = facts.publishable(session=session, media=hall, channel="internal")
    assert not verdict.allowed
