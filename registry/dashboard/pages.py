"""The staff dashboard."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from registry.audit import service as audit
from registry.audit import words
from registry.auth import service as auth
from registry.consent import service as consent
from registry.deps import PageStaff, SessionDep
from registry.events import service as events
from registry.organisation import service as organisation
from registry.rights import retention
from registry.web import page_router, render

router = page_router()


@router.get("/")
def dashboard(request: Request, staff: PageStaff, session: SessionDep) -> Response:
    recent = audit.list_entries(session=session, limit=10)
    return render(
        request,
        "dashboard.html",
        {
            "org": organisation.profile(session=session),
            "people": auth.display_names(session=session, labels={e.actor for e in recent}),
            "recent": recent,
            "action_words": words.action_words,
            "record_page": words.record_page,
            "consents": consent.status_counts(session=session),
            "expiring": len(consent.list_requests(session=session, expiring_within_days=30)),
            "events": events.list_events(session=session)[:5],
            "retention": retention.upcoming(session=session),
        },
    )
