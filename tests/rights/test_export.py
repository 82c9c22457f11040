"""An attendee downloads their data from their manage page: exactly their booking, choices,
reference photo and the photos they were found in (with decisions and publications), each photo
as a copy in which nobody else's face can be found (checked with the real detector)."""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session, select

from registry.audit.models import AuditEntry
from registry.audit.service import SYSTEM
from registry.events import references
from registry.events import service as events
from registry.events.models import Booking, Event
from registry.media import service as media_service
from registry.media.models import MediaStatus
from registry.vision import faces
from tests.vision import compose

pytestmark = pytest.mark.usefixtures("faces_dir")


def test_an_attendee_downloads_exactly_their_data_with_everyone_else_covered(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    session: Session,
    run_job: Callable[..., MediaStatus | None],  # noqa: F811
    faces_dir: Path,
) -> None:
    event = make_event(channels=["internal"])
    alice = make_booking(event=event, opt_out=True, email="alice@example.org")
    bob = make_booking(event=event, email="bob@example.org")
    people = compose.portraits(faces_dir)
    references.add_reference(
        session=session,
        actor=SYSTEM,
        booking=alice,
        event=event,
        data=people["barack_obama"][0].path.read_bytes(),
        biometric_consent=True,
    )
    canvas = compose.background(faces_dir, (2000, 1200), random.Random(7))
    compose.paste_face(canvas, people["barack_obama"][1], 170, (450, 500))
    compose.paste_face(canvas, people["joe_biden"][0], 170, (1000, 520))
    compose.paste_face(canvas, people["kit_harington"][0], 170, (1550, 480))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=92)
    [(hall, _), (empty, _)] = media_service.upload(
        session=session,
        actor=SYSTEM,
        files=[
            media_service.Upload("hall.jpg", buffer.getvalue()),
            media_service.Upload(
                "stage.jpg",
                compose.Composed(
                    compose.background(faces_dir, (800, 600), random.Random(3))
                ).jpeg(),
            ),
        ],
        event=event,
    )
    assert run_job(hall.id) == MediaStatus.flagged
    assert run_job(empty.id) == MediaStatus.cleared
    redacted = client.post(f"/api/media/{hall.id}/redact", headers=comms_headers).json()
    published = client.post(
        f"/api/media/{hall.id}/publications",
        json={
            "channel": "internal",
            "rendition_id": redacted["id"],
            "url": "https://intranet.example/p/1",
        },
        headers=comms_headers,
    )
    assert published.status_code == 201, published.text

    answer = client.get(f"/b/{events.manage_token(alice)}/export")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.headers["cache-control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    document = json.loads(archive.read("my-data.json"))
    assert document["format"] == "registry.attendee-export/1"
    assert document["booking"]["email"] == "alice@example.org"
    assert document["booking"]["photo_opt_out"] is True
    assert document["booking"]["badge_code"] == alice.badge_code
    assert [c["action"] for c in document["choices"]] == ["booked", "reference_added"]
    [reference] = document["reference_photos"]
    assert archive.read(reference["thumbnail"])[:2] == b"\xff\xd8"
    [found] = document["media"]  # the hall photo, not the empty stage
    assert found["id"] == str(hall.id)
    assert [(f["decision"], f["how"]) for f in found["found"]] == [
        ("opted_out", "your reference photo")
    ]
    [publication] = found["publications"]
    assert (publication["channel"], publication["url"]) == (
        "internal",
        "https://intranet.example/p/1",
    )
    text = archive.read("my-data.json").decode()
    assert "bob@example.org" not in text
    assert bob.name not in text or bob.name == alice.name

    # The copy: her face stays, nobody else's can be found.
    copy = Image.open(io.BytesIO(archive.read(found["copy"]))).convert("RGB")
    seen = faces.find_faces(copy, scale=1.5)
    reference_face = faces.find_reference_faces(compose.load_rgb(people["barack_obama"][0].path))[0]
    assert len(seen) == 1, [f.box for f in seen]
    assert faces.distance(seen[0].encoding, reference_face.encoding) <= 0.6
    assert sorted(archive.namelist()) == sorted(
        ["my-data.json", reference["thumbnail"], found["copy"]]
    )
    exported = session.exec(
        select(AuditEntry).where(AuditEntry.action == "booking.data_exported")
    ).all()
    assert [e.entity_id for e in exported] == [str(alice.id)]

    # Bob was found nowhere: his export holds his booking and nothing of Alice.
    his = zipfile.ZipFile(io.BytesIO(client.get(f"/b/{events.manage_token(bob)}/export").content))
    assert his.namelist() == ["my-data.json"]
    his_document = json.loads(his.read("my-data.json"))
    assert his_document["media"] == []
    assert "alice@example.org" not in his.read("my-data.json").decode()


def test_a_forged_link_exports_nothing(client: TestClient) -> None:
    answer = client.get("/b/not-a-real-token/export")
    assert answer.status_code == 404
    assert "zip" not in answer.headers.get("content-type", "")


def test_a_patient_downloads_their_whole_record(
    client: TestClient,
    session: Session,
    make_consent: Callable[..., Any],
) -> None:
    from registry.consent import service as consent
    from tests.consent.factories import grant
    from tests.media.samples import png

    [(knee, _)] = media_service.upload(
        session=session,
        actor=SYSTEM,
        files=[media_service.Upload("knee-exercise.png", png((10, 20, 30)))],
        event=None,
    )
    request = make_consent(media_ids=[knee.id])
    grant(session, request)
    grant(session, request, "revoke")  # withdrawn: the record still shows both steps
    token = consent.link_token(request)
    page = client.get(f"/c/{token}")
    assert f'href="/c/{token}/export"' in page.text
    answer = client.get(f"/c/{token}/export")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert sorted(archive.namelist()) == sorted(
        ["receipt.json", "receipt.pdf", f"media/{knee.id}.jpg"]
    )
    record = json.loads(archive.read("receipt.json"))
    text = json.dumps(record)
    assert "Sam Patient" in text
    assert str(knee.id) in text
    assert '"event_state": "given"' in text
    assert '"event_state": "withdrawn"' in text
    assert archive.read("receipt.pdf")[:5] == b"%PDF-"
    assert archive.read(f"media/{knee.id}.jpg")[:2] == b"\xff\xd8"
    exported = session.exec(
        select(AuditEntry).where(AuditEntry.action == "consent.record_exported")
    ).all()
    assert [e.entity_id for e in exported] == [str(request.id)]
    assert client.get("/c/forged-token/export").status_code == 404
