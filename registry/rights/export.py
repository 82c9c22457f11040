"""What people download about themselves.

A patient's record (`/c/{token}/export`): a ZIP with the consent receipt (`receipt.json`, ISO/IEC
TS 27560 fields, with the whole history of the request; `receipt.pdf`) and a thumbnail of each
photo or video the consent covers (`media/<id>.jpg`).

An attendee's data, as they can download it from their manage page: one ZIP with a JSON
document of everything held about their booking and, for each photo they were found in, a copy
in which every other person's face is covered (their own face and the scene stay visible).

Its format, `registry.attendee-export/1` (`my-data.json`), is typed in `export_format`.
Beside it, `my-data.pdf` says the same in words, for a person to read (`readable_export`).
Their "photos I am in" page shows the same covered copies, smaller (`covered_photo`).

Building the covered copies decodes every photo they were found in, so the ZIP is built once per
change of what it holds (kept, in this process's memory only, keyed by a digest of everything in
it) and downloads are throttled per booking and per client network.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.consent import receipt
from registry.consent import service as consent
from registry.consent.models import ConsentRequest
from registry.db import utcnow
from registry.errors import NotFound
from registry.events import mails, references
from registry.events import service as events
from registry.events.models import Booking, Event
from registry.mail.models import OutboxMessage
from registry.media import renditions
from registry.media import service as media_service
from registry.media.models import FaceReview, Media, MediaBadge, MediaFace, MediaObjection
from registry.media.storage import get_storage
from registry.organisation import service as organisation
from registry.publishing.models import Publication
from registry.rights import readable_export
from registry.rights.export_format import (
    AttendeeExport,
    BadgeInPhoto,
    BadgeInVideo,
    BookingPart,
    Choice,
    Controller,
    EventPart,
    FaceBox,
    FoundFace,
    FoundTrack,
    Mail,
    MediaEntry,
    Objection,
    PublicationPart,
    ReferencePhoto,
    Review,
)
from registry.vision import images, redact

HOW = {
    "face": "your reference photo",
    "badge": "your badge",
    "linked": "a face seen wearing your badge",
}
COPY_SIDE = 2560  # covered copies are at most this many pixels on their longer side
SHOWN_SIDE = 1280  # the copies their "photos I am in" page shows (a phone's full width, sharp)
MAIL_WORDS = {
    mails.CONFIRMATION: "Your booking confirmation, with your badge",
    mails.LINK: "Your private link",
    mails.CHOICE: "A confirmation that your choice changed",
    mails.REMINDER: "A reminder before the event",
}


def _found_in(session: Session, booking: Booking) -> list[Media]:
    """The event's media in which this booking's person was matched or their badge read."""
    by_face = select(MediaFace.media_id).where(MediaFace.booking_id == booking.id)
    by_badge = select(MediaBadge.media_id).where(MediaBadge.booking_id == booking.id)
    return list(
        session.exec(
            select(Media)
            .where(
                Media.event_id == booking.event_id,
                col(Media.id).in_(by_face) | col(Media.id).in_(by_badge),
            )
            .order_by(col(Media.created_at))
        ).all()
    )


def publications_of(*, session: Session, booking: Booking) -> list[Publication]:
    """Every publication (current or taken down) of media this booking's person was found in."""
    ids = [m.id for m in _found_in(session, booking)]
    if not ids:
        return []
    return list(session.exec(select(Publication).where(col(Publication.media_id).in_(ids))).all())


Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class CoveredCopy:
    """A copy to make: the stored original (by its content key) with these boxes covered."""

    key: str
    covered: tuple[Box, ...]


def _covered_copy(copy: CoveredCopy, side: int = COPY_SIDE) -> bytes:
    """The photo with every face but theirs covered, no metadata, at most `side` px."""
    image = images.decode(get_storage().get(copy.key)).image
    covered = redact.obscure(image, list(copy.covered))
    covered.thumbnail((side, side))
    return redact.clean_jpeg(covered, quality=88)


def _badges(session: Session, booking: Booking, media: Media) -> list[MediaBadge]:
    return list(
        session.exec(
            select(MediaBadge).where(
                MediaBadge.media_id == media.id, MediaBadge.booking_id == booking.id
            )
        ).all()
    )


def _copy_of(
    booking: Booking, media: Media, faces: list[MediaFace], badges: list[MediaBadge]
) -> CoveredCopy | None:
    """What of a photo they may see: every face covered but theirs (matched to them, or above
    their badge: someone who did not opt out is found by the badge alone). None for a video, or
    a photo whose faces are not known yet."""
    if media.kind != "photo" or media.status in ("pending", "processing", "failed"):
        return None
    worn = {b.face_number for b in badges if b.face_number is not None}
    mine = {
        (f.top, f.right, f.bottom, f.left)
        for f in faces
        if f.booking_id == booking.id or f.number in worn
    }
    boxes = [(f.top, f.right, f.bottom, f.left) for f in faces]
    return CoveredCopy(media.sha256, tuple(b for b in boxes if b not in mine))


class _Built:
    """Files already built (ZIPs, the page's copies), by the digest of what they hold (least
    recently used goes first)."""

    def __init__(self, max_bytes: int = 64_000_000) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            data = self._items.get(digest)
            if data is not None:
                self._items.move_to_end(digest)
            return data

    def put(self, digest: str, data: bytes) -> None:
        with self._lock:
            self._items[digest] = data
            while sum(len(v) for v in self._items.values()) > self.max_bytes and self._items:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


built = _Built()
shown = _Built(max_bytes=32_000_000)  # the page's copies: each decoded once per change


def covered_photo(*, session: Session, booking: Booking, media: Media) -> bytes:
    """A photo as their "photos I am in" page shows it: the copy their export holds (everyone
    else's face covered), at most SHOWN_SIDE px."""
    copy = _copy_of(
        booking,
        media,
        media_service.faces_of(session=session, media=media),
        _badges(session, booking, media),
    )
    if copy is None:
        raise NotFound("There is no photo to show for this item.")
    digest = hashlib.sha256(json.dumps([copy.key, copy.covered, SHOWN_SIDE]).encode()).hexdigest()
    ready = shown.get(digest)
    if ready is None:
        ready = _covered_copy(copy, SHOWN_SIDE)
        shown.put(digest, ready)
    return ready


def _found(media: Media, theirs: list[MediaFace]) -> list[FoundFace | FoundTrack]:
    found: list[FoundFace | FoundTrack] = []
    for f in theirs:
        how = HOW.get(f.via or "", f.via)
        box = FaceBox(top=f.top, right=f.right, bottom=f.bottom, left=f.left)
        if media.kind == "video":
            found.append(
                FoundTrack(
                    track=f.number, decision=f.decision, how=how, distance=f.distance, box=box,
                    start_s=f.start_s, end_s=f.end_s,
                )
            )  # fmt: skip
        else:
            found.append(
                FoundFace(face=f.number, decision=f.decision, how=how, distance=f.distance, box=box)
            )
    return found


def _badges_seen(media: Media, badges: list[MediaBadge]) -> list[BadgeInPhoto | BadgeInVideo]:
    if media.kind == "video":
        return [BadgeInVideo(at_s=b.t_s) for b in badges]
    return [BadgeInPhoto(box=(b.top, b.right, b.bottom, b.left)) for b in badges]


def _reviews(session: Session, media: Media, theirs: list[MediaFace]) -> list[Review]:
    numbers = {f.number for f in theirs}
    reviews = session.exec(
        select(FaceReview)
        .where(FaceReview.media_id == media.id, col(FaceReview.face_number).in_(numbers))
        .order_by(col(FaceReview.id))
    ).all()
    return [Review(face=r.face_number, decision=r.decision, by=r.actor, at=r.at) for r in reviews]


def _publications(session: Session, media: Media) -> list[PublicationPart]:
    publications = session.exec(
        select(Publication)
        .where(Publication.media_id == media.id)
        .order_by(col(Publication.published_at))
    ).all()
    return [
        PublicationPart(
            channel=p.channel,
            url=p.url,
            published_at=p.published_at,
            takedown_requested_at=p.takedown_requested_at,
            taken_down_at=p.taken_down_at,
        )
        for p in publications
    ]


def _media_entry(
    session: Session, booking: Booking, media: Media, copies: dict[str, CoveredCopy]
) -> MediaEntry:
    """What the document says of one photo or video; its covered copy, if any, is added to
    `copies` (made only when the ZIP is built)."""
    faces = media_service.faces_of(session=session, media=media)
    theirs = [f for f in faces if f.booking_id == booking.id]
    badges = _badges(session, booking, media)
    copy = _copy_of(booking, media, faces, badges)
    name = None
    if copy is not None:
        name = f"photos/{media.id}.jpg"
        copies[name] = copy
    return MediaEntry(
        id=str(media.id),
        kind=media.kind,
        file_name=media.filename,
        uploaded_at=media.created_at,
        status=str(media.status),
        found=_found(media, theirs),
        badge_seen=_badges_seen(media, badges),
        reviews=_reviews(session, media, theirs),
        publications=_publications(session, media),
        covered_copy=name,
    )


def _reference_photos(
    session: Session, booking: Booking, files: dict[str, bytes]
) -> list[ReferencePhoto]:
    """What is kept of each reference photo; its thumbnail, if any, is added to `files`."""
    kept = []
    for photo in references.list_references(session=session, booking=booking):
        name = None
        thumb = references.thumbnail_of(photo)
        if thumb is not None:
            name = f"references/{photo.id}.jpg"
            files[name] = thumb
        kept.append(
            ReferencePhoto(
                id=str(photo.id),
                added_at=photo.created_at,
                biometric_consent_at=photo.biometric_consent_at,
                deleted_after=photo.purge_after,
                face_width_px=photo.face_width,
                thumbnail=name,
            )
        )
    return kept


def _choices(session: Session, booking: Booking) -> list[Choice]:
    return [
        Choice(
            action=str(c.action),
            photo_opt_out=c.photo_opt_out,
            notice_version=c.notice_version,
            at=c.at,
            by=c.actor,
        )
        for c in events.history(session=session, booking=booking)
    ]


def _objections(session: Session, booking: Booking) -> list[Objection]:
    rows = session.exec(
        select(MediaObjection, Media.filename)
        .join(Media, col(Media.id) == col(MediaObjection.media_id))
        .where(MediaObjection.booking_id == booking.id)
        .order_by(col(MediaObjection.id))
    ).all()
    return [
        Objection(
            media_id=str(o.media_id),
            file_name=name,
            at=o.created_at,
            explanation=o.explanation,
            # Read back from the database, a stored enum is its plain string.
            decision=str(o.decision),
            decided_at=o.decided_at,
            decision_reason=o.decision_reason,
        )
        for o, name in rows
    ]


def _mails(session: Session, booking: Booking) -> list[Mail]:
    messages = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.entity_type == "booking", OutboxMessage.record_id == booking.id)
        .order_by(col(OutboxMessage.id))
    ).all()
    return [
        Mail(
            what=MAIL_WORDS.get(m.kind, m.kind),
            kind=m.kind,
            queued_at=m.created_at,
            sent_at=m.sent_at,
            state=str(m.state),
        )
        for m in messages
    ]


def _event_part(event: Event) -> EventPart:
    return EventPart(
        name=event.name,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        venue=event.venue,
        timezone=event.timezone,
    )


def _booking_part(booking: Booking) -> BookingPart:
    return BookingPart(
        name=booking.name,
        email=booking.email,
        booked_at=booking.created_at,
        badge_code=booking.badge_code,
        photo_opt_out=booking.photo_opt_out,
        notice_version=booking.notice_version,
        cancelled_at=booking.cancelled_at,
    )


@dataclass(frozen=True)
class AttendeeContents:
    """What an attendee's ZIP holds: the document, the files it names that are ready (reference
    thumbnails) and the covered copies still to make."""

    document: AttendeeExport
    files: dict[str, bytes]
    copies: dict[str, CoveredCopy]

    def digest(self, booking: Booking) -> str:
        """Equal for two exports that would hold the same (whenever they were generated)."""
        return hashlib.sha256(
            json.dumps(
                [
                    booking.id.hex,
                    self.document.model_dump(mode="json", exclude={"generated_at"}),
                    sorted((n, hashlib.sha256(d).hexdigest()) for n, d in self.files.items()),
                    sorted((n, c.key, c.covered) for n, c in self.copies.items()),
                ],
                sort_keys=True,
            ).encode()
        ).hexdigest()


def attendee_contents(*, session: Session, booking: Booking, event: Event) -> AttendeeContents:
    """Everything held about the booking, read from the database (nothing is made or recorded)."""
    files: dict[str, bytes] = {}
    copies: dict[str, CoveredCopy] = {}
    reference_photos = _reference_photos(session, booking, files)
    found = [_media_entry(session, booking, m, copies) for m in _found_in(session, booking)]
    org = organisation.profile(session=session)
    document = AttendeeExport(
        generated_at=utcnow(),
        controller=Controller(name=org.name, email=org.email, address=org.address),
        event=_event_part(event),
        booking=_booking_part(booking),
        choices=_choices(session, booking),
        reference_photos=reference_photos,
        media=found,
        objections=_objections(session, booking),
        mails=_mails(session, booking),
    )
    return AttendeeContents(document, files, copies)


def _attendee_zip(contents: AttendeeContents) -> bytes:
    """The ZIP itself: the document twice (for computers, for people) and every file it names."""
    document = contents.document
    files = dict(contents.files)
    files.update((name, _covered_copy(copy)) for name, copy in contents.copies.items())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        text = json.dumps(document.model_dump(mode="json"), indent=2, ensure_ascii=False)
        archive.writestr("my-data.json", text)
        archive.writestr("my-data.pdf", readable_export.pdf(document))
        for name, data in files.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)  # JPEGs: no gain
    return out.getvalue()


def attendee_export(*, session: Session, booking: Booking, event: Event, actor: Actor) -> bytes:
    """The ZIP an attendee downloads (recorded in the audit log, without its contents); built
    again only when something in it changed."""
    contents = attendee_contents(session=session, booking=booking, event=event)
    audit.record(
        session=session,
        actor=actor,
        action="booking.data_exported",
        entity_type="booking",
        entity_id=booking.id,
        after={
            "media": len(contents.document.media),
            "files": len(contents.files) + len(contents.copies),
        },
    )
    digest = contents.digest(booking)
    ready = built.get(digest)
    if ready is None:
        ready = _attendee_zip(contents)
        built.put(digest, ready)
    return ready


def patient_export(*, session: Session, request: ConsentRequest, actor: Actor) -> bytes:
    """The ZIP a patient (or their guardian) downloads from their consent page (audited)."""
    files: dict[str, bytes] = {
        "receipt.json": json.dumps(
            receipt.build_receipt(session=session, request=request).model_dump(mode="json"),
            indent=2,
            ensure_ascii=False,
        ).encode(),
        "receipt.pdf": receipt.receipt_pdf(session=session, request=request),
    }
    for media_id in consent.media_ids(session=session, request=request):
        media = session.get(Media, media_id)
        if media is None:
            continue
        try:
            files[f"media/{media_id}.jpg"] = renditions.small_copy(media=media, kind="thumbs")
        except (FileNotFoundError, images.ImageRejected):
            continue  # a file that can no longer be read: its id is still in the receipt
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    audit.record(
        session=session,
        actor=actor,
        action="consent.record_exported",
        entity_type="consent_request",
        entity_id=request.id,
        after={"files": len(files)},
    )
    return out.getvalue()
