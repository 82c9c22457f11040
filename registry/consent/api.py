"""Consent requests over the API (staff)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from registry.config import get_settings
from registry.consent import decisions, links, notices, receipt, service
from registry.consent.deps import RequestByID, RequestByIDForUpdate
from registry.consent.models import ConsentNotice, ConsentRequest, ConsentStatus
from registry.consent.schemas import (
    ConsentEventPublic,
    ConsentNoticePublic,
    ConsentNoticeUpdate,
    ConsentReceipt,
    ConsentRequestCreate,
    ConsentRequestCreated,
    ConsentRequestPublic,
    ConsentRequestSummary,
    StaffRevoke,
)
from registry.deps import AdminActor, CurrentStaff, SessionDep, StaffActor
from registry.errors import Forbidden, Gone, Invalid, NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/api", tags=["consent"])
ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Invalid)
PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "PNG image"}
}


def qr_url(request: ConsentRequest) -> str:
    return f"{get_settings().base_url.rstrip('/')}/api/consent-requests/{request.id}/qr.png"


def created_public(request: ConsentRequest) -> ConsentRequestCreated:
    return ConsentRequestCreated(
        id=request.id,
        status=service.effective_status(request),
        link=links.link_url(request),
        qr_url=qr_url(request),
        link_expires_at=links.link_expires_at(request),
    )


def request_public(session: Session, request: ConsentRequest) -> ConsentRequestPublic:
    return ConsentRequestPublic(
        **created_public(request).model_dump(),
        subject_name=request.subject_name,
        subject_email=request.subject_email,
        guardian_name=request.guardian_name,
        guardian_relation=request.guardian_relation,
        purpose=request.purpose,
        description=request.description,
        channels=request.channels,
        media_ids=service.media_ids(session=session, request=request),
        expires_at=request.expires_at,
        notice_version=request.notice_version,
        created_at=request.created_at,
        history=[
            ConsentEventPublic.model_validate(e)
            for e in service.history(session=session, request=request)
        ],
    )


@router.post(
    "/consent-requests", response_model=ConsentRequestCreated, status_code=201, responses=ERRORS
)
def create_request(
    body: ConsentRequestCreate, actor: StaffActor, session: SessionDep
) -> ConsentRequestCreated:
    """Ask a patient for consent; returns their personal link and a QR code of it."""
    request = service.create_request(session=session, actor=actor, **body.model_dump())
    return created_public(request)


@router.get("/consent-requests", response_model=list[ConsentRequestSummary], responses=ERRORS)
def list_requests(
    staff: CurrentStaff,
    session: SessionDep,
    status: ConsentStatus | None = None,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
) -> list[ConsentRequestSummary]:
    """Requests, newest first; filter by status, or granted ones expiring within N days."""
    return [
        ConsentRequestSummary(
            id=r.id,
            status=service.effective_status(r),
            subject_name=r.subject_name,
            guardian_name=r.guardian_name,
            purpose=r.purpose,
            channels=r.channels,
            expires_at=r.expires_at,
            created_at=r.created_at,
        )
        for r in service.list_requests(
            session=session, status=status, expiring_within_days=expiring_within_days
        )
    ]


@router.get("/consent-requests/{request_id}", response_model=ConsentRequestPublic, responses=ERRORS)
def get_request(
    staff: CurrentStaff, request: RequestByID, session: SessionDep
) -> ConsentRequestPublic:
    """One request with its current status and full history."""
    return request_public(session, request)


@router.get(
    "/consent-requests/{request_id}/receipt", response_model=ConsentReceipt, responses=ERRORS
)
def get_receipt(staff: CurrentStaff, request: RequestByID, session: SessionDep) -> ConsentReceipt:
    """The consent receipt (ISO/IEC TS 27560 mandatory fields; Kantara v1.1 names)."""
    return receipt.build_receipt(session=session, request=request)


@router.get(
    "/consent-requests/{request_id}/qr.png",
    response_class=Response,
    responses={**ERRORS, **PNG},
)
def get_qr(staff: CurrentStaff, request: RequestByID) -> Response:
    """A printable QR code of the patient's link."""
    return Response(links.qr_png(links.link_url(request)), media_type="image/png")


@router.post(
    "/consent-requests/{request_id}/link", response_model=ConsentRequestCreated, responses=ERRORS
)
def reissue_link(
    actor: StaffActor, request: RequestByIDForUpdate, session: SessionDep
) -> ConsentRequestCreated:
    """Issue a fresh link; the previous link stops working."""
    links.reissue_link(session=session, actor=actor, request=request)
    return created_public(request)


@router.post(
    "/consent-requests/{request_id}/revoke",
    response_model=ConsentRequestPublic,
    responses={**ERRORS, **error_responses(Gone)},
)
def revoke(
    body: StaffRevoke, actor: StaffActor, request: RequestByIDForUpdate, session: SessionDep
) -> ConsentRequestPublic:
    """Record a withdrawal the patient gave another way (phone, letter, in person)."""
    decisions.revoke_for_patient(session=session, actor=actor, request=request, note=body.note)
    return request_public(session, request)


@router.get("/consent-notice", response_model=ConsentNoticePublic, responses=ERRORS)
def get_notice(staff: CurrentStaff, session: SessionDep) -> ConsentNotice:
    """The notice text patients are shown now."""
    return notices.current_notice(session=session)


@router.put("/consent-notice", response_model=ConsentNoticePublic, responses=ERRORS)
def put_notice(body: ConsentNoticeUpdate, actor: AdminActor, session: SessionDep) -> ConsentNotice:
    """Save a new version of the notice (earlier versions are kept; decisions name theirs)."""
    return notices.update_notice(session=session, actor=actor, text=body.text)
