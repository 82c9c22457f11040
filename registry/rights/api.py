"""Subject requests for staff (admin role): record, look up, export, erase."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from fastapi.responses import Response

from registry.deps import AdminActor, AdminStaff, CurrentStaff, RowId, SessionDep, StaffActor
from registry.downloads import attachment
from registry.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized, error_responses
from registry.media import service as media_service
from registry.media.decisions import objections_of
from registry.rights import objections, requests
from registry.rights.deps import SubjectRequestByID
from registry.rights.schemas import (
    Erased,
    ObjectionDecisionIn,
    ObjectionPublic,
    SubjectRequestFound,
    SubjectRequestIn,
    SubjectRequestPublic,
)

router = APIRouter(prefix="/api/subject-requests", tags=["people's rights"])
ERRORS = error_responses(Unauthorized, Forbidden)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubjectRequestPublic,
    responses={**ERRORS, **error_responses(Invalid)},
)
def create(body: SubjectRequestIn, actor: AdminActor, session: SessionDep) -> SubjectRequestPublic:
    """Record a request received from a person (access or erasure); due in one month."""
    request = requests.create(session=session, actor=actor, email=body.email)
    return SubjectRequestPublic.model_validate(request)


@router.get("", response_model=list[SubjectRequestPublic], responses=ERRORS)
def list_requests(staff: AdminStaff, session: SessionDep) -> list[SubjectRequestPublic]:
    """Every request, newest first (without addresses)."""
    return [SubjectRequestPublic.model_validate(r) for r in requests.list_requests(session=session)]


@router.get(
    "/{request_id}",
    response_model=SubjectRequestFound,
    responses={**ERRORS, **error_responses(NotFound)},
)
def found(
    actor: AdminActor, request: SubjectRequestByID, session: SessionDep
) -> SubjectRequestFound:
    """What the registry holds about the request's address, across events, bookings, consents,
    faces and publications (each look is audited)."""
    what = requests.find(session=session, actor=actor, request=request)
    return SubjectRequestFound.model_validate(request).model_copy(update={"found": what.summary()})


@router.get(
    "/{request_id}/export",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The ZIP"},
        **ERRORS,
        **error_responses(NotFound, Conflict, Invalid),
    },
)
def export(actor: AdminActor, request: SubjectRequestByID, session: SessionDep) -> Response:
    """One ZIP: each booking's attendee export under bookings/<id>/ and each consent's record
    under consents/<id>/."""
    data = requests.export_zip(session=session, actor=actor, request=request)
    return attachment(data, "application/zip", f"subject-request-{request.id}.zip")


@router.post(
    "/{request_id}/erase",
    response_model=Erased,
    responses={**ERRORS, **error_responses(NotFound, Conflict)},
)
def erase(actor: AdminActor, request: SubjectRequestByID, session: SessionDep) -> Erased:
    """Erase everything held about the address (bookings become anonymous opted-out markers;
    consents are deleted, or kept under a pseudonym while media they cover is published)."""
    requests.erase(session=session, actor=actor, request=request)
    return Erased.model_validate(request)


objections_router = APIRouter(prefix="/api/media", tags=["people's rights"])


@objections_router.get(
    "/{media_id}/objections",
    response_model=list[ObjectionPublic],
    responses={**ERRORS, **error_responses(NotFound)},
)
def list_objections(
    media_id: uuid.UUID, staff: CurrentStaff, session: SessionDep
) -> list[ObjectionPublic]:
    """Attendees' objections to this photo or video, oldest first, with staff's decisions."""
    media = media_service.get_media(session=session, media_id=media_id)
    return [
        ObjectionPublic.model_validate(o) for o, _ in objections_of(session=session, media=media)
    ]


@objections_router.post(
    "/{media_id}/objections/{objection_id}/decision",
    response_model=ObjectionPublic,
    responses={**ERRORS, **error_responses(NotFound, Invalid)},
)
def decide_objection(
    media_id: uuid.UUID,
    objection_id: RowId,
    body: ObjectionDecisionIn,
    actor: StaffActor,
    session: SessionDep,
) -> ObjectionPublic:
    """Uphold an objection, or dismiss it with a reason (it then stops counting: the photo is
    re-decided and the gate follows). Audited."""
    media = media_service.get_media(session=session, media_id=media_id)
    objection = objections.get_objection(session=session, media=media, objection_id=objection_id)
    objections.decide(
        session=session,
        actor=actor,
        media=media,
        objection=objection,
        decision=body.decision,
        reason=body.reason,
    )
    return ObjectionPublic.model_validate(objection)
