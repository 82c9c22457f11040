from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from registry.audit import service
from registry.audit.models import AuditEntry
from registry.audit.service import SYSTEM, Actor


def _write(session: Session, n: int) -> list[AuditEntry]:
    return [
        service.record(
            session=session,
            actor=Actor.staff(7),
            action="thing.changed",
            entity_type="thing",
            entity_id=i,
            before={"state": "old"},
            after={"state": "new", "n": i},
        )
        for i in range(n)
    ]


def _disable_triggers(session: Session) -> None:
    # Someone with owner rights can drop the triggers; the hash chain must still catch them.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER audit_entry_no_change ON audit_entry"))
    else:
        session.execute(text("DROP TRIGGER audit_entry_no_update"))
        session.execute(text("DROP TRIGGER audit_entry_no_delete"))


def test_entries_chain_onto_each_other(session: Session) -> None:
    start = service.verify(session=session).checked
    entries = _write(session, 3)
    assert [e.seq for e in entries] == [start + 1, start + 2, start + 3]
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    assert service.verify(session=session).ok


def test_biometric_and_secret_fields_are_never_logged(session: Session) -> None:
    entry = service.record(
        session=session,
        actor=SYSTEM,
        action="reference.added",
        entity_type="booking",
        entity_id="b1",
        after={"encoding": [0.1] * 128, "nested": {"password": "pw"}, "ok": 1},
    )
    assert entry.after == {"encoding": "[redacted]", "nested": {"password": "[redacted]"}, "ok": 1}


def test_database_refuses_updates_and_deletes(session: Session) -> None:
    entry = _write(session, 1)[0]
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE audit_entry SET actor='x' WHERE seq=:s"), {"s": entry.seq})
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("DELETE FROM audit_entry WHERE seq=:s"), {"s": entry.seq})


def test_verify_reports_the_first_edited_entry(session: Session) -> None:
    entries = _write(session, 4)
    _disable_triggers(session)
    session.execute(
        text("UPDATE audit_entry SET actor='staff:99' WHERE seq=:s"), {"s": entries[1].seq}
    )
    session.expire_all()
    report = service.verify(session=session)
    assert not report.ok
    assert report.first_broken_seq == entries[1].seq
    assert "altered" in (report.problem or "")


def test_verify_reports_a_deleted_entry(session: Session) -> None:
    entries = _write(session, 4)
    _disable_triggers(session)
    session.execute(text("DELETE FROM audit_entry WHERE seq=:s"), {"s": entries[2].seq})
    report = service.verify(session=session)
    assert not report.ok
    assert report.first_broken_seq == entries[2].seq
    assert "missing" in (report.problem or "")


def test_verify_reports_entries_cut_from_the_end(session: Session) -> None:
    entries = _write(session, 3)
    _disable_triggers(session)
    session.execute(text("DELETE FROM audit_entry WHERE seq=:s"), {"s": entries[-1].seq})
    report = service.verify(session=session)
    assert not report.ok
    assert report.first_broken_seq == entries[-1].seq


@pytest.mark.parametrize("table", ["consent_event", "booking_change", "audit_entry"])
def test_append_only_tables_refuse_removal(
    session: Session, table: str, make_booking: Any, make_consent: Any
) -> None:
    make_booking()  # a booking_change row and audit entries
    make_consent()  # a consent_event row
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(f"DELETE FROM {table}"))
    if session.get_bind().dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(f"TRUNCATE {table} CASCADE"))
