"""Upload, clearance and re-clearance with the real vision pipeline on composed photos."""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, select

from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.db import utcnow
from registry.events import references
from registry.events import service as events
from registry.events.models import Booking, Event
from registry.media import (
    analyses,
    biometrics,
    decisions,
    leases,
    reclear,
    renditions,
    reviews,
    service,
)
from registry.media.models import Media, MediaFace, MediaStatus, TransientReference
from registry.media.storage import sha256_of
from tests.vision import compose

MakeBooking = Callable[..., Booking]


@pytest.fixture(scope="module")
def people(faces_dir: Path) -> dict[str, list[compose.Portrait]]:
    return compose.portraits(faces_dir)


def photo(
    faces_dir: Path,
    placements: list[tuple[compose.Portrait, int, str | None]],
    seed: int = 1,
) -> bytes:
    """A 3000x2000 photo with the given (portrait, face px, badge code) placements."""
    rng = random.Random(seed)
    canvas = compose.background(faces_dir, (3000, 2000), rng)
    for slot, (portrait, size, code) in enumerate(placements):
        x = 500 + slot * 900
        box = compose.paste_face(canvas, portrait, size, (x, 800))
        if code:
            badge = compose.badge_image(code, 4)
            canvas.paste(badge, (x - badge.width // 2, box[2] + size))
    return compose.Composed(canvas).jpeg()


def upload(session: Session, event: Event | None, data: bytes, name: str = "p.jpg") -> Media:
    [(media, _)] = service.upload(
        session=session, actor=SYSTEM, files=[service.Upload(name, data)], event=event
    )
    return media


def with_reference(session: Session, booking: Booking, portrait: compose.Portrait) -> None:
    references.add_reference(
        session=session,
        actor=SYSTEM,
        booking=booking,
        event=events.get_event(session=session, event_id=booking.event_id),
        data=portrait.path.read_bytes(),
        biometric_consent=True,
    )


@pytest.fixture
def flagged(
    session: Session,
    faces_dir: Path,
    people: dict[str, list[compose.Portrait]],
    make_booking: MakeBooking,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> tuple[Booking, Media]:
    """An attendee who opted out (with a reference photo) and a cleared photo of them and
    someone else: flagged."""
    alice = make_booking(opt_out=True)
    event = events.get_event(session=session, event_id=alice.event_id)
    obama, biden = people["barack_obama"], people["joe_biden"]
    with_reference(session, alice, obama[0])
    media = upload(session, event, photo(faces_dir, [(obama[1], 150, None), (biden[0], 150, None)]))
    assert run_job(media.id) == MediaStatus.flagged
    return alice, media


def test_opted_out_face_flags_the_photo_and_opting_in_clears_it(
    session: Session, flagged: tuple[Booking, Media]
) -> None:
    alice, media = flagged
    matched = [f for f in service.faces_of(session=session, media=media) if f.booking_id]
    assert [(f.booking_id, f.via, f.decision) for f in matched] == [(alice.id, "face", "opted_out")]
    assert any("strong match for an attendee who opted out" in r for r in media.reasons)

    events.set_opt_out(session=session, actor=SYSTEM, booking=alice, opt_out=False)
    session.refresh(media)
    assert media.status == MediaStatus.cleared


def test_a_badge_teaches_the_face_and_other_photos_are_recleared(
    session: Session,
    faces_dir: Path,
    people: dict[str, list[compose.Portrait]],
    make_booking: MakeBooking,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    bob = make_booking(opt_out=True)  # no reference photo
    event = events.get_event(session=session, event_id=bob.event_id)
    kit = people["kit_harington"]
    without_badge = upload(session, event, photo(faces_dir, [(kit[0], 130, None)], seed=2))
    assert run_job(without_badge.id) == MediaStatus.cleared
    with_badge = upload(session, event, photo(faces_dir, [(kit[1], 160, bob.badge_code)], seed=3))
    assert run_job(with_badge.id) == MediaStatus.flagged
    [worn] = [f for f in service.faces_of(session=session, media=with_badge) if f.booking_id]
    assert worn.via == "badge"
    assert session.exec(select(TransientReference)).all()
    # One sighting could be a bystander next to the badge: the other photo goes to a person.
    session.refresh(without_badge)
    assert without_badge.status == MediaStatus.needs_review
    [linked] = [f for f in service.faces_of(session=session, media=without_badge) if f.booking_id]
    assert (linked.booking_id, linked.via, linked.decision) == (bob.id, "linked", "review")
    assert any("not confirmed yet" in r for r in without_badge.reasons)

    # The same face with the same badge again corroborates the sighting: now it flags.
    again = upload(session, event, photo(faces_dir, [(kit[2], 150, bob.badge_code)], seed=4))
    assert run_job(again.id) == MediaStatus.flagged
    session.refresh(without_badge)
    corroborated: MediaStatus = without_badge.status  # read again, not the one asserted above
    assert corroborated == MediaStatus.flagged
    [linked] = [f for f in service.faces_of(session=session, media=without_badge) if f.booking_id]
    assert (linked.booking_id, linked.via, linked.decision) == (bob.id, "linked", "opted_out")


def test_not_this_person_is_kept_through_reclearance(
    session: Session, flagged: tuple[Booking, Media]
) -> None:
    alice, media = flagged
    [face] = [f for f in service.faces_of(session=session, media=media) if f.booking_id]
    reviews.review_face(
        session=session,
        actor=SYSTEM,
        media=media,
        face_number=face.number,
        decision="not_this_person",
    )
    assert media.status == MediaStatus.cleared
    reclear.reclear_event(session=session, event_id=alice.event_id)
    assert media.status == MediaStatus.cleared


def test_bad_files_get_a_failed_record_with_the_reason(
    session: Session,
    make_event: Callable[..., Event],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    event = make_event()
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")  # 144 MP
    good = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 120, 150)).save(good, format="JPEG")
    truncated = good.getvalue()[: len(good.getvalue()) // 2]
    results = service.upload(
        session=session,
        actor=SYSTEM,
        event=event,
        files=[
            service.Upload("notes.txt", b"hello, not a photo"),
            service.Upload("empty.jpg", b""),
            service.Upload("huge.png", bomb.getvalue()),
            service.Upload("cut.jpg", truncated),
            service.Upload("../../etc/passwd.jpg", good.getvalue()),
        ],
    )
    statuses = [(m.filename, m.status, m.failure or "") for m, _ in results]
    assert [s[1] for s in statuses[:3]] == [MediaStatus.failed] * 3
    assert "not an image" in statuses[0][2]
    assert "empty" in statuses[1][2]
    assert "(144 MP); the limit is 60 MP" in statuses[2][2]
    assert statuses[3][1] == MediaStatus.pending  # only decoding finds the truncation
    assert statuses[4][0] == "passwd.jpg"
    assert run_job(results[3][0].id) == MediaStatus.failed
    assert "truncated" in (results[3][0].failure or "")
    assert run_job(results[4][0].id) == MediaStatus.cleared


def test_same_bytes_are_stored_once(session: Session, make_event: Callable[..., Event]) -> None:
    data = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(data, format="PNG")
    event = make_event()
    first = upload(session, event, data.getvalue())
    [(again, created)] = service.upload(
        session=session, actor=SYSTEM, files=[service.Upload("x.png", data.getvalue())], event=event
    )
    assert (again.id, created) == (first.id, False)


def test_the_same_file_in_another_event_is_cleared_against_that_event(
    session: Session,
    faces_dir: Path,
    people: dict[str, list[compose.Portrait]],
    make_booking: MakeBooking,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    """Identity is (event, content): the photo of an attendee who opted out of event A only is
    flagged in A and cleared in B, each its own record (the stored file is shared)."""
    alice = make_booking(opt_out=True)
    event_a = events.get_event(session=session, event_id=alice.event_id)
    obama = people["barack_obama"]
    with_reference(session, alice, obama[0])
    other = make_booking()  # another event, where nobody opted out
    event_b = events.get_event(session=session, event_id=other.event_id)
    data = photo(faces_dir, [(obama[1], 150, None)], seed=8)
    in_a = upload(session, event_a, data)
    in_b = upload(session, event_b, data)
    loose = upload(session, None, data)
    assert len({in_a.id, in_b.id, loose.id}) == 3
    assert in_a.sha256 == in_b.sha256 == loose.sha256
    assert upload(session, None, data).id == loose.id  # no event: still stored once
    assert run_job(in_a.id) == MediaStatus.flagged
    assert run_job(in_b.id) == MediaStatus.cleared


def test_storing_an_analysis_twice_gives_the_same_rows(
    session: Session,
    faces_dir: Path,
    people: dict[str, list[compose.Portrait]],
    make_event: Callable[..., Event],
) -> None:
    from registry.vision import analysis

    data = photo(faces_dir, [(people["joe_biden"][0], 120, None)], seed=5)
    media = upload(session, make_event(), data)
    result = analysis.analyse(data)
    assert leases.claim(session=session, media_id=media.id)
    analyses.store_analysis(session=session, media_id=media.id, result=result)
    media.status = MediaStatus.processing  # a redelivery of the same job
    analyses.store_analysis(session=session, media_id=media.id, result=result)
    rows = session.exec(select(MediaFace).where(MediaFace.media_id == media.id)).all()
    assert len(rows) == len(result.faces) == 1


def test_a_stuck_photo_returns_to_pending(
    session: Session, make_event: Callable[..., Event]
) -> None:
    data = io.BytesIO()
    Image.new("RGB", (64, 64), (4, 5, 6)).save(data, format="PNG")
    media = upload(session, make_event(), data.getvalue())
    assert leases.claim(session=session, media_id=media.id)
    assert leases.claim(session=session, media_id=media.id) is None  # leased
    assert media.id not in leases.release_stale(session=session)
    media.lease_until = utcnow() - timedelta(seconds=1)
    assert media.id in leases.release_stale(session=session)
    assert media.status == MediaStatus.pending


def test_an_expired_lease_can_be_claimed_again(
    session: Session, make_event: Callable[..., Event]
) -> None:
    data = io.BytesIO()
    Image.new("RGB", (64, 64), (7, 5, 6)).save(data, format="PNG")
    media = upload(session, make_event(), data.getvalue())
    assert leases.claim(session=session, media_id=media.id)
    media.lease_until = utcnow() - timedelta(seconds=1)  # its worker died
    session.add(media)
    assert leases.claim(session=session, media_id=media.id)  # a redelivered message takes it
    assert media.attempts == 2
    assert media.lease_until is not None
    assert media.lease_until > utcnow()


def test_the_sweep_queues_dead_and_forgotten_photos_once_per_lease(
    session: Session, make_event: Callable[..., Event]
) -> None:
    event = make_event()
    made = []
    for shade in range(4):
        data = io.BytesIO()
        Image.new("RGB", (64, 64), (shade, 9, 9)).save(data, format="PNG")
        made.append(upload(session, event, data.getvalue()))
    dead, forgotten, fresh, working = made
    now = utcnow()
    span = leases.lease()
    resend = timedelta(minutes=get_settings().pending_resend_minutes)
    for media in made:
        media.created_at = now - resend * 2
    fresh.created_at = now  # just uploaded: its message is surely still queued
    assert leases.claim(session=session, media_id=dead.id)
    assert leases.claim(session=session, media_id=working.id)
    dead.lease_until = now - timedelta(seconds=1)
    for media in made:
        session.add(media)
    session.flush()

    due = leases.sweep(session=session, at=now)
    assert set(due) >= {dead.id, forgotten.id}
    assert fresh.id not in due
    assert working.id not in due  # its lease still runs (a heartbeat would renew it)
    assert dead.status == MediaStatus.pending
    # Not again within the resend period; again after it (and the lost worker's photo too).
    again = leases.sweep(session=session, at=now + span * 2)
    assert dead.id not in again
    assert forgotten.id not in again
    assert working.id in again  # its lease ran out: its worker is dead
    later = leases.sweep(session=session, at=now + resend + timedelta(seconds=1))
    assert {dead.id, forgotten.id} <= set(later)


def test_purge_removes_face_encodings_but_keeps_the_decision(
    session: Session,
    faces_dir: Path,
    people: dict[str, list[compose.Portrait]],
    make_event: Callable[..., Event],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    past = make_event(
        starts_at=utcnow() - timedelta(days=60), ends_at=utcnow() - timedelta(days=59)
    )
    media = upload(session, past, photo(faces_dir, [(people["joe_biden"][0], 120, None)], seed=6))
    run_job(media.id)
    assert biometrics.purge_biometrics(session=session) >= 1
    [face] = service.faces_of(session=session, media=media)
    assert face.encoding is None
    assert media.status == MediaStatus.cleared


def test_a_match_survives_the_purge_of_its_templates_until_they_opt_back_in(
    session: Session, flagged: tuple[Booking, Media]
) -> None:
    """Retention deletes every template (the photo's face encodings, the reference photo);
    re-clearing the photo afterwards must not turn it publishable while they stay opted out."""
    from registry.publishing import service as publishing

    alice, media = flagged
    far = utcnow() + timedelta(days=3650)
    assert biometrics.purge_biometrics(session=session, at=far) >= 2
    assert references.purge_expired(session=session, at=far) == 1
    assert all(f.encoding is None for f in service.faces_of(session=session, media=media))

    assert decisions.evaluate(session=session, media=media) == MediaStatus.flagged
    [matched] = [f for f in service.faces_of(session=session, media=media) if f.booking_id]
    assert (matched.booking_id, matched.decision) == (alice.id, "opted_out")
    assert any("before its template was deleted" in r for r in media.reasons)
    [ready] = publishing.readiness(session=session, media=[media], channel="internal")
    assert not ready.allowed
    assert any("people who opted out" in r for r in ready.reasons)

    events.set_opt_out(session=session, actor=SYSTEM, booking=alice, opt_out=False)
    session.refresh(media)
    assert media.status == MediaStatus.cleared
    [ready] = publishing.readiness(session=session, media=[media], channel="internal")
    assert not any("people who opted out" in r for r in ready.reasons)


def test_every_template_has_a_purge_date_that_follows_the_event(
    session: Session,
    faces_dir: Path,
    people: dict[str, list[compose.Portrait]],
    make_event: Callable[..., Event],
    make_booking: MakeBooking,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    """Photos not from an event lose their encodings after `biometric_days_without_event`;
    an event's photos follow its purge date when its end or retention is edited."""
    loose = upload(session, None, photo(faces_dir, [(people["joe_biden"][0], 150, None)], seed=3))
    run_job(loose.id)
    [face] = service.faces_of(session=session, media=loose)
    days = get_settings().biometric_days_without_event
    assert face.purge_after == loose.created_at + timedelta(days=days)
    # A face stored before dates were given to every template is purged by upload date too.
    face.purge_after = None
    session.add(face)
    assert biometrics.purge_biometrics(session=session, at=utcnow() + timedelta(days=days - 1)) == 0
    assert biometrics.purge_biometrics(session=session, at=utcnow() + timedelta(days=days + 1)) == 1
    assert face.encoding is None

    event = make_event()
    media = upload(session, event, photo(faces_dir, [(people["joe_biden"][1], 150, None)], seed=4))
    run_job(media.id)
    learnt = TransientReference(
        event_id=event.id,
        booking_id=make_booking(event=event, opt_out=True).id,
        media_id=media.id,
        face_number=1,
        encoding=b"sealed",
        purge_after=references.purge_date(event),
    )
    session.add(learnt)
    events.update_event(session=session, actor=SYSTEM, event=event, biometric_retention_days=5)
    due = references.purge_date(event)
    [face] = service.faces_of(session=session, media=media)
    assert face.purge_after == due
    assert learnt.purge_after == due
    assert biometrics.purge_biometrics(session=session, at=due - timedelta(seconds=1)) == 0
    assert biometrics.purge_biometrics(session=session, at=due) == 2


def test_rotating_the_biometric_key_reseals_every_template(
    session: Session, flagged: tuple[Booking, Media], monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import os

    from registry import crypto
    from registry.media import rotation

    alice, media = flagged
    settings = get_settings()
    old = crypto.key_from(
        biometric_key=settings.biometric_key, secret_key=settings.resolved_secret_key()
    )
    new_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    monkeypatch.setattr(settings, "biometric_key", new_key)
    [photo] = references.list_references(session=session, booking=alice)
    with pytest.raises(crypto.DecryptionFailed):
        references.encoding_of(photo)  # the new key cannot read what the old one sealed

    report = rotation.rotate(session=session, actor=SYSTEM, old_key=old)
    faces = [f for f in service.faces_of(session=session, media=media) if f.encoding]
    assert report.resealed == len(faces) + 2  # the faces, the reference and its thumbnail
    assert report.unreadable == []
    assert references.encoding_of(photo).shape == (128,)
    assert decisions.evaluate(session=session, media=media) == MediaStatus.flagged
    again = rotation.rotate(session=session, actor=SYSTEM, old_key=old)
    assert (again.resealed, again.current) == (0, report.resealed)


def test_redacted_rendition_hides_the_opted_out_face_and_is_verified(
    session: Session, flagged: tuple[Booking, Media]
) -> None:
    from registry.media.storage import get_storage
    from registry.vision import analysis

    _, media = flagged
    rendition = renditions.redact(session=session, actor=SYSTEM, media=media)
    assert rendition.verified
    assert len(rendition.obscured_faces) == 1
    data = get_storage().get(rendition.sha256, kind="renditions")
    assert b"Exif" not in data
    assert len(analysis.analyse(data).faces) == 1  # the other person is untouched
    original = get_storage().get(media.sha256)
    assert sha256_of(original) == media.sha256  # never altered


def test_an_opt_out_re_decides_only_the_photos_that_person_can_be_in(
    session: Session,
    faces_dir: Path,
    people: dict[str, list[compose.Portrait]],
    make_booking: MakeBooking,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Re-clearance follows the person, not the event: photos without a face near their
    references are not decided again (the cost of an opt-out does not grow with the event)."""
    alice = make_booking()  # may appear, for now
    event = events.get_event(session=session, event_id=alice.event_id)
    obama, biden, kit = people["barack_obama"], people["joe_biden"], people["kit_harington"]
    with_alice = upload(session, event, photo(faces_dir, [(obama[1], 150, None)], seed=11))
    others = [
        upload(session, event, photo(faces_dir, [(biden[0], 150, None)], seed=12)),
        upload(session, event, photo(faces_dir, [(kit[0], 150, None)], seed=13)),
    ]
    for media in (with_alice, *others):
        assert run_job(media.id) == MediaStatus.cleared
    decided: list[uuid.UUID] = []
    original = decisions.evaluate

    def counting(**kwargs: object) -> MediaStatus:
        decided.append(kwargs["media"].id)  # type: ignore[attr-defined]
        return original(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(decisions, "evaluate", counting)
    events.set_opt_out(session=session, actor=SYSTEM, booking=alice, opt_out=True)
    with_reference(session, alice, obama[0])
    assert decided == [with_alice.id]  # only the photo with a face near hers
    session.refresh(with_alice)
    assert with_alice.status == MediaStatus.flagged

    decided.clear()
    events.set_opt_out(session=session, actor=SYSTEM, booking=alice, opt_out=False)
    assert decided == [with_alice.id]  # only the photo whose decision named her
    session.refresh(with_alice)
    opted_in: MediaStatus = with_alice.status  # read again, not the one asserted above
    assert opted_in == MediaStatus.cleared


def test_a_badge_link_her_own_reference_photo_contradicts_teaches_nothing(
    session: Session,
    faces_dir: Path,
    people: dict[str, list[compose.Portrait]],
    make_booking: MakeBooking,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    """Alice's badge ends up under a bystander's chin twice: her reference photo says the face
    is not hers, so the bystander is never treated as her elsewhere."""
    alice = make_booking(opt_out=True)
    event = events.get_event(session=session, event_id=alice.event_id)
    obama, kit = people["barack_obama"], people["kit_harington"]
    with_reference(session, alice, obama[0])
    for seed in (21, 22):  # Kit wears Alice's badge in two photos (a wrong link, twice)
        media = upload(
            session, event, photo(faces_dir, [(kit[seed - 21], 150, alice.badge_code)], seed=seed)
        )
        assert run_job(media.id) == MediaStatus.flagged  # her badge is there, so she may be
    elsewhere = upload(session, event, photo(faces_dir, [(kit[2], 150, None)], seed=23))
    assert run_job(elsewhere.id) == MediaStatus.cleared
    state = decisions.event_state(session, event.id)
    assert state.transient == []  # both sightings contradicted by her reference photo


def test_a_new_sighting_re_decides_only_what_it_can_change(
    session: Session,
    faces_dir: Path,
    people: dict[str, list[compose.Portrait]],
    make_booking: MakeBooking,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A recurring attendee's next badge sighting must not re-decide every photo of them (the
    event would slow as it grows), and the incremental result equals a full re-clearance."""
    bob = make_booking(opt_out=True)
    event = events.get_event(session=session, event_id=bob.event_id)
    kit, biden = people["kit_harington"], people["joe_biden"]
    first = upload(session, event, photo(faces_dir, [(kit[1], 160, bob.badge_code)], seed=5))
    second = upload(session, event, photo(faces_dir, [(kit[2], 150, bob.badge_code)], seed=6))
    bare = upload(session, event, photo(faces_dir, [(kit[0], 140, None), (biden[0], 140, None)], 7))
    for media in (first, second, bare):
        assert run_job(media.id) == MediaStatus.flagged

    redecided: list[uuid.UUID] = []
    real = reclear._redecide

    def spy(session: Session, event_id: uuid.UUID, photos: list[Media], *args: object) -> int:
        redecided.extend(m.id for m in photos)
        return real(session, event_id, photos, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(reclear, "_redecide", spy)
    latest = upload(session, event, photo(faces_dir, [(kit[1], 170, bob.badge_code)], seed=8))
    assert run_job(latest.id) == MediaStatus.flagged
    assert len(session.exec(select(TransientReference)).all()) == 3
    # Every earlier photo of Kit is already decided "opted out": nothing there can change.
    assert redecided == []

    def decided_faces() -> dict[tuple[uuid.UUID, int], tuple[object, ...]]:
        session.expire_all()
        return {
            (f.media_id, f.number): (f.booking_id, f.via, f.decision)
            for f in session.exec(select(MediaFace)).all()
        }

    incremental = decided_faces()
    monkeypatch.setattr(reclear, "_redecide", real)
    reclear.reclear_event(session=session, event_id=event.id)
    assert decided_faces() == incremental
