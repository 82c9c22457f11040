"""Staff pages: publish from a photo's page, what is ready to publish, the log, takedowns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import JSONResponse, Response

from registry import channels as channel_names
from registry.audit.service import Actor
from registry.auth import service as auth
from registry.db import utcnow
from registry.deps import PageStaff, SessionDep
from registry.errors import Conflict, redirect_on_error
from registry.media import service as media_service
from registry.media.models import FINAL, Media
from registry.publishing import caption_facts, service
from registry.publishing import facts as gate_facts
from registry.publishing import takedowns as takedown
from registry.publishing.models import Publication
from registry.web import page_router, path_uuid, redirect, render

router = page_router()


def _publication(session: SessionDep, publication_id: str) -> Publication:
    return service.get_publication(
        session=session, publication_id=path_uuid(publication_id, "publication")
    )


@router.post("/media/{media_id}/publish")
def publish(
    request: Request,
    media_id: str,
    staff: PageStaff,
    session: SessionDep,
    channel: Annotated[str, Form(max_length=32)] = "",
    rendition_id: Annotated[str, Form(max_length=40)] = "",
    target: Annotated[str, Form(max_length=80)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    caption: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Record a publication; `target` ("channel" or "channel:rendition id", as the page offers
    them) stands for channel and rendition_id."""
    media = media_service.get_media(session=session, media_id=path_uuid(media_id, "media"))
    back = f"/media/{media.id}#publish-h"
    if target:
        channel, _, rendition_id = target.partition(":")
    # A refusal leaves nothing behind (not even a copy): the unit of work rolls back.
    with redirect_on_error(back, place="publish"):
        try:
            publication, created = service.publish(
                session=session,
                actor=Actor.staff(staff.id),
                media=media,
                channel=channel,
                rendition_id=path_uuid(rendition_id, "rendition") if rendition_id else None,
                url=url or None,
                caption=caption or None,
            )
        except service.Refused as exc:
            words = channel_names.words(channel)
            if caption.strip():
                # The typed text is not lost: the refusal comes back with it, to edit and retry.
                session.rollback()
                return render(
                    request,
                    "publishing/refused.html",
                    {
                        "media": media_service.get_media(session=session, media_id=media.id),
                        "words": words,
                        "reasons": exc.reasons,
                        "target": target or channel,
                        "url": url,
                        "caption": caption,
                    },
                    status_code=409,
                )
            raise Conflict(f"Not published on {words}: " + " ".join(exc.reasons)) from exc
    where = channel_names.words(publication.channel)
    if not created:
        return redirect(back, message=f"Already recorded on {where}.", place="publish")
    return redirect(
        back,
        message=f"Recorded as published on {where}. Publish the file listed under "
        "Publications (metadata removed) and keep its clearance certificate.",
        place="publish",
    )


@router.post("/media/{media_id}/caption-check")
def caption_check(
    media_id: str,
    staff: PageStaff,
    session: SessionDep,
    target: Annotated[str, Form(max_length=80)] = "",
    caption: Annotated[str, Form(max_length=5000)] = "",
) -> JSONResponse:
    """The publish form's live check (POST: the text never goes into a URL): what the gate
    finds in the caption for the chosen channel and file, and where."""
    media = media_service.get_media(session=session, media_id=path_uuid(media_id, "media"))
    channel = target.partition(":")[0] or channel_names.known()[0]
    gate_facts.channel_checked(channel)
    found = caption_facts.context(session=session, media=[(media.id, media.event_id)], at=utcnow())
    findings = found.reasons(caption_facts.checked(caption), media.id, media.event_id, channel)
    return JSONResponse({"findings": list(findings)}, headers={"Cache-Control": "no-store"})


@router.get("/publishing")
def ready(request: Request, staff: PageStaff, session: SessionDep, channel: str = "") -> Response:
    """Media that may be published on a channel now (the gate's answer for each)."""
    chosen = channel if channel in channel_names.known() else channel_names.known()[0]
    recent = [m for m in media_service.list_media(session=session, limit=300) if m.status in FINAL]
    rows = service.readiness(session=session, media=recent, channel=chosen)
    return render(
        request,
        "publishing/ready.html",
        {
            "channel": chosen,
            "ready": [r for r in rows if r.allowed],
            "blocked": [r for r in rows if not r.allowed],
        },
    )


@router.get("/publications")
def log(request: Request, staff: PageStaff, session: SessionDep) -> Response:
    items = service.list_publications(session=session)
    return render(
        request,
        "publishing/log.html",
        {
            "publications": items,
            "people": auth.display_names(session=session, labels={p.published_by for p in items}),
            "states": takedown.publication_states(session=session, publications=items),
            "names": service.filenames(session=session, media_ids=[p.media_id for p in items]),
        },
    )


@router.get("/publications/{publication_id}/certificate.jwt")
def certificate(publication_id: str, staff: PageStaff, session: SessionDep) -> Response:
    publication = _publication(session, publication_id)
    return Response(
        publication.certificate,
        media_type="application/jwt",
        headers={"Content-Disposition": f'attachment; filename="clearance-{publication.id}.jwt"'},
    )


@router.get("/takedowns")
def takedowns(request: Request, staff: PageStaff, session: SessionDep) -> Response:
    items = takedown.takedowns(session=session)
    return render(
        request,
        "publishing/takedowns.html",
        {
            "items": items,
            "people": auth.display_names(
                session=session, labels={p.published_by for p, _ in items}
            ),
            "names": service.filenames(session=session, media_ids=[p.media_id for p, _ in items]),
        },
    )


@router.post("/publications/{publication_id}/taken-down")
def taken_down(
    publication_id: str,
    staff: PageStaff,
    session: SessionDep,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    publication = _publication(session, publication_id)
    takedown.mark_taken_down(
        session=session, actor=Actor.staff(staff.id), publication=publication, note=note
    )
    return redirect("/takedowns", message="Marked as taken down.")


def media_panel(session: SessionDep, media: Media) -> dict[str, object]:
    """What a photo's page shows under "Publish": the gate per channel, files, the log."""
    renditions = media_service.renditions_of(session=session, media=media)
    redacted = [r for r in renditions if r.kind == "redacted"]
    latest = redacted[-1] if redacted else None
    gate = {
        channel: {
            "original": gate_facts.publishable(session=session, media=media, channel=channel),
            "redacted": gate_facts.publishable(
                session=session, media=media, channel=channel, rendition_id=latest.id
            )
            if latest
            else None,
        }
        for channel in channel_names.known()
    }
    publications = service.list_publications(session=session, media_id=media.id)
    # What may be published now, as the form offers it: (value, words) per allowed channel/file.
    options = []
    for channel, answer in gate.items():
        original, copy = answer["original"], answer["redacted"]
        if original is not None and original.allowed:
            options.append((channel, f"{channel_names.words(channel).capitalize()}: the original"))
        if latest and copy is not None and copy.allowed:
            options.append(
                (
                    f"{channel}:{latest.id}",
                    f"{channel_names.words(channel).capitalize()}: the redacted copy",
                )
            )
    facts = gate_facts.load_facts(session=session, media=[media], at=utcnow())[media.id]
    # A redacted copy helps when someone who opted out (or a face still to review) is visible.
    redactable = facts.event is not None and (
        any(f.decision in ("opted_out", "review") for f in facts.faces)
        or any(b.booking_id in facts.event.opted_out for b in facts.badges)
    )
    redacted_options = [value for value, _ in options if ":" in value]
    return {
        "options": options,
        "default_option": (redacted_options or [v for v, _ in options] or [""])[0],
        "can_redact": media.status in FINAL and redactable,
        "gate": gate,
        "latest_redacted": latest,
        "publications": publications,
        "publication_states": takedown.publication_states(
            session=session, publications=publications
        ),
        "consents": service.consents_of(session=session, media=media),
    }
