"""Media upload and clearance results over the API (staff)."""

from __future__ import annotations

import uuid
from contextlib import closing
from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile
from sqlmodel import Session

from registry.deps import CurrentStaff, RowId, SessionDep, StaffActor
from registry.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
    Unavailable,
    error_responses,
)
from registry.events import service as events
from registry.media import redaction_batches, renditions, reviews, service
from registry.media.deps import MediaByID
from registry.media.models import Media, MediaFace, MediaStatus, Rendition, RenditionStatus
from registry.media.schemas import (
    BadgePublic,
    BoxPublic,
    FacePublic,
    FaceReviewIn,
    MediaPublic,
    MediaSummary,
    RedactionBatchPublic,
    RenditionPublic,
    SamplePublic,
    TrackPublic,
    UploadResult,
)
from registry.media.storage import get_storage
from registry.uploads import received

router = APIRouter(prefix="/api", tags=["media"])
ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Invalid)
MAX_FILES = 200


def _box(values: list[float]) -> BoxPublic:
    top, right, bottom, left = (int(v) for v in values)
    return BoxPublic(top=top, right=right, bottom=bottom, left=left)


def _track(media: Media, f: MediaFace) -> TrackPublic:
    return TrackPublic(
        id=f.number,
        booking_id=f.booking_id,
        decision=f.decision,
        via=f.via,
        distance=f.distance,
        start_s=f.start_s or 0.0,
        end_s=f.end_s or 0.0,
        caution=f.caution,
        thumbnail_url=f"/api/media/{media.id}/tracks/{f.number}/thumbnail.jpg",
        samples=[SamplePublic(t_s=s[0], box=_box(s[1:5])) for s in f.samples or []],
    )


def media_public(session: Session, media: Media) -> MediaPublic:
    faces = service.faces_of(session=session, media=media)
    video = media.kind == "video"
    return MediaPublic(
        id=media.id,
        event_id=media.event_id,
        kind="video" if video else "photo",
        status=media.status,
        filename=media.filename,
        width=media.width,
        height=media.height,
        duration_s=media.duration_s,
        frame_rate=media.frame_rate,
        failure=media.failure,
        min_face_px=media.min_face_px,
        tracks=[_track(media, f) for f in faces] if video else [],
        faces=[
            FacePublic(
                id=f.number,
                box=BoxPublic(top=f.top, right=f.right, bottom=f.bottom, left=f.left),
                booking_id=f.booking_id,
                distance=f.distance,
                via=f.via,
                decision=f.decision,
                caution=f.caution,
            )
            for f in ([] if video else faces)
        ],
        badges=[
            BadgePublic(
                booking_id=b.booking_id,
                box=BoxPublic(top=b.top, right=b.right, bottom=b.bottom, left=b.left),
                face_id=b.face_number,
                t_s=b.t_s,
            )
            for b in service.badges_of(session=session, media=media)
        ],
        reasons=list(media.reasons or []),
        renditions=[
            rendition_public(r) for r in service.renditions_of(session=session, media=media)
        ],
        created_at=media.created_at,
    )


def rendition_public(rendition: Rendition) -> RenditionPublic:
    return RenditionPublic(
        id=rendition.id,
        kind=rendition.kind,
        url=f"/api/media/{rendition.media_id}/renditions/{rendition.id}",
        verified=rendition.verified,
        obscured_faces=rendition.obscured_faces,
        obscured_badges=rendition.obscured_badges,
        status=rendition.status,
        progress=rendition.progress,
        failure=rendition.failure,
        status_url=f"/api/media/{rendition.media_id}/renditions/{rendition.id}/status",
    )


@router.post("/media", status_code=202, response_model=list[UploadResult], responses=ERRORS)
def upload_media(
    actor: StaffActor,
    session: SessionDep,
    files: Annotated[
        list[UploadFile],
        File(description="JPEG, PNG, WebP or HEIC photos; MP4, MOV or WebM videos."),
    ],
    event_id: Annotated[uuid.UUID | None, Form(description="The event they were taken at.")] = None,
) -> list[UploadResult]:
    """Upload photos and videos for clearance; returns at once (202) while they are analysed.
    The same
    bytes uploaded again return the existing media (`duplicate`); a bad file gets `failed`
    with its reason and does not stop the others."""
    if len(files) > MAX_FILES:
        raise Invalid(f"Upload at most {MAX_FILES} files at a time.", field="files")
    event = events.get_event(session=session, event_id=event_id) if event_id else None
    with closing(received(files)) as each:
        uploaded = service.upload(
            session=session,
            actor=actor,
            files=(service.Upload(name, data) for name, data in each),
            event=event,
        )
    return [
        UploadResult(
            id=media.id,
            status=media.status,
            filename=media.filename,
            duplicate=not created,
            detail=media.failure,
        )
        for media, created in uploaded
    ]


@router.get("/media", response_model=list[MediaSummary], responses=ERRORS)
def list_media(
    staff: CurrentStaff,
    session: SessionDep,
    event_id: uuid.UUID | None = None,
    status: MediaStatus | None = None,
) -> list[Media]:
    """Media, newest first, filtered by event and status."""
    return service.list_media(session=session, event_id=event_id, status=status)


@router.get("/media/{media_id}", response_model=MediaPublic, responses=ERRORS)
def get_media(staff: CurrentStaff, media: MediaByID, session: SessionDep) -> MediaPublic:
    """One photo with its faces, badges, decision reasons and renditions."""
    return media_public(session, media)


@router.post(
    "/media/{media_id}/faces/{face_id}/review",
    response_model=MediaPublic,
    responses={**ERRORS, **error_responses(Conflict)},
)
def review_face(
    body: FaceReviewIn,
    actor: StaffActor,
    media: MediaByID,
    session: SessionDep,
    face_id: RowId,
) -> MediaPublic:
    """Confirm a match, or say the face is not that person (re-clearance respects it); or, for
    media not from an event, record that this person consented another way (with a note)."""
    reviews.review_face(
        session=session,
        actor=actor,
        media=media,
        face_number=face_id,
        decision=body.decision,
        note=body.note,
        objector=body.booking_id,
    )
    return media_public(session, media)


@router.post(
    "/media/{media_id}/tracks/{track_id}/review",
    response_model=MediaPublic,
    responses={**ERRORS, **error_responses(Conflict)},
)
def review_track(
    body: FaceReviewIn,
    actor: StaffActor,
    media: MediaByID,
    session: SessionDep,
    track_id: RowId,
) -> MediaPublic:
    """A video's track: confirm the match, or say it is not that person (every re-clearance
    respects it)."""
    if media.kind != "video":
        raise NotFound("This media is a photo: review its faces.")
    reviews.review_face(
        session=session,
        actor=actor,
        media=media,
        face_number=track_id,
        decision=body.decision,
        note=body.note,
        objector=body.booking_id,
    )
    return media_public(session, media)


@router.get(
    "/media/{media_id}/tracks/{track_id}/thumbnail.jpg",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"image/jpeg": {}}, "description": "JPEG"}},
)
def track_thumbnail(
    staff: CurrentStaff, media: MediaByID, session: SessionDep, track_id: RowId
) -> Response:
    """The track's face at its largest, from the video (a small JPEG, no metadata)."""
    data = renditions.track_thumbnail(session=session, media=media, number=track_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.post(
    "/media/{media_id}/redact",
    status_code=201,
    response_model=RenditionPublic,
    responses={
        **ERRORS,
        **error_responses(Conflict, Unavailable),
        201: {"description": "A photo: the redacted copy, made and checked."},
        202: {
            "model": RenditionPublic,
            "description": "A video: its redaction is queued (`status` pending); poll "
            "`status_url` until it is ready.",
        },
    },
)
def redact(
    actor: StaffActor, media: MediaByID, session: SessionDep, response: Response
) -> RenditionPublic:
    """Make a redacted rendition: opted-out (and unresolved) faces and opted-out badges
    obscured, metadata stripped, verified by detecting and matching again. The original is
    never altered. A photo's is made at once (201); a video's is re-encoded in the background
    (202, with its progress at `status_url`)."""
    rendition = renditions.redact(session=session, actor=actor, media=media)
    if rendition.status != RenditionStatus.ready:
        response.status_code = 202
    return rendition_public(rendition)


@router.get(
    "/media/{media_id}/renditions/{rendition_id}/status",
    response_model=RenditionPublic,
    responses=ERRORS,
)
def rendition_status(
    staff: CurrentStaff, media: MediaByID, session: SessionDep, rendition_id: uuid.UUID
) -> RenditionPublic:
    """A rendition's state: a video's redaction moves from pending through processing
    (`progress`) to ready or failed."""
    return rendition_public(
        service.get_rendition(session=session, media=media, rendition_id=rendition_id)
    )


@router.get(
    "/media/{media_id}/renditions/{rendition_id}",
    response_class=Response,
    responses={
        **ERRORS,
        **error_responses(Conflict),
        200: {"content": {"image/jpeg": {}, "video/mp4": {}}, "description": "JPEG or MP4"},
    },
)
def download_rendition(
    staff: CurrentStaff, media: MediaByID, session: SessionDep, rendition_id: uuid.UUID
) -> Response:
    """The rendition's bytes (a JPEG, or a video's MP4, without metadata); 409 while a video's
    redaction is still being made (or if it failed)."""
    rendition = service.ready_rendition(session=session, media=media, rendition_id=rendition_id)
    kind, ext = ("video/mp4", "mp4") if media.kind == "video" else ("image/jpeg", "jpg")
    return Response(
        get_storage().get(rendition.sha256, kind="renditions"),
        media_type=kind,
        headers={
            "Content-Disposition": f'attachment; filename="{rendition.kind}-{media.id}.{ext}"'
        },
    )


def batch_public(session: Session, progress: redaction_batches.Progress) -> RedactionBatchPublic:
    batch = progress.batch
    return RedactionBatchPublic(
        id=batch.id,
        event_id=batch.event_id,
        booking_id=batch.booking_id,
        total=progress.total,
        ready=progress.ready,
        verified=progress.verified,
        failed=progress.failed,
        progress=progress.fraction,
        finished=progress.finished,
        renditions=[
            rendition_public(r)
            for r in redaction_batches.renditions_of(session=session, batch=batch)
        ],
        status_url=f"/api/events/{batch.event_id}/redactions/{batch.id}",
        created_at=batch.created_at,
    )


@router.post(
    "/events/{event_id}/redactions",
    status_code=202,
    response_model=RedactionBatchPublic,
    responses={**ERRORS, **error_responses(Conflict)},
)
def redact_flagged(
    event_id: uuid.UUID, actor: StaffActor, session: SessionDep
) -> RedactionBatchPublic:
    """Redacted copies of every flagged photo and video of the event that has no verified copy
    covering everyone who opted out: answered at once (202), each copy made and checked in the
    background by its own job (a worker that dies loses only its copy); poll `status_url`.
    409 when none needs one (or every copy is being made)."""
    event = events.get_event(session=session, event_id=event_id)
    progress = redaction_batches.redact_flagged(session=session, actor=actor, event_id=event.id)
    return batch_public(session, progress)


@router.get(
    "/events/{event_id}/redactions/{batch_id}",
    response_model=RedactionBatchPublic,
    responses=ERRORS,
)
def redaction_batch(
    event_id: uuid.UUID, batch_id: uuid.UUID, staff: CurrentStaff, session: SessionDep
) -> RedactionBatchPublic:
    """A batch of redacted copies: how far it is, and each copy's state."""
    return batch_public(
        session, redaction_batches.get(session=session, event_id=event_id, batch_id=batch_id)
    )
