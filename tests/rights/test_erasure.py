"""Erasure: an attendee deletes their booking from their manage page. Nothing of their name or
address is left in any table or in the log; the photos they were found in stay blocked; the
audit chain still verifies, with their entries' personal fields tombstoned."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit import service as audit
from registry.audit.models import AuditEntry
from registry.events import service as events
from registry.events.models import Booking, Event, ReferencePhoto
from registry.media.models import MediaFace, MediaStatus
from registry.publishing import facts
from registry.publishing.models import Publication
from registry.rights import erasure
from tests.auth.factories import csrf_from
from tests.rights.scene import (
    ALICE_EMAIL,
    ALICE_NAME,
    BOB_EMAIL,
    Scene,
    rows_mentioning,
)

pytestmark = pytest.mark.usefixtures("faces_dir")


def test_an_attendee_erases_their_booking_and_their_photos_stay_blocked(
    scene: Scene,
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    session: Session,
    run_job: Callable[..., MediaStatus | None],  # noqa: F811
    faces_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = scene.alice
    [her_face] = session.exec(select(MediaFace).where(MediaFace.booking_id == alice.id)).all()
    # A reviewer's note that names her: personal, so erasable.
    reviewed = client.post(
        f"/api/media/{scene.hall.id}/faces/{her_face.number}/review",
        json={"decision": "confirm", "note": f"{ALICE_NAME} at the front desk"},
        headers=comms_headers,
    )
    assert reviewed.status_code == 200, reviewed.text
    assert rows_mentioning(session, ALICE_NAME)  # the seeded data does name her

    token = events.manage_token(alice)
    page = client.get(f"/b/{token}")
    assert "Delete my booking and data" in page.text
    csrf = csrf_from(page.text)

    # Not confirmed: nothing is deleted; without the form's token: refused.
    answer = client.post(f"/b/{token}/erase", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("#erase-h")
    assert client.post(f"/b/{token}/erase", data={"confirm": "erase"}).status_code == 403
    session.refresh(alice)
    assert alice.email == ALICE_EMAIL
    assert alice.erased_at is None

    with caplog.at_level(logging.DEBUG):
        answer = client.post(
            f"/b/{token}/erase",
            data={"csrf_token": csrf, "confirm": "erase"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/erased"
        assert "Your booking and data are deleted" in client.get("/erased").text
        assert client.get(f"/b/{token}").status_code == 410
        assert client.get(f"/b/{token}/export").status_code == 410

    # No trace of her name or address in any table, or in what was logged meanwhile.
    assert rows_mentioning(session, ALICE_EMAIL, ALICE_NAME, "quennell") == []
    assert "quennell" not in caplog.text.lower()
    assert rows_mentioning(session, BOB_EMAIL)  # the scan sees what is there

    # What is left is an anonymous opted-out marker, with no biometric data.
    session.refresh(alice)
    assert alice.name == erasure.ERASED_NAME
    assert alice.photo_opt_out
    assert alice.erased_at is not None
    assert (
        session.exec(select(ReferencePhoto).where(ReferencePhoto.booking_id == alice.id)).all()
        == []
    )
    session.refresh(her_face)
    assert her_face.encoding is None
    assert her_face.decision == "opted_out"

    # The photo stays blocked: its original cannot be published; the published redacted copy
    # (which hides her) stays up.
    session.refresh(scene.hall)
    assert scene.hall.status == MediaStatus.flagged
    verdict = facts.publishable(session=session, media=scene.hall, channel="internal")
    assert not verdict.allowed
    assert any(erasure.ERASED_NAME in reason for reason in verdict.reasons), verdict.reasons
    publication = session.get(Publication, scene.publication_id)
    assert publication is not None
    assert publication.takedown_requested_at is None

    # The chain verifies; her entries keep their place with their personal fields tombstoned.
    assert audit.verify(session=session).ok
    note_entry = session.exec(
        select(AuditEntry).where(AuditEntry.action == "media.face_confirm")
    ).one()
    assert note_entry.personal is None
    assert note_entry.personal_salt is None
    assert note_entry.erased_at is not None
    assert note_entry.personal_digest is not None
    erased = session.exec(select(AuditEntry).where(AuditEntry.action == "booking.erased")).one()
    assert erased.entity_id == str(alice.id)
    assert erased.after is not None
    assert erased.after["reference_photos"] == 1
    assert erased.after["face_encodings"] == 1


def test_an_audit_entry_can_only_lose_its_personal_fields(session: Session) -> None:
    """The database refuses any other change of an entry; verification notices a changed
    personal field; a tombstone keeps the chain whole."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    entry = audit.record(
        session=session,
        actor=audit.SYSTEM,
        action="test.personal",
        entity_type="booking",
        entity_id="b-1",
        after={"choice": "out"},
        personal={"email": "x@example.org"},
    )
    assert entry.personal_digest
    assert entry.personal == {"email": "x@example.org"}
    assert audit.verify(session=session).ok
    for statement in (
        "UPDATE audit_entry SET action = 'changed' WHERE seq = :seq",
        "UPDATE audit_entry SET personal = NULL WHERE seq = :seq",  # no tombstone mark
        "DELETE FROM audit_entry WHERE seq = :seq",
    ):
        nested = session.begin_nested()
        with pytest.raises(DBAPIError):
            session.execute(text(statement), {"seq": entry.seq})
        nested.rollback()
    session.expire_all()
    assert audit.erase_personal(session=session, entity_type="booking", entity_ids=["b-1"]) == 1
    assert audit.verify(session=session).ok


def test_erasing_an_attendee_seen_in_a_video_leaves_the_video_blocked_and_nameless(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    session: Session,
    run_job: Callable[..., MediaStatus | None],  # noqa: F811
    faces_dir: Path,
) -> None:
    """A video's reasons name who appears when; after erasure they name nobody, its track
    stays opted out (template deleted) and the gate still refuses it."""
    import uuid

    from registry.media.models import Media
    from tests.video import Walker, compose_clip

    event = make_event(channels=["internal"])
    zoe = make_booking(event=event, opt_out=True, email="zoe.pellegrini@example.org")
    zoe.name = "Zoe Pellegrini"
    session.add(zoe)
    session.flush()
    face = sorted((faces_dir / "people" / "barack_obama").glob("*.jpg"))[0].read_bytes()
    clip = compose_clip(
        [Walker(face, (20, 20), (300, 20), 0.0, 2.5, height=200, badge=zoe.badge_code)]
    )
    answer = client.post(
        "/api/media",
        files=[("files", ("talk.mp4", clip, "application/octet-stream"))],
        data={"event_id": str(event.id)},
        headers=comms_headers,
    )
    media_id = uuid.UUID(answer.json()[0]["id"])
    assert run_job(media_id) == MediaStatus.flagged
    video = session.get(Media, media_id)
    assert video is not None
    assert any("Zoe Pellegrini" in r for r in video.reasons), video.reasons

    erasure.erase_booking(session=session, actor=audit.SYSTEM, booking=zoe)
    assert rows_mentioning(session, "pellegrini") == []
    session.refresh(video)
    assert video.status == MediaStatus.flagged
    assert any(erasure.ERASED_NAME in r for r in video.reasons), video.reasons
    [track] = session.exec(select(MediaFace).where(MediaFace.media_id == media_id)).all()
    assert track.encoding is None
    assert track.decision == "opted_out"
    verdict = client.get(
        f"/api/media/{media_id}/publishable?channel=internal", headers=comms_headers
    ).json()
    assert verdict["allowed"] is False
