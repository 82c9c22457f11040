"""What people download about themselves through their private links."""

from __future__ import annotations

from fastapi.responses import Response

from registry.audit.service import Actor
from registry.consent import service as consent
from registry.deps import SessionDep
from registry.events import service as events
from registry.rights import export
from registry.web import page_router

router = page_router()
ATTENDEE = Actor.public("attendee")
PATIENT = Actor.public("patient")


@router.get("/b/{token}/export")
def attendee_export(token: str, session: SessionDep) -> Response:
    booking, event = events.booking_for_token(session=session, token=token)
    data = export.attendee_export(session=session, booking=booking, event=event, actor=ATTENDEE)
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="my-data.zip"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/c/{token}/export")
def patient_export(token: str, session: SessionDep) -> Response:
    request = consent.request_for_token(session=session, token=token)
    data = export.patient_export(session=session, request=request, actor=PATIENT)
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="my-consent-record.zip"',
            "Cache-Control": "no-store",
        },
    )
