"""Events, filming notices, bookings and opt-outs."""

from __future__ import annotations

import io
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry import channels as channel_names
from registry import links, signals, zones
from registry.addresses import one_address
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.auth.throttle import Throttle
from registry.config import get_settings
from registry.db import savepoint, utcnow
from registry.errors import Conflict, Gone, Invalid, NotFound
from registry.events import badges, mails, notice, references, signage
from registry.events.history import record_change
from registry.events.models import Booking, BookingAction, BookingChange, Event, FilmingNotice
from registry.mail import transport
from registry.organisation import service as organisation

# QR alphanumeric mode; no 0/O/1/I so a code can be read out or typed without confusion.
BADGE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
BADGE_LENGTH = 10  # 50 bits; fits QR version 1 at ECC Q
MANAGE_LINK = "manage"


def _event_state(event: Event) -> dict[str, object]:
    return {
        "name": event.name,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "venue": event.venue,
        "timezone": event.timezone,
        "channels": list(event.channels),
        "filming_notice_version": event.filming_notice_version,
        "bookings_open": event.bookings_open,
        "biometric_retention_days": event.biometric_retention_days,
    }


def create_event(
    *,
    session: Session,
    actor: Actor,
    name: str,
    starts_at: datetime,
    filming_notice: str,
    ends_at: datetime | None = None,
    venue: str | None = None,
    biometric_retention_days: int = 30,
    channels: Sequence[str] | None = None,
    timezone: str | None = None,
) -> Event:
    """Create an event with version 1 of its filming notice; `channels` are where the notice
    says images will be used (every configured channel when not given)."""
    name = _checked_name(name)
    _check_times(starts_at, ends_at)
    event = Event(
        channels=channel_names.known()
        if channels is None
        else channel_names.validate(channels, allow_empty=True),
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        venue=(venue or "").strip() or None,
        timezone=zones.checked(timezone or get_settings().timezone),
        filming_notice=notice.checked_introduction(filming_notice),
        biometric_retention_days=biometric_retention_days,
    )
    session.add(event)
    session.flush()
    session.add(FilmingNotice(event_id=event.id, version=1, text=event.notice.text))
    audit.record(
        session=session,
        actor=actor,
        action="event.created",
        entity_type="event",
        entity_id=event.id,
        after=_event_state(event),
    )
    session.flush()
    return event


def _checked_name(name: str) -> str:
    """The name as stored; refused when blank (every list and notice shows it)."""
    cleaned = name.strip()
    if not cleaned:
        raise Invalid("Give the event a name.", field="name")
    return cleaned


def _check_times(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at < starts_at:
        raise Invalid("The end must not be before the start.", field="ends_at")


def update_event(*, session: Session, actor: Actor, event: Event, **changes: object) -> Event:
    """Apply changes; a changed filming notice (its introduction, or the channels it names)
    becomes a new version (old ones are kept)."""
    before = _event_state(event)
    shown_before = event.notice.text
    introduction = changes.pop("filming_notice", None)
    wanted = changes.get("channels")
    if isinstance(wanted, Iterable):
        changes["channels"] = channel_names.validate(wanted, allow_empty=True)
    if isinstance(changes.get("timezone"), str):
        changes["timezone"] = zones.checked(str(changes["timezone"]))
    if isinstance(changes.get("name"), str):
        changes["name"] = _checked_name(str(changes["name"]))
    for field, value in changes.items():
        if value is not None:
            setattr(event, field, value)
    _check_times(event.starts_at, event.ends_at)
    if isinstance(introduction, str):
        event.filming_notice = notice.checked_introduction(introduction)
    shown = event.notice.text
    if shown != shown_before:
        event.filming_notice_version += 1
        session.add(
            FilmingNotice(event_id=event.id, version=event.filming_notice_version, text=shown)
        )
    session.add(event)
    session.flush()
    references.reschedule_purge(session=session, event=event)
    after = _event_state(event)
    if after != before:
        audit.record(
            session=session,
            actor=actor,
            action="event.updated",
            entity_type="event",
            entity_id=event.id,
            before=before,
            after=after,
        )
        if after["channels"] != before["channels"]:
            signals.basis_changed.send(session=session, event_id=event.id)
    return event


def list_events(*, session: Session) -> list[Event]:
    return list(session.exec(select(Event).order_by(col(Event.starts_at).desc())).all())


def get_event(*, session: Session, event_id: uuid.UUID) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("No event with this id.")
    return event


def notice_versions(*, session: Session, event: Event) -> list[FilmingNotice]:
    return list(
        session.exec(
            select(FilmingNotice)
            .where(FilmingNotice.event_id == event.id)
            .order_by(col(FilmingNotice.version))
        ).all()
    )


def _new_badge_code() -> str:
    return "".join(secrets.choice(BADGE_ALPHABET) for _ in range(BADGE_LENGTH))


def find_booking(*, session: Session, event: Event, email: str) -> Booking | None:
    return session.exec(
        select(Booking).where(Booking.event_id == event.id, Booking.email == email.strip().lower())
    ).first()


def create_booking(
    *,
    session: Session,
    actor: Actor,
    event: Event,
    name: str,
    email: str,
    photo_opt_out: bool,
    notice_version: int | None = None,
    send_confirmation: bool = True,
) -> tuple[Booking, bool]:
    """Book a place; the same email again returns the existing booking (created=False) and
    changes nothing. A new booking is confirmed by email (event, notice, choice, link, badge)
    unless `send_confirmation` is False (a CSV import staff chose not to announce)."""
    if not event.bookings_open:
        raise Conflict("Bookings for this event are closed.")
    address = one_address(email)
    if address is None:
        raise Invalid("Enter one email address, like name@example.org.", field="email")
    email = address
    existing = find_booking(session=session, event=event, email=email)
    if existing is not None:
        return existing, False
    # The version the booking page showed; none when staff booked them (API, import): the
    # notice is shown when their confirmation is delivered or they open their private page.
    shown = notice_version
    if shown is not None and not 1 <= shown <= event.filming_notice_version:
        raise Invalid("Unknown filming-notice version.", field="notice_version")
    for _attempt in range(5):
        booking = Booking(
            event_id=event.id,
            name=name.strip(),
            email=email.strip().lower(),
            photo_opt_out=photo_opt_out,
            badge_code=_new_badge_code(),
            notice_version=shown,
        )
        try:
            with savepoint(session):
                session.add(booking)
                session.flush()
            break
        except IntegrityError:
            # Either the badge code collided (retry) or the same email was booked concurrently.
            existing = find_booking(session=session, event=event, email=email)
            if existing is not None:
                return existing, False
    else:  # pragma: no cover - 2^50 codes
        raise Conflict("Could not allocate a badge code; try again.")
    record_change(session, booking, BookingAction.booked, actor)
    if send_confirmation:
        mails.confirm_booking(session=session, actor=actor, booking=booking)
    return booking, True


@dataclass(frozen=True)
class BadgeState:
    first_marked: bool  # the badge made at booking carries the NO PHOTOS band
    changed: bool  # the choice now differs from the one that badge shows
    mailed: bool  # the badge for the choice now goes out by email (a mail server is set)


def badge_state(*, session: Session, booking: Booking) -> BadgeState:
    """Which badge the attendee holds: the one from their confirmation shows the choice made
    at booking; after a change, the one for the choice now is offered (and mailed)."""
    changes = history(session=session, booking=booking)
    first = changes[0].photo_opt_out if changes else booking.photo_opt_out
    return BadgeState(
        first_marked=first,
        changed=first != booking.photo_opt_out,
        mailed=transport.configured(),
    )


def notice_shown(*, session: Session, actor: Actor, booking: Booking, version: int) -> Booking:
    """Record that the attendee has now been shown this version of the filming notice (the first
    time only: the record keeps the version they first saw)."""
    if booking.notice_version is not None or booking.erased_at is not None:
        return booking
    booking.notice_version = version
    session.add(booking)
    record_change(session, booking, BookingAction.notice_shown, actor, notice_version=version)
    return booking


def set_opt_out(*, session: Session, actor: Actor, booking: Booking, opt_out: bool) -> Booking:
    """Record the attendee's choice; repeating the current choice changes nothing."""
    if booking.cancelled_at is not None:
        raise Conflict("This booking was cancelled.")
    if booking.photo_opt_out == opt_out:
        return booking
    booking.photo_opt_out = opt_out
    session.add(booking)
    change = record_change(
        session, booking, BookingAction.opted_out if opt_out else BookingAction.opted_in, actor
    )
    mails.confirm_choice(session=session, actor=actor, booking=booking, change_id=change.id)
    if not opt_out:
        # Reference photos only serve an opt-out: without one, keeping them is not justified.
        references.delete_all(session=session, actor=actor, booking=booking, reason="opted in")
    reclear(session=session, booking=booking)
    return booking


def reclear(*, session: Session, booking: Booking) -> None:
    """A choice changed: the event's photos are re-decided at once (media reacts to the
    signal; events never call media)."""
    session.flush()
    signals.opt_outs_changed.send(session=session, event_id=booking.event_id, booking_id=booking.id)


def cancel_booking(*, session: Session, actor: Actor, booking: Booking) -> Booking:
    if booking.cancelled_at is None:
        booking.cancelled_at = utcnow()
        session.add(booking)
        change = record_change(session, booking, BookingAction.cancelled, actor)
        mails.confirm_choice(session=session, actor=actor, booking=booking, change_id=change.id)
        references.delete_all(session=session, actor=actor, booking=booking, reason="cancelled")
        reclear(session=session, booking=booking)
    return booking


def list_bookings(*, session: Session, event: Event) -> list[Booking]:
    return list(
        session.exec(
            select(Booking).where(Booking.event_id == event.id).order_by(col(Booking.created_at))
        ).all()
    )


def get_booking(*, session: Session, booking_id: uuid.UUID) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("No booking with this id.")
    return booking


def history(*, session: Session, booking: Booking) -> list[BookingChange]:
    return list(
        session.exec(
            select(BookingChange)
            .where(BookingChange.booking_id == booking.id)
            .order_by(col(BookingChange.id))
        ).all()
    )


def manage_token(booking: Booking) -> str:
    return links.make_token(MANAGE_LINK, booking.id, booking.link_version)


def manage_url(booking: Booking) -> str:
    return f"{get_settings().base_url.rstrip('/')}/b/{manage_token(booking)}"


def link_expires_at(event: Event) -> datetime:
    """Manage links work until the event's biometric retention date (then nothing is left)."""
    end = event.ends_at or event.starts_at
    return end + timedelta(days=max(event.biometric_retention_days, 30))


def booking_for_token(*, session: Session, token: str) -> tuple[Booking, Event]:
    """The booking a manage link names; 404 for forged or revoked links, 410 once expired."""
    ref = links.read_token(MANAGE_LINK, token)
    booking = session.get(Booking, ref.record_id) if ref else None
    if ref is not None and booking is not None and booking.erased_at is not None:
        raise Gone("This booking and the data held with it were deleted at your request.")
    if ref is None or booking is None or booking.link_version != ref.version:
        raise NotFound("This link is not valid. Check that you copied all of it.")
    event = get_event(session=session, event_id=booking.event_id)
    if utcnow() > link_expires_at(event):
        raise Gone("This link has expired: the event is over and its records have been closed.")
    return booking, event


def public_request_wait(*, throttle: Throttle, network: str | None, form: str) -> int:
    """Seconds this client network must wait before another public request (booking form or
    lost-link form; 0: go ahead, counted). Every submission counts, whatever it names: the
    limit is the probing network's, never the person's."""
    settings = get_settings()
    per_network = settings.link_requests_per_network * (4 if form == "book" else 1)
    keys = [(f"link-request:{form}:network:{network or 'unknown'}", per_network)]
    wait = throttle.retry_after(keys)
    if not wait:
        throttle.fail([key for key, _ in keys])
    return wait


# Past the per-address limit, a network that has not asked for this address in the window still
# gets one link mailed, up to this many more a window: others' requests cannot lock the owner out
# (she asks from her own network), and mail to an address stays bounded (limit + this, an hour).
FRESH_NETWORK_LINKS = 10


def may_mail_link(*, throttle: Throttle, email: str, network: str | None = None) -> bool:
    """Whether another private link may be mailed to this address now (counted). Within the
    per-address limit, yes; past it, only for a network that has not asked for this address in
    the window (at most FRESH_NETWORK_LINKS more). The requester's answer is the same either
    way, and the decision is made after it was sent (no timing to read)."""
    address = email.strip().lower()
    key = f"link-request:address:{address}"
    asked = f"link-request:address:{address}:network:{network or 'unknown'}"
    if not throttle.retry_after([(key, get_settings().link_requests_per_address)]):
        throttle.fail([key, asked])
        return True
    seen, _ = throttle.recent(asked)
    throttle.fail([asked])
    fresh = f"link-request:address-fresh:{address}"
    if seen == 0 and network and not throttle.retry_after([(fresh, FRESH_NETWORK_LINKS)]):
        throttle.fail([fresh])
        return True
    return False


REFERENCE_UPLOADS_PER_BOOKING = 10  # per link-request window (an hour by default)
REFERENCE_UPLOADS_PER_NETWORK = 30


def reference_upload_wait(*, throttle: Throttle, booking: Booking, network: str | None) -> int:
    """Seconds to wait before another public reference upload (each decodes a photo and looks
    for faces in the web process): per booking and per client network; 0 = go ahead, counted."""
    keys = [
        (f"reference:booking:{booking.id}", REFERENCE_UPLOADS_PER_BOOKING),
        (f"reference:network:{network or 'unknown'}", REFERENCE_UPLOADS_PER_NETWORK),
    ]
    wait = throttle.retry_after(keys)
    if not wait:
        throttle.fail([key for key, _ in keys])
    return wait


def send_link_if_booked(
    *,
    session: Session,
    actor: Actor,
    event: Event,
    email: str,
    throttle: Throttle | None = None,
    network: str | None = None,
) -> None:
    """Mail the private link to the attendee booked with this address, if any and if the
    address's limits allow (`throttle`, for the asking `network`); the caller's answer is the
    same either way."""
    if throttle is not None and not may_mail_link(throttle=throttle, email=email, network=network):
        return
    booking = find_booking(session=session, event=event, email=email)
    if booking is not None and booking.cancelled_at is None:
        mails.send_link(session=session, actor=actor, booking=booking)


def reissue_manage_link(*, session: Session, actor: Actor, booking: Booking) -> Booking:
    """A fresh manage link, mailed to the attendee; the previous one stops working."""
    if booking.erased_at is not None:
        raise Conflict("This booking was erased: there is nobody to send a link to.")
    booking.link_version += 1
    session.add(booking)
    record_change(session, booking, BookingAction.link_reissued, actor)
    if booking.cancelled_at is None:
        mails.send_link(session=session, actor=actor, booking=booking, reissued=True)
    return booking


def badge_info(event: Event, booking: Booking) -> badges.BadgeInfo:
    return badges.BadgeInfo(
        name=booking.name,
        event=event.name,
        when=event.starts_at.strftime("%d %B %Y"),
        badge_code=booking.badge_code,
        opted_out=booking.photo_opt_out,
    )


def badges_pdf(
    *,
    session: Session,
    event: Event,
    layout: badges.Layout = "sheet",
    booking: Booking | None = None,
) -> bytes:
    """The event's badges (not cancelled bookings), or one booking's badge, as a PDF."""
    chosen = [booking] if booking else list_bookings(session=session, event=event)
    infos = [badge_info(event, b) for b in chosen if b.cancelled_at is None]
    return badges.render(infos, layout=layout, title=f"Badges: {event.name}")


def notice_url(event: Event) -> str:
    return f"{get_settings().base_url.rstrip('/')}/events/{event.id}/notice"


def signage_pdf(*, session: Session, event: Event, size: signage.Size = "A4") -> bytes:
    """The venue poster: filmed and photographed, how images are used, no copyright, how to
    opt out, the badge mark explained, a QR code of the public notice page."""
    org = organisation.profile(session=session)
    when = zones.long_datetime(event.starts_at, event.timezone)
    return signage.render(
        signage.PosterInfo(
            event=event.name,
            when=when,
            venue=event.venue,
            notice=event.filming_notice,
            channels=[channel_names.words(c) for c in event.channels],
            notice_url=notice_url(event),
            organiser=org.display_name,
            contact=org.email or None,
        ),
        size=size,
    )


def badge_png(*, event: Event, booking: Booking, width: int = 472) -> bytes:
    """A screen preview of one badge (40 mm wide at 300 dpi: 472 px)."""
    image = badges.draw_badge(badge_info(event, booking))
    image = image.resize((width, round(image.height * width / image.width)))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
