"""An event's People page: every attendee who opted out, with every photo they were found in
(decided, and awaiting a reviewer's word) from real clearance of real faces; words on many faces
at once (recorded face by face by the review service) and redacted copies of one person's
photos in a batch, through the pages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from registry.audit.models import AuditEntry
from registry.audit.service import Actor
from registry.auth.models import Role, StaffUser
from registry.config import get_settings
from registry.errors import Invalid, NotFound
from registry.events.models import Booking, Event
from registry.media import people, redaction_batches
from registry.media.models import FaceReview, Media, MediaFace, MediaStatus, RedactionBatch
from tests.auth.factories import csrf_from, login_page
from tests.media.scenes import photo, upload, with_reference
from tests.vision import compose

STAFF = Actor.staff(1)


@pytest.fixture(scope="module")
def portraits(faces_dir: Path) -> dict[str, list[compose.Portrait]]:
    return compose.portraits(faces_dir)


@dataclass
class Scene:
    event: Event
    alice: Booking  # opted out, found in three photos
    carol: Booking  # opted out, found nowhere
    decided: list[Media]  # Alice for sure (flagged)
    awaiting: Media  # a face that may be Alice (the clearance was unsure)


@pytest.fixture
def scene(
    session: Session,
    faces_dir: Path,
    portraits: dict[str, list[compose.Portrait]],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    monkeypatch: pytest.MonkeyPatch,
) -> Scene:
    event = make_event()
    alice = make_booking(event=event, opt_out=True, name="Alice Ahmed")
    carol = make_booking(event=event, opt_out=True, name="Carol Byrne")
    make_booking(event=event, name="Dan May-Appear")
    obama, others = portraits["barack_obama"], portraits["deepface_id01"]
    with_reference(session, alice, obama[0])
    shots = [
        upload(session, event, photo(faces_dir, [obama[i], others[i]], seed=i), f"hall-{i}.jpg")
        for i in (1, 2, 3)
    ]
    assert [run_job(m.id) for m in shots[:2]] == [MediaStatus.flagged] * 2
    with monkeypatch.context() as unsure:  # every match in the grey zone, for this photo
        unsure.setattr(get_settings(), "match_threshold", 0.05)
        unsure.setattr(get_settings(), "review_threshold", 0.62)
        unsure.setattr(get_settings(), "caution_threshold", 0.64)
        assert run_job(shots[2].id) == MediaStatus.needs_review
    return Scene(event, alice, carol, shots[:2], shots[2])


def face_of(session: Session, media: Media, booking: Booking | None) -> MediaFace:
    return session.exec(
        select(MediaFace).where(MediaFace.media_id == media.id, MediaFace.booking_id == booking.id)
        if booking
        else select(MediaFace).where(
            MediaFace.media_id == media.id,
            MediaFace.booking_id == None,  # noqa: E711
        )
    ).one()


def test_each_opted_out_attendee_is_listed_with_every_photo_they_are_found_in(
    session: Session, scene: Scene
) -> None:
    listed = people.opted_out_people(session=session, event_id=scene.event.id)
    assert [p.name for p in listed] == ["Alice Ahmed", "Carol Byrne"]  # found most first
    alice, carol = listed
    assert {f.media.id for f in alice.decided} == {m.id for m in scene.decided}
    assert [f.media.id for f in alice.awaiting] == [scene.awaiting.id]
    assert alice.awaiting_faces == 1
    assert alice.found[0].media.id == scene.awaiting.id  # what awaits a word comes first
    assert {f.copy for f in alice.found} == {"missing"}
    assert len(alice.needing_copies) == 3
    assert carol.found == []


def test_the_people_page_confirms_dismisses_and_redacts_in_bulk(
    client: TestClient,
    session: Session,
    scene: Scene,
    make_staff: Callable[..., StaffUser],
) -> None:
    login_page(client, make_staff(Role.comms))
    url = f"/events/{scene.event.id}/people"
    html = client.get(url).text
    assert "Alice Ahmed" in html
    assert "Found in 3 photos" in html
    assert "2 decided" in html
    assert "1 awaiting a word" in html
    assert "Carol Byrne" in html
    assert "Not found in any photo or video of this event." in html
    assert "Dan May-Appear" not in html  # did not opt out
    waiting = face_of(session, scene.awaiting, scene.alice)
    assert f'value="{scene.awaiting.id}:{waiting.number}" checked' in html
    assert f"/media/{scene.awaiting.id}/faces/{waiting.number}/crop.jpg" in html
    for media in scene.decided:
        assert f"/media/{media.id}/thumb.jpg" in html
    # The page links from the event's photos page and its own page.
    assert url in client.get(f"/events/{scene.event.id}/photos").text
    assert url in client.get(f"/events/{scene.event.id}").text

    # "These are Alice Ahmed" for the face that awaited a word.
    faces_url = f"/events/{scene.event.id}/people/{scene.alice.id}/faces"
    answer = client.post(
        faces_url,
        data={
            "csrf_token": csrf_from(html),
            "decision": "confirm",
            "members": [f"{scene.awaiting.id}:{waiting.number}"],
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith(f"#person-{scene.alice.id}")
    page = client.get(answer.headers["location"]).text
    assert "Recorded for 1 face: these are Alice Ahmed." in page
    session.refresh(waiting)
    session.refresh(scene.awaiting)
    assert (waiting.decision, scene.awaiting.status) == ("opted_out", MediaStatus.flagged)

    # "Not Alice Ahmed" for a face decided wrongly, and for a face that was never hers.
    wrong = face_of(session, scene.decided[0], scene.alice)
    stranger = face_of(session, scene.decided[1], None)
    answer = client.post(
        faces_url,
        data={
            "csrf_token": csrf_from(page),
            "decision": "not_this_person",
            "members": [
                f"{scene.decided[0].id}:{wrong.number}",
                f"{scene.decided[1].id}:{stranger.number}",
            ],
        },
    )
    assert "Recorded for 1 face: not Alice Ahmed." in answer.text
    assert "1 face had been decided meanwhile" in answer.text
    session.refresh(wrong)
    session.refresh(scene.decided[0])
    assert wrong.decision == "clear"
    assert scene.decided[0].status == MediaStatus.cleared
    words = session.exec(
        select(FaceReview.decision).where(FaceReview.booking_id == scene.alice.id)
    ).all()
    assert sorted(words) == ["confirm", "not_this_person"]
    said = ["media.face_confirm", "media.face_not_this_person"]
    audited = session.exec(select(AuditEntry.action).where(col(AuditEntry.action).in_(said))).all()
    assert sorted(audited) == ["media.face_confirm", "media.face_not_this_person"]

    # Redacted copies of every photo she is still in: a batch, answered at once.
    answer = client.post(
        f"/events/{scene.event.id}/people/{scene.alice.id}/redact",
        data={"csrf_token": csrf_from(answer.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/events/{scene.event.id}/people#bulk-h"
    page = client.get(answer.headers["location"]).text
    assert "Making 2 redacted copies in the background (the 2 photos Alice Ahmed is in)" in page
    assert "Making redacted copies:" in page
    batch = session.exec(
        select(RedactionBatch).where(RedactionBatch.booking_id == scene.alice.id)
    ).one()
    status = client.get(f"/events/{scene.event.id}/redactions/{batch.id}/status.json").json()
    assert (status["total"], status["ready"], status["finished"]) == (2, 0, False)
    assert {i["media_id"] for i in status["items"]} == {
        str(scene.decided[1].id),
        str(scene.awaiting.id),
    }
    assert {i["label"] for i in status["items"]} == {"redacted copy being made"}
    assert page.count("redacted copy being made") == 2  # each copy's tag, on her photos
    # Each photo's own page shows its copy being made, and follows it to the end.
    own = client.get(f"/media/{scene.awaiting.id}").text
    assert "Being made with the event's other flagged photos" in own
    assert f'data-redaction="/media/{scene.awaiting.id}/renditions/' in own
    # Nothing left to redact for her: said where she is on the page.
    again = client.post(
        f"/events/{scene.event.id}/people/{scene.alice.id}/redact",
        data={"csrf_token": csrf_from(page)},
    )
    assert "Nothing to redact" in again.text


def test_faces_must_be_that_persons_in_that_event(
    session: Session, scene: Scene, make_event: Callable[..., Event]
) -> None:
    other = make_event()
    with pytest.raises(NotFound, match="No attendee of this event who opted out"):
        people.person(session=session, event_id=other.id, booking_id=scene.alice.id)
    with pytest.raises(Invalid, match="Tick at least one face"):
        people.decide(
            session=session,
            actor=STAFF,
            event_id=scene.event.id,
            booking_id=scene.alice.id,
            members=[],
            decision="confirm",
        )
    recorded, skipped = people.decide(
        session=session,
        actor=STAFF,
        event_id=scene.event.id,
        booking_id=scene.alice.id,
        members=[f"{uuid.uuid4()}:1", "not a face"],
        decision="not_this_person",
    )
    assert (recorded, skipped) == (0, 2)
    assert redaction_batches.latest(session=session, event_id=scene.event.id) is None
