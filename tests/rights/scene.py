"""A seeded event for the rights tests: Alice (opted out, with a reference photo) and Bob (not
opted out, wearing his badge) in a hall photo that is redacted and published; an empty stage."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, SQLModel

from registry.audit.service import SYSTEM
from registry.events import references
from registry.events.models import Booking, Event
from registry.media import service as media_service
from registry.media.models import Media, MediaStatus
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
