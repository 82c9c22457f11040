"""An attendee downloads their data from their manage page: exactly their booking, choices,
reference photo and the photos they were found in (with decisions and publications), each photo
as a copy in which nobody else's face can be found (checked with the real detector)."""

from __future__ import annotations

import io
import json
import random
import re
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
from registry.auth.models import Role, StaffUser
from registry.consent.models import ConsentRequest
from registry.events import references
from registry.events import service as events
from registry.events.models import Booking, Event
from registry.media import service as media_service
from registry.media.models import MediaStatus
from registry.vision import faces
from tests.auth.factories import login_page
from tests.consent.factories import grant
from tests.pdf import pdf_text
from tests.rights.scene import ALICE_EMAIL, BOB_EMAIL, Scene, add_every_kind_of_row
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
        ["my-data.json", "my-data.pdf", reference["thumbnail"], found["copy"]]
    )
    exported = session.exec(
        select(AuditEntry).where(AuditEntry.action == "booking.data_exported")
    ).all()
    assert [e.entity_id for e in exported] == [str(alice.id)]

    # Bob was found nowhere: his export holds his booking and nothing of Alice.
    his = zipfile.ZipFile(io.BytesIO(client.get(f"/b/{events.manage_token(bob)}/export").content))
    assert his.namelist() == ["my-data.json", "my-data.pdf"]
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
    from registry.consent import links as consent_links
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
    token = consent_links.link_token(request)
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


def _document(data: bytes, prefix: str = "") -> dict[str, Any]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    document = json.loads(archive.read(f"{prefix}my-data.json"))
    assert archive.read(f"{prefix}my-data.pdf")[:5] == b"%PDF-"
    for media in document["media"]:
        if "copy" in media:
            assert archive.read(prefix + media["copy"])[:2] == b"\xff\xd8"
    return {k: v for k, v in document.items() if k != "generated_at"}


def test_every_kind_of_row_is_read_back_from_the_database_by_both_exports(
    scene: Scene,
    client: TestClient,
    comms_headers: dict[str, str],
    admin_headers: dict[str, str],
    make_staff: Callable[..., StaffUser],
    make_consent: Callable[..., ConsentRequest],
    session: Session,
    tmp_path: Path,
) -> None:
    """Alice opted out, gave a reference, was confirmed by a reviewer in a published photo
    (taken down since) and in a video, and is a patient too; Bob changed his mind twice, got a
    new link and objected to three photos (one upheld, one dismissed, one not decided yet).
    Read back from the database as a new request reads it (stored enums come back as plain
    strings), every document of theirs downloads, from their link and by staff."""
    alice, bob = scene.alice, scene.bob
    patient = add_every_kind_of_row(
        scene=scene,
        client=client,
        comms_headers=comms_headers,
        make_consent=make_consent,
        session=session,
    )

    session.expire_all()  # what follows reads every row from the database, as a new request

    page = client.get(f"/b/{events.manage_token(bob)}/photos")
    assert page.status_code == 200, page.text
    for words in (
        "you objected, and staff upheld it",
        "you objected; staff will check",
        "you objected, and staff dismissed it (Nobody in the middle holds a microphone)",
    ):
        assert words in page.text

    answer = client.get(f"/b/{events.manage_token(bob)}/export")
    assert answer.status_code == 200, answer.text
    his = _document(answer.content)
    assert [(o["file_name"], o["decision"], o["decision_reason"]) for o in his["objections"]] == [
        ("IMG_0042.jpg", "upheld", None),
        ("IMG_0043.jpg", "pending", None),
        ("IMG_0044.jpg", "dismissed", "Nobody in the middle holds a microphone"),
    ]
    assert [c["action"] for c in his["choices"]] == [
        "booked", "opted_out", "opted_in", "link_reissued", "objected", "objected", "objected",
    ]  # fmt: skip
    assert [m["kind"] for m in his["mails"]] == [
        "booking.confirmation", "booking.choice", "booking.choice", "booking.link",
    ]  # fmt: skip
    assert {m["state"] for m in his["mails"]} <= {"queued", "sent", "logged"}
    hall_entry, video_entry = his["media"]
    assert (hall_entry["file_name"], video_entry["file_name"]) == ("IMG_0042.jpg", "MVI_0045.mp4")
    assert [f["decision"] for f in hall_entry["found"]] == ["opted_out"]  # his objection upheld
    assert video_entry["badge_seen"] == [{"at_s": 2.5}]
    assert "copy" not in video_entry

    answer = client.get(f"/b/{events.manage_token(alice)}/export")
    assert answer.status_code == 200, answer.text
    hers = _document(answer.content)
    assert [c["action"] for c in hers["choices"]] == ["booked", "reference_added"]
    assert len(hers["reference_photos"]) == 1
    assert hers["objections"] == []
    assert [m["kind"] for m in hers["mails"]] == ["booking.confirmation"]
    hall_entry, video_entry = hers["media"]
    assert [r["decision"] for r in hall_entry["reviews"]] == ["confirm"]
    [publication] = hall_entry["publications"]
    assert publication["taken_down_at"] is not None
    assert video_entry["found"] == [
        {
            "track": 1,
            "decision": "opted_out",
            "how": "your reference photo",
            "distance": 0.4,
            "box": {"top": 10, "right": 60, "bottom": 60, "left": 10},
            "start_s": 1.5,
            "end_s": 4.0,
        }
    ]
    text = pdf_text(zipfile.ZipFile(io.BytesIO(answer.content)).read("my-data.pdf"), tmp_path)
    assert "MVI_0045.mp4" in text
    assert "taken down" in text

    # Staff answer a subject request for each of them: the API's ZIP and the page's.
    login_page(client, make_staff(Role.admin))
    for email, document, bookings in ((BOB_EMAIL, his, [bob]), (ALICE_EMAIL, hers, [alice])):
        made = client.post("/api/subject-requests", json={"email": email}, headers=admin_headers)
        assert made.status_code == 201, made.text
        session.expire_all()
        for path in (
            f"/api/subject-requests/{made.json()['id']}/export",
            f"/subject-requests/{made.json()['id']}/export",
        ):
            answer = client.get(path, headers=admin_headers if "/api/" in path else {})
            assert answer.status_code == 200, (path, answer.text[-800:])
            assert answer.headers["content-type"] == "application/zip"
            for booking in bookings:
                assert _document(answer.content, f"bookings/{booking.id}/") == document
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert f"consents/{patient.id}/receipt.json" in names


FORMAT_1 = Path(__file__).with_name("attendee_export_format_1.json")
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2})?$")


def _stable(value: Any, booking: Booking, key: str = "") -> Any:
    """The document with what differs from run to run (ids, times, names and codes the factories
    number, what the face detector measured) replaced by what it is; every key and its order
    kept."""
    if isinstance(value, dict):
        return {k: _stable(v, booking, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v, booking, key) for v in value]
    if key in ("box", "top", "right", "bottom", "left", "face_width_px", "distance"):
        return f"<{type(value).__name__}>"
    if not isinstance(value, str):
        return value
    if value == booking.badge_code:
        return "<badge code>"
    if _ID.match(value):
        return "<id>"
    if _TIME.match(value):
        return "<time>"
    if key == "name" and value.startswith("Event "):
        return "<event name>"
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", re.sub(r"^staff:\d+$", "staff:<id>", value))


def test_the_attendee_document_keeps_format_1_key_for_key(
    scene: Scene,
    client: TestClient,
    comms_headers: dict[str, str],
    make_consent: Callable[..., ConsentRequest],
    session: Session,
) -> None:
    """`my-data.json` for a record with every kind of row is, key for key and in the same order,
    what format 1 has always been (the file beside this test was written by the first version)."""
    add_every_kind_of_row(
        scene=scene,
        client=client,
        comms_headers=comms_headers,
        make_consent=make_consent,
        session=session,
    )
    session.expire_all()
    written = {}
    for who, booking in (("alice", scene.alice), ("bob", scene.bob)):
        answer = client.get(f"/b/{events.manage_token(booking)}/export")
        assert answer.status_code == 200, answer.text
        text = zipfile.ZipFile(io.BytesIO(answer.content)).read("my-data.json").decode()
        written[who] = _stable(json.loads(text), booking)
    expected = json.loads(FORMAT_1.read_text())
    assert json.dumps(written, indent=2) == json.dumps(expected, indent=2)
