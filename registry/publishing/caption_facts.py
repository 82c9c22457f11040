"""The caption's part of the gate's read model: who a post's text must not name, and the
organisation's own contact details, loaded once for any number of media (`captions` is the
pure matcher).

The work one request may ask for is bounded: a caption is at most `MAX_CAPTION` characters, each
different caption is read once however many media it is checked with, and the different
captions of one request add up to at most `CAPTION_BUDGET` characters (a batch of 1,000 items
may carry five million): past that the request is refused, not left to hold the server."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from registry import channels as channel_names
from registry.addresses import one_address, phone_e164
from registry.config import get_settings
from registry.consent import service as consents
from registry.consent.models import ConsentMedia, ConsentRequest
from registry.errors import Invalid
from registry.events.models import Booking
from registry.organisation import service as organisation
from registry.publishing import captions
from registry.publishing.caption_identifiers import Pattern
from registry.publishing.captions import Own, Person, Reading

_CR: sa.Table = ConsentRequest.__table__  # type: ignore[attr-defined]
_CM: sa.Table = ConsentMedia.__table__  # type: ignore[attr-defined]
_BK: sa.Table = Booking.__table__  # type: ignore[attr-defined]
_IDS: sa.BindParameter[object] = sa.bindparam("ids", expanding=True)

# Every patient of the registry (a pseudonymised record's name is no one's).
PATIENTS = sa.select(
    _CR.c.id,
    _CR.c.subject_name,
    _CR.c.guardian_name,
    _CR.c.status,
    _CR.c.channels,
    _CR.c.expires_at,
).where(_CR.c.erase_requested_at.is_(None))
LINKS = sa.select(_CM.c.media_id, _CM.c.consent_request_id).where(_CM.c.media_id.in_(_IDS))
OPTED_OUT = sa.select(_BK.c.event_id, _BK.c.name).where(
    _BK.c.event_id.in_(_IDS),
    _BK.c.photo_opt_out.is_(True),
    _BK.c.cancelled_at.is_(None),
    _BK.c.erased_at.is_(None),
)


def checked(caption: str | None) -> str | None:
    """A caption as given (None or blank: none); too long is a 422."""
    if caption is None or not caption.strip():
        return None
    if len(caption) > captions.MAX_CAPTION:
        raise Invalid(
            f"A caption is at most {captions.MAX_CAPTION:,} characters; this one has "
            f"{len(caption):,}.",
            field="caption",
        )
    return caption


# The characters of different captions one request may have checked: 100 of the longest, or
# 1,000 of 500 characters (about a second of work; ~4 s for text built to be slow).
CAPTION_BUDGET = 500_000


@dataclass(frozen=True)
class _Patient:
    id: uuid.UUID
    subject: str
    guardian: str | None
    status: str
    channels: tuple[str, ...]


@dataclass
class Context:
    """What checking captions for these media needs (one load for any number of checks)."""

    patients: list[_Patient]
    links: dict[uuid.UUID, set[uuid.UUID]]  # media -> consents naming it
    opted_out: dict[uuid.UUID, list[str]]  # event -> names of attendees who opted out
    own: Own
    hospital: Pattern | None
    readings: dict[str, Reading] = field(default_factory=dict)
    read_chars: int = 0

    def people(self, media_id: uuid.UUID, event_id: uuid.UUID | None, channel: str) -> list[Person]:
        linked = self.links.get(media_id, set())
        words = channel_names.words(channel)
        out = []
        for p in self.patients:
            if p.id not in linked:
                allowed, why = False, "with no consent covering this media"
            elif p.status != "granted":
                allowed, why = False, f"whose consent for this media is {p.status}"
            elif channel not in p.channels:
                allowed, why = False, f"whose consent does not cover {words}"
            else:
                allowed, why = True, ""
            out.append(Person(p.subject, "patient", allowed, why))
            if p.guardian:
                out.append(Person(p.guardian, "guardian", allowed, why))
        for name in self.opted_out.get(event_id, []) if event_id else []:
            out.append(Person(name, "attendee", False, ""))
        return out

    def reasons(
        self, caption: str | None, media_id: uuid.UUID, event_id: uuid.UUID | None, channel: str
    ) -> tuple[str, ...]:
        if not caption:
            return ()
        reading = self.readings.get(caption)
        if reading is None:
            self.read_chars += len(caption)
            if self.read_chars > CAPTION_BUDGET:
                raise Invalid(
                    f"The captions of one request are at most {CAPTION_BUDGET:,} characters "
                    "of different text together: check these in several requests.",
                    field="caption",
                )
            reading = captions.read(caption, own=self.own, hospital_pattern=self.hospital)
            self.readings[caption] = reading
        return tuple(f.reason() for f in reading.check(self.people(media_id, event_id, channel)))


def own_details(session: Session) -> Own:
    """The organisation's own addresses, numbers and postcodes: a caption may give them."""
    settings = get_settings()
    profile = organisation.profile(session=session)
    emails = {
        one_address(e) for e in (profile.email, settings.controller_email, settings.mail_from)
    }
    phones = {
        phone_e164(n)
        for n in f"{profile.phone},{settings.controller_phone}".split(",")
        if n.strip()
    }
    return Own(
        emails=frozenset(e.casefold() for e in emails if e),
        phones=frozenset(p for p in phones if p),
        postcodes=frozenset(
            captions.postcodes_in(f"{profile.address}\n{settings.controller_address}")
        ),
    )


def context(
    *, session: Session, media: Sequence[tuple[uuid.UUID, uuid.UUID | None]], at: datetime
) -> Context:
    """Load what the caption checks of these (media id, event id) need."""
    connection = session.connection()
    media_ids = sorted({m for m, _ in media}, key=str)
    event_ids = sorted({e for _, e in media if e}, key=str)
    patients = [
        _Patient(
            id=row.id,
            subject=row.subject_name,
            guardian=row.guardian_name,
            status=consents.status_at(row.status, row.expires_at, at).value,
            channels=tuple(row.channels or ()),
        )
        for row in connection.execute(PATIENTS)
    ]
    links: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for media_id, consent_id in connection.execute(LINKS, {"ids": media_ids}) if media_ids else []:
        links[media_id].add(consent_id)
    opted_out: dict[uuid.UUID, list[str]] = defaultdict(list)
    for event_id, name in connection.execute(OPTED_OUT, {"ids": event_ids}) if event_ids else []:
        opted_out[event_id].append(name)
    return Context(
        patients=patients,
        links=links,
        opted_out=opted_out,
        own=own_details(session),
        hospital=captions.hospital(get_settings().caption_hospital_number_pattern),
    )
