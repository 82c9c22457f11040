"""Item 8: objections with limits. An attendee may object only to a photo they were found in,
or explain where they are in it; objections are throttled per booking and per network; staff
uphold one or dismiss it with a reason (audited), and the gate follows that decision, also for
the anonymous objection an erased attendee leaves behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit.models import AuditEntry
from registry.audit.service import SYSTEM
from registry.events import service as events
from registry.events.models import Booking
from registry.media.models import Media, MediaObjection, MediaStatus
from registry.publishing import facts
from registry.rights import erasure
from tests.auth.factories import csrf_from
from tests.live import Live, csrf_of, new_event
from tests.rights.scene import Scene

pytestmark = pytest.mark.usefixtures("faces_dir")


def _status(session: Session, media: Media) -> MediaStatus:
    """The status as stored now: each decision on an objection changes it."""
    session.refresh(media)
    return media.status


def _object(client: TestClient, token: str, **form: str) -> str:
    page = client.get(f"/b/{token}/photos")
    answer: str = client.post(
        f"/b/{token}/objections", data={"csrf_token": csrf_from(page.text), **form}
    ).text
    return answer


def test_an_objection_needs_to_be_found_or_explained_and_staff_decide_it(
    scene: Scene,
    client: TestClient,
    comms_headers: dict[str, str],
    session: Session,
    make_booking: Callable[..., Booking],
) -> None:
    hall_id, stage_id = scene.hall.id, scene.stage.id
    # Bob's badge was read in the hall photo: he may object to it without explaining.
    bob = events.manage_token(scene.bob)
    assert "will not be published with you in it" in _object(client, bob, media_id=str(hall_id))
    # Nobody found Dee anywhere: naming the stage photo is not enough ...
    dee = make_booking(event=scene.event, email="dee@example.org")
    token = events.manage_token(dee)
    refused = _object(client, token, reference="IMG_0043")
    assert "We did not find you in this photo, so tell us where you are" in refused
    assert (
        session.exec(select(MediaObjection).where(MediaObjection.booking_id == dee.id)).all() == []
    )
    # ... until she says where she is in it.
    added = _object(client, token, reference="IMG_0043", explanation="Front row, left, in green")
    assert "IMG_0043.jpg will not be published with you in it" in added
    stage = session.get(Media, stage_id)
    assert stage is not None
    assert _status(session, stage) == MediaStatus.needs_review
    assert not facts.publishable(session=session, media=stage, channel="internal").allowed

    listed = client.get(f"/api/media/{stage_id}/objections", headers=comms_headers).json()
    [objection] = listed
    assert objection["explanation"] == "Front row, left, in green"
    assert objection["decision"] == "pending"
    url = f"/api/media/{stage_id}/objections/{objection['id']}/decision"
    # Dismissing needs a reason.
    assert (
        client.post(url, json={"decision": "dismissed"}, headers=comms_headers).status_code == 422
    )
    answer = client.post(
        url,
        json={"decision": "dismissed", "reason": "Nobody in the front row: checked with her"},
        headers=comms_headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "dismissed"
    assert _status(session, stage) == MediaStatus.cleared
    assert facts.publishable(session=session, media=stage, channel="internal").allowed
    # Upheld again: it counts again.
    client.post(url, json={"decision": "upheld"}, headers=comms_headers).raise_for_status()
    assert _status(session, stage) == MediaStatus.needs_review
    actions = [
        e.action
        for e in session.exec(select(AuditEntry).where(AuditEntry.entity_id == str(stage_id))).all()
    ]
    assert "media.objection_dismissed" in actions
    assert "media.objection_upheld" in actions

    # Dee erases herself: her objection stays, anonymous, and staff can still dismiss it.
    erasure.erase_booking(session=session, actor=SYSTEM, booking=dee)
    [kept] = client.get(f"/api/media/{stage_id}/objections", headers=comms_headers).json()
    assert kept["explanation"] is None
    client.post(
        url, json={"decision": "dismissed", "reason": "Not in it"}, headers=comms_headers
    ).raise_for_status()
    assert _status(session, stage) == MediaStatus.cleared


def test_objections_are_throttled_per_booking_and_per_network(live: Live) -> None:
    with live.client("comms") as staff:
        event = new_event(staff)
        links = [
            staff.post(
                f"/api/events/{event['id']}/bookings",
                json={"name": f"Attendee {n}", "email": f"attendee{n}@example.org"},
            ).json()["manage_url"]
            for n in range(4)
        ]
    statuses: list[int] = []
    with live.client() as browser:
        for link in links:
            path = "/b/" + link.split("/b/")[1]
            page = browser.get(f"{path}/photos")
            for _ in range(11):
                answer = browser.post(
                    f"{path}/objections",
                    data={
                        "csrf_token": csrf_of(page.text),
                        "reference": "IMG_9999",
                        "explanation": "somewhere at the back",
                    },
                )
                statuses.append(answer.status_code)
    per_booking = statuses[:11]
    assert per_booking[:10] == [303] * 10  # each refused (no such photo), but counted
    assert per_booking[10] == 429
    # From one network: 30 in the window, whichever booking.
    assert statuses.count(429) >= 44 - 30
    assert statuses[-1] == 429
