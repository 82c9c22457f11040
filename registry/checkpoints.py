"""Signed checkpoints of the audit chain, kept outside the database.

Whoever holds the application's database credentials could rewrite the whole chain (recompute
every hash) or cut entries from its end. A checkpoint is the chain's head (entry number and
hash) signed with the installation's Ed25519 key (the one that signs clearance certificates,
public at /.well-known/jwks.json) and written to the media storage (folder or bucket) under a
name that sorts by time: `records/audit-checkpoints/<UTC time>-<entry number>.jwt`. The server
writes one every `REGISTRY_CHECKPOINT_MINUTES`; `registry audit checkpoint` writes one now;
`registry audit verify` checks the chain against the latest one.

It sits above the domains it joins: the audit chain, the signing key (publishing's
certificates) and the media storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from registry.audit import service as audit
from registry.audit.models import AuditEntry, AuditHead
from registry.audit.schemas import VerifyReport
from registry.db import utcnow
from registry.errors import Invalid
from registry.media.storage import get_storage
from registry.publishing import certificates

FOLDER = "audit-checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    name: str
    seq: int
    hash: str
    signed_at: int  # Unix time


def write(*, session: Session) -> Checkpoint:
    """Sign the chain's head now and store it outside the database."""
    head = session.get(AuditHead, 1)
    seq, digest = (head.seq, head.hash) if head else (0, audit.GENESIS_HASH)
    now = utcnow()
    name = f"{FOLDER}/{now:%Y%m%dT%H%M%S%f}Z-{seq:012d}.jwt"
    token = certificates.issue(
        claims={"sub": "audit-checkpoint", "jti": name, "seq": seq, "hash": digest},
        issued=now,
        expires=now + timedelta(days=3650),
    )
    get_storage().put_record(name, token.encode())
    return Checkpoint(name=name, seq=seq, hash=digest, signed_at=int(now.timestamp()))


def latest() -> Checkpoint | None:
    """The newest checkpoint whose signature holds (a forged one is an error, not skipped)."""
    storage = get_storage()
    names = storage.list_records(f"{FOLDER}/")
    if not names:
        return None
    name = names[-1]
    try:
        claims = certificates.verify(storage.get_record(name).decode())
    except Invalid as exc:
        raise Invalid(f"The latest audit checkpoint {name} is not genuine: {exc.message}") from None
    if claims.get("sub") != "audit-checkpoint" or claims.get("jti") != name:
        raise Invalid(f"The latest audit checkpoint {name} does not name itself: not genuine.")
    return Checkpoint(
        name=name, seq=int(claims["seq"]), hash=str(claims["hash"]), signed_at=int(claims["iat"])
    )


def verify(*, session: Session) -> tuple[VerifyReport, Checkpoint | None]:
    """The chain checked link by link, then against the latest external checkpoint: the entry it
    names must still have the hash it signed (else the chain was re-written), and the log must
    still reach it (else entries were cut from the end)."""
    report = audit.verify(session=session)
    try:
        point = latest()
    except Invalid as exc:
        return VerifyReport(ok=False, checked=report.checked, problem=exc.message), None
    if not report.ok or point is None or point.seq == 0:
        return report, point
    entry = session.exec(select(AuditEntry).where(col(AuditEntry.seq) == point.seq)).first()
    if entry is None:
        return (
            VerifyReport(
                ok=False,
                checked=report.checked,
                first_broken_seq=report.checked + 1,
                problem=f"the log ends at entry {report.checked} but checkpoint {point.name} "
                f"signed entry {point.seq}: entries were removed (the log was truncated)",
            ),
            point,
        )
    if entry.hash != point.hash:
        return (
            VerifyReport(
                ok=False,
                checked=report.checked,
                first_broken_seq=point.seq,
                problem=f"entry {point.seq} differs from what checkpoint {point.name} signed: "
                "the chain was rewritten",
            ),
            point,
        )
    return report, point
