"""Reading and verifying the audit log (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from registry.audit import service
from registry.audit.schemas import AuditEntryPublic, VerifyReport
from registry.deps import AdminStaff, RowIdQuery, SessionDep
from registry.errors import Forbidden, Unauthorized, error_responses

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get(
    "",
    response_model=list[AuditEntryPublic],
    responses=error_responses(Unauthorized, Forbidden),
)
def list_entries(
    staff: AdminStaff,
    session: SessionDep,
    entity_type: Annotated[str | None, Query(max_length=40)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    before_seq: RowIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryPublic]:
    """Audit entries, newest first; filter by record and page with before_seq."""
    rows = service.list_entries(
        session=session,
        entity_type=entity_type,
        entity_id=entity_id,
        before_seq=before_seq,
        limit=limit,
    )
    return [AuditEntryPublic.model_validate(r) for r in rows]


@router.get(
    "/verify", response_model=VerifyReport, responses=error_responses(Unauthorized, Forbidden)
)
def verify(staff: AdminStaff, session: SessionDep) -> VerifyReport:
    """Check the hash chain; reports the first entry that was edited or removed."""
    return service.verify(session=session)
