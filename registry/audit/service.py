"""Writing and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.actors import CLI as CLI
from registry.actors import SYSTEM as SYSTEM
from registry.actors import Actor as Actor
from registry.audit.models import AuditEntry, AuditHead
from registry.audit.schemas import VerifyReport
from registry.db import utcnow

GENESIS_HASH = "0" * 64
# Keys never written to the log even if a caller passes them (biometric data, secrets).
_REDACTED_KEYS = frozenset(
    {"encoding", "encodings", "embedding", "password", "password_hash", "token"}
)


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): ("[redacted]" if k in _REDACTED_KEYS else _scrub(v)) for k, v in value.items()
        }
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_scrub(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bytes):
        return f"[{len(value)} bytes]"
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def personal_digest(personal: Mapping[str, Any], salt: str) -> str:
    """What the chain keeps of an entry's personal fields: a digest no one can reverse (nor test
    a guessed address against) once the salt is erased with them."""
    return hashlib.sha256(f"{salt}:{_canonical(personal)}".encode()).hexdigest()


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over a canonical JSON form of the entry and the previous entry's hash (and, for an
    entry with personal fields, their salted digest, never the fields themselves)."""
    body: dict[str, Any] = {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
    }
    if entry.personal_digest is not None:
        body["personal_digest"] = entry.personal_digest
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


def record(
    *,
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    personal: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the log inside the caller's unit of work.

    `personal`: fields about a person (an address, a free-text note) that erasure may remove
    later; they are stored beside the entry and chained only through a salted digest."""
    # Claiming the next number locks the head row (PostgreSQL) or the database (SQLite) until
    # commit, so two transactions can never chain onto the same predecessor.
    seq, prev_hash = session.execute(
        update(AuditHead)
        .where(col(AuditHead.id) == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(col(AuditHead.seq), col(AuditHead.hash))
    ).one()
    entry = AuditEntry(
        seq=seq,
        at=utcnow(),
        actor=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=_scrub(dict(before)) if before is not None else None,
        after=_scrub(dict(after)) if after is not None else None,
        prev_hash=prev_hash,
        hash="",
    )
    if personal:
        entry.personal = _scrub(dict(personal))
        entry.personal_salt = secrets.token_hex(16)
        entry.personal_digest = personal_digest(entry.personal, entry.personal_salt)
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(hash=entry.hash))
    session.flush()
    for observer in OBSERVERS:
        observer(session=session, entry=entry)
    return entry


class Observer(Protocol):
    def __call__(self, *, session: Session, entry: AuditEntry) -> None: ...


# Told of every entry, in the recording transaction (e.g. webhooks: every state change is
# audited, so what outside systems are told follows the record). Bound by `registry.reactions`.
OBSERVERS: list[Observer] = []


def observe(observer: Observer) -> None:
    if observer not in OBSERVERS:
        OBSERVERS.append(observer)


def verify(*, session: Session, batch: int = 2000) -> VerifyReport:
    """Walk the chain from the start; report the first entry edited, removed or reordered."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    while True:
        rows = session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.seq) >= expected_seq)
            .order_by(col(AuditEntry.seq))
            .limit(batch)
        ).all()
        if not rows:
            return _check_head(session=session, checked=checked, last_hash=prev_hash)
        for row in rows:
            if row.seq != expected_seq:
                return VerifyReport(
                    ok=False,
                    checked=checked,
                    first_broken_seq=expected_seq,
                    problem=f"entry {expected_seq} is missing (next entry is {row.seq})",
                )
            if row.prev_hash != prev_hash:
                return VerifyReport(
                    ok=False,
                    checked=checked,
                    first_broken_seq=row.seq,
                    problem=f"entry {row.seq} does not chain onto entry {row.seq - 1}",
                )
            if entry_hash(row) != row.hash or (
                row.personal is not None
                and (
                    row.personal_salt is None
                    or personal_digest(row.personal, row.personal_salt) != row.personal_digest
                )
            ):
                return VerifyReport(
                    ok=False,
                    checked=checked,
                    first_broken_seq=row.seq,
                    problem=f"entry {row.seq} was altered after it was written",
                )
            prev_hash = row.hash
            expected_seq += 1
            checked += 1
        session.expunge_all()


def erase_personal(
    *,
    session: Session,
    entity_type: str,
    entity_ids: Sequence[object],
    about: Callable[[AuditEntry], bool] | None = None,
) -> int:
    """Replace the personal fields of these records' entries (those `about` the person, if
    given) with a tombstone: the entries keep their place, and the chain verifies. The number
    of entries erased."""
    ids = [str(i) for i in entity_ids]
    if not ids:
        return 0
    rows = session.exec(
        select(AuditEntry).where(
            AuditEntry.entity_type == entity_type,
            col(AuditEntry.entity_id).in_(ids),
            col(AuditEntry.personal_digest).is_not(None),
            col(AuditEntry.erased_at).is_(None),
        )
    ).all()
    now = utcnow()
    rows = [r for r in rows if about is None or about(r)]
    for row in rows:
        row.personal, row.personal_salt, row.erased_at = None, None, now
        session.add(row)
    session.flush()
    return len(rows)


def list_entries(
    *,
    session: Session,
    entity_type: str | None = None,
    entity_id: str | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first, optionally for one record; page with before_seq."""
    query = select(AuditEntry)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    if before_seq:
        query = query.where(col(AuditEntry.seq) < before_seq)
    return list(session.exec(query.order_by(col(AuditEntry.seq).desc()).limit(limit)).all())


def _check_head(*, session: Session, checked: int, last_hash: str) -> VerifyReport:
    head = session.get(AuditHead, 1)
    if head is None:
        return VerifyReport(ok=False, checked=checked, problem="the chain's head record is missing")
    if head.seq != checked or head.hash != last_hash:
        return VerifyReport(
            ok=False,
            checked=checked,
            first_broken_seq=checked + 1,
            problem=f"the log ends at entry {checked} but {head.seq} were written "
            "(entries were removed from the end)",
        )
    return VerifyReport(ok=True, checked=checked)
