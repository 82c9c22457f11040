"""The consent notice patients are shown: versioned text, where every decision names the version
it was given on (a new text is a new version; earlier ones are kept)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.consent.models import ConsentNotice
from registry.errors import Invalid


def current_notice(*, session: Session) -> ConsentNotice:
    notice = session.exec(
        select(ConsentNotice).order_by(col(ConsentNotice.version).desc()).limit(1)
    ).first()
    if notice is None:
        raise RuntimeError("consent_notice is empty: run `registry db upgrade` (it seeds v1)")
    return notice


def get_notice(*, session: Session, version: int) -> ConsentNotice:
    notice = session.exec(select(ConsentNotice).where(ConsentNotice.version == version)).first()
    if notice is None:
        raise Invalid("Unknown notice version.", field="notice_version")
    return notice


def notice_history(*, session: Session) -> list[ConsentNotice]:
    return list(session.exec(select(ConsentNotice).order_by(col(ConsentNotice.version))).all())


def update_notice(*, session: Session, actor: Actor, text: str) -> ConsentNotice:
    """Save the notice text as a new version (unchanged text keeps the current version)."""
    text = text.strip()
    if len(text) < 40:
        raise Invalid("The notice must be at least 40 characters.", field="text")
    current = current_notice(session=session)
    if text == current.text:
        return current
    notice = ConsentNotice(version=current.version + 1, text=text, created_by=actor.label)
    session.add(notice)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="consent_notice.updated",
        entity_type="consent_notice",
        entity_id=notice.version,
        after={"version": notice.version},
    )
    return notice
