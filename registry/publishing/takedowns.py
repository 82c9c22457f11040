"""Takedowns: live publications whose basis has gone (consent withdrawn or expired, an attendee
opted out, a reviewer confirmed a match), staff told once per publication, and the record of
each one taken down. `on_basis_changed` is what `registry.reactions` binds to
`signals.basis_changed`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session, col, select

from registry import channels as channel_names
from registry.audit import service as audit
from registry.audit.service import SYSTEM, Actor
from registry.config import get_settings
from registry.db import utcnow
from registry.media.models import Media, Rendition
from registry.publishing import caption_facts, notify
from registry.publishing.facts import chunks, load_facts, rendition_fact
from registry.publishing.gate import Verdict, check
from registry.publishing.models import Publication
from registry.publishing.service import filenames


def _verdicts(
    session: Session, publications: Sequence[Publication], at: datetime
) -> list[tuple[Publication, Verdict]]:
    """The gate's answer now for each live publication (batched)."""
    media_ids = sorted({p.media_id for p in publications}, key=str)
    rendition_ids = sorted({p.rendition_id for p in publications}, key=str)
    media: list[Media] = []
    renditions: dict[uuid.UUID, Rendition] = {}
    for chunk in chunks(media_ids):
        media.extend(session.exec(select(Media).where(col(Media.id).in_(chunk))).all())
    for chunk in chunks(rendition_ids):
        renditions.update(
            (r.id, r) for r in session.exec(select(Rendition).where(col(Rendition.id).in_(chunk)))
        )
    facts = load_facts(session=session, media=media, at=at)
    # A post's words too: a patient named in a caption who withdraws takes the post down.
    captioned = {p.media_id for p in publications if p.caption}
    said = (
        caption_facts.context(
            session=session, media=[(m.id, m.event_id) for m in media if m.id in captioned], at=at
        )
        if captioned
        else None
    )
    events = {m.id: m.event_id for m in media}
    return [
        (
            p,
            check(
                replace(
                    facts[p.media_id],
                    rendition=rendition_fact(renditions.get(p.rendition_id)),
                    caption=said.reasons(p.caption, p.media_id, events.get(p.media_id), p.channel)
                    if said and p.caption
                    else (),
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
    for chunk in chunks(wanted):
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
            after={"reasons": len(reasons)},
            personal={"reasons": reasons},  # they name the people concerned
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
        personal={"note": publication.takedown_note} if publication.takedown_note else None,
    )
    session.flush()
    return publication


def on_basis_changed(
    *,
    session: Session,
    media_ids: Iterable[uuid.UUID] | None = None,
    event_id: uuid.UUID | None = None,
) -> None:
    """The reaction to `signals.basis_changed`: mark what must come down and tell staff."""
    notice_takedowns(session=session, media_ids=media_ids, event_id=event_id)
