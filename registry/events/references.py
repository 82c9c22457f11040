"""Reference photos: an opted-out attendee's face encodings, kept with explicit consent, encrypted,
and purged at the event's retention date or as soon as they are no longer wanted."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

import numpy as np
from PIL import Image
from sqlmodel import Session, col, select

from registry import crypto, signals
from registry.audit.service import SYSTEM, Actor
from registry.config import get_settings
from registry.db import utcnow
from registry.dispatch import compute
from registry.errors import Conflict, Invalid, NotFound, TooLarge, UnsupportedMedia
from registry.events.history import record_change
from registry.events.models import Booking, BookingAction, Event, ReferencePhoto
from registry.vision import faces, images

MAX_REFERENCES = 3
THUMBNAIL_SIZE = 160
BIOMETRIC_CONSENT = (
    "I agree that the service may use this photo of my face only to recognise me in photos of "
    "this event and keep me out of them. It is stored encrypted and deleted when the event's "
    "records are closed or when I delete it or opt back in."
)


def purge_date(event: Event) -> datetime:
    """When the event's biometric data is deleted: retention days after it ends."""
    return (event.ends_at or event.starts_at) + timedelta(days=event.biometric_retention_days)


def reschedule_purge(*, session: Session, event: Event) -> None:
    """Keep purge dates in step with the event's end and retention when they are edited."""
    due = purge_date(event)
    photos = session.exec(
        select(ReferencePhoto)
        .join(Booking, col(Booking.id) == col(ReferencePhoto.booking_id))
        .where(Booking.event_id == event.id, ReferencePhoto.purge_after != due)
    ).all()
    for photo in photos:
        photo.purge_after = due
        session.add(photo)
    session.flush()
    # The photos' face encodings and transient references follow (media reacts to the signal).
    signals.retention_changed.send(session=session, event_id=event.id, purge_after=due)


def list_references(*, session: Session, booking: Booking) -> list[ReferencePhoto]:
    return list(
        session.exec(
            select(ReferencePhoto)
            .where(ReferencePhoto.booking_id == booking.id)
            .order_by(col(ReferencePhoto.created_at))
        ).all()
    )


def _thumbnail(image: Image.Image, box: faces.Box) -> bytes:
    top, right, bottom, left = box
    pad = (right - left) // 3
    crop = image.crop(
        (
            max(0, left - pad),
            max(0, top - pad),
            min(image.width, right + pad),
            min(image.height, bottom + pad),
        )
    )
    crop.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=80)  # a fresh file: no EXIF or other metadata
    return out.getvalue()


def add_reference(
    *,
    session: Session,
    actor: Actor,
    booking: Booking,
    event: Event,
    data: bytes,
    biometric_consent: bool,
) -> ReferencePhoto:
    """Keep the encoding of the one face in `data`; refuse (storing nothing) anything else."""
    if booking.cancelled_at is not None:
        raise Conflict("This booking was cancelled.")
    if not booking.photo_opt_out:
        raise Conflict(
            "Reference photos are only for attendees who opted out of photos: opt out first."
        )
    if not biometric_consent:
        raise Invalid(
            "Tick the box to agree that your photo may be used to recognise you.",
            field="biometric_consent",
        )
    if len(list_references(session=session, booking=booking)) >= MAX_REFERENCES:
        raise Conflict(
            f"You already have {MAX_REFERENCES} reference photos; delete one to add another."
        )
    limit = get_settings().max_upload_mb * 1_000_000
    if len(data) > limit:
        raise TooLarge(f"The photo is larger than {get_settings().max_upload_mb} MB.")
    try:
        # A selfie: a phone's JPEG, PNG or WebP of at most 12 MP (decoded in the web process).
        image = images.decode(
            data, max_pixels=images.SELFIE_PIXELS, formats=images.SELFIE_FORMATS
        ).image
    except images.ImageRejected as exc:
        if exc.reason == "type":
            raise UnsupportedMedia(str(exc), field="file") from None
        if exc.reason == "size":
            raise TooLarge(str(exc), field="file") from None
        raise Invalid(str(exc), field="file") from None
    found = compute.reference_faces(data, image)  # on a worker when a broker is set
    if not found:
        raise Invalid(
            "No face was found in this photo. Use a clear, well-lit photo of your face, "
            "looking at the camera.",
            field="file",
        )
    if len(found) > 1:
        raise Invalid(
            f"This photo shows {len(found)} faces. Use a photo with only your face in it.",
            field="file",
        )
    face = found[0]
    photo = ReferencePhoto(
        booking_id=booking.id,
        encoding=b"",
        face_width=face.width,
        biometric_consent_at=utcnow(),
        purge_after=purge_date(event),
    )
    bound = str(photo.id)
    photo.encoding = crypto.encrypt(face.encoding.astype("<f8").tobytes(), bound_to=bound)
    photo.thumbnail = crypto.encrypt(_thumbnail(image, face.box), bound_to=bound + ":thumb")
    session.add(photo)
    session.flush()
    _reclear(session, booking)
    record_change(
        session,
        booking,
        BookingAction.reference_added,
        actor,
        reference_id=photo.id,
        biometric_consent=True,
    )
    return photo


def get_reference(*, session: Session, booking: Booking, photo_id: uuid.UUID) -> ReferencePhoto:
    photo = session.get(ReferencePhoto, photo_id)
    if photo is None or photo.booking_id != booking.id:
        raise NotFound("No such reference photo.")
    return photo


def delete_reference(
    *, session: Session, actor: Actor, booking: Booking, photo: ReferencePhoto
) -> None:
    session.delete(photo)
    session.flush()
    record_change(session, booking, BookingAction.reference_deleted, actor, reference_id=photo.id)
    _reclear(session, booking)


def delete_all(*, session: Session, actor: Actor, booking: Booking, reason: str) -> int:
    """Delete every reference of a booking (opted back in, cancelled, or retention reached)."""
    photos = list_references(session=session, booking=booking)
    for photo in photos:
        session.delete(photo)
    if photos:
        session.flush()
        record_change(
            session,
            booking,
            BookingAction.references_purged,
            actor,
            count=len(photos),
            reason=reason,
        )
    return len(photos)


def _reclear(session: Session, booking: Booking) -> None:
    session.flush()
    signals.opt_outs_changed.send(session=session, event_id=booking.event_id, booking_id=booking.id)


def encoding_of(photo: ReferencePhoto) -> np.ndarray:
    raw = crypto.decrypt(photo.encoding, bound_to=str(photo.id))
    return np.frombuffer(raw, dtype="<f8").copy()


def thumbnail_of(photo: ReferencePhoto) -> bytes | None:
    if photo.thumbnail is None:
        return None
    return crypto.decrypt(photo.thumbnail, bound_to=f"{photo.id}:thumb")


def purge_expired(*, session: Session, at: datetime | None = None) -> int:
    """Delete biometric data past its retention date; returns how many references went."""
    at = at or utcnow()
    booking_ids = session.exec(
        select(ReferencePhoto.booking_id).where(ReferencePhoto.purge_after <= at).distinct()
    ).all()
    total = 0
    for booking_id in booking_ids:
        booking = session.get(Booking, booking_id)
        if booking is not None:
            total += delete_all(session=session, actor=SYSTEM, booking=booking, reason="retention")
    return total
