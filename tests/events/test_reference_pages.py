"""Reference photos over the API and on the attendee's manage page (real dlib model)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.events import references, service
from registry.events.models import Booking
from tests.auth.factories import csrf_from

MakeBooking = Callable[..., Booking]


def put(client: TestClient, headers: dict[str, str], booking: Booking, data: bytes, **form: str):  # type: ignore[no-untyped-def]
    return client.put(
        f"/api/bookings/{booking.id}/reference-photo",
        files={"file": ("me.jpg", data, "image/jpeg")},
        data=form,
        headers=headers,
    )


def test_api_adds_lists_and_deletes_reference_photos(
    client: TestClient, comms_headers: dict[str, str], make_booking: MakeBooking, face_photo: bytes
) -> None:
    booking = make_booking(opt_out=True)
    response = put(client, comms_headers, booking, face_photo, biometric_consent="true")
    assert response.status_code == 204, response.text
    listed = client.get(f"/api/bookings/{booking.id}/reference-photos", headers=comms_headers)
    [photo] = listed.json()
    assert "encoding" not in photo
    deleted = client.delete(
        f"/api/bookings/{booking.id}/reference-photos/{photo['id']}", headers=comms_headers
    )
    assert deleted.status_code == 204
    again = client.delete(
        f"/api/bookings/{booking.id}/reference-photos/{photo['id']}", headers=comms_headers
    )
    assert again.status_code == 404


def test_api_refusals_are_clear_4xx(
    client: TestClient,
    comms_headers: dict[str, str],
    make_booking: MakeBooking,
    face_photo: bytes,
    group_photo: bytes,
) -> None:
    booking = make_booking(opt_out=True)
    no_consent = put(client, comms_headers, booking, face_photo)
    assert no_consent.status_code == 422
    assert no_consent.json()["field"] == "biometric_consent"
    several = put(client, comms_headers, booking, group_photo, biometric_consent="true")
    assert several.status_code == 422
    assert "faces" in several.json()["detail"]
    pdf = put(client, comms_headers, booking, b"%PDF-1.4", biometric_consent="true")
    assert pdf.status_code == 415
    not_opted = put(client, comms_headers, make_booking(), face_photo, biometric_consent="true")
    assert not_opted.status_code == 409
    missing = client.put(
        f"/api/bookings/{booking.id}/reference-photo",
        data={"biometric_consent": "true"},
        headers=comms_headers,
    )
    assert missing.status_code == 422
    unknown = client.put(
        f"/api/bookings/{uuid.uuid4()}/reference-photo",
        files={"file": ("me.jpg", face_photo, "image/jpeg")},
        data={"biometric_consent": "true"},
        headers=comms_headers,
    )
    assert unknown.status_code == 404


def test_manage_page_upload_thumbnail_and_delete(
    client: TestClient, session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    booking = make_booking(opt_out=True)
    path = f"/b/{service.manage_token(booking)}"
    page = client.get(path)
    assert "Help us recognise you" in page.text
    response = client.post(
        f"{path}/references",
        files={"file": ("me.jpg", face_photo, "image/jpeg")},
        data={"biometric_consent": "yes", "csrf_token": csrf_from(page.text)},
        follow_redirects=True,
    )
    assert "Your reference photo is saved" in response.text
    [photo] = references.list_references(session=session, booking=booking)
    thumb = client.get(f"{path}/references/{photo.id}")
    assert thumb.headers["content-type"] == "image/jpeg"
    assert b"Exif" not in thumb.content[:64]
    deleted = client.post(
        f"{path}/references/{photo.id}/delete",
        data={"csrf_token": csrf_from(response.text)},
        follow_redirects=True,
    )
    assert "The reference photo is deleted." in deleted.text
    assert references.list_references(session=session, booking=booking) == []


def test_manage_page_shows_upload_errors_and_keeps_nothing(
    client: TestClient, session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    booking = make_booking(opt_out=True)
    path = f"/b/{service.manage_token(booking)}"
    page = client.get(path)
    response = client.post(
        f"{path}/references",
        files={"file": ("me.jpg", face_photo, "image/jpeg")},
        data={"csrf_token": csrf_from(page.text)},
        follow_redirects=True,
    )
    assert "Tick the box" in response.text
    assert references.list_references(session=session, booking=booking) == []


def test_reference_section_is_only_offered_after_opting_out(
    client: TestClient, make_booking: MakeBooking
) -> None:
    page = client.get(f"/b/{service.manage_token(make_booking(opt_out=False))}")
    assert "Help us recognise you" not in page.text


def test_staff_can_reissue_a_manage_link(
    client: TestClient, comms_headers: dict[str, str], make_booking: MakeBooking, session: Session
) -> None:
    booking = make_booking()
    old = f"/b/{service.manage_token(booking)}"
    response = client.post(f"/api/bookings/{booking.id}/manage-link", headers=comms_headers)
    assert response.status_code == 200
    assert "/b/" not in response.text  # the attendee's key goes to them, not to staff
    assert client.get(old).status_code == 404
    session.refresh(booking)
    assert client.get(f"/b/{service.manage_token(booking)}").status_code == 200


def test_public_reference_uploads_are_selfie_sized_and_rate_limited(
    client: TestClient, make_booking: MakeBooking
) -> None:
    import io

    from PIL import Image

    import registry.vision.images  # noqa: F401 - registers the HEIF codec

    booking = make_booking(opt_out=True)
    path = f"/b/{service.manage_token(booking)}"
    csrf = csrf_from(client.get(path).text)

    def send(data: bytes, name: str = "me.jpg", kind: str = "image/jpeg"):  # type: ignore[no-untyped-def]
        return client.post(
            f"{path}/references",
            files={"file": (name, data, kind)},
            data={"biometric_consent": "yes", "csrf_token": csrf},
        )

    big = io.BytesIO()
    Image.new("RGB", (4300, 3000), (200, 180, 160)).save(big, format="JPEG", quality=30)
    too_many_pixels = send(big.getvalue())
    assert "12 MP" in too_many_pixels.text
    heic = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(heic, format="HEIF")
    heif = send(heic.getvalue(), "me.heic", "image/heic")
    assert "Upload JPEG, PNG or WebP photos." in heif.text
    truncated = io.BytesIO()
    Image.new("RGB", (400, 400), (1, 2, 3)).save(truncated, format="PNG")
    broken = send(truncated.getvalue()[:300], "me.png", "image/png")
    assert "truncated or damaged" in broken.text
    assert "Errno" not in broken.text
    assert "image file is" not in broken.text  # never the decoder's own words

    statuses = [send(b"not an image").status_code for _ in range(10)]
    assert 429 not in statuses[:7]  # 3 above + 7 = the 10 per booking per window
    limited = send(b"not an image")
    assert limited.status_code == 429
    assert "Too many photos" in limited.text
    assert int(limited.headers["Retry-After"]) > 0
