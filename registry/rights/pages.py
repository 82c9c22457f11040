"""Subject requests, for admins: record one, see what is held, export it, erase it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from registry.deps import PageActor, PageAdmin, PageAdminActor, RowId, SessionDep
from registry.downloads import attachment
from registry.errors import Invalid, redirect_on_error, render_on_error
from registry.media import service as media_service
from registry.media.models import ObjectionDecision
from registry.plurals import count
from registry.rights import objections, requests
from registry.rights.deps import SubjectRequestByID
from registry.web import page_router, path_uuid, redirect, render

router = page_router()


@router.get("/subject-requests")
def request_list(request: Request, staff: PageAdmin, session: SessionDep) -> Response:
    return render(
        request, "rights/requests.html", {"items": requests.list_requests(session=session)}
    )


@router.post("/subject-requests")
def request_create(
    request: Request,
    actor: PageAdminActor,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    with render_on_error(
        "rights/requests.html",
        {"form": {"email": email}},
        load=lambda s: {"items": requests.list_requests(session=s)},
    ):
        made = requests.create(session=session, actor=actor, email=email)
    return redirect(f"/subject-requests/{made.id}", message="Request recorded.")


@router.get("/subject-requests/{request_id}")
def request_detail(
    request: Request, actor: PageAdminActor, item: SubjectRequestByID, session: SessionDep
) -> Response:
    found = requests.find(session=session, actor=actor, request=item)
    return render(request, "rights/request.html", {"item": item, "found": found.summary()})


@router.get("/subject-requests/{request_id}/export")
def request_export(
    actor: PageAdminActor, item: SubjectRequestByID, session: SessionDep
) -> Response:
    with redirect_on_error(f"/subject-requests/{item.id}"):
        data = requests.export_zip(session=session, actor=actor, request=item)
    return attachment(data, "application/zip", f"subject-request-{item.id}.zip")


@router.post("/subject-requests/{request_id}/erase")
def request_erase(
    actor: PageAdminActor,
    item: SubjectRequestByID,
    session: SessionDep,
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    with redirect_on_error(f"/subject-requests/{item.id}"):
        if confirm != "erase":
            raise Invalid("Tick the box to confirm the erasure: it cannot be undone.")
        counts = requests.erase(session=session, actor=actor, request=item)
    return redirect(
        f"/subject-requests/{item.id}",
        message=f"Erased: {count(counts['bookings'], 'booking')}, "
        f"{count(counts['consents_deleted'], 'consent record')} deleted, "
        f"{counts['consents_pseudonymised']} kept under a pseudonym while published.",
    )


@router.post("/subject-requests/{request_id}/close")
def request_close(actor: PageAdminActor, item: SubjectRequestByID, session: SessionDep) -> Response:
    requests.close(session=session, actor=actor, request=item)
    return redirect(
        f"/subject-requests/{item.id}", message="Request closed; its address is deleted."
    )


@router.post("/media/{media_id}/objections/{objection_id}")
def objection_decide(
    media_id: str,
    objection_id: RowId,
    actor: PageActor,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=12)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Uphold an objection, or dismiss it with a reason, from the photo's page."""
    media = media_service.get_media(session=session, media_id=path_uuid(media_id, "photo"))
    back = f"/media/{media.id}#objections-h"
    with redirect_on_error(back, place="objections", keep={"reason": reason}):
        objection = objections.get_objection(
            session=session, media=media, objection_id=objection_id
        )
        try:
            chosen = ObjectionDecision(decision)
        except ValueError:
            raise Invalid("Choose: uphold or dismiss.", field="decision") from None
        objections.decide(
            session=session,
            actor=actor,
            media=media,
            objection=objection,
            decision=chosen,
            reason=reason,
        )
    words = "upheld" if chosen == ObjectionDecision.upheld else "dismissed"
    return redirect(back, message=f"Objection {words}.", place="objections")
