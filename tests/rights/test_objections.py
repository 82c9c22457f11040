"""Objection to one photo: Bob did not opt out, but says "not this photo". For him it is then
an opt-out: the gate refuses it, its publication is listed for takedown, staff see the
objection, and a redaction that hides him clears it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit.service import SYSTEM
from registry.auth.models import StaffUser
from registry.events import service as events
from registry.events.models import Booking, BookingChange, Event
from registry.media import service as media_service
from registry.media.models import MediaBadge, MediaFace, MediaObjection, MediaStatus
from registry.publishing import facts
from registry.publishing.models import Publication
from tests.auth.factories import csrf_from, login_page
from tests.rights.scene import BOB_NAME, Scene
from tests.vision import compose

pytestmark = pytest.mark.usefixtures("faces_dir")


def test_an_objection_flags_the_photo_takes_it_down_and_redaction_clears_it(
    scene: Scene,
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    session: Session,
    run_job: Callable[..., MediaStatus | None],  # noqa: F811
    faces_dir: Path,
    make_staff: Callable[..., StaffUser],
) -> None:
    bob = scene.bob
    # His badge was read under his face; he did not opt out, so the face is clear.
    [badge] = session.exec(select(MediaBadge).where(MediaBadge.booking_id == bob.id)).all()
    [his_face] = session.exec(
        select(MediaFace).where(
            MediaFace.media_id == scene.hall.id, MediaFace.number == badge.face_number
        )
    ).all()
    assert his_face.decision == "clear"
    token = events.manage_token(bob)

    # His page lists the photo he was found in (by his badge), with "Not this photo".
    photos = client.get(f"/b/{token}/photos")
    assert photos.status_code == 200
    assert "IMG_0042.jpg" in photos.text
    assert "IMG_0043.jpg" not in photos.text
    csrf = csrf_from(photos.text)

    # Naming a photo that does not exist: a clear message, nothing recorded.
    answer = client.post(
        f"/b/{token}/objections", data={"csrf_token": csrf, "reference": "IMG_9999"}
    )
    assert answer.status_code == 200  # back on the page, with the message
    assert "No photo or video of this event has that address or number" in answer.text
    assert session.exec(select(MediaObjection)).all() == []

    # By the address where he saw it published.
    answer = client.post(
        f"/b/{token}/objections",
        data={"csrf_token": csrf, "reference": "https://intranet.example/p/42"},
    )
    assert answer.status_code == 200
    assert "IMG_0042.jpg will not be published with you in it" in answer.text
    assert "you objected" in answer.text
    session.expire_all()
    session.refresh(his_face)
    assert (his_face.decision, his_face.booking_id) == ("opted_out", bob.id)
    assert session.get(Publication, scene.publication_id).takedown_requested_at is not None  # type: ignore[union-attr]
    verdict = facts.publishable(session=session, media=scene.hall, channel="internal")
    assert not verdict.allowed
    assert any(BOB_NAME in r for r in verdict.reasons), verdict.reasons
    actions = [c.action for c in events.history(session=session, booking=bob)]
    assert actions[-1] == "objected"

    # Staff see it on the photo's page.
    login_page(client, make_staff())
    staff_page = client.get(f"/media/{scene.hall.id}")
    assert f"{BOB_NAME}</strong> objected to this photo" in staff_page.text

    # A new redaction hides him too, and the gate lets that copy through.
    redacted = client.post(f"/api/media/{scene.hall.id}/redact", headers=comms_headers)
    assert redacted.status_code == 201, redacted.text
    assert his_face.number in redacted.json()["obscured_faces"]
    verdict = facts.publishable(
        session=session,
        media=scene.hall,
        channel="internal",
        rendition_id=uuid.UUID(redacted.json()["id"]),
    )
    assert verdict.allowed, verdict.reasons


def test_an_objection_to_a_photo_where_nobody_was_matched_waits_for_a_reviewer(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    session: Session,
    run_job: Callable[..., MediaStatus | None],  # noqa: F811
    faces_dir: Path,
) -> None:
    """No face matches the person who objected: the photo needs review, the gate says why,
    the reviewer marks their face, and the redacted copy then passes."""
    event = make_event(channels=["internal"])
    carol = make_booking(event=event)
    people = compose.portraits(faces_dir)
    canvas = compose.background(faces_dir, (1600, 1000), random.Random(5))
    compose.paste_face(canvas, people["joe_biden"][1], 170, (500, 450))
    compose.paste_face(canvas, people["kit_harington"][1], 170, (1100, 450))
    [(photo, _)] = media_service.upload(
        session=session,
        actor=SYSTEM,
        files=[media_service.Upload("DSC_7.jpg", compose.Composed(canvas).jpeg())],
        event=event,
    )
    assert run_job(photo.id) == MediaStatus.cleared
    token = events.manage_token(carol)
    page = client.get(f"/b/{token}/photos")
    assert "We have not found you" in page.text
    answer = client.post(
        f"/b/{token}/objections",
        data={
            "csrf_token": csrf_from(page.text),
            "reference": "dsc_7",
            "explanation": "On the right, in a blue jacket",
        },
    )
    assert "DSC_7.jpg will not be published with you in it" in answer.text
    session.refresh(photo)
    assert photo.status == MediaStatus.needs_review
    verdict = facts.publishable(session=session, media=photo, channel="internal")
    assert any("objected to this photo" in r for r in verdict.reasons), verdict.reasons

    # Objecting again changes nothing; staff mark face 2 as hers.
    again = client.post(
        f"/b/{token}/objections",
        data={"csrf_token": csrf_from(page.text), "reference": "DSC_7.jpg"},
    )
    assert "You had already objected to DSC_7.jpg" in again.text
    assert len(session.exec(select(MediaObjection)).all()) == 1
    wrong = client.post(
        f"/api/media/{photo.id}/faces/2/review",
        json={"decision": "objector", "booking_id": str(make_booking(event=event).id)},
        headers=comms_headers,
    )
    assert wrong.status_code == 409
    marked = client.post(
        f"/api/media/{photo.id}/faces/2/review",
        json={"decision": "objector", "booking_id": str(carol.id)},
        headers=comms_headers,
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["status"] == "flagged"
    redacted = client.post(f"/api/media/{photo.id}/redact", headers=comms_headers).json()
    assert redacted["obscured_faces"] == [2]
    assert facts.publishable(
        session=session, media=photo, channel="internal", rendition_id=uuid.UUID(redacted["id"])
    ).allowed


def test_an_attendee_who_opted_out_is_told_nothing_more_is_needed(
    client: TestClient, make_booking: Callable[..., Booking], session: Session
) -> None:
    dana = make_booking(opt_out=True)
    token = events.manage_token(dana)
    page = client.get(f"/b/{token}/photos")
    answer = client.post(
        f"/b/{token}/objections", data={"csrf_token": csrf_from(page.text), "reference": "x"}
    )
    assert answer.status_code == 200
    assert "nothing more is needed" in answer.text
    assert session.exec(select(BookingChange).where(BookingChange.action == "objected")).all() == []
