"""The audit log page (admins)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from registry.audit import service
from registry.auth import service as auth
from registry.deps import PageAdmin, RowIdQuery, SessionDep
from registry.web import page_router, render

router = page_router()


@router.get("/audit")
def audit_log(
    request: Request, staff: PageAdmin, session: SessionDep, before_seq: RowIdQuery = None
) -> Response:
    entries = service.list_entries(session=session, before_seq=before_seq, limit=50)
    return render(
        request,
        "audit/log.html",
        {
            "entries": entries,
            "people": auth.display_names(session=session, labels={e.actor for e in entries}),
            "report": service.verify(session=session),
            "older": entries[-1].seq if len(entries) == 50 else None,
        },
    )
