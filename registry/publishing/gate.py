"""The publish gate's rules, on facts already loaded (pure: no database, no clock).

`check(facts, channel)` is the one rule book: the API, the pages, the CLI, the takedown list and
the certificate all ask it. Reasons are sentences a comms officer can act on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from registry import channels as channel_names

# Statuses as stored on media (kept as plain strings: this module depends on no other domain).
NOT_CHECKED = {"pending": "is still being checked", "processing": "is still being checked"}


@dataclass(frozen=True)
class FaceFact:
    number: int
    decision: str  # opted_out | review | clear | too_small
    booking_id: uuid.UUID | None = None
    name: str | None = None  # the matched attendee's name, for the reason
    consented_otherwise: str | None = None  # who recorded it, when staff consented another way


@dataclass(frozen=True)
class BadgeFact:
    code: str
    booking_id: uuid.UUID | None = None
    name: str | None = None


@dataclass(frozen=True)
class ObjectionFact:
    """An attendee (who may not have opted out) objected to this one photo or video."""

    booking_id: uuid.UUID
    name: str | None = None


@dataclass(frozen=True)
class ConsentFact:
    id: uuid.UUID
    subject: str
    status: str  # effective at the moment checked: pending | granted | declined | revoked | expired
    channels: tuple[str, ...]
    expires_at: datetime | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True)
class EventFact:
    id: uuid.UUID
    name: str
    channels: tuple[str, ...]
    notice_version: int
    opted_out: frozenset[uuid.UUID]  # bookings opted out now (not cancelled)


@dataclass(frozen=True)
class RenditionFact:
    id: uuid.UUID
    kind: str  # redacted | clean
    sha256: str
    verified: bool
    obscured_faces: frozenset[int] = frozenset()
    obscured_badges: frozenset[str] = frozenset()
    status: str = "ready"  # pending | processing | ready | failed (made in the background)
    progress: float = 1.0


@dataclass(frozen=True)
class Facts:
    media_id: uuid.UUID
    sha256: str
    status: str
    failure: str | None = None
    kind: str = "photo"  # photo | video (a video's faces are tracks)
    event: EventFact | None = None
    faces: tuple[FaceFact, ...] = ()
    badges: tuple[BadgeFact, ...] = ()
    consents: tuple[ConsentFact, ...] = ()
    rendition: RenditionFact | None = None
    objections: tuple[ObjectionFact, ...] = ()
    # What the post's text says that it may not (the caption check's reasons, when one is given).
    caption: tuple[str, ...] = ()


@dataclass
class Verdict:
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    # What the publication rests on (for the record and the certificate), when allowed.
    consent_ids: list[uuid.UUID] = field(default_factory=list)
    expires_at: datetime | None = None  # the earliest consent expiry: the basis lapses then


def _date(value: datetime | None) -> str:
    return value.strftime("%d %b %Y") if value else "an unknown date"


def _who(name: str | None) -> str:
    return name or "an attendee"


def _part(facts: Facts) -> str:
    return "Track" if facts.kind == "video" else "Face"


def _clearance(facts: Facts, reasons: list[str]) -> None:
    """Rule 1: clearance is final and nothing is left for a reviewer."""
    if facts.status in NOT_CHECKED:
        reasons.append(
            "This photo is still being checked for people who opted out; try again shortly."
        )
        return
    if facts.status == "failed":
        why = f" ({facts.failure})" if facts.failure else ""
        reasons.append(
            f"This file could not be checked{why}, so nobody can vouch for who is in it."
        )
        return
    for face in facts.faces:
        if face.decision == "review":
            reasons.append(
                f"{_part(facts)} {face.number} may be {_who(face.name)}, who opted out: "
                "a reviewer must "
                "confirm or rule out the match first."
            )


def _opted_out_visible(facts: Facts, reasons: list[str]) -> None:
    """Rule 2: nobody who has opted out (now) is visible, unless a verified redaction hides them."""
    if facts.event is None:
        return
    # Whoever objected to this media counts, for it, as opted out.
    opted_out = facts.event.opted_out | {o.booking_id for o in facts.objections}
    for objection in facts.objections:
        if not any(f.booking_id == objection.booking_id for f in facts.faces):
            reasons.append(
                f"{_who(objection.name)} objected to this {facts.kind} and none of its "
                f"{_part(facts).lower()}s is matched to them: mark which is theirs, then publish "
                "a verified redacted copy."
            )
    faces = [f for f in facts.faces if f.decision == "opted_out" or f.booking_id in opted_out]
    faces = [f for f in faces if f.booking_id is None or f.booking_id in opted_out]
    badges = [b for b in facts.badges if b.booking_id is not None and b.booking_id in opted_out]
    if not faces and not badges:
        return
    rendition = facts.rendition
    if rendition is None or rendition.kind != "redacted":
        shown = [f"{_part(facts).lower()} {f.number} ({_who(f.name)})" for f in faces] + [
            f"the badge of {_who(b.name)}" for b in badges
        ]
        reasons.append(
            f"It shows people who opted out of photos: {', '.join(shown)}. Publish a verified "
            "redacted copy instead."
        )
        return
    if rendition.status != "ready":
        return  # rule 0 says it is not made yet
    if not rendition.verified:
        reasons.append(
            "This redacted copy failed its check: a face of someone who opted out could still "
            "be recognised in it. Do not publish it; review the photo instead."
        )
    missed = [f for f in faces if f.number not in rendition.obscured_faces]
    missed_badges = [b for b in badges if b.code not in rendition.obscured_badges]
    if missed or missed_badges:
        names = sorted({_who(f.name) for f in missed} | {_who(b.name) for b in missed_badges})
        reasons.append(
            f"This redacted copy does not hide {', '.join(names)}, who opted out after it was "
            "made: redact the photo again."
        )


def _consents(facts: Facts, channel: str, reasons: list[str]) -> None:
    """Rule 3: every consent linked to the media is in force now and covers the channel."""
    for consent in facts.consents:
        who = f"{consent.subject}'s consent"
        if consent.status == "granted":
            if channel not in consent.channels:
                covered = ", ".join(channel_names.words(c) for c in consent.channels)
                reasons.append(
                    f"{who} does not cover {channel_names.words(channel)} (it covers {covered})."
                )
            continue
        if consent.status == "pending":
            reasons.append(f"{who} has not been given yet (the request is unanswered).")
        elif consent.status == "declined":
            reasons.append(f"{consent.subject} declined consent on {_date(consent.changed_at)}.")
        elif consent.status == "revoked":
            reasons.append(
                f"{consent.subject} withdrew consent on {_date(consent.changed_at)}; "
                "it must not be published (and must come down where it was)."
            )
        else:
            reasons.append(f"{who} expired on {_date(consent.expires_at)}.")


def _non_event(facts: Facts, channel: str, reasons: list[str]) -> None:
    """Rule 4: media not from an event needs consent, one per face it shows."""
    if facts.event is not None:
        return
    granted = [c for c in facts.consents if c.status == "granted" and channel in c.channels]
    if not facts.consents:
        reasons.append(
            "This media is not from an event, so it needs a patient's consent: send a consent "
            "request that names it."
        )
        return
    if not granted:
        return  # rule 3 has already said why each linked consent does not count
    otherwise = [f for f in facts.faces if f.consented_otherwise]
    needed = len(facts.faces) - len(otherwise)
    if len(granted) < needed:
        reasons.append(
            f"It shows {len(facts.faces)} faces but only {len(granted)} consent"
            f"{'s' if len(granted) != 1 else ''} covers it: more consent needed (or mark staff "
            "who consented another way on the photo's page)."
        )


def _channel(facts: Facts, channel: str, reasons: list[str]) -> None:
    """Rule 5: the basis covers the channel: an event's notice covers the channels it names."""
    if facts.event is None:
        return  # rule 3 checks each consent's channels
    if channel not in facts.event.channels:
        named = ", ".join(channel_names.words(c) for c in facts.event.channels) or "no channels"
        reasons.append(
            f"The filming notice of {facts.event.name} told attendees images would be used on "
            f"{named}, not {channel_names.words(channel)}."
        )


def _rendition_made(facts: Facts, reasons: list[str]) -> None:
    """Rule 0: a rendition named is finished (a redaction made in the background has no file
    until it is)."""
    rendition = facts.rendition
    if rendition is None or rendition.status == "ready":
        return
    if rendition.status == "failed":
        reasons.append(f"This redacted copy could not be made: redact the {facts.kind} again.")
    else:
        reasons.append(
            f"This redacted copy is still being made ({round(rendition.progress * 100)}% done): "
            "publish it once it is ready."
        )


def _caption(facts: Facts, reasons: list[str]) -> None:
    """Rule 7: the post's text names no one who may not be named, and no identifier."""
    reasons.extend(facts.caption)


def check(facts: Facts, channel: str) -> Verdict:
    """May this media (or the given rendition of it) be published on `channel` now?"""
    reasons: list[str] = []
    _rendition_made(facts, reasons)
    _clearance(facts, reasons)
    _opted_out_visible(facts, reasons)
    _consents(facts, channel, reasons)
    _non_event(facts, channel, reasons)
    _channel(facts, channel, reasons)
    _caption(facts, reasons)
    if reasons:
        return Verdict(allowed=False, reasons=reasons)
    expiries = [c.expires_at for c in facts.consents if c.expires_at is not None]
    return Verdict(
        allowed=True,
        consent_ids=[c.id for c in facts.consents],
        expires_at=min(expiries) if expiries else None,
    )
