"""Staff pages: publish from a photo's page, what is ready to publish, the log, takedowns."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import JSONResponse, Response

from registry import channels as channel_names
from registry.auth import service as auth
from registry.db import utcnow
from registry.deps import PageActor, PageStaff, SessionDep
from registry.errors import Conflict, redirect_on_error
from registry.events import service as events_service
from registry.media import pages as media_pages
from registry.media import service as media_service
from registry.media.models import FINAL, Media
from registry.plurals import count
from registry.publishing import cleared_sets, service
from registry.publishing import facts as gate_facts
from registry.publishing import takedowns as takedown
from registry.publishing.deps import PagePublication
from registry.web import page_router, path_uuid, redirect, render

router = page_router()


@router.post("/media/{media_id}/publish")
def publish(
    request: Request,
    media_id: str,
    actor: PageActor,
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
                actor=actor,
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
    findings = gate_facts.caption_check(
        session=session, media=media, channel=channel, caption=caption
    )
    return JSONResponse({"findings": list(findings)}, headers={"Cache-Control": "no-store"})


@router.get("/publishing")
def ready(
    request: Request,
    staff: PageStaff,
    session: SessionDep,
    channel: str = "",
    event_id: str = "",
    show: str = "",
    person: str = "",
    select: str = "",
) -> Response:
    """Media that may be published on a channel now (the gate's answer for each), by event,
    kind of file and who is in them; pick some (or all: `select=all`, the select-all link
    without JavaScript) to download as a cleared set, then record them as posted."""
    chosen = channel if channel in channel_names.known() else channel_names.known()[0]
    event = (
        events_service.get_event(session=session, event_id=path_uuid(event_id, "event"))
        if (event_id)
        else None
    )
    recent = [
        m
        for m in media_service.list_media(
            session=session, event_id=event.id if event else None, limit=300
        )
        if m.status in FINAL
    ]
    people = media_service.people_in(session=session, media=recent) if event else {}
    who = next((b for b in people if str(b) == person), None)
    if who is not None:
        recent = [m for m in recent if who in people[who][1]]
    rows = service.readiness(session=session, media=recent, channel=chosen)
    ready_rows = [r for r in rows if r.allowed]
    if show == "original":
        ready_rows = [r for r in ready_rows if r.rendition is None]
    elif show == "redacted":
        ready_rows = [r for r in ready_rows if r.rendition is not None]
    return render(
        request,
        "publishing/ready.html",
        {
            "channel": chosen,
            "event": event,
            "events": events_service.list_events(session=session),
            "show": show if show in ("original", "redacted") else "",
            "people": sorted(((b, name) for b, (name, _m) in people.items()), key=lambda p: p[1]),
            "person": who,
            "ready": ready_rows,
            "picked_all": select == "all",
            "blocked": [r for r in rows if not r.allowed],
        },
    )


def _picks(values: list[str] | None) -> list[cleared_sets.Pick]:
    return [cleared_sets.Pick.parse(v) for v in values or []]


def _said(outcome: cleared_sets.Outcome) -> str:
    return " ".join(
        f"{m.filename if m else 'An item'}: " + " ".join(reasons) for m, reasons in outcome.refused
    )


@router.post("/publishing/set.zip")
def cleared_set(
    actor: PageActor,
    session: SessionDep,
    channel: Annotated[str, Form(max_length=32)] = "",
    pick: Annotated[list[str] | None, Form(max_length=120)] = None,
    back: Annotated[str, Form(max_length=300)] = "/publishing",
) -> Response:
    """One ZIP of exactly the picked files (no metadata), manifest.json and certificates; each
    file is recorded as released on the channel."""
    back = back if back.startswith("/publishing") else "/publishing"
    with redirect_on_error(back, place="set"):
        data, outcome = cleared_sets.download(
            session=session, actor=actor, channel=channel, picks=_picks(pick)
        )
        if not outcome.done:
            raise Conflict("Nothing could be packed. " + _said(outcome))
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="cleared-{channel}-{stamp}.zip"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/publishing/posted")
async def cleared_set_posted(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    channel: Annotated[str, Form(max_length=32)] = "",
    pick: Annotated[list[str] | None, Form(max_length=120)] = None,
    caption: Annotated[str, Form(max_length=5000)] = "",
    back: Annotated[str, Form(max_length=300)] = "/publishing",
) -> Response:
    """ "I have posted these": each picked item recorded with its URL (url-<media id>) and the
    caption, through the gate; what changed since the page was shown is refused and listed."""
    back = back if back.startswith("/publishing") else "/publishing"
    form = await request.form()
    urls = {}
    for key, value in form.multi_items():
        if key.startswith("url-") and isinstance(value, str) and value.strip():
            try:
                urls[uuid.UUID(key[4:])] = value.strip()[:2000]
            except ValueError:
                continue
    with redirect_on_error(back, place="set"):
        outcome = cleared_sets.posted(
            session=session,
            actor=actor,
            channel=channel,
            picks=_picks(pick),
            urls=urls,
            caption=caption or None,
        )
    words = channel_names.words(channel)
    message = f"Recorded {count(len(outcome.done), 'publication')} on {words}."
    if outcome.refused:
        message += f" Not recorded ({len(outcome.refused)}): " + _said(outcome)
    return redirect(
        back, message=message, place="set", category="error" if outcome.refused else "success"
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
def certificate(staff: PageStaff, publication: PagePublication) -> Response:
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
    actor: PageActor,
    publication: PagePublication,
    session: SessionDep,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    takedown.mark_taken_down(session=session, actor=actor, publication=publication, note=note)
    return redirect("/takedowns", message="Marked as taken down.")


@media_pages.show_on_media_page("publish")
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
