"""Subject requests handled by staff: record one (due in a month), see what is held across
events, bookings, consents, faces and publications, export it as one ZIP, erase it. Every step
is audited; afterwards nothing names the person."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit import service as audit
from registry.audit.models import AuditEntry
from registry.auth.models import Role, StaffUser
from registry.consent.models import ConsentRequest
from registry.events.models import Booking, Event
from registry.media.models import MediaStatus
from registry.rights import erasure
from registry.rights.requests import one_month_after
from tests.auth.factories import bearer, csrf_from, login_page
from tests.consent.factories import grant
from tests.rights.scene import ALICE_EMAIL, ALICE_NAME, Scene, rows_mentioning

pytestmark = pytest.mark.usefixtures("faces_dir")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2026, 1, 31, 9, tzinfo=UTC), datetime(2026, 2, 28, 9, tzinfo=UTC)),
        (datetime(2026, 12, 15, 9, tzinfo=UTC), datetime(2027, 1, 15, 9, tzinfo=UTC)),
        (datetime(2028, 1, 30, 9, tzinfo=UTC), datetime(2028, 2, 29, 9, tzinfo=UTC)),
    ],
)
def test_a_request_is_due_one_calendar_month_after_receipt(
    received: datetime, due: datetime
) -> None:
    assert one_month_after(received) == due


def test_staff_find_export_and_erase_everything_held_about_an_address(
    scene: Scene,
    client: TestClient,
    comms_headers: dict[str, str],
    admin_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_consent: Callable[..., ConsentRequest],
    session: Session,
    run_job: Callable[..., MediaStatus | None],  # noqa: F811
    faces_dir: Path,
) -> None:
    # Alice is also a patient twice: one consent covers the published hall photo, one nothing
    # published.
    published_on = make_consent(
        subject_name=ALICE_NAME, subject_email=ALICE_EMAIL.upper(), media_ids=[scene.hall.id]
    )
    grant(session, published_on)
    unpublished = make_consent(
        subject_name=ALICE_NAME, subject_email=ALICE_EMAIL, media_ids=[scene.stage.id]
    )
    grant(session, unpublished, "decline")

    assert client.post("/api/subject-requests", json={"email": ALICE_EMAIL}).status_code == 401
    assert (
        client.post(
            "/api/subject-requests", json={"email": ALICE_EMAIL}, headers=comms_headers
        ).status_code
        == 403
    )
    bad = client.post(
        "/api/subject-requests", json={"email": "not an address"}, headers=admin_headers
    )
    assert bad.status_code == 422
    assert "email" in bad.text

    made = client.post("/api/subject-requests", json={"email": ALICE_EMAIL}, headers=admin_headers)
    assert made.status_code == 201, made.text
    body = made.json()
    request_id = body["id"]
    received = datetime.fromisoformat(body["received_at"])
    assert datetime.fromisoformat(body["due_at"]) == one_month_after(received)

    found = client.get(f"/api/subject-requests/{request_id}", headers=admin_headers).json()
    held = found["found"]
    assert [b["id"] for b in held["bookings"]] == [str(scene.alice.id)]
    assert sorted(c["id"] for c in held["consents"]) == sorted(
        [str(published_on.id), str(unpublished.id)]
    )
    assert held["reference_photos"] == 1
    assert held["faces"] == 1
    assert held["publications"] >= 1

    answer = client.get(f"/api/subject-requests/{request_id}/export", headers=admin_headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    names = archive.namelist()
    document = json.loads(archive.read(f"bookings/{scene.alice.id}/my-data.json"))
    assert document["format"] == "registry.attendee-export/1"
    assert document["booking"]["email"] == ALICE_EMAIL
    assert f"consents/{published_on.id}/receipt.json" in names
    assert f"consents/{unpublished.id}/receipt.pdf" in names
    for name in (n for n in names if n.endswith(".json")):
        assert "marchetti" not in archive.read(name).decode().lower()  # nothing of Bob

    erased = client.post(f"/api/subject-requests/{request_id}/erase", headers=admin_headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["status"] == "erased"
    assert erased.json()["erased"] == {
        "bookings": 1,
        "consents_deleted": 1,
        "consents_pseudonymised": 1,
        "face_encodings": 1,
        "reference_photos": 1,
    }
    again = client.post(f"/api/subject-requests/{request_id}/erase", headers=admin_headers)
    assert again.status_code == 409

    # Nothing names her; the consent that proves the publication stays, under a pseudonym.
    assert rows_mentioning(session, ALICE_EMAIL, ALICE_NAME, "quennell") == []
    session.expire_all()
    assert session.get(ConsentRequest, unpublished.id) is None
    kept = session.get(ConsentRequest, published_on.id)
    assert kept is not None
    assert kept.subject_name == erasure.pseudonym(kept)
    assert kept.subject_email is None
    assert kept.erase_requested_at is not None
    assert audit.verify(session=session).ok
    steps = [
        e.action
        for e in session.exec(
            select(AuditEntry).where(AuditEntry.entity_id == request_id).order_by(AuditEntry.seq)  # type: ignore[arg-type]
        ).all()
    ]
    assert steps == [
        "subject_request.received",
        "subject_request.searched",
        "subject_request.searched",
        "subject_request.exported",
        "subject_request.erased",
    ]

    # Once the publication comes down, housekeeping deletes the kept record.
    from registry.publishing import takedowns
    from registry.publishing.models import Publication
    from registry.rights import retention

    publication = session.get(Publication, scene.publication_id)
    assert publication is not None
    takedowns.mark_taken_down(
        session=session, actor=audit.SYSTEM, publication=publication, note=None
    )
    counts = retention.run(session=session)
    assert counts["consents_kept_until_unpublished"] == 1
    assert session.get(ConsentRequest, published_on.id) is None
    assert audit.verify(session=session).ok


def test_the_subject_request_pages(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    make_booking: Callable[..., Booking],
    session: Session,
) -> None:
    dana = make_booking(email="dana.okafor@example.org")
    admin = make_staff(role=Role.admin)
    login_page(client, admin)
    page = client.get("/subject-requests")
    assert page.status_code == 200
    form = {"csrf_token": csrf_from(page.text)}
    bad = client.post("/subject-requests", data={**form, "email": "dana"})
    assert bad.status_code == 422
    assert "Enter the person&#39;s email address" in bad.text
    made = client.post(
        "/subject-requests",
        data={**form, "email": "Dana.Okafor@example.org"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    detail = client.get(made.headers["location"])
    assert "due" in detail.text
    assert "Pat Attendee" in detail.text  # her booking, found whatever the case
    not_ticked = client.post(f"{made.headers['location']}/erase", data=form)
    assert "Tick the box" in not_ticked.text
    assert session.get(Booking, dana.id).erased_at is None  # type: ignore[union-attr]
    done = client.post(f"{made.headers['location']}/erase", data={**form, "confirm": "erase"})
    assert "Erased: 1 booking," in done.text
    assert "dana.okafor" not in done.text.lower()
    assert client.get("/subject-requests/" + str(uuid.uuid4())).status_code == 404
    # A comms officer cannot open them.
    comms: dict[str, Any] = bearer(client, make_staff())
    assert client.get("/api/subject-requests", headers=comms).status_code == 403
