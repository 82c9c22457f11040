"""Subject requests handled by staff: someone writes in (by mail, phone, letter) to ask what is
held about them, or to be erased. Staff record the request with the person's address; it is due
one calendar month after receipt (UK GDPR art. 12(3)). Every step is audited; the address itself
is kept only in the audit entry's personal fields and the request row, and both are erased with
the person's data.
"""

from __future__ import annotations

import calendar
import io
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from registry.addresses import one_address
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.consent.models import ConsentRequest
from registry.db import utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.events.models import Booking, Event, ReferencePhoto
from registry.media.models import MediaFace, MediaObjection
from registry.rights import erasure, export
from registry.rights.models import SubjectRequest


def one_month_after(moment: datetime) -> datetime:
    """The same day next month (or its last day when shorter), same time."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def create(*, session: Session, actor: Actor, email: str) -> SubjectRequest:
    address = one_address(email) or ""
    if not address:
        raise Invalid("Enter the person's email address, like name@example.org.", field="email")
    now = utcnow()
    request = SubjectRequest(
        email=address, received_at=now, due_at=one_month_after(now), created_by=actor.label
    )
    session.add(request)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="subject_request.received",
        entity_type="subject_request",
        entity_id=request.id,
        after={"due_at": request.due_at},
        personal={"email": address},
    )
    return request


def get(*, session: Session, request_id: uuid.UUID) -> SubjectRequest:
    request = session.get(SubjectRequest, request_id)
    if request is None:
        raise NotFound("No subject request with this id.")
    return request


def list_requests(*, session: Session) -> list[SubjectRequest]:
    return list(
        session.exec(select(SubjectRequest).order_by(col(SubjectRequest.received_at).desc())).all()
    )


@dataclass
class Found:
    """What the registry holds about the address, across every event and consent."""

    bookings: list[tuple[Booking, Event]] = field(default_factory=list)
    consents: list[ConsentRequest] = field(default_factory=list)
    reference_photos: int = 0
    faces: int = 0
    objections: int = 0
    publications: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "bookings": [
                {
                    "id": str(b.id),
                    "event_id": str(e.id),
                    "event": e.name,
                    "event_starts_at": e.starts_at.isoformat(),
                    "name": b.name,
                    "photo_opt_out": b.photo_opt_out,
                    "cancelled": b.cancelled_at is not None,
                }
                for b, e in self.bookings
            ],
            "consents": [
                {
                    "id": str(c.id),
                    "subject": c.subject_name,
                    "status": str(c.status),
                    "created_at": c.created_at.isoformat(),
                    "published": c.erase_requested_at is not None,
                }
                for c in self.consents
            ],
            "reference_photos": self.reference_photos,
            "faces": self.faces,
            "objections": self.objections,
            "publications": self.publications,
        }


def find(*, session: Session, actor: Actor, request: SubjectRequest) -> Found:
    """Everything held about the request's address (audited as a look, without the results)."""
    found = Found()
    if request.email is None:
        return found
    for booking in erasure.bookings_of(session=session, email=request.email):
        event = session.get(Event, booking.event_id)
        if event is not None:
            found.bookings.append((booking, event))
    found.consents = erasure.consents_of(session=session, email=request.email)
    ids = [b.id for b, _ in found.bookings]
    if ids:
        found.reference_photos = len(
            session.exec(
                select(ReferencePhoto.id).where(col(ReferencePhoto.booking_id).in_(ids))
            ).all()
        )
        found.faces = len(
            session.exec(select(MediaFace.id).where(col(MediaFace.booking_id).in_(ids))).all()
        )
        found.objections = len(
            session.exec(
                select(MediaObjection.id).where(col(MediaObjection.booking_id).in_(ids))
            ).all()
        )
    found.publications = sum(
        len(export.publications_of(session=session, booking=b)) for b, _ in found.bookings
    ) + sum(len(erasure.published_on(session, c)) for c in found.consents)
    audit.record(
        session=session,
        actor=actor,
        action="subject_request.searched",
        entity_type="subject_request",
        entity_id=request.id,
        after={"bookings": len(found.bookings), "consents": len(found.consents)},
    )
    return found


def export_zip(*, session: Session, actor: Actor, request: SubjectRequest) -> bytes:
    """One ZIP with, for each booking, the attendee's own export (`bookings/<id>/...`, format
    registry.attendee-export/1) and, for each consent, the patient's record
    (`consents/<id>/...`)."""
    if request.email is None:
        raise Conflict("This request's data was erased: there is nothing left to export.")
    found = find(session=session, actor=actor, request=request)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for booking, event in found.bookings:
            _nest(
                archive,
                f"bookings/{booking.id}/",
                export.attendee_export(session=session, booking=booking, event=event, actor=actor),
            )
        for consent in found.consents:
            _nest(
                archive,
                f"consents/{consent.id}/",
                export.patient_export(session=session, request=consent, actor=actor),
            )
    request.exported_at = utcnow()
    if request.status == "open":
        request.status = "exported"
    session.add(request)
    audit.record(
        session=session,
        actor=actor,
        action="subject_request.exported",
        entity_type="subject_request",
        entity_id=request.id,
        after={"bookings": len(found.bookings), "consents": len(found.consents)},
    )
    return out.getvalue()


def _nest(archive: zipfile.ZipFile, prefix: str, data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as inner:
        for name in inner.namelist():
            archive.writestr(prefix + name, inner.read(name))


def erase(*, session: Session, actor: Actor, request: SubjectRequest) -> dict[str, int]:
    """Erase everything held about the address (see `registry.rights.erasure`)."""
    if request.email is None:
        raise Conflict("This request's data has already been erased.")
    bookings = erasure.bookings_of(session=session, email=request.email)
    consents = erasure.consents_of(session=session, email=request.email)
    counts: dict[str, int] = {
        "bookings": 0,
        "consents_deleted": 0,
        "consents_pseudonymised": 0,
        "face_encodings": 0,
        "reference_photos": 0,
    }
    for booking in bookings:
        done = erasure.erase_booking(session=session, actor=actor, booking=booking)
        counts["bookings"] += 1
        counts["face_encodings"] += done["face_encodings"]
        counts["reference_photos"] += done["reference_photos"]
    for consent in consents:
        outcome = erasure.erase_consent(session=session, actor=actor, request=consent)
        counts[f"consents_{outcome}"] += 1
    request.email = None
    request.status = "erased"
    request.erased_at = utcnow()
    request.erased = counts
    session.add(request)
    audit.erase_personal(session=session, entity_type="subject_request", entity_ids=[request.id])
    audit.record(
        session=session,
        actor=actor,
        action="subject_request.erased",
        entity_type="subject_request",
        entity_id=request.id,
        after=counts,
    )
    return counts


def close(*, session: Session, actor: Actor, request: SubjectRequest) -> SubjectRequest:
    """Answered without erasure (e.g. access only): the address is no longer needed."""
    if request.status in ("erased", "closed"):
        return request
    request.status = "closed"
    request.email = None
    session.add(request)
    audit.erase_personal(session=session, entity_type="subject_request", entity_ids=[request.id])
    audit.record(
        session=session,
        actor=actor,
        action="subject_request.closed",
        entity_type="subject_request",
        entity_id=request.id,
        after={"status": "closed"},
    )
    return request
