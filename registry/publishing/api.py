"""The publish gate, publications and takedowns over the API (staff); the public key (public)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from registry.deps import CurrentStaff, SessionDep, StaffActor
from registry.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized, error_responses
from registry.media.deps import MediaByID
from registry.publishing import certificates, service
from registry.publishing import facts as gate_facts
from registry.publishing import takedowns as takedown
from registry.publishing.deps import PublicationByID
from registry.publishing.models import Publication
from registry.publishing.schemas import (
    CaptionIn,
    CertificateCheckIn,
    CertificateCheckOut,
    CertificateStatus,
    PublicationIn,
    PublicationPublic,
    PublishableAnswer,
    PublishableBatchIn,
    PublishableBatchOut,
    PublishableOut,
    TakedownIn,
    TakedownPublic,
)

router = APIRouter(prefix="/api", tags=["publishing"])
public_router = APIRouter(tags=["publishing"])
ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Invalid)


def publication_public(p: Publication, must_go: list[str] | None = None) -> PublicationPublic:
    if p.taken_down_at is not None:
        status = "taken_down"
    elif must_go:
        status = "takedown_required"
    else:
        status = "live"
    return PublicationPublic(
        id=p.id,
        media_id=p.media_id,
        rendition_id=p.rendition_id,
        file_url=f"/api/media/{p.media_id}/renditions/{p.rendition_id}",
        channel=p.channel,
        url=p.url,
        caption=p.caption,
        basis=p.basis,
        published_at=p.published_at,
        published_by=p.published_by,
        status=status,
        takedown_reasons=must_go or list(p.takedown_reasons or []),
        taken_down_at=p.taken_down_at,
        taken_down_by=p.taken_down_by,
        takedown_note=p.takedown_note,
        certificate=p.certificate,
        certificate_expires_at=p.certificate_expires_at,
    )


def publications_public(session: Session, items: list[Publication]) -> list[PublicationPublic]:
    states = takedown.publication_states(session=session, publications=items)
    return [publication_public(p, states.get(p.id)) for p in items]


@router.get("/media/{media_id}/publishable", response_model=PublishableOut, responses=ERRORS)
def publishable(
    staff: CurrentStaff,
    media: MediaByID,
    session: SessionDep,
    channel: Annotated[str, Query(max_length=32)],
    rendition_id: uuid.UUID | None = None,
    caption: Annotated[str | None, Query(max_length=5000)] = None,
) -> PublishableOut:
    """May this media (or this rendition of it) be published on this channel now, with this
    caption (the post's text)? Every rule is checked and every reason it may not is listed: a
    caption's reasons say what was found and where (character positions)."""
    verdict = gate_facts.publishable(
        session=session, media=media, channel=channel, rendition_id=rendition_id, caption=caption
    )
    return PublishableOut(allowed=verdict.allowed, reasons=verdict.reasons)


@router.post("/publishable", response_model=PublishableBatchOut, responses=ERRORS)
def publishable_batch(
    body: PublishableBatchIn, staff: CurrentStaff, session: SessionDep
) -> PublishableBatchOut:
    """The gate's answer for up to 1,000 (media, channel, rendition) at once, e.g. a scheduling
    tool checking its queue; an unknown media or rendition is answered with a refusal saying so."""
    asks = [gate_facts.Ask(i.media_id, i.channel, i.rendition_id, i.caption) for i in body.items]
    verdicts = gate_facts.publishable_many(session=session, asks=asks)
    return PublishableBatchOut(
        items=[
            PublishableAnswer(**i.model_dump(), allowed=v.allowed, reasons=v.reasons)
            for i, v in zip(body.items, verdicts, strict=True)
        ]
    )


@router.post(
    "/media/{media_id}/publications",
    status_code=201,
    response_model=PublicationPublic,
    responses={
        **ERRORS,
        200: {"model": PublicationPublic, "description": "Already recorded (same channel, URL)"},
        409: {"description": "Refused: `{detail, reasons}`"},
    },
)
def publish(
    body: PublicationIn,
    actor: StaffActor,
    media: MediaByID,
    session: SessionDep,
    response: Response,
) -> PublicationPublic:
    """Record that the media was published on a channel, only if the gate allows it at this
    instant (checked and recorded in one transaction); 409 with the reasons otherwise. The
    response carries a signed clearance certificate."""
    publication, created = service.publish(
        session=session,
        actor=actor,
        media=media,
        channel=body.channel,
        rendition_id=body.rendition_id,
        url=body.url,
        caption=body.caption,
    )
    if not created:
        response.status_code = 200
    return publication_public(publication)


@router.get("/publications", response_model=list[PublicationPublic], responses=ERRORS)
def list_publications(
    staff: CurrentStaff,
    session: SessionDep,
    media_id: uuid.UUID | None = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
) -> list[PublicationPublic]:
    """The publication log, newest first, with each one's status now."""
    items = service.list_publications(session=session, media_id=media_id, channel=channel)
    return publications_public(session, items)


@router.get("/publications/{publication_id}", response_model=PublicationPublic, responses=ERRORS)
def get_publication(
    staff: CurrentStaff, publication: PublicationByID, session: SessionDep
) -> PublicationPublic:
    """One publication with its status now."""
    return publications_public(session, [publication])[0]


@router.patch(
    "/publications/{publication_id}",
    response_model=PublicationPublic,
    responses={**ERRORS, 409: {"description": "Refused: `{detail, reasons}`"}},
)
def change_caption(
    body: CaptionIn, actor: StaffActor, publication: PublicationByID, session: SessionDep
) -> PublicationPublic:
    """The post's text was edited after publication: it goes through the gate again (with the
    file as published, on its channel, now) and is kept only if allowed; 409 with the reasons
    otherwise (the record keeps the caption it had)."""
    service.change_caption(
        session=session, actor=actor, publication=publication, caption=body.caption
    )
    return publications_public(session, [publication])[0]


@router.post(
    "/publications/{publication_id}/takedown",
    response_model=PublicationPublic,
    responses={**ERRORS, **error_responses(Conflict)},
)
def mark_taken_down(
    body: TakedownIn, actor: StaffActor, publication: PublicationByID, session: SessionDep
) -> PublicationPublic:
    """Record that the publication has been taken down (audited; repeating it changes nothing)."""
    takedown.mark_taken_down(session=session, actor=actor, publication=publication, note=body.note)
    return publication_public(publication)


@router.get("/takedowns", response_model=list[TakedownPublic], responses=ERRORS)
def takedowns(staff: CurrentStaff, session: SessionDep) -> list[TakedownPublic]:
    """Publications whose basis (consent or clearance) was withdrawn after they were published
    and that have not been marked as taken down yet, oldest first."""
    items = takedown.takedowns(session=session)
    names = service.filenames(session=session, media_ids=[p.media_id for p, _ in items])
    return [
        TakedownPublic(
            publication_id=p.id,
            media_id=p.media_id,
            filename=names.get(p.media_id, ""),
            channel=p.channel,
            url=p.url,
            published_at=p.published_at,
            published_by=p.published_by,
            reasons=reasons,
            requested_at=p.takedown_requested_at,
        )
        for p, reasons in items
    ]


@router.post("/certificates/verify", response_model=CertificateCheckOut, responses=ERRORS)
def verify_certificate(
    body: CertificateCheckIn, staff: CurrentStaff, session: SessionDep
) -> CertificateCheckOut:
    """Check a clearance certificate as `registry verify` does: its signature and type, its
    validity window, and whether it has been revoked since (then `valid` is false and
    `revoked` says when and why)."""
    try:
        claims = certificates.verify(body.certificate)
    except Invalid as exc:
        return CertificateCheckOut(valid=False, reason=exc.message)
    try:
        status, why, revoked_at = service.certificate_status(
            session=session, jti=str(claims.get("jti"))
        )
    except NotFound:
        return CertificateCheckOut(
            valid=False,
            reason="This installation issued no certificate with this id.",
            claims=claims,
        )
    if status != "valid":
        return CertificateCheckOut(
            valid=False,
            reason=f"Revoked ({why}): the basis for this publication has gone.",
            claims=claims,
            revoked=CertificateStatus(status=status, reason=why, revoked_at=revoked_at),
        )
    return CertificateCheckOut(valid=True, claims=claims)


@public_router.get("/.well-known/jwks.json", response_model=dict[str, Any])
def jwks(response: Response) -> dict[str, Any]:
    """The public key that signs clearance certificates (JWKS, Ed25519). Public."""
    response.headers["Cache-Control"] = "public, max-age=3600"
    return certificates.jwks()


@router.get(
    "/certificates/{jti}/status",
    response_model=CertificateStatus,
    responses=error_responses(NotFound),
)
def certificate_status(jti: str, session: SessionDep, response: Response) -> CertificateStatus:
    """Whether a clearance certificate still stands: `revoked` once the basis of its
    publication was withdrawn (consent, opt-out, channels) or it was taken down. Public, no
    personal data; cache for at most a minute."""
    status, reason, revoked_at = service.certificate_status(session=session, jti=jti)
    response.headers["Cache-Control"] = "public, max-age=60"
    return CertificateStatus(status=status, reason=reason, revoked_at=revoked_at)


@public_router.get(
    "/.well-known/revoked-certificates",
    response_class=Response,
    responses={200: {"content": {"application/jwt": {}}, "description": "A signed JWT"}},
)
def revoked_certificates(session: SessionDep) -> Response:
    """Every revoked certificate still inside its validity window, as a JWT signed with the
    certificates' key (verify it with /.well-known/jwks.json); valid for an hour. Public."""
    return Response(
        service.revocation_list(session=session),
        media_type="application/jwt",
        headers={"Cache-Control": "public, max-age=300"},
    )
