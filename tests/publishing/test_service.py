"""Publications, takedowns and notifications through the service (real DB, real storage)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from PIL import Image
from sqlmodel import Session, col, select

from registry.audit.models import AuditEntry
from registry.audit.service import SYSTEM, Actor
from registry.consent.models import ConsentRequest
from registry.db import utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.events import service as events
from registry.events.models import Booking, Event
from registry.mail.models import OutboxMessage
from registry.media import reviews
from registry.media import service as media_service
from registry.media.models import Media, MediaStatus, Rendition
from registry.media.storage import get_storage
from registry.publishing import certificates, facts, service, takedowns
from registry.publishing.models import Publication
from tests.consent.factories import grant

COMMS = Actor.staff(1)

MakeMedia = Callable[..., Media]


def _publications(session: Session, media: Media) -> list[Publication]:
    return list(session.exec(select(Publication).where(Publication.media_id == media.id)).all())


def _audit_actions(session: Session, entity_id: object) -> list[str]:
    return list(
        session.exec(select(AuditEntry.action).where(AuditEntry.entity_id == str(entity_id))).all()
    )


def _redacted(session: Session, media: Media, faces: list[int], badges: list[str]) -> Rendition:
    rendition = Rendition(
        media_id=media.id,
        kind="redacted",
        sha256=uuid.uuid4().hex * 2,
        verified=True,
        obscured_faces=faces,
        obscured_badges=badges,
        created_by="test",
    )
    session.add(rendition)
    session.flush()
    return rendition


@pytest.fixture
def clinical(
    session: Session, make_media: MakeMedia, make_consent: Callable[..., ConsentRequest]
) -> tuple[Media, ConsentRequest]:
    """Case-study media showing one face, with the patient's consent granted for social media."""
    media = make_media(faces=[("clear", None)])
    consent = make_consent(channels=["public_social", "internal"], media_ids=[media.id])
    grant(session, consent)
    return media, consent


def test_publish_event_photo_records_basis_certificate_and_a_metadata_free_file(
    session: Session, make_event: Callable[..., Event], make_media: MakeMedia
) -> None:
    event = make_event()
    media = make_media(event=event, faces=[("clear", None)])
    original = Image.open(io.BytesIO(get_storage().get(media.sha256)))
    assert original.getexif()  # the upload carries camera and GPS data

    publication, created = service.publish(
        session=session,
        actor=COMMS,
        media=media,
        channel="public_social",
        url="https://social.example/posts/1",
    )

    assert created
    rendition = session.get(Rendition, publication.rendition_id)
    assert rendition is not None
    assert rendition.kind == "clean"
    published = Image.open(io.BytesIO(get_storage().get(rendition.sha256, kind="renditions")))
    assert not published.getexif()
    assert "exif" not in published.info
    assert publication.basis == {
        "consents": [],
        "event": {"id": str(event.id), "notice_version": 1},
    }
    claims = certificates.verify(publication.certificate)
    assert claims["sub"] == f"urn:sha256:{rendition.sha256}"
    assert claims["channel"] == "public_social"
    assert claims["media"]["sha256"] == media.sha256
    assert claims["jti"] == str(publication.id)
    assert "publication.recorded" in _audit_actions(session, publication.id)


def test_refusal_records_nothing_and_makes_no_copy(
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: MakeMedia,
) -> None:
    event = make_event()
    alice = make_booking(event=event, opt_out=True)
    media = make_media(event=event, status=MediaStatus.flagged, faces=[("opted_out", alice)])

    with pytest.raises(service.Refused) as refused:
        service.publish(session=session, actor=COMMS, media=media, channel="internal")

    assert refused.value.status_code == 409
    assert any("opted out" in r and "Pat Attendee" in r for r in refused.value.reasons)
    assert _publications(session, media) == []
    assert media_service.renditions_of(session=session, media=media) == []


def test_verified_redacted_copy_of_a_flagged_photo_may_be_published(
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: MakeMedia,
) -> None:
    event = make_event()
    alice = make_booking(event=event, opt_out=True)
    media = make_media(
        event=event, status=MediaStatus.flagged, faces=[("opted_out", alice)], badges=[alice]
    )
    redacted = _redacted(session, media, [1], [alice.badge_code])

    publication, created = service.publish(
        session=session, actor=COMMS, media=media, channel="internal", rendition_id=redacted.id
    )

    assert created
    assert publication.rendition_id == redacted.id


def test_same_channel_and_url_twice_returns_the_first_record(
    session: Session, make_event: Callable[..., Event], make_media: MakeMedia
) -> None:
    media = make_media(event=make_event())
    first, created = service.publish(
        session=session, actor=COMMS, media=media, channel="print", url="https://x.example/a"
    )
    again, created_again = service.publish(
        session=session, actor=COMMS, media=media, channel="print", url="https://x.example/a"
    )
    other, created_other = service.publish(
        session=session, actor=COMMS, media=media, channel="print", url="https://x.example/b"
    )
    assert created
    assert not created_again
    assert again.id == first.id
    assert created_other
    assert other.id != first.id
    assert len(_publications(session, media)) == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "tiktok"}, Invalid),
        ({"channel": ""}, Invalid),
        ({"channel": "internal", "url": "javascript:alert(1)"}, Invalid),
        ({"channel": "internal", "url": "not a url"}, Invalid),
        ({"channel": "internal", "rendition_id": uuid.uuid4()}, NotFound),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    session: Session,
    make_event: Callable[..., Event],
    make_media: MakeMedia,
    kwargs: dict[str, object],
    error: type[Exception],
) -> None:
    media = make_media(event=make_event())
    with pytest.raises(error):
        service.publish(session=session, actor=COMMS, media=media, **kwargs)  # type: ignore[arg-type]
    assert _publications(session, media) == []


def test_rendition_of_other_media_is_not_found(
    session: Session, make_event: Callable[..., Event], make_media: MakeMedia
) -> None:
    event = make_event()
    mine, theirs = make_media(event=event), make_media(event=event)
    foreign = _redacted(session, theirs, [], [])
    with pytest.raises(NotFound):
        service.publish(
            session=session, actor=COMMS, media=mine, channel="internal", rendition_id=foreign.id
        )


def test_revoke_after_publication_requires_takedown_and_tells_staff(
    session: Session, clinical: tuple[Media, ConsentRequest], make_staff: Callable[..., object]
) -> None:
    make_staff(email="comms@example.org")
    media, consent = clinical
    publication, _ = service.publish(
        session=session,
        actor=COMMS,
        media=media,
        channel="public_social",
        url="https://s.example/1",
    )
    assert takedowns.takedowns(session=session) == []

    grant(session, consent, "revoke")

    [(due, reasons)] = takedowns.takedowns(session=session)
    assert due.id == publication.id
    assert any("withdrew consent" in r for r in reasons)
    session.refresh(publication)
    assert publication.takedown_requested_at is not None
    staff_notices = select(OutboxMessage).where(OutboxMessage.kind == "staff.notice")
    note = session.exec(staff_notices.order_by(col(OutboxMessage.id).desc())).first()
    assert note is not None
    assert note.payload["subject"] == "Take down 1 publication"
    assert "https://s.example/1" in str(note.payload["body"])
    assert "comms@example.org" in note.payload["to"]  # type: ignore[operator]
    assert "publication.takedown_required" in _audit_actions(session, publication.id)
    # A second withdrawal-type change does not mail staff again about the same publication.
    grant(session, consent, "revoke")
    assert len(session.exec(staff_notices).all()) == 1

    takedowns.mark_taken_down(session=session, actor=COMMS, publication=publication, note="deleted")
    assert takedowns.takedowns(session=session) == []
    assert "publication.taken_down" in _audit_actions(session, publication.id)
    with pytest.raises(Conflict):  # the URL it was at is settled; a new post needs a new record
        service.publish(
            session=session,
            actor=COMMS,
            media=media,
            channel="public_social",
            url="https://s.example/1",
        )


def test_revoked_consent_blocks_new_publication(
    session: Session, clinical: tuple[Media, ConsentRequest]
) -> None:
    media, consent = clinical
    grant(session, consent, "revoke")
    with pytest.raises(service.Refused) as refused:
        service.publish(session=session, actor=COMMS, media=media, channel="public_social")
    assert any("withdrew consent" in r for r in refused.value.reasons)


def test_opt_out_after_publication_requires_takedown(
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: MakeMedia,
) -> None:
    event = make_event()
    bob = make_booking(event=event)
    media = make_media(event=event, faces=[("clear", None)], badges=[bob])
    publication, _ = service.publish(session=session, actor=COMMS, media=media, channel="internal")

    events.set_opt_out(session=session, actor=SYSTEM, booking=bob, opt_out=True)

    [(due, reasons)] = takedowns.takedowns(session=session)
    assert due.id == publication.id
    assert any("the badge of Pat Attendee" in r for r in reasons)


def test_narrowing_the_event_channels_requires_takedown_elsewhere(
    session: Session, make_event: Callable[..., Event], make_media: MakeMedia
) -> None:
    event = make_event()
    media = make_media(event=event)
    service.publish(session=session, actor=COMMS, media=media, channel="public_social")
    kept, _ = service.publish(session=session, actor=COMMS, media=media, channel="internal")

    events.update_event(session=session, actor=SYSTEM, event=event, channels=["internal"])

    [(due, reasons)] = takedowns.takedowns(session=session)
    assert due.channel == "public_social"
    assert kept.id != due.id
    assert "filming notice" in reasons[0]


def test_consent_expiry_is_caught_by_the_periodic_job_and_bounds_the_certificate(
    session: Session, make_media: MakeMedia, make_consent: Callable[..., ConsentRequest]
) -> None:
    media = make_media(faces=[("clear", None)])
    ends = utcnow() + timedelta(days=3)
    consent = make_consent(channels=["internal"], media_ids=[media.id], expires_at=ends)
    grant(session, consent)
    publication, _ = service.publish(session=session, actor=COMMS, media=media, channel="internal")
    assert abs((publication.certificate_expires_at - ends).total_seconds()) < 1

    later = ends + timedelta(hours=1)
    assert takedowns.notice_takedowns(session=session, at=later) == 1
    assert takedowns.notice_takedowns(session=session, at=later) == 0  # told once
    [(due, reasons)] = takedowns.takedowns(session=session, at=later)
    assert due.id == publication.id
    assert "expired" in reasons[0]


def test_clinical_media_needs_one_consent_per_face_unless_staff_consented_otherwise(
    session: Session, make_media: MakeMedia, make_consent: Callable[..., ConsentRequest]
) -> None:
    media = make_media(faces=[("clear", None), ("clear", None)])
    grant(session, make_consent(channels=["internal"], media_ids=[media.id]))
    verdict = facts.publishable(session=session, media=media, channel="internal")
    assert not verdict.allowed
    assert "more consent needed" in verdict.reasons[0]

    with pytest.raises(Invalid):  # how they consented must be said
        reviews.review_face(
            session=session, actor=COMMS, media=media, face_number=2, decision="consented_otherwise"
        )
    reviews.review_face(
        session=session,
        actor=COMMS,
        media=media,
        face_number=2,
        decision="consented_otherwise",
        note="Physiotherapist; signed staff photo release 2026",
    )
    assert facts.publishable(session=session, media=media, channel="internal").allowed


def test_consented_otherwise_is_refused_for_event_photos(
    session: Session, make_event: Callable[..., Event], make_media: MakeMedia
) -> None:
    media = make_media(event=make_event(), faces=[("clear", None)])
    with pytest.raises(Conflict):
        reviews.review_face(
            session=session,
            actor=COMMS,
            media=media,
            face_number=1,
            decision="consented_otherwise",
            note="staff",
        )


def test_readiness_offers_the_redacted_copy_when_the_original_is_blocked(
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: MakeMedia,
) -> None:
    event = make_event()
    alice = make_booking(event=event, opt_out=True)
    clean = make_media(event=event)
    flagged = make_media(event=event, status=MediaStatus.flagged, faces=[("opted_out", alice)])
    blocked = make_media(event=event, status=MediaStatus.flagged, faces=[("opted_out", alice)])
    redacted = _redacted(session, flagged, [1], [])

    rows = {
        r.media.id: r
        for r in service.readiness(
            session=session, media=[clean, flagged, blocked], channel="internal"
        )
    }

    assert rows[clean.id].allowed
    assert rows[clean.id].rendition is None
    assert rows[flagged.id].allowed
    assert rows[flagged.id].rendition == redacted
    assert not rows[blocked.id].allowed
    assert rows[blocked.id].reasons
