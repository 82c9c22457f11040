"""Staff pages for an event's photos: upload, review grid, one photo with its boxes, redaction."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import closing
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from registry.auth import service as auth
from registry.config import get_settings
from registry.deps import PageActor, PageStaff, RowId, SessionDep
from registry.errors import Invalid, NotFound, redirect_on_error
from registry.events import service as events
from registry.events.deps import PageEvent
from registry.events.models import Event
from registry.media import decisions, redaction_batches, renditions, review_groups, reviews, service
from registry.media.deps import PageMedia
from registry.media.models import FINAL, Media, MediaStatus, RenditionStatus
from registry.media.storage import get_storage
from registry.plurals import count
from registry.uploads import received
from registry.vision.video_sampling import timestamp
from registry.web import page_router, path_uuid, redirect, render

router = page_router()

DECISION_WORDS = {
    "opted_out": "opted out: must not be shown",
    "review": "may be someone who opted out: review",
    "clear": "clear",
    "too_small": "too small to verify",
}


# What other domains show on a media's page (publishing's gate and files), each a function of
# the media giving template values: bound by the domain that owns them (`show_on_media_page`),
# so media never imports them.
MediaPanel = Callable[[Session, Media], dict[str, object]]
_panels: dict[str, MediaPanel] = {}


def show_on_media_page(name: str) -> Callable[[MediaPanel], MediaPanel]:
    """Show this panel's values on every media page (idempotent per name)."""

    def bind(panel: MediaPanel) -> MediaPanel:
        _panels[name] = panel
        return panel

    return bind


def _statuses(session: SessionDep, event: Event) -> dict[str, int]:
    counts = {s.value: 0 for s in MediaStatus}
    for media in service.list_media(session=session, event_id=event.id):
        counts[media.status] += 1
    return counts


@router.get("/events/{event_id}/photos")
def photos(
    request: Request, staff: PageStaff, event: PageEvent, session: SessionDep, status: str = ""
) -> Response:
    chosen = MediaStatus(status) if status in MediaStatus.__members__ else None
    return render(
        request,
        "media/photos.html",
        {
            "event": event,
            "photos": service.list_media(session=session, event_id=event.id, status=chosen),
            "counts": _statuses(session, event),
            "to_review": review_groups.waiting_count(session=session, event_id=event.id),
            "bulk": redaction_batches.overview(session=session, event_id=event.id),
            "chosen": chosen,
            "max_mb": get_settings().max_upload_mb,
            "max_video_mb": get_settings().max_video_mb,
        },
    )


@router.get("/events/{event_id}/review")
def review_by_person(
    request: Request, staff: PageStaff, event: PageEvent, session: SessionDep
) -> Response:
    """The event's faces waiting for a reviewer, grouped by who they probably are: one
    decision per group."""
    found = review_groups.groups(session=session, event_id=event.id)
    return render(
        request,
        "media/review_groups.html",
        {
            "event": event,
            "groups": found,
            "faces": sum(len(g.members) for g in found),
        },
    )


@router.post("/events/{event_id}/review")
def review_group(
    actor: PageActor,
    event: PageEvent,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=24)] = "",
    members: Annotated[list[str] | None, Form(max_length=80)] = None,
    group: Annotated[str, Form(max_length=40)] = "",
    who: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    back = f"/events/{event.id}/review"
    with redirect_on_error(back + (f"#group-{group}" if group else ""), place="review"):
        recorded, skipped = review_groups.decide(
            session=session,
            actor=actor,
            event_id=event.id,
            members=members or [],
            decision=decision,
        )
    said = "is" if decision == "confirm" else "is not"
    faces = "face" if recorded == 1 else "faces"
    message = f"Recorded for {recorded} {faces}: this {said} {who or 'the candidate'}."
    if skipped:
        message += f" {skipped} had been decided meanwhile and were left as they were."
    return redirect(back, message=message, place="review")


@router.get("/events/{event_id}/attendees/{booking_id}/face.jpg")
def candidate_face(
    booking_id: str, staff: PageStaff, event: PageEvent, session: SessionDep
) -> Response:
    """The candidate's own face beside a group, so the decision is a comparison."""
    data = review_groups.candidate_face(
        session=session, event_id=event.id, booking_id=path_uuid(booking_id, "attendee")
    )
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/media/{media_id}/faces/{number}/crop.jpg")
def face_crop(number: RowId, staff: PageStaff, media: PageMedia, session: SessionDep) -> Response:
    data = review_groups.face_crop(session=session, media=media, number=number)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/events/{event_id}/photos.json")
def photos_json(staff: PageStaff, event: PageEvent, session: SessionDep) -> JSONResponse:
    """Statuses for the page's live progress (polled while photos are being analysed)."""
    return JSONResponse(
        {
            "counts": _statuses(session, event),
            "photos": [
                {
                    "id": str(m.id),
                    "status": m.status,
                    "label": STATUS_WORDS.get(m.status, m.status),
                    "filename": m.filename,
                    "url": f"/media/{m.id}",
                    "thumb": f"/media/{m.id}/thumb.jpg" if m.status != MediaStatus.failed else None,
                    "final": m.status in FINAL or m.status == MediaStatus.failed,
                }
                for m in service.list_media(session=session, event_id=event.id)
            ],
        }
    )


STATUS_WORDS = {
    "pending": "waiting to be checked",
    "processing": "being checked",
    "cleared": "cleared",
    "flagged": "flagged: someone who opted out is in it",
    "needs_review": "needs review",
    "failed": "could not be checked",
}


def _upload(
    request: Request,
    *,
    actor: PageActor,
    session: SessionDep,
    files: list[UploadFile],
    event: Event | None,
    back: str,
) -> Response:
    wants_json = "application/json" in request.headers.get("accept", "")
    chosen = [file for file in files if file.filename]  # a form sends an empty part for none
    with closing(received(chosen)) as each:
        uploaded = service.upload(
            session=session,
            actor=actor,
            files=(service.Upload(name, data) for name, data in each),
            event=event,
        )
    results = [
        {
            "id": str(media.id),
            "filename": media.filename,
            "status": media.status,
            "duplicate": not created,
            "detail": media.failure,
        }
        for media, created in uploaded
    ]
    if wants_json:
        return JSONResponse(results, status_code=202 if results else 422)
    if not results:
        return redirect(back, message="Choose files to upload.", category="error")
    failed = sum(1 for r in results if r["status"] == MediaStatus.failed)
    message = f"Uploaded {count(len(results), 'file')}; they are being checked."
    if failed:
        message += f" {failed} could not be read (see the failed filter)."
    return redirect(back, message=message)


@router.post("/events/{event_id}/photos")
def photos_upload(
    request: Request,
    actor: PageActor,
    event: PageEvent,
    session: SessionDep,
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    return _upload(
        request,
        actor=actor,
        session=session,
        files=files or [],
        event=event,
        back=f"/events/{event.id}/photos",
    )


@router.get("/media")
def media_list(request: Request, staff: PageStaff, session: SessionDep) -> Response:
    """Media not from an event (clinical and case-study material): each needs consent."""
    return render(
        request,
        "media/list.html",
        {
            "items": service.list_media(session=session, without_event=True, limit=500),
            "max_mb": get_settings().max_upload_mb,
            "max_video_mb": get_settings().max_video_mb,
        },
    )


@router.post("/media")
def media_upload(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    return _upload(
        request, actor=actor, session=session, files=files or [], event=None, back="/media"
    )


def match_words(distance: float | None) -> str:
    """A face distance in words a reviewer can act on (the number stays as a detail)."""
    settings = get_settings()
    if distance is None:
        return "match"
    if distance <= settings.match_threshold:
        return "strong match"
    if distance <= settings.review_threshold:
        return "possible match"
    return "weak resemblance"


@router.get("/media/{media_id}")
def photo(request: Request, staff: PageStaff, media: PageMedia, session: SessionDep) -> Response:
    otherwise = decisions.consented_otherwise(session=session, media=media)
    faces = service.faces_of(session=session, media=media)
    bookings = {
        b.id: b
        for b in (
            events.list_bookings(
                session=session, event=events.get_event(session=session, event_id=media.event_id)
            )
            if media.event_id
            else []
        )
    }
    objections = decisions.objections_of(session=session, media=media)
    return render(
        request,
        "media/video.html" if media.kind == "video" else "media/photo.html",
        {
            "stamp": timestamp,
            "media": media,
            "faces": faces,
            "badges": service.badges_of(session=session, media=media),
            "renditions": service.renditions_of(session=session, media=media),
            "bookings": bookings,
            "words": DECISION_WORDS,
            "final": media.status in FINAL,
            "otherwise": otherwise,
            "people": auth.display_names(
                session=session,
                labels={r.actor for r in otherwise.values()}
                | {o.decided_by for o, _ in objections if o.decided_by},
            ),
            "match_words": match_words,
            "objections": objections,
            **{k: v for panel in _panels.values() for k, v in panel(session, media).items()},
        },
    )


@router.get("/media/{media_id}/thumb.jpg")
def thumb(staff: PageStaff, media: PageMedia) -> Response:
    data = renditions.small_copy(media=media, kind="thumbs")
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/media/{media_id}/preview.jpg")
def preview(staff: PageStaff, media: PageMedia) -> Response:
    data = renditions.small_copy(media=media, kind="previews")
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def ranged(request: Request, data: bytes, media_type: str) -> Response:
    """The bytes, or the one range a video player asks for (206), so it can seek."""
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    asked = _RANGE.match(request.headers.get("range", "").strip())
    if asked is None or not (asked.group(1) or asked.group(2)):
        return Response(data, media_type=media_type, headers=headers)
    size = len(data)
    first, last = asked.group(1), asked.group(2)
    start = int(first) if first else max(0, size - int(last))
    end = min(size - 1, int(last)) if first and last else size - 1
    if start >= size or start > end:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, media_type=media_type, headers=headers)


@router.get("/media/{media_id}/video")
def original_video(request: Request, staff: PageStaff, media: PageMedia) -> Response:
    """A video's original for the review page's player (staff only; never published as is)."""
    if media.kind != "video" or media.status == MediaStatus.failed:
        raise NotFound("No video to play.")
    return ranged(request, get_storage().get(media.sha256), media.content_type)


@router.get("/media/{media_id}/tracks/{number}/thumb.jpg")
def track_thumb(number: RowId, staff: PageStaff, media: PageMedia, session: SessionDep) -> Response:
    data = renditions.track_thumbnail(session=session, media=media, number=number)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.post("/media/{media_id}/tracks/{face_number}/review")
@router.post("/media/{media_id}/faces/{face_number}/review")
def review(
    face_number: RowId,
    actor: PageActor,
    media: PageMedia,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=24)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    objector: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    if decision not in ("confirm", "not_this_person", "consented_otherwise", "objector"):
        raise Invalid("Choose confirm, not this person, or consented another way.")
    with redirect_on_error(f"/media/{media.id}#faces-h", place="faces"):
        status = reviews.review_face(
            session=session,
            actor=actor,
            media=media,
            face_number=face_number,
            decision=decision,
            note=note,
            objector=objector,
        )
    part = "Track" if media.kind == "video" else "Face"
    return redirect(
        f"/media/{media.id}#faces-h",
        message=f"{part} {face_number}: recorded. The {media.kind} is now "
        f"{str(status).replace('_', ' ')}.",
        place="faces",
    )


@router.post("/media/{media_id}/redact")
def redact(
    actor: PageActor,
    media: PageMedia,
    session: SessionDep,
    back: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Make a redacted copy; the message is shown where the button was (the redaction section,
    or the publish section when asked from there). A video's is made in the background: the
    page shows its progress."""
    place = "publish" if back == "publish" else "redact"
    url = f"/media/{media.id}#{place}-h"
    with redirect_on_error(url, place=place):
        rendition = renditions.redact(session=session, actor=actor, media=media)
    if rendition.status != RenditionStatus.ready:
        return redirect(
            f"/media/{media.id}#redact-h",
            message="Redaction started. Every frame is re-encoded and the copy checked again: "
            "its progress is shown below, and you can leave this page meanwhile.",
            place="redact",
        )
    verdict = (
        "verified: nobody who opted out is found in it"
        if rendition.verified
        else "NOT verified: someone who opted out may still be recognisable; do not publish it"
    )
    return redirect(
        url,
        message=f"Redacted copy made ({verdict}).",
        category="success" if rendition.verified else "error",
        place=place,
    )


@router.get("/media/{media_id}/renditions/{rendition_id}/status.json")
def rendition_status_json(
    rendition_id: uuid.UUID, staff: PageStaff, media: PageMedia, session: SessionDep
) -> JSONResponse:
    """A redaction's progress for the video's page (polled while it is made)."""
    rendition = service.get_rendition(session=session, media=media, rendition_id=rendition_id)
    return JSONResponse(
        {
            "status": rendition.status,
            "progress": rendition.progress,
            "verified": rendition.verified,
            "failure": rendition.failure,
            "tracks": len(rendition.obscured_faces),
            "badges": len(rendition.obscured_badges),
            "download": f"/media/{media.id}/renditions/{rendition.id}"
            if rendition.status == RenditionStatus.ready
            else None,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/media/{media_id}/renditions/{rendition_id}")
def rendition_download(
    rendition_id: uuid.UUID, staff: PageStaff, media: PageMedia, session: SessionDep
) -> Response:
    rendition = service.ready_rendition(session=session, media=media, rendition_id=rendition_id)
    kind, ext = ("video/mp4", "mp4") if media.kind == "video" else ("image/jpeg", "jpg")
    return Response(
        get_storage().get(rendition.sha256, kind="renditions"),
        media_type=kind,
        headers={
            "Content-Disposition": f'attachment; filename="{rendition.kind}-{media.id}.{ext}"'
        },
    )
