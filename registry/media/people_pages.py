"""Staff pages for work on many photos at once: an event's People page (everyone who opted out,
with every photo and video they were found in), words on many faces at once, and redacted
copies made in a batch (of every flagged photo, or of one person's), with their progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import JSONResponse, Response

from registry import plurals
from registry.deps import PageActor, PageStaff, SessionDep
from registry.errors import redirect_on_error
from registry.events.deps import PageEvent
from registry.media import people, redaction_batches
from registry.media.models import Media, Rendition, RenditionStatus
from registry.media.redaction_batches import CopyState, Progress
from registry.media.service import media_by_ids
from registry.web import page_router, path_uuid, redirect, render

router = page_router()

COPY_WORDS = {
    CopyState.not_needed: "nothing to cover",
    CopyState.missing: "no redacted copy yet",
    CopyState.being_made: "redacted copy being made",
    CopyState.verified: "verified redacted copy",
    CopyState.not_verified: "redacted copy NOT verified",
    CopyState.outdated: "redacted copy misses a later decision",
    CopyState.failed: "redacted copy could not be made",
}


def media_words(items: list[Media], kind: str = "") -> str:
    """ "3 photos", "2 photos and 1 video" (`kind`: "3 flagged photos")."""
    photos = sum(1 for m in items if m.kind != "video")
    videos = len(items) - photos
    parts = [plurals.count(photos, f"{kind}photo")] if photos else []
    parts += [plurals.count(videos, f"{kind}video")] if videos else []
    return " and ".join(parts) or "nothing"


@router.get("/events/{event_id}/people")
def people_page(
    request: Request, staff: PageStaff, event: PageEvent, session: SessionDep
) -> Response:
    """Everyone who opted out of the event's photos, with every photo and video they were found
    in (decided, and awaiting a word); confirm, dismiss and redact from here."""
    return render(
        request,
        "media/people.html",
        {
            "event": event,
            "people": people.opted_out_people(session=session, event_id=event.id),
            "bulk": redaction_batches.overview(session=session, event_id=event.id),
            "copy_words": COPY_WORDS,
            "media_words": media_words,
            "back": "people",
        },
    )


@router.post("/events/{event_id}/people/{booking_id}/faces")
def people_decide(
    booking_id: str,
    actor: PageActor,
    event: PageEvent,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=24)] = "",
    members: Annotated[list[str] | None, Form(max_length=80)] = None,
) -> Response:
    """One word (this is them / not them) for the ticked faces of one person."""
    who = people.person(
        session=session, event_id=event.id, booking_id=path_uuid(booking_id, "attendee")
    )
    place = f"person-{who.booking_id}"
    back = f"/events/{event.id}/people#{place}"
    with redirect_on_error(back, place=place):
        recorded, skipped = people.decide(
            session=session,
            actor=actor,
            event_id=event.id,
            booking_id=who.booking_id,
            members=members or [],
            decision=decision,
        )
    said = "these are" if decision == "confirm" else "not"
    message = f"Recorded for {plurals.count(recorded, 'face')}: {said} {who.name}."
    if skipped:
        message += (
            f" {plurals.count(skipped, 'face')} had been decided meanwhile (or already were) and "
            "were left as they were."
        )
    return redirect(back, message=message, place=place)


def _started(progress: Progress, scope: str) -> str:
    return (
        f"Making {plurals.count(progress.total, 'redacted copy', 'redacted copies')} in the "
        f"background ({scope}): the progress is shown here, and you can leave this page "
        "meanwhile."
    )


@router.post("/events/{event_id}/people/{booking_id}/redact")
def people_redact(
    booking_id: str, actor: PageActor, event: PageEvent, session: SessionDep
) -> Response:
    """Redacted copies of every photo and video one person is found in (a batch of jobs)."""
    who = people.person(
        session=session, event_id=event.id, booking_id=path_uuid(booking_id, "attendee")
    )
    place = f"person-{who.booking_id}"
    back = f"/events/{event.id}/people#{place}"
    with redirect_on_error(back, place=place):
        progress = people.redact(
            session=session,
            actor=actor,
            event_id=event.id,
            booking_id=who.booking_id,
        )
    items = _batch_media(session, progress)
    return redirect(
        f"/events/{event.id}/people#bulk-h",
        message=_started(progress, f"the {media_words(items)} {who.name} is in"),
        place="bulk",
    )


@router.post("/events/{event_id}/redactions")
def redact_flagged(
    actor: PageActor,
    event: PageEvent,
    session: SessionDep,
    back: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Redacted copies of every flagged photo and video of the event that needs one (a batch
    of jobs: the page answers at once and shows their progress)."""
    page = "people" if back == "people" else "photos"
    url = f"/events/{event.id}/{page}#bulk-h"
    with redirect_on_error(url, place="bulk"):
        progress = redaction_batches.redact_flagged(session=session, actor=actor, event_id=event.id)
    items = _batch_media(session, progress)
    return redirect(url, message=_started(progress, media_words(items, "flagged ")), place="bulk")


def _batch_media(session: SessionDep, progress: Progress) -> list[Media]:
    return media_by_ids(session=session, ids=[r.media_id for r in _renditions(session, progress)])


def _renditions(session: SessionDep, progress: Progress) -> list[Rendition]:
    return redaction_batches.renditions_of(session=session, batch=progress.batch)


@router.get("/events/{event_id}/redactions/{batch_id}/status.json")
def batch_status_json(
    batch_id: str, staff: PageStaff, event: PageEvent, session: SessionDep
) -> JSONResponse:
    """A batch's progress for the pages (polled while its copies are made)."""
    progress = redaction_batches.get(
        session=session, event_id=event.id, batch_id=path_uuid(batch_id, "batch")
    )
    items = []
    for rendition in _renditions(session, progress):
        if rendition.status == RenditionStatus.ready:
            state = CopyState.verified if rendition.verified else CopyState.not_verified
        elif rendition.status == RenditionStatus.failed:
            state = CopyState.failed
        else:
            state = CopyState.being_made
        items.append(
            {"media_id": str(rendition.media_id), "state": state, "label": COPY_WORDS[state]}
        )
    return JSONResponse(
        {
            "total": progress.total,
            "ready": progress.ready,
            "verified": progress.verified,
            "failed": progress.failed,
            "progress": progress.fraction,
            "finished": progress.finished,
            "items": items,
        },
        headers={"Cache-Control": "no-store"},
    )
