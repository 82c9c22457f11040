"""Reference photos with the real dlib model and real face photos."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlmodel import Session, select

from registry import crypto
from registry.audit.models import AuditEntry
from registry.audit.service import SYSTEM
from registry.db import utcnow
from registry.errors import Conflict, Invalid, TooLarge, UnsupportedMedia
from registry.events import references, service
from registry.events.models import Booking, Event, ReferencePhoto
from registry.vision import faces

MakeBooking = Callable[..., Booking]


def add(session: Session, booking: Booking, data: bytes, consent: bool = True) -> ReferencePhoto:
    return references.add_reference(
        session=session,
        actor=SYSTEM,
        booking=booking,
        event=service.get_event(session=session, event_id=booking.event_id),
        data=data,
        biometric_consent=consent,
    )


def count(session: Session) -> int:
    return len(session.exec(select(ReferencePhoto)).all())


def test_one_face_is_kept_as_an_encrypted_encoding_that_matches_the_person(
    session: Session, make_booking: MakeBooking, face_photo: bytes, faces_dir: Path
) -> None:
    booking = make_booking(opt_out=True)
    photo = add(session, booking, face_photo)
    encoding = references.encoding_of(photo)
    assert encoding.shape == (faces.ENCODING_SIZE,)
    assert encoding.astype("<f8").tobytes() not in photo.encoding  # not stored in clear
    other = Image.open(faces_dir / "people" / "barack_obama" / "facerec_2.jpg").convert("RGB")
    [found] = faces.find_reference_faces(other)
    assert faces.distance(encoding, found.encoding) < 0.6
    thumb = references.thumbnail_of(photo)
    assert thumb is not None
    assert max(Image.open(io.BytesIO(thumb)).size) <= references.THUMBNAIL_SIZE
    history = [c.action for c in service.history(session=session, booking=booking)]
    assert history[-1] == "reference_added"


def test_ciphertext_is_bound_to_its_row(
    session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    photo = add(session, make_booking(opt_out=True), face_photo)
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(photo.encoding, bound_to="another row")


def test_exif_orientation_is_applied_before_detection(
    session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    upright = Image.open(io.BytesIO(face_photo))
    rotated = upright.rotate(90, expand=True)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with the tag that says "rotate 90° clockwise to view"
    out = io.BytesIO()
    rotated.save(out, format="JPEG", exif=exif)
    photo = add(session, make_booking(opt_out=True), out.getvalue())
    assert photo.face_width > 0


def test_photo_with_several_faces_is_refused_and_nothing_stored(
    session: Session, make_booking: MakeBooking, group_photo: bytes
) -> None:
    before = count(session)
    with pytest.raises(Invalid, match="faces"):
        add(session, make_booking(opt_out=True), group_photo)
    assert count(session) == before


def test_photo_without_a_face_is_refused(session: Session, make_booking: MakeBooking) -> None:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (120, 160, 200)).save(out, format="PNG")
    with pytest.raises(Invalid, match="No face"):
        add(session, make_booking(opt_out=True), out.getvalue())


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"%PDF-1.4 not an image", UnsupportedMedia),
        (b"GIF89a" + b"\x00" * 100, UnsupportedMedia),
        (b"", Invalid),
    ],
)
def test_non_images_are_refused(
    session: Session, make_booking: MakeBooking, data: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        add(session, make_booking(opt_out=True), data)


def test_truncated_jpeg_is_refused(
    session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    with pytest.raises(Invalid, match="truncated"):
        add(session, make_booking(opt_out=True), face_photo[: len(face_photo) // 2])


def test_decompression_bomb_is_refused(session: Session, make_booking: MakeBooking) -> None:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")  # 400 MP in a few kB
    assert len(out.getvalue()) < 200_000
    with pytest.raises(TooLarge):
        add(session, make_booking(opt_out=True), out.getvalue())


def test_consent_is_required(
    session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    with pytest.raises(Invalid) as error:
        add(session, make_booking(opt_out=True), face_photo, consent=False)
    assert error.value.extra["field"] == "biometric_consent"


def test_only_attendees_who_opted_out_may_add_one(
    session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    with pytest.raises(Conflict, match="opted out"):
        add(session, make_booking(opt_out=False), face_photo)


def test_at_most_three(session: Session, make_booking: MakeBooking, face_photo: bytes) -> None:
    booking = make_booking(opt_out=True)
    for _ in range(references.MAX_REFERENCES):
        add(session, booking, face_photo)
    with pytest.raises(Conflict, match="3 reference photos"):
        add(session, booking, face_photo)


def test_opting_back_in_or_cancelling_deletes_the_references(
    session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    first, second = make_booking(opt_out=True), make_booking(opt_out=True)
    add(session, first, face_photo)
    add(session, second, face_photo)
    service.set_opt_out(session=session, actor=SYSTEM, booking=first, opt_out=False)
    service.cancel_booking(session=session, actor=SYSTEM, booking=second)
    assert references.list_references(session=session, booking=first) == []
    assert references.list_references(session=session, booking=second) == []


def test_purge_deletes_biometrics_past_retention_and_audits_it(
    session: Session,
    make_event: Callable[..., Event],
    make_booking: MakeBooking,
    face_photo: bytes,
) -> None:
    past = make_event(
        starts_at=utcnow() - timedelta(days=40), ends_at=utcnow() - timedelta(days=39)
    )
    current = make_event()
    old = make_booking(event=past, opt_out=True)
    fresh = make_booking(event=current, opt_out=True)
    add(session, old, face_photo)
    add(session, fresh, face_photo)
    assert references.purge_expired(session=session) == 1
    assert references.list_references(session=session, booking=old) == []
    assert len(references.list_references(session=session, booking=fresh)) == 1
    logged = session.exec(
        select(AuditEntry.action).where(AuditEntry.entity_id == str(old.id))
    ).all()
    assert "booking.references_purged" in logged


def test_changing_the_retention_reschedules_the_purge(
    session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    booking = make_booking(opt_out=True)
    photo = add(session, booking, face_photo)
    event = service.get_event(session=session, event_id=booking.event_id)
    service.update_event(session=session, actor=SYSTEM, event=event, biometric_retention_days=0)
    session.refresh(photo)
    assert photo.purge_after == event.ends_at


def test_encodings_are_never_in_the_audit_log(
    session: Session, make_booking: MakeBooking, face_photo: bytes
) -> None:
    booking = make_booking(opt_out=True)
    photo = add(session, booking, face_photo)
    values = references.encoding_of(photo)
    for entry in session.exec(select(AuditEntry)).all():
        assert f"{values[0]:.6f}"[:8] not in str(entry.after)
    assert np.isfinite(values).all()
