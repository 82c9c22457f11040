"""Publishing: record a publication when the gate allows it at that instant (with its signed
certificate), what is ready to publish, the consents behind a media, and the publication log.

The gate's facts are loaded by `facts.py`; takedowns (what must come down, and telling staff)
live in `takedowns.py`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.consent.models import ConsentMedia, ConsentRequest
from registry.db import begin_write, savepoint, utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.events.models import Event
from registry.media import renditions
from registry.media import service as media_service
from registry.media.models import Media, Rendition, RenditionStatus
from registry.publishing import caption_facts, certificates
from registry.publishing.facts import (
    caption_reasons,
    channel_checked,
    chunks,
    fingerprint,
    load_facts,
    publishable,
    rendition_fact,
)
from registry.publishing.gate import Facts, Verdict, check
from registry.publishing.models import Publication


class Refused(Conflict):
    """The gate said no; `reasons` says why, in words a comms officer can act on."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("Publication refused: " + " ".join(reasons), reasons=reasons)
        self.reasons = reasons


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
    caption: str | None = None,
) -> tuple[Publication, bool]:
    """Record a publication if the gate allows it at this instant; (publication, created).

    Publishing the same media on the same channel at the same URL again returns the first
    record (with a new caption: the caption changed, checked again). Without a rendition, a
    metadata-stripped copy of the original is what is published. The caption (the post's text)
    goes through the gate with the file and is kept with the record.
    """
    channel_checked(channel)
    caption = caption_facts.checked(caption)
    url = _url_checked(url)
    rendition = (
        media_service.get_rendition(session=session, media=media, rendition_id=rendition_id)
        if rendition_id
        else None
    )
    existing = _existing(session, media, channel, url)
    if existing is not None:
        return _repeat(session, actor, existing, rendition, caption)
    clean_key = _first_look(session, media, channel, rendition, caption)

    # Locks before any write (an audit entry locks the log's head): a revocation holding the
    # consent row and waiting for the log could otherwise deadlock with us.
    media = _lock(session, media)
    existing = _existing(session, media, channel, url)  # a twin request may have won the lock
    if existing is not None:
        return _repeat(session, actor, existing, rendition, caption)
    now = utcnow()
    facts, verdict = _checked_under_lock(session, media, channel, rendition, caption, now)
    if rendition is None:
        rendition = renditions.clean_copy(session=session, actor=actor, media=media, key=clean_key)
    publication = _signed_publication(
        actor=actor,
        media=media,
        rendition=rendition,
        channel=channel,
        url=url,
        caption=caption,
        facts=facts,
        verdict=verdict,
        now=now,
    )
    try:
        with savepoint(session):
            session.add(publication)
    except IntegrityError:
        # Two identical requests at once (the unique key caught the second one).
        existing = _existing(session, media, channel, url)
        if existing is None:
            raise
        return _repeat(session, actor, existing, rendition, caption)
    _record_published(session, actor, publication)
    session.flush()
    return publication, True


def _first_look(
    session: Session,
    media: Media,
    channel: str,
    rendition: Rendition | None,
    caption: str | None,
) -> str | None:
    """The gate's answer without locks (a refusal costs nothing and makes no copy); when it
    allows and there is no rendition, the clean copy's stored key (the slow part, made before
    any lock is taken)."""
    verdict = publishable(
        session=session,
        media=media,
        channel=channel,
        rendition_id=rendition.id if rendition is not None else None,
        caption=caption,
    )
    if not verdict.allowed:
        raise Refused(verdict.reasons)
    if rendition is None and renditions.clean_rendition(session=session, media=media) is None:
        return renditions.store_clean_copy(media=media)
    return None


def _checked_under_lock(
    session: Session,
    media: Media,
    channel: str,
    rendition: Rendition | None,
    caption: str | None,
    now: datetime,
) -> tuple[Facts, Verdict]:
    """The gate's answer that counts: facts read under the locks, at the publication's instant."""
    facts = load_facts(session=session, media=[media], at=now)[media.id]
    verdict = check(
        replace(
            facts,
            rendition=rendition_fact(rendition),
            caption=caption_reasons(
                session=session, media=media, channel=channel, caption=caption, at=now
            ),
        ),
        channel,
    )
    if not verdict.allowed:
        raise Refused(verdict.reasons)
    return facts, verdict


def _signed_publication(
    *,
    actor: Actor,
    media: Media,
    rendition: Rendition,
    channel: str,
    url: str | None,
    caption: str | None,
    facts: Facts,
    verdict: Verdict,
    now: datetime,
) -> Publication:
    """The publication record with its certificate, valid as long as the verdict's basis."""
    publication = Publication(
        id=uuid.uuid4(),
        media_id=media.id,
        rendition_id=rendition.id,
        channel=channel,
        url=url,
        url_key=_url_key(url),
        caption=caption,
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
    return publication


def _record_published(session: Session, actor: Actor, publication: Publication) -> None:
    caption = publication.caption
    audit.record(
        session=session,
        actor=actor,
        action="publication.recorded",
        entity_type="publication",
        entity_id=publication.id,
        after={
            "media_id": publication.media_id,
            "rendition_id": publication.rendition_id,
            "channel": publication.channel,
            "url": publication.url,
            "basis": publication.basis,
            "caption_checked": caption is not None,
        },
        personal={"caption": caption} if caption else None,
    )


def _repeat(
    session: Session,
    actor: Actor,
    existing: Publication,
    rendition: Rendition | None,
    caption: str | None,
) -> tuple[Publication, bool]:
    if existing.taken_down_at is not None:
        raise Conflict(
            "This media was published there before and has been taken down; record the new "
            "post with its own URL."
        )
    if rendition is not None and existing.rendition_id != rendition.id:
        raise Conflict("A different file of this media is already recorded at that place.")
    if caption is not None and caption != existing.caption:
        change_caption(session=session, actor=actor, publication=existing, caption=caption)
    return existing, False


def released(
    *, session: Session, media: Media, channel: str, rendition_id: uuid.UUID | None
) -> Publication | None:
    """The release of this file on this channel (a cleared set's download: no URL yet)."""
    found = _existing(session, media, channel, None)
    if found is None or found.taken_down_at is not None:
        return None
    if rendition_id is not None and found.rendition_id != rendition_id:
        return None
    return found


def complete_release(
    *, session: Session, actor: Actor, publication: Publication, url: str, caption: str | None
) -> Publication:
    """A released file was posted: its record gets the URL and the post's text, through the gate
    (with the caption, on its channel, now); Refused otherwise."""
    where = _url_checked(url)
    if where is None:
        raise Invalid("Say where it was posted (its URL).", field="url")
    url = where
    media = media_service.get_media(session=session, media_id=publication.media_id)
    if _existing(session, media, publication.channel, url) is not None:
        raise Conflict("This media is already recorded at that URL on this channel.")
    rendition = session.get(Rendition, publication.rendition_id)
    verdict = publishable(
        session=session,
        media=media,
        channel=publication.channel,
        rendition_id=rendition.id if rendition is not None and rendition.kind != "clean" else None,
        caption=caption,
    )
    if not verdict.allowed:
        raise Refused(verdict.reasons)
    publication.url, publication.url_key, publication.caption = url, _url_key(url), caption
    session.add(publication)
    audit.record(
        session=session,
        actor=actor,
        action="publication.posted",
        entity_type="publication",
        entity_id=publication.id,
        after={"url": url, "caption_checked": caption is not None},
        personal={"caption": caption} if caption else None,
    )
    session.flush()
    return publication


def change_caption(
    *, session: Session, actor: Actor, publication: Publication, caption: str | None
) -> Publication:
    """The post's text was edited after publication: checked through the gate again (with the
    file as published, on its channel, now) and kept only if allowed (Refused otherwise)."""
    caption = caption_facts.checked(caption)
    if publication.taken_down_at is not None:
        raise Conflict("This publication has been taken down; its caption no longer changes.")
    if caption == publication.caption:
        return publication
    media = media_service.get_media(session=session, media_id=publication.media_id)
    rendition = session.get(Rendition, publication.rendition_id)
    verdict = publishable(
        session=session,
        media=media,
        channel=publication.channel,
        rendition_id=rendition.id if rendition is not None and rendition.kind != "clean" else None,
        caption=caption,
    )
    if not verdict.allowed:
        raise Refused(verdict.reasons)
    publication.caption = caption
    session.add(publication)
    audit.record(
        session=session,
        actor=actor,
        action="publication.caption_changed",
        entity_type="publication",
        entity_id=publication.id,
        after={"caption_checked": caption is not None},
        personal={"caption": caption} if caption else None,
    )
    session.flush()
    return publication


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
    seen: str = ""  # what the gate saw (facts.fingerprint), for a page's later action


def readiness(*, session: Session, media: Sequence[Media], channel: str) -> list[Readiness]:
    """For each media: publishable as is, or through its latest redacted copy, or why not."""
    channel_checked(channel)
    facts = load_facts(session=session, media=media, at=utcnow())
    latest: dict[uuid.UUID, Rendition] = {}
    for chunk in chunks([m.id for m in media]):
        for rendition in session.exec(
            select(Rendition)
            .where(
                col(Rendition.media_id).in_(chunk),
                Rendition.kind == "redacted",
                Rendition.status == RenditionStatus.ready,
            )
            .order_by(col(Rendition.created_at))
        ).all():
            latest[rendition.media_id] = rendition
    out = []
    for m in media:
        verdict = check(facts[m.id], channel)
        if verdict.allowed:
            out.append(Readiness(m, True, None, [], fingerprint(facts[m.id], None)))
            continue
        redacted = latest.get(m.id)
        if redacted is not None:
            via = check(replace(facts[m.id], rendition=rendition_fact(redacted)), channel)
            if via.allowed:
                out.append(Readiness(m, True, redacted, [], fingerprint(facts[m.id], redacted)))
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


def filenames(*, session: Session, media_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names of media, by id."""
    wanted = sorted(set(media_ids), key=str)
    out: dict[uuid.UUID, str] = {}
    for chunk in chunks(wanted):
        out.update(
            session.exec(select(Media.id, Media.filename).where(col(Media.id).in_(chunk))).all()
        )
    return out


def certificate_status(*, session: Session, jti: str) -> tuple[str, str | None, datetime | None]:
    """(status, reason, revoked_at) of the certificate with this id (its publication's id):
    revoked once the publication's basis was withdrawn or it was taken down."""
    try:
        publication_id = uuid.UUID(jti)
    except ValueError:
        raise NotFound("No certificate with this id.") from None
    publication = session.get(Publication, publication_id)
    if publication is None:
        raise NotFound("No certificate with this id.")
    return _revocation(publication)


def _revocation(publication: Publication) -> tuple[str, str | None, datetime | None]:
    if publication.takedown_requested_at is not None:
        return "revoked", "basis_withdrawn", publication.takedown_requested_at
    if publication.taken_down_at is not None:
        return "revoked", "taken_down", publication.taken_down_at
    return "valid", None, None


def revocation_list(*, session: Session) -> str:
    """Every revoked certificate still within its validity window, as a signed JWT (EdDSA, the
    certificates' key): {"revoked": [{"jti", "reason", "revoked_at"}], "iat", "exp"}."""
    now = utcnow()
    rows = session.exec(
        select(Publication)
        .where(
            col(Publication.certificate_expires_at) > now,
            sa.or_(
                col(Publication.takedown_requested_at).is_not(None),
                col(Publication.taken_down_at).is_not(None),
            ),
        )
        .order_by(col(Publication.published_at))
    ).all()
    revoked = []
    for publication in rows:
        _, reason, at = _revocation(publication)
        assert at is not None
        revoked.append(
            {"jti": str(publication.id), "reason": reason, "revoked_at": int(at.timestamp())}
        )
    return certificates.issue(
        claims={
            "sub": "revoked-certificates",
            "jti": f"crl:{int(now.timestamp())}",
            "revoked": revoked,
        },
        issued=now,
        expires=now + timedelta(hours=1),
        typ=certificates.REVOCATION_LIST_TYPE,
    )
