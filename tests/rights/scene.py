"""A seeded event for the rights tests: Alice (opted out, with a reference photo) and Bob (not
opted out, wearing his badge) in a hall photo that is redacted and published; an empty stage."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, SQLModel, select

from registry.audit.service import SYSTEM
from registry.consent.models import ConsentRequest
from registry.events import references
from registry.events import service as events
from registry.events.models import Booking, Event
from registry.media import service as media_service
from registry.media.models import Media, MediaBadge, MediaFace, MediaObjection, MediaStatus
from tests.auth.factories import csrf_from
from tests.consent.factories import grant
from tests.publishing.factories import jpeg_with_gps
from tests.vision import compose

ALICE_EMAIL = "alice.quennell@example.org"
ALICE_NAME = "Alice Quennell"
BOB_EMAIL = "bob.marchetti@example.org"
BOB_NAME = "Bob Marchetti"


@dataclass
class Scene:
    event: Event
    alice: Booking
    bob: Booking
    hall: Media
    stage: Media
    publication_id: uuid.UUID


def hall_photo(faces_dir: Path, bob_code: str) -> bytes:
    """Alice, Bob (with his badge under his face) and a stranger, with a real crowd behind."""
    people = compose.portraits(faces_dir)
    canvas = compose.background(faces_dir, (3000, 2000), random.Random(11))
    compose.paste_face(canvas, people["barack_obama"][1], 170, (600, 800))
    box = compose.paste_face(canvas, people["joe_biden"][0], 170, (1500, 800))
    badge = compose.badge_image(bob_code, 4)
    canvas.paste(badge, (1500 - badge.width // 2, box[2] + 170))
    compose.paste_face(canvas, people["kit_harington"][0], 170, (2400, 780))
    return compose.Composed(canvas).jpeg()


def seed(
    *,
    session: Session,
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    run_job: Callable[..., MediaStatus | None],
    faces_dir: Path,
) -> Scene:
    event = make_event(channels=["internal"])
    alice = make_booking(event=event, opt_out=True, email=ALICE_EMAIL)
    bob = make_booking(event=event, email=BOB_EMAIL)
    alice.name, bob.name = ALICE_NAME, BOB_NAME
    session.add_all([alice, bob])
    session.flush()
    people = compose.portraits(faces_dir)
    references.add_reference(
        session=session,
        actor=SYSTEM,
        booking=alice,
        event=event,
        data=people["barack_obama"][0].path.read_bytes(),
        biometric_consent=True,
    )
    stage_image = compose.Composed(compose.background(faces_dir, (800, 600), random.Random(3)))
    [(hall, _), (stage, _)] = media_service.upload(
        session=session,
        actor=SYSTEM,
        files=[
            media_service.Upload("IMG_0042.jpg", hall_photo(faces_dir, bob.badge_code)),
            media_service.Upload("IMG_0043.jpg", stage_image.jpeg()),
        ],
        event=event,
    )
    assert run_job(hall.id) == MediaStatus.flagged
    assert run_job(stage.id) == MediaStatus.cleared
    redacted = client.post(f"/api/media/{hall.id}/redact", headers=comms_headers).json()
    published = client.post(
        f"/api/media/{hall.id}/publications",
        json={
            "channel": "internal",
            "rendition_id": redacted["id"],
            "url": "https://intranet.example/p/42",
        },
        headers=comms_headers,
    )
    assert published.status_code == 201, published.text
    return Scene(event, alice, bob, hall, stage, uuid.UUID(published.json()["id"]))


def rows_mentioning(session: Session, *needles: str) -> list[str]:
    """Every row of every table whose text holds one of the needles (any case)."""
    hits = []
    session.flush()
    for table in SQLModel.metadata.sorted_tables:
        for row in session.execute(text(f'SELECT * FROM "{table.name}"')).all():
            flat = " ".join(str(v) for v in row).lower()
            for needle in needles:
                if needle.lower() in flat:
                    hits.append(f"{table.name}: {needle}: {flat[:300]}")
    return hits


def add_every_kind_of_row(
    *,
    scene: Scene,
    client: TestClient,
    comms_headers: dict[str, str],
    make_consent: Callable[..., ConsentRequest],
    session: Session,
) -> ConsentRequest:
    """Alice opted out, gave a reference, was confirmed by a reviewer in a published photo
    (taken down since) and in a video, and is a patient too (her consent request is returned);
    Bob changed his mind twice, got a new link and objected to three photos (one upheld, one
    dismissed, one not decided yet)."""
    alice, bob = scene.alice, scene.bob
    events.set_opt_out(session=session, actor=SYSTEM, booking=bob, opt_out=True)
    events.set_opt_out(session=session, actor=SYSTEM, booking=bob, opt_out=False)
    events.reissue_manage_link(session=session, actor=SYSTEM, booking=bob)
    [(extra, _)] = media_service.upload(
        session=session,
        actor=SYSTEM,
        files=[media_service.Upload("IMG_0044.jpg", jpeg_with_gps(7))],
        event=scene.event,
    )
    extra.status = MediaStatus.cleared
    session.add(extra)
    hall = client.get(f"/api/media/{scene.hall.id}", headers=comms_headers).json()
    [her_face] = [f for f in hall["faces"] if f["booking_id"] == str(alice.id)]
    reviewed = client.post(
        f"/api/media/{scene.hall.id}/faces/{her_face['id']}/review",
        json={"decision": "confirm"},
        headers=comms_headers,
    )
    assert reviewed.status_code == 200, reviewed.text
    taken_down = client.post(
        f"/api/publications/{scene.publication_id}/takedown",
        json={"note": "Removed from the intranet gallery"},
        headers=comms_headers,
    )
    assert taken_down.status_code == 200, taken_down.text
    video = Media(
        event_id=scene.event.id,
        sha256=hashlib.sha256(b"a video").hexdigest(),
        kind="video",
        filename="MVI_0045.mp4",
        content_type="video/mp4",
        size_bytes=1000,
        duration_s=12.0,
        status=MediaStatus.flagged,
        uploaded_by="system",
    )
    session.add(video)
    session.flush()
    session.add_all(
        [
            MediaFace(
                media_id=video.id, number=1, top=10, right=60, bottom=60, left=10,
                start_s=1.5, end_s=4.0, booking_id=alice.id, via="face", distance=0.4,
                decision="opted_out",
            ),
            MediaBadge(media_id=video.id, code=bob.badge_code, top=0, right=9, bottom=9,
                       left=0, booking_id=bob.id, t_s=2.5),
        ]
    )  # fmt: skip
    patient = make_consent(subject_name=ALICE_NAME, subject_email=ALICE_EMAIL)
    grant(session, patient)

    token = events.manage_token(bob)
    page = client.get(f"/b/{token}/photos")
    csrf = csrf_from(page.text)
    for media, words in (
        (scene.hall, ""),
        (scene.stage, "At the back on the left, red scarf"),
        (extra, "In the middle, holding a microphone"),
    ):
        objected = client.post(
            f"/b/{token}/objections",
            data={"csrf_token": csrf, "media_id": str(media.id), "explanation": words},
        )
        assert "will not be published with you in it" in objected.text, objected.text[-800:]
    ids = {
        o.media_id: o.id
        for o in session.exec(select(MediaObjection).where(MediaObjection.booking_id == bob.id))
    }
    for media, decision, reason in (
        (scene.hall, "upheld", None),
        (extra, "dismissed", "Nobody in the middle holds a microphone"),
    ):
        decided = client.post(
            f"/api/media/{media.id}/objections/{ids[media.id]}/decision",
            json={"decision": decision, "reason": reason},
            headers=comms_headers,
        )
        assert decided.status_code == 200, decided.text
    return patient
