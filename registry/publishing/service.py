"""Publishing: load the facts the gate needs, record publications, list and clear takedowns."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry import channels as channel_names
from registry.audit import service as audit
from registry.audit.service import SYSTEM, Actor
from registry.config import get_settings
from registry.consent import service as consents
from registry.consent.models import ConsentMedia, ConsentRequest
from registry.db import begin_write, utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.events.models import Booking, Event
from registry.media import service as media_service
from registry.media.models import FaceReview, Media, MediaBadge, MediaFace, Rendition
from registry.publishing import certificates, notify
from registry.publishing.gate import (
    BadgeFact,
    ConsentFact,
    EventFact,
    FaceFact,
    Facts,
    RenditionFact,
    Verdict,
    check,
)
from registry.publishing.models import Publication

CHUNK = 500  # ids per IN (...) query


class Refused(Conflict):
    """The gate said no; `reasons` says why, in words a comms officer can act on."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("Publication refused: " + " ".join(reasons), reasons=reasons)
        self.reasons = reasons


def _chunks(ids: Sequence[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def channel_checked(channel: str) -> str:
    if channel not in channel_names.known():
        raise Invalid(
            f"Unknown channel {channel!r}: choose from {', '.join(channel_names.known())}.",
            field="channel",
        )
    return channel


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
    def failure(self) -> str | None: ...


# The gate reads a few columns of many rows: prebuilt Core statements on the tables, run on the
# session's connection. Building statements and ORM objects per call cost more than the queries
# themselves (bench/gate.py).
def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


_M, _F, _B, _BK = _table(Media), _table(MediaFace), _table(MediaBadge), _table(Booking)
_CM, _CR, _FR, _E = _table(ConsentMedia), _table(ConsentRequest), _table(FaceReview), _table(Event)
_IDS: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
MEDIA_ROWS = sa.select(_M.c.id, _M.c.event_id, _M.c.sha256, _M.c.status, _M.c.failure).where(
    _M.c.id.in_(_IDS)
)
FACE_ROWS = (
    sa.select(
        _F.c.media_id,
        _F.c.number,
        _F.c.decision,
        _F.c.booking_id,
        _BK.c.name,
        _BK.c.photo_opt_out,
        _BK.c.cancelled_at,
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
EVENT_ROWS = sa.select(_E.c.id, _E.c.name, _E.c.channels, _E.c.filming_notice_version).where(
    _E.c.id.in_(_IDS)
)


def _rows(session: Session, statement: sa.Select[Any], ids: Sequence[uuid.UUID]) -> list[Any]:
    """Every row of a prebuilt statement for these ids, in chunks of CHUNK."""
    connection = session.connection()
    out: list[Any] = []
    for chunk in _chunks(ids):
        out.extend(connection.execute(statement, {"ids": chunk}).all())
    return out


def load_facts(
    *, session: Session, media: Sequence[MediaLike], at: datetime
) -> dict[uuid.UUID, Facts]:
    """What the gate needs to know about each media, in a handful of queries for any number."""
    ids = [m.id for m in media]
    faces: dict[uuid.UUID, list[FaceFact]] = defaultdict(list)
    badges: dict[uuid.UUID, list[BadgeFact]] = defaultdict(list)
    links: dict[uuid.UUID, list[ConsentFact]] = defaultdict(list)
    opted_out: set[uuid.UUID] = set()  # bookings seen in these media that are opted out now
    face_rows = _rows(session, FACE_ROWS, ids)
    for media_id, code, booking_id, name, out, cancelled in _rows(session, BADGE_ROWS, ids):
        badges[media_id].append(BadgeFact(code=code, booking_id=booking_id, name=name))
        if out and cancelled is None and booking_id is not None:
            opted_out.add(booking_id)
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
    otherwise: dict[tuple[uuid.UUID, int], str] = {}
    lone = sorted({r[0] for r in face_rows} & {m.id for m in media if m.event_id is None}, key=str)
    for media_id, number, decision, actor in _rows(session, REVIEW_ROWS, lone):
        if decision == "consented_otherwise":
            otherwise[(media_id, number)] = actor
        else:
            otherwise.pop((media_id, number), None)
    for media_id, number, decision, booking_id, name, out, cancelled in face_rows:
        faces[media_id].append(
            FaceFact(
                number=number,
                decision=decision,
                booking_id=booking_id,
                name=name,
                consented_otherwise=otherwise.get((media_id, number)),
            )
        )
        if out and cancelled is None and booking_id is not None:
            opted_out.add(booking_id)

    events: dict[uuid.UUID, EventFact] = {}
    event_ids = sorted({m.event_id for m in media if m.event_id}, key=str)
    for event_id, name, event_channels, version in _rows(session, EVENT_ROWS, event_ids):
        events[event_id] = EventFact(
            id=event_id,
            name=name,
            channels=tuple(event_channels),
            notice_version=version,
            opted_out=frozenset(opted_out),
        )

    return {
        m.id: Facts(
            media_id=m.id,
            sha256=m.sha256,
            status=m.status.value if hasattr(m.status, "value") else str(m.status),
            failure=m.failure,
            event=events.get(m.event_id) if m.event_id else None,
            faces=tuple(faces.get(m.id, ())),
            badges=tuple(badges.get(m.id, ())),
            consents=tuple(links.get(m.id, ())),
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
) -> Verdict:
    """The gate's answer for this media (or rendition of it) on this channel, now."""
    channel_checked(channel)
    rendition = (
        media_service.get_rendition(session=session, media=media, rendition_id=rendition_id)
        if rendition_id
        else None
    )
    facts = load_facts(session=session, media=[media], at=at or utcnow())[media.id]
    return check(replace(facts, rendition=rendition_fact(rendition)), channel)


@dataclass(frozen=True)
class Ask:
    media_id: uuid.UUID
    channel: str
    rendition_id: uuid.UUID | None = None


def publishable_many(
    *, session: Session, asks: Sequence[Ask], at: datetime | None = None
) -> list[Verdict]:
    """The gate's answer for many (media, channel, rendition) at once, in a few queries; an
    unknown media or rendition gets a refusal saying so (one bad id does not sink the batch)."""
    for ask in asks:
        channel_checked(ask.channel)
    media: dict[uuid.UUID, MediaLike] = {}
    renditions: dict[uuid.UUID, Rendition] = {}
    media_ids = sorted({a.media_id for a in asks}, key=str)
    rendition_ids = sorted({a.rendition_id for a in asks if a.rendition_id}, key=str)
    media.update((m.id, m) for m in _rows(session, MEDIA_ROWS, media_ids))
    for chunk in _chunks(rendition_ids):
        renditions.update(
            (r.id, r) for r in session.exec(select(Rendition).where(col(Rendition.id).in_(chunk)))
        )
    facts = load_facts(session=session, media=list(media.values()), at=at or utcnow())
    out = []
    for ask in asks:
        rendition = renditions.get(ask.rendition_id) if ask.rendition_id else None
        if ask.media_id not in media:
            out.append(Verdict(allowed=False, reasons=["No media with this id."]))
        elif ask.rendition_id and (rendition is None or rendition.media_id != ask.media_id):
            out.append(Verdict(allowed=False, reasons=["No such rendition of this media."]))
        else:
            out.append(
                check(
                    replace(facts[ask.media_id], rendition=rendition_fact(rendition)), ask.channel
                )
            )
    return out


def _url_checked(url: str | None) -> str | None:
    url = (url or "").strip() or None
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise Invalid("The post's URL must be a full http(s) address.", field="url")
    return url


def _url_key(url: str | None) -> str:
    return hashlib.sha256((url or "").encode()).hexdigest()


def _existing(session: Session, media: Media, channel: str, url: str | None) -> Publication | None:
    return session.exec(
        select(Publication).where(
            Publication.media_id == media.id,
            Publication.channel == channel,
            Publication.url_key == _url_key(url),
        )
    ).first()


def _lock(session: Session, media: Media) -> Media:
    """Serialise with every change that could take the basis away: opt-outs and re-clearance
    (they lock the event first), reviews (the media row) and consent decisions (their rows)."""
    begin_write(session)
    if media.event_id is not None:
        session.get(Event, media.event_id, with_for_update=True, populate_existing=True)
    locked = session.get(Media, media.id, with_for_update=True, populate_existing=True)
    assert locked is not None
    session.exec(
        select(ConsentRequest)
        .join(ConsentMedia, col(ConsentRequest.id) == col(ConsentMedia.consent_request_id))
        .where(ConsentMedia.media_id == media.id)
        .with_for_update(of=ConsentRequest)
        .execution_options(populate_existing=True)
    ).all()
    return locked


def publish(
    *,
    session: Session,
    actor: Actor,
    media: Media,
    channel: str,
    rendition_id: uuid.UUID | None = None,
    url: str | None = None,
) -> tuple[Publication, bool]:
    """Record a publication if the gate allows it at this instant; (publication, created).

    Publishing the same media on the same channel at the same URL again returns the first
    record. Without a rendition, a metadata-stripped copy of the original is what is published.
    """
    channel_checked(channel)
    url = _url_checked(url)
    rendition = (
        media_service.get_rendition(session=session, media=media, rendition_id=rendition_id)
        if rendition_id
        else None
    )
    existing = _existing(session, media, channel, url)
    if existing is not None:
        return _repeat(existing, rendition)
    # A first look without locks: a refusal costs nothing and makes no copy.
    verdict = publishable(session=session, media=media, channel=channel, rendition_id=rendition_id)
    if not verdict.allowed:
        raise Refused(verdict.reasons)
    clean_key = None
    if rendition is None and media_service.clean_rendition(session=session, media=media) is None:
        clean_key = media_service.store_clean_copy(media=media)  # the slow part, before locks

    # Locks before any write (an audit entry locks the log's head): a revocation holding the
    # consent row and waiting for the log could otherwise deadlock with us.
    media = _lock(session, media)
    existing = _existing(session, media, channel, url)  # a twin request may have won the lock
    if existing is not None:
        return _repeat(existing, rendition)
    now = utcnow()
    facts = load_facts(session=session, media=[media], at=now)[media.id]
    verdict = check(replace(facts, rendition=rendition_fact(rendition)), channel)
    if not verdict.allowed:
        raise Refused(verdict.reasons)
    if rendition is None:
        rendition = media_service.clean_copy(
            session=session, actor=actor, media=media, key=clean_key
        )

    publication = Publication(
        id=uuid.uuid4(),
        media_id=media.id,
        rendition_id=rendition.id,
        channel=channel,
        url=url,
        url_key=_url_key(url),
        basis=_basis(facts, verdict),
        certificate="",
        certificate_expires_at=certificates.window(now, verdict.expires_at),
        published_by=actor.label,
        published_at=now,
    )
    publication.certificate = certificates.issue(
        claims=_claims(publication, media, rendition),
        issued=now,
        expires=publication.certificate_expires_at,
    )
    try:
        with session.begin_nested():
            session.add(publication)
    except IntegrityError:
        # Two identical requests at once (the unique key caught the second one).
        existing = _existing(session, media, channel, url)
        if existing is None:
            raise
        return _repeat(existing, rendition)
    audit.record(
        session=session,
        actor=actor,
        action="publication.recorded",
        entity_type="publication",
        entity_id=publication.id,
        after={
            "media_id": media.id,
            "rendition_id": rendition.id,
            "channel": channel,
            "url": url,
            "basis": publication.basis,
        },
    )
    session.flush()
    return publication, True


def _repeat(existing: Publication, rendition: Rendition | None) -> tuple[Publication, bool]:
    if existing.taken_down_at is not None:
        raise Conflict(
            "This media was published there before and has been taken down; record the new "
            "post with its own URL."
        )
    if rendition is not None and existing.rendition_id != rendition.id:
        raise Conflict("A different file of this media is already recorded at that place.")
    return existing, False


def _basis(facts: Facts, verdict: Verdict) -> dict[str, object]:
    return {
        "consents": [str(c) for c in verdict.consent_ids],
        "event": {"id": str(facts.event.id), "notice_version": facts.event.notice_version}
        if facts.event
        else None,
    }


def _claims(publication: Publication, media: Media, rendition: Rendition) -> dict[str, object]:
    return {
        "jti": str(publication.id),
        "sub": f"urn:sha256:{rendition.sha256}",
        "media": {"id": str(media.id), "sha256": media.sha256},
        "rendition": {"id": str(rendition.id), "kind": rendition.kind, "sha256": rendition.sha256},
        "channel": publication.channel,
        "url": publication.url,
        "basis": publication.basis,
    }


@dataclass(frozen=True)
class Readiness:
    media: Media
    allowed: bool
    rendition: Rendition | None  # the redacted copy that makes it publishable, if one is needed
    reasons: list[str]


def readiness(*, session: Session, media: Sequence[Media], channel: str) -> list[Readiness]:
    """For each media: publishable as is, or through its latest redacted copy, or why not."""
    channel_checked(channel)
    facts = load_facts(session=session, media=media, at=utcnow())
    latest: dict[uuid.UUID, Rendition] = {}
    for chunk in _chunks([m.id for m in media]):
        for rendition in session.exec(
            select(Rendition)
            .where(col(Rendition.media_id).in_(chunk), Rendition.kind == "redacted")
            .order_by(col(Rendition.created_at))
        ).all():
            latest[rendition.media_id] = rendition
    out = []
    for m in media:
        verdict = check(facts[m.id], channel)
        if verdict.allowed:
            out.append(Readiness(m, True, None, []))
            continue
        redacted = latest.get(m.id)
        if redacted is not None:
            via = check(replace(facts[m.id], rendition=rendition_fact(redacted)), channel)
            if via.allowed:
                out.append(Readiness(m, True, redacted, []))
                continue
        out.append(Readiness(m, False, None, verdict.reasons))
    return out


def consents_of(*, session: Session, media: Media) -> list[ConsentRequest]:
    """The consent requests that name this media."""
    return list(
        session.exec(
            select(ConsentRequest)
            .join(ConsentMedia, col(ConsentRequest.id) == col(ConsentMedia.consent_request_id))
            .where(ConsentMedia.media_id == media.id)
            .order_by(col(ConsentRequest.created_at))
        ).all()
    )


# --- the record ------------------------------------------------------------------------------


def get_publication(*, session: Session, publication_id: uuid.UUID) -> Publication:
    publication = session.get(Publication, publication_id)
    if publication is None:
        raise NotFound("No publication with this id.")
    return publication


def list_publications(
    *,
    session: Session,
    media_id: uuid.UUID | None = None,
    channel: str | None = None,
    limit: int = 500,
) -> list[Publication]:
    query = select(Publication)
    if media_id is not None:
        query = query.where(Publication.media_id == media_id)
    if channel is not None:
        query = query.where(Publication.channel == channel_checked(channel))
    return list(
        session.exec(query.order_by(col(Publication.published_at).desc()).limit(limit)).all()
    )


def _verdicts(
    session: Session, publications: Sequence[Publication], at: datetime
) -> list[tuple[Publication, Verdict]]:
    """The gate's answer now for each live publication (batched)."""
    media_ids = sorted({p.media_id for p in publications}, key=str)
    rendition_ids = sorted({p.rendition_id for p in publications}, key=str)
    media: list[Media] = []
    renditions: dict[uuid.UUID, Rendition] = {}
    for chunk in _chunks(media_ids):
        media.extend(session.exec(select(Media).where(col(Media.id).in_(chunk))).all())
    for chunk in _chunks(rendition_ids):
        renditions.update(
            (r.id, r) for r in session.exec(select(Rendition).where(col(Rendition.id).in_(chunk)))
        )
    facts = load_facts(session=session, media=media, at=at)
    return [
        (
            p,
            check(
                replace(
                    facts[p.media_id], rendition=rendition_fact(renditions.get(p.rendition_id))
                ),
                p.channel,
            ),
        )
        for p in publications
    ]


def _live(session: Session, media_ids: Iterable[uuid.UUID] | None = None) -> list[Publication]:
    query = select(Publication).where(col(Publication.taken_down_at).is_(None))
    if media_ids is None:
        return list(session.exec(query.order_by(col(Publication.published_at))).all())
    wanted = sorted(set(media_ids), key=str)
    out: list[Publication] = []
    for chunk in _chunks(wanted):
        out.extend(session.exec(query.where(col(Publication.media_id).in_(chunk))).all())
    return out


def takedowns(
    *, session: Session, at: datetime | None = None
) -> list[tuple[Publication, list[str]]]:
    """Live publications that would be refused now (consent withdrawn or expired, an attendee
    opted out, a reviewer found someone), with the reasons: each must come down."""
    at = at or utcnow()
    return [
        (p, verdict.reasons)
        for p, verdict in _verdicts(session, _live(session), at)
        if not verdict.allowed
    ]


def publication_states(
    *, session: Session, publications: Sequence[Publication], at: datetime | None = None
) -> dict[uuid.UUID, list[str]]:
    """For live publications, the reasons each must come down (empty when it may stay)."""
    live = [p for p in publications if p.taken_down_at is None]
    return {p.id: v.reasons for p, v in _verdicts(session, live, at or utcnow())}


def notice_takedowns(
    *,
    session: Session,
    media_ids: Iterable[uuid.UUID] | None = None,
    event_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> int:
    """Mark live publications whose basis is gone as needing takedown and tell staff (once per
    publication). Called after every change that can take a basis away, and by the periodic
    job (which catches consents that expired on their own)."""
    ids: list[uuid.UUID] | None = None
    if media_ids is not None or event_id is not None:
        ids = list(media_ids or [])
        if event_id is not None:
            ids.extend(
                session.exec(
                    select(Publication.media_id)
                    .join(Media, col(Media.id) == col(Publication.media_id))
                    .where(Media.event_id == event_id, col(Publication.taken_down_at).is_(None))
                ).all()
            )
        if not ids:
            return 0
    candidates = [p for p in _live(session, ids) if p.takedown_requested_at is None]
    if not candidates:
        return 0
    now = at or utcnow()
    due = [(p, v.reasons) for p, v in _verdicts(session, candidates, now) if not v.allowed]
    if not due:
        return 0
    names = filenames(session=session, media_ids=[p.media_id for p, _ in due])
    lines = []
    for publication, reasons in due:
        publication.takedown_requested_at = now
        publication.takedown_reasons = reasons
        session.add(publication)
        audit.record(
            session=session,
            actor=SYSTEM,
            action="publication.takedown_required",
            entity_type="publication",
            entity_id=publication.id,
            after={"reasons": reasons},
        )
        where = publication.url or channel_names.words(publication.channel)
        lines.append(
            f"- {names.get(publication.media_id, publication.media_id)} on "
            f"{channel_names.words(publication.channel)} ({where}), published "
            f"{publication.published_at:%d %b %Y %H:%M} UTC\n  Why: {' '.join(reasons)}"
        )
    session.flush()
    notify.queue(
        session=session,
        subject=f"Take down {len(due)} publication{'s' if len(due) != 1 else ''}",
        body=(
            "The basis for these publications has gone (consent withdrawn or expired, or an "
            "attendee opted out). Take each down, then mark it as taken down at "
            f"{_takedowns_url()}.\n\n" + "\n".join(lines) + "\n"
        ),
    )
    return len(due)


def _takedowns_url() -> str:
    return get_settings().base_url.rstrip("/") + "/takedowns"


def mark_taken_down(
    *, session: Session, actor: Actor, publication: Publication, note: str | None = None
) -> Publication:
    """Record that a publication was taken down (repeating it changes nothing)."""
    if publication.taken_down_at is not None:
        return publication
    publication.taken_down_at = utcnow()
    publication.taken_down_by = actor.label
    publication.takedown_note = (note or "").strip()[:1000] or None
    session.add(publication)
    audit.record(
        session=session,
        actor=actor,
        action="publication.taken_down",
        entity_type="publication",
        entity_id=publication.id,
        after={"note": publication.takedown_note},
    )
    session.flush()
    return publication


def filenames(*, session: Session, media_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names of media, by id."""
    wanted = sorted(set(media_ids), key=str)
    out: dict[uuid.UUID, str] = {}
    for chunk in _chunks(wanted):
        out.update(
            session.exec(select(Media.id, Media.filename).where(col(Media.id).in_(chunk))).all()
        )
    return out
