"""Review by person: the faces an event's photos leave to a reviewer, grouped by who they
probably are (real dlib encodings of real people's photos), and one decision for a group
recorded face by face (audited per face), through the pages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageEnhance, ImageOps
from sqlmodel import Session, select

from registry.audit.models import AuditEntry
from registry.audit.service import SYSTEM
from registry.auth.models import Role, StaffUser
from registry.events.models import Booking, Event
from registry.media import biometrics, review_groups
from registry.media.models import FaceReview, Media, MediaFace, MediaStatus
from registry.vision import faces
from tests.auth.factories import csrf_from, login_page


def variants(path: Path, count: int) -> list[np.ndarray]:
    """Real encodings of one person: their photo as different cameras would take it
    (mirrored, smaller, darker, brighter), each encoded by dlib."""
    base = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    out = []
    for i in range(count):
        image = ImageOps.mirror(base) if i % 2 else base
        scale = (1.0, 0.8, 0.65, 0.9)[i % 4]
        image = image.resize((int(image.width * scale), int(image.height * scale)))
        image = ImageEnhance.Brightness(image).enhance((1.0, 0.75, 1.2)[i % 3])
        [face] = faces.find_reference_faces(image)
        out.append(face.encoding)
    return out


@pytest.fixture(scope="module")
def encodings(faces_dir: Path) -> dict[str, list[np.ndarray]]:
    people = faces_dir / "people"
    simm = sorted((people / "john_simm").iterdir())[:10]
    savage = sorted((people / "john_savage").iterdir())[:3]
    return {
        "simm": [e for p in simm for e in variants(p, 4)],  # 40 faces of one man
        "savage": [e for p in savage for e in variants(p, 2)],  # 6 of another
    }


def in_review(
    session: Session,
    make_media: Callable[..., Media],
    event: Event,
    candidate: Booking,
    encoding: np.ndarray,
) -> Media:
    media = make_media(event=event, status=MediaStatus.needs_review)
    session.add(
        MediaFace(
            media_id=media.id,
            number=1,
            top=40,
            right=140,
            bottom=140,
            left=40,
            encoding=biometrics.seal(encoding, f"face:{media.id}:1"),
            decision="review",
            booking_id=candidate.id,
            via="face",
            distance=0.58,
        )
    )
    session.flush()
    return media


def test_one_grey_zone_face_in_40_photos_is_one_decision(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    session: Session,
    encodings: dict[str, list[np.ndarray]],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: Callable[..., Media],
) -> None:
    event = make_event()
    sam = make_booking(event=event, opt_out=True, name="Sam Rivera")
    simm = [in_review(session, make_media, event, sam, e) for e in encodings["simm"]]
    # Another man the clearance also thought might be Sam: his own group, not Sam's.
    savage = [in_review(session, make_media, event, sam, e) for e in encodings["savage"]]

    groups = review_groups.groups(session=session, event_id=event.id)
    assert sum(len(g.members) for g in groups) == 46
    biggest = groups[0]
    assert {m.media_id for m in biggest.members} == {m.id for m in simm}
    assert (biggest.candidate_name, biggest.candidate_opted_out, biggest.photos) == (
        "Sam Rivera",
        True,
        40,
    )
    assert all({m.media_id for m in g.members} <= {m.id for m in savage} for g in groups[1:])

    # Through the page: the group, its crops, one decision; one crop pulled out first.
    login_page(client, make_staff(Role.comms))
    page = client
    html = page.get(f"/events/{event.id}/review").text
    assert "Probably Sam Rivera" in html
    assert "40 faces in 40 photos" in html
    first = biggest.members[0]
    crop = page.get(f"/media/{first.media_id}/faces/{first.number}/crop.jpg")
    assert crop.status_code == 200
    assert crop.headers["content-type"] == "image/jpeg"
    kept = [m.key for m in biggest.members[1:]]  # the reviewer unticked the first one
    answer = page.post(
        f"/events/{event.id}/review",
        data={
            "csrf_token": csrf_from(html),
            "decision": "confirm",
            "members": kept,
            "group": biggest.key,
            "who": "Sam Rivera",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    reviews = session.exec(select(FaceReview)).all()
    assert len(reviews) == 39
    assert {r.decision for r in reviews} == {"confirm"}
    audited = session.exec(
        select(AuditEntry).where(AuditEntry.action == "media.face_confirm")
    ).all()
    assert len(audited) == 39  # audited per face
    # The face pulled out got no reviewer's word (clearance decides it on its own, now knowing
    # Sam's confirmed faces).
    assert first.media_id not in {r.media_id for r in reviews}

    # The same group posted again (another reviewer, a double click): nothing recorded twice.
    again = review_groups.decide(
        session=session,
        actor=SYSTEM,
        event_id=event.id,
        members=kept,
        decision="not_this_person",
    )
    assert again == (0, 39)


def test_bad_group_posts_are_refused_and_change_nothing(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    session: Session,
    make_event: Callable[..., Event],
    make_media: Callable[..., Media],
) -> None:
    event, other = make_event(), make_event()
    stranger = make_media(event=other)
    login_page(client, make_staff(Role.comms))
    page = client
    html = page.get(f"/events/{event.id}/review").text
    assert "Nothing to review" in html
    for data in (
        {"decision": "maybe", "members": [f"{stranger.id}:1"]},
        {"decision": "confirm", "members": []},
        {"decision": "confirm", "members": ["not-a-face"]},
        {"decision": "confirm", "members": [f"{stranger.id}:1"]},  # another event's photo
        {"decision": "confirm", "members": [f"{uuid.uuid4()}:1"]},
    ):
        answer = page.post(
            f"/events/{event.id}/review",
            data={"csrf_token": csrf_from(html), **data},
            follow_redirects=False,
        )
        assert answer.status_code == 303, data
        assert answer.headers["location"].startswith(f"/events/{event.id}/review")
    assert session.exec(select(FaceReview)).all() == []


def test_a_flagged_photo_with_a_face_awaiting_a_word_still_leads_to_review_by_person(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: Callable[..., Media],
) -> None:
    """The photo is flagged (Olive is sure) and also holds a face that may be Priya: nothing
    needs review by the photo's status, yet a face waits for a word. The button shows, with
    the count, and Priya's own face (her badge sighting: no reference photo) is shown to
    compare with; an attendee with no picture at all is a clear 404, not a broken image."""
    event = make_event()
    olive = make_booking(event=event, opt_out=True, name="Olive Optout")
    priya = make_booking(event=event, opt_out=True, name="Priya Shah")
    nobody = make_booking(event=event, opt_out=True, name="No Picture")
    make_media(event=event, status=MediaStatus.flagged, faces=[("opted_out", olive)])
    flagged = make_media(
        event=event, status=MediaStatus.flagged, faces=[("opted_out", olive), ("review", priya)]
    )
    # Elsewhere Priya was seen wearing her badge: that face is hers.
    seen = make_media(event=event, status=MediaStatus.flagged, faces=[("opted_out", priya)])
    face = session.exec(select(MediaFace).where(MediaFace.media_id == seen.id)).one()
    face.via = "badge"
    session.add(face)
    session.flush()
    assert review_groups.waiting_count(session=session, event_id=event.id) == 1

    login_page(client, make_staff(Role.comms))
    photos = client.get(f"/events/{event.id}/photos").text
    assert "Review by person (1 face)" in photos
    html = client.get(f"/events/{event.id}/review").text
    assert "Probably Priya Shah" in html
    assert f"/events/{event.id}/attendees/{priya.id}/face.jpg" in html
    own = client.get(f"/events/{event.id}/attendees/{priya.id}/face.jpg")
    assert own.status_code == 200
    assert own.headers["content-type"] == "image/jpeg"
    assert own.content == review_groups.face_crop(session=session, media=seen, number=1)
    assert flagged.id != seen.id
    missing = client.get(f"/events/{event.id}/attendees/{nobody.id}/face.jpg")
    assert missing.status_code == 404
    other_event = make_event()
    assert client.get(f"/events/{other_event.id}/attendees/{priya.id}/face.jpg").status_code == 404
