"""Signed checkpoints of the audit chain, outside the database: a chain rewritten end to end
(every hash recomputed) or cut short passes the link-by-link check but not the checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlmodel import Session, col

from registry import checkpoints
from registry.audit import service
from registry.audit.models import AuditEntry, AuditHead
from registry.audit.service import entry_hash
from registry.config import get_settings
from registry.media.storage import get_storage
from tests.audit.test_service import _disable_triggers, _write


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(get_settings(), "media_dir", tmp_path / "media")
    return tmp_path / "media"


def test_a_checkpoint_is_signed_stored_outside_and_checked(session: Session, storage: Path) -> None:
    assert checkpoints.verify(session=session)[1] is None  # none yet: said, not an error
    _write(session, 3)
    point = checkpoints.write(session=session)
    head = session.get(AuditHead, 1)
    assert head is not None
    assert (point.seq, point.hash) == (head.seq, head.hash)
    stored = storage / "records" / point.name
    assert stored.is_file()
    assert stored.read_text().count(".") == 2  # a JWS
    _write(session, 2)  # the log goes on after the checkpoint
    report, checked = checkpoints.verify(session=session)
    assert report.ok
    assert checked == point


def test_a_rewritten_chain_is_caught_by_the_checkpoint(session: Session, storage: Path) -> None:
    entries = _write(session, 4)
    point = checkpoints.write(session=session)
    _disable_triggers(session)
    # Rewrite entry 2 of ours and re-chain everything after it, head included: the chain is
    # consistent again, so only the checkpoint can tell.
    prev = entries[0].hash
    for entry in entries[1:]:
        session.refresh(entry)
        if entry is entries[1]:
            entry.actor = "staff:99"
        entry.prev_hash = prev
        entry.hash = entry_hash(entry)
        session.execute(
            update(AuditEntry)
            .where(col(AuditEntry.seq) == entry.seq)
            .values(actor=entry.actor, prev_hash=entry.prev_hash, hash=entry.hash)
        )
        prev = entry.hash
    session.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(hash=prev))
    session.expire_all()
    assert service.verify(session=session).ok  # the links alone look fine
    report, _ = checkpoints.verify(session=session)
    assert not report.ok
    assert report.first_broken_seq == point.seq
    assert "rewritten" in (report.problem or "")


def test_a_truncated_log_is_caught_by_the_checkpoint(session: Session, storage: Path) -> None:
    entries = _write(session, 3)
    checkpoints.write(session=session)
    _disable_triggers(session)
    session.execute(text("DELETE FROM audit_entry WHERE seq >= :s"), {"s": entries[1].seq})
    session.execute(
        update(AuditHead)
        .where(col(AuditHead.id) == 1)
        .values(seq=entries[0].seq, hash=entries[0].hash)
    )
    session.expire_all()
    assert service.verify(session=session).ok
    report, _ = checkpoints.verify(session=session)
    assert not report.ok
    assert "truncated" in (report.problem or "")


def test_a_forged_checkpoint_is_reported(session: Session, storage: Path) -> None:
    _write(session, 1)
    point = checkpoints.write(session=session)
    token = (storage / "records" / point.name).read_text()
    forged = point.name.replace("Z-", "Z9-")  # sorts after the genuine one
    get_storage().put_record(forged, (token[:-4] + "AAAA").encode())
    report, _ = checkpoints.verify(session=session)
    assert not report.ok
    assert "not genuine" in (report.problem or "")
