"""The gate's read model: the facts `gate.check` needs about media, loaded across domains
(media, faces and badges with their bookings, consents, reviews, events) in a handful of prebuilt
queries for any number of media, and the gate's answers built on them."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry import channels as channel_names
from registry import metrics
from registry.consent import service as consents
from registry.consent.models import ConsentMedia, ConsentRequest
from registry.db import utcnow
from registry.errors import Invalid
from registry.events.models import Booking, Event
from registry.media import service as media_service
from registry.media.models import (
    FaceReview,
    Media,
    MediaBadge,
    MediaFace,
    MediaObjection,
    Rendition,
)
from registry.publishing import caption_facts
from registry.publishing.gate import (
    BadgeFact,
    ConsentFact,
    EventFact,
    FaceFact,
    Facts,
    ObjectionFact,
    RenditionFact,
    Verdict,
    check,
)

CHUNK = 500  # ids per IN (...) query


def chunks(ids: Sequence[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def channel_checked(channel: str) -> str:
    if channel not in channel_names.known():
        raise Invalid(
            f"Unknown channel {channel!r}: choose from {', '.join(channel_names.known())}.",
            field="channel",
        )
    return channel


def fingerprint(facts: Facts, rendition: Rendition | None) -> str:
    """What the gate saw for an item (its facts, the file chosen), as a short digest: a page
    carries it so an action can refuse what changed since it was shown."""
    seen = replace(facts, rendition=rendition_fact(rendition)) if rendition else facts
    return hashlib.sha256(_canonical(seen).encode()).hexdigest()[:20]


def _canonical(value: Any) -> str:
    """A text that is the same for equal facts in any process: sets sorted, fields named."""
    if is_dataclass(value) and not isinstance(value, type):
        inner = ",".join(f"{f.name}={_canonical(getattr(value, f.name))}" for f in fields(value))
        return f"{type(value).__name__}({inner})"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_canonical(v) for v in value)) + "}"
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_canonical(v) for v in value) + ")"
    return repr(value)


def rendition_fact(rendition: Rendition | None) -> RenditionFact | None:
    if rendition is None:
        return None
    return RenditionFact(
        id=rendition.id,
        kind=rendition.kind,
        sha256=rendition.sha256,
        verified=rendition.verified,
        obscured_faces=frozenset(rendition.obscured_faces),
        obscured_badges=frozenset(rendition.obscured_badges),
        status=str(rendition.status),
        progress=rendition.progress,
    )


class MediaLike(Protocol):
    """What the gate reads of a media row (an ORM object or a selected row)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def event_id(self) -> uuid.UUID | None: ...
    @property
    def sha256(self) -> str: ...
    @property
    def status(self) -> Any: ...
    @property
    def kind(self) -> str: ...
    @property
    def failure(self) -> str | None: ...


# The gate reads a few columns of many rows: prebuilt Core statements on the tables, run on the
# session's connection. Building statements and ORM objects per call cost more than the queries
# themselves (bench/gate.py).
def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


_M, _F, _B, _BK = _table(Media), _table(MediaFace), _table(MediaBadge), _table(Booking)
_CM, _CR, _FR, _E = _table(ConsentMedia), _table(ConsentRequest), _table(FaceReview), _table(Event)
_O = _table(MediaObjection)
_IDS: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
MEDIA_ROWS = sa.select(
    _M.c.id, _M.c.event_id, _M.c.sha256, _M.c.status, _M.c.failure, _M.c.kind
).where(_M.c.id.in_(_IDS))
FACE_ROWS = (
    sa.select(
        _F.c.media_id,
        _F.c.number,
        _F.c.decision,
        _F.c.booking_id,
        _BK.c.name,
        _BK.c.photo_opt_out,
        _BK.c.cancelled_at,
        _BK.c.erased_at,
    )
    .select_from(_F.outerjoin(_BK, _BK.c.id == _F.c.booking_id))
    .where(_F.c.media_id.in_(_IDS))
    .order_by(_F.c.media_id, _F.c.number)
)
BADGE_ROWS = (
    sa.select(
        _B.c.media_id,
        _B.c.code,
        _B.c.booking_id,
        _BK.c.name,
        _BK.c.photo_opt_out,
        _BK.c.cancelled_at,
        _BK.c.erased_at,
    )
    .select_from(_B.outerjoin(_BK, _BK.c.id == _B.c.booking_id))
    .where(_B.c.media_id.in_(_IDS))
    .order_by(_B.c.id)
)
CONSENT_ROWS = (
    sa.select(
        _CM.c.media_id,
        _CR.c.id,
        _CR.c.subject_name,
        _CR.c.status,
        _CR.c.channels,
        _CR.c.expires_at,
        _CR.c.decided_at,
    )
    .select_from(_CM.join(_CR, _CR.c.id == _CM.c.consent_request_id))
    .where(_CM.c.media_id.in_(_IDS))
    .order_by(_CR.c.created_at)
)
REVIEW_ROWS = (
    sa.select(_FR.c.media_id, _FR.c.face_number, _FR.c.decision, _FR.c.actor)
    .where(_FR.c.media_id.in_(_IDS))
    .order_by(_FR.c.id)
)
OBJECTION_ROWS = (
    sa.select(_O.c.media_id, _O.c.booking_id, _BK.c.name)
    .select_from(_O.join(_BK, _BK.c.id == _O.c.booking_id))
    .where(
        _O.c.media_id.in_(_IDS),
        sa.or_(_BK.c.cancelled_at.is_(None), _BK.c.erased_at.isnot(None)),
        # Staff dismissed it (with a reason): it no longer counts.
        _O.c.decision != "dismissed",
    )
    .order_by(_O.c.id)
)
EVENT_ROWS = sa.select(_E.c.id, _E.c.name, _E.c.channels, _E.c.filming_notice_version).where(
    _E.c.id.in_(_IDS)
)


def _rows(session: Session, statement: sa.Select[Any], ids: Sequence[uuid.UUID]) -> list[Any]:
    """Every row of a prebuilt statement for these ids, in chunks of CHUNK."""
    connection = session.connection()
    out: list[Any] = []
    for chunk in chunks(ids):
        out.extend(connection.execute(statement, {"ids": chunk}).all())
    return out


# Bookings opted out now, per media they were seen in (by face or by badge).
OptedOut = dict[uuid.UUID, set[uuid.UUID]]


def _counts_as_opted_out(out: bool, cancelled: datetime | None, erased: datetime | None) -> bool:
    return bool(out) and (cancelled is None or erased is not None)


def _badge_facts(
    session: Session, ids: list[uuid.UUID], opted_out: OptedOut
) -> dict[uuid.UUID, list[BadgeFact]]:
    badges: dict[uuid.UUID, list[BadgeFact]] = defaultdict(list)
    for media_id, code, booking_id, name, out, cancelled, erased in _rows(session, BADGE_ROWS, ids):
        badges[media_id].append(BadgeFact(code=code, booking_id=booking_id, name=name))
        if _counts_as_opted_out(out, cancelled, erased) and booking_id is not None:
            opted_out[media_id].add(booking_id)
    return badges


def _consent_facts(
    session: Session, ids: list[uuid.UUID], at: datetime
) -> dict[uuid.UUID, list[ConsentFact]]:
    links: dict[uuid.UUID, list[ConsentFact]] = defaultdict(list)
    for media_id, request_id, subject, status, wanted, expires_at, decided_at in _rows(
        session, CONSENT_ROWS, ids
    ):
        links[media_id].append(
            ConsentFact(
                id=request_id,
                subject=subject,
                status=consents.status_at(status, expires_at, at).value,
                channels=tuple(wanted),
                expires_at=expires_at,
                changed_at=decided_at,
            )
        )
    return links


def _objection_facts(
    session: Session, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[ObjectionFact]]:
    objections: dict[uuid.UUID, list[ObjectionFact]] = defaultdict(list)
    for media_id, booking_id, name in _rows(session, OBJECTION_ROWS, ids):
        objections[media_id].append(ObjectionFact(booking_id=booking_id, name=name))
    return objections


def _consented_otherwise(
    session: Session, face_rows: list[Any], media: Sequence[MediaLike]
) -> dict[tuple[uuid.UUID, int], str]:
    """Who recorded, last, that a face of a media outside any event consented another way."""
    otherwise: dict[tuple[uuid.UUID, int], str] = {}
    lone = sorted({r[0] for r in face_rows} & {m.id for m in media if m.event_id is None}, key=str)
    for media_id, number, decision, actor in _rows(session, REVIEW_ROWS, lone):
        if decision == "consented_otherwise":
            otherwise[(media_id, number)] = actor
        else:
            otherwise.pop((media_id, number), None)
    return otherwise


def _face_facts(
    face_rows: list[Any], otherwise: dict[tuple[uuid.UUID, int], str], opted_out: OptedOut
) -> dict[uuid.UUID, list[FaceFact]]:
    faces: dict[uuid.UUID, list[FaceFact]] = defaultdict(list)
    for media_id, number, decision, booking_id, name, out, cancelled, erased in face_rows:
        faces[media_id].append(
            FaceFact(
                number=number,
                decision=decision,
                booking_id=booking_id,
                name=name,
                consented_otherwise=otherwise.get((media_id, number)),
            )
        )
        if _counts_as_opted_out(out, cancelled, erased) and booking_id is not None:
            opted_out[media_id].add(booking_id)
    return faces


def _event_facts(session: Session, media: Sequence[MediaLike]) -> dict[uuid.UUID, EventFact]:
    events: dict[uuid.UUID, EventFact] = {}
    event_ids = sorted({m.event_id for m in media if m.event_id}, key=str)
    for event_id, name, event_channels, version in _rows(session, EVENT_ROWS, event_ids):
        events[event_id] = EventFact(
            id=event_id,
            name=name,
            channels=tuple(event_channels),
            notice_version=version,
            opted_out=frozenset(),
        )
    return events


def load_facts(
    *, session: Session, media: Sequence[MediaLike], at: datetime
) -> dict[uuid.UUID, Facts]:
    """What the gate needs to know about each media, in a handful of queries for any number."""
    ids = [m.id for m in media]
    # A media's facts never depend on which other media were loaded beside it (a page's
    # fingerprint must match its later action's): opted-out bookings are kept per media.
    opted_out: OptedOut = defaultdict(set)
    face_rows = _rows(session, FACE_ROWS, ids)
    badges = _badge_facts(session, ids, opted_out)
    links = _consent_facts(session, ids, at)
    objections = _objection_facts(session, ids)
    otherwise = _consented_otherwise(session, face_rows, media)
    faces = _face_facts(face_rows, otherwise, opted_out)
    events = _event_facts(session, media)
    return {
        m.id: Facts(
            media_id=m.id,
            sha256=m.sha256,
            status=m.status.value if hasattr(m.status, "value") else str(m.status),
            failure=m.failure,
            kind=m.kind,
            event=(
                replace(events[m.event_id], opted_out=frozenset(opted_out.get(m.id, ())))
                if m.event_id in events
                else None
            ),
            faces=tuple(faces.get(m.id, ())),
            badges=tuple(badges.get(m.id, ())),
            consents=tuple(links.get(m.id, ())),
            objections=tuple(objections.get(m.id, ())),
        )
        for m in media
    }


def publishable(
    *,
    session: Session,
    media: Media,
    channel: str,
    rendition_id: uuid.UUID | None = None,
    at: datetime | None = None,
    caption: str | None = None,
) -> Verdict:
    """The gate's answer for this media (or rendition of it) on this channel, now; with a
    caption, for the post with that text."""
    channel_checked(channel)
    caption = caption_facts.checked(caption)
    at = at or utcnow()
    rendition = (
        media_service.get_rendition(session=session, media=media, rendition_id=rendition_id)
        if rendition_id
        else None
    )
    facts = load_facts(session=session, media=[media], at=at)[media.id]
    said = caption_reasons(session=session, media=media, channel=channel, caption=caption, at=at)
    return _counted(
        check(replace(facts, rendition=rendition_fact(rendition), caption=said), channel), channel
    )


def caption_reasons(
    *, session: Session, media: Media, channel: str, caption: str | None, at: datetime
) -> tuple[str, ...]:
    """What the gate finds in a post's text for this media on this channel (each reason says
    what and where); nothing without a text."""
    if not caption:
        return ()
    found = caption_facts.context(session=session, media=[(media.id, media.event_id)], at=at)
    return found.reasons(caption, media.id, media.event_id, channel)


def caption_check(
    *, session: Session, media: Media, channel: str, caption: str | None
) -> tuple[str, ...]:
    """The publish form's live check of a caption, now: the same rules as publishing."""
    channel_checked(channel)
    return caption_reasons(
        session=session,
        media=media,
        channel=channel,
        caption=caption_facts.checked(caption),
        at=utcnow(),
    )


def _counted(verdict: Verdict, channel: str) -> Verdict:
    metrics.get().gate_decisions.labels("allowed" if verdict.allowed else "refused", channel).inc()
    return verdict


@dataclass(frozen=True)
class Ask:
    media_id: uuid.UUID
    channel: str
    rendition_id: uuid.UUID | None = None
    caption: str | None = None


def publishable_many(
    *, session: Session, asks: Sequence[Ask], at: datetime | None = None
) -> list[Verdict]:
    """The gate's answer for many (media, channel, rendition) at once, in a few queries; an
    unknown media or rendition gets a refusal saying so (one bad id does not sink the batch)."""
    for ask in asks:
        channel_checked(ask.channel)
        caption_facts.checked(ask.caption)
    at = at or utcnow()
    media: dict[uuid.UUID, MediaLike] = {}
    renditions: dict[uuid.UUID, Rendition] = {}
    media_ids = sorted({a.media_id for a in asks}, key=str)
    rendition_ids = sorted({a.rendition_id for a in asks if a.rendition_id}, key=str)
    media.update((m.id, m) for m in _rows(session, MEDIA_ROWS, media_ids))
    for chunk in chunks(rendition_ids):
        renditions.update(
            (r.id, r) for r in session.exec(select(Rendition).where(col(Rendition.id).in_(chunk)))
        )
    facts = load_facts(session=session, media=list(media.values()), at=at)
    said = (
        caption_facts.context(
            session=session, media=[(m.id, m.event_id) for m in media.values()], at=at
        )
        if any(a.caption and a.caption.strip() for a in asks)
        else None
    )
    out = []
    for ask in asks:
        rendition = renditions.get(ask.rendition_id) if ask.rendition_id else None
        if ask.media_id not in media:
            out.append(Verdict(allowed=False, reasons=["No media with this id."]))
        elif ask.rendition_id and (rendition is None or rendition.media_id != ask.media_id):
            out.append(Verdict(allowed=False, reasons=["No such rendition of this media."]))
        else:
            one = media[ask.media_id]
            caption = (
                said.reasons(ask.caption, one.id, one.event_id, ask.channel)
                if said and ask.caption
                else ()
            )
            out.append(
                _counted(
                    check(
                        replace(
                            facts[ask.media_id],
                            rendition=rendition_fact(rendition),
                            caption=caption,
                        ),
                        ask.channel,
                    ),
                    ask.channel,
                )
            )
    return out
