"""Storing what a clearance job found (idempotent: a second delivery replaces the first), then
deciding the photo: a photo's faces numbered in reading order, a video's tracks by start, each
badge seen with the booking it belongs to (only of the media's event).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, delete, select

from registry import metrics
from registry.db import utcnow
from registry.events.models import Booking, Event
from registry.media import biometrics, reclear
from registry.media.models import (
    FINAL,
    Media,
    MediaBadge,
    MediaFace,
)
from registry.vision.analysis import Analysis
from registry.vision.video_tracks import VideoAnalysis


def badge_booking(session: Session, media: Media, code: str) -> uuid.UUID | None:
    """The booking a badge code seen in this media belongs to (only of the media's event)."""
    booking = session.exec(select(Booking).where(Booking.badge_code == code)).first()
    return booking.id if booking and booking.event_id == media.event_id else None


def reading_order(boxes: Sequence[tuple[int, int, int, int]]) -> list[int]:
    """Indexes of face boxes (top, right, bottom, left) as a person reads them: rows from top
    to bottom, each left to right. A face joins the row whose first face's height spans its
    centre (faces side by side at slightly different heights are one row, whatever the
    photo's size); a fixed band cut rows in two at arbitrary lines."""
    rows: list[tuple[float, float, list[int]]] = []  # (top, bottom) of the row's first face
    for i in sorted(range(len(boxes)), key=lambda i: (boxes[i][0], boxes[i][3])):
        top, _right, bottom, _left = boxes[i]
        centre = (top + bottom) / 2
        row = next((r for r in rows if r[0] <= centre <= r[1]), None)
        if row is None:
            rows.append((top, bottom, [i]))
        else:
            row[2].append(i)
    return [
        i for _top, _bottom, members in rows for i in sorted(members, key=lambda i: boxes[i][3])
    ]


def event_badges(session: Session, event_id: uuid.UUID | None) -> dict[str, uuid.UUID]:
    """Every badge code of an event's bookings, with its booking (`badge_booking` for many)."""
    if event_id is None:
        return {}
    rows = session.exec(select(Booking.badge_code, Booking.id).where(Booking.event_id == event_id))
    return dict(rows.all())


def _store_video(
    session: Session, media: Media, result: VideoAnalysis, purge: datetime | None
) -> None:
    """A video's tracks become its faces (numbered by start), its badge sightings its badges
    (linked to the track wearing them in that frame)."""
    order = sorted(range(len(result.tracks)), key=lambda i: (result.tracks[i].samples[0].t_s, i))
    number_of = {i: n for n, i in enumerate(order, start=1)}
    for i in order:
        track, number = result.tracks[i], number_of[i]
        box = track.largest
        row = MediaFace(
            media_id=media.id,
            number=number,
            top=box[0],
            right=box[1],
            bottom=box[2],
            left=box[3],
            purge_after=purge,
            start_s=track.samples[0].t_s,
            end_s=track.samples[-1].t_s,
            samples=[[round(s.t_s, 3), *s.box] for s in track.samples],
            caution=track.caution,
        )
        encoding = track.encoding
        if encoding is not None:
            row.encoding = biometrics.seal(encoding, f"face:{media.id}:{number}")
        session.add(row)
    for sighting in result.badges:
        session.add(
            MediaBadge(
                media_id=media.id,
                code=sighting.code[:200],
                top=sighting.box[0],
                right=sighting.box[1],
                bottom=sighting.box[2],
                left=sighting.box[3],
                booking_id=badge_booking(session, media, sighting.code),
                face_number=None if sighting.track is None else number_of[sighting.track],
                t_s=round(sighting.t_s, 3),
            )
        )
    media.duration_s, media.frame_rate = result.duration_s, result.frame_rate


def store_analysis(
    *, session: Session, media_id: uuid.UUID, result: Analysis | VideoAnalysis
) -> Media | None:
    """Save what the worker found (idempotent: a second delivery replaces the first) and decide."""
    found = session.get(Media, media_id)
    if found is not None and found.event_id is not None:
        # Event first, then media: the order publishing and re-clearance lock in.
        session.get(Event, found.event_id, with_for_update=True)
    media = session.get(Media, media_id, with_for_update=True, populate_existing=True)
    if media is None or media.status in FINAL:
        return media
    session.exec(delete(MediaFace).where(col(MediaFace.media_id) == media.id))
    session.exec(delete(MediaBadge).where(col(MediaBadge.media_id) == media.id))
    purge = biometrics.purge_date(session, media)
    if isinstance(result, VideoAnalysis):
        _store_video(session, media, result, purge)
    ordered = (
        []
        if isinstance(result, VideoAnalysis)
        else [result.faces[i] for i in reading_order([f.box for f in result.faces])]
    )
    codes = [] if isinstance(result, VideoAnalysis) else result.codes
    for number, face in enumerate(ordered, start=1):
        row = MediaFace(
            media_id=media.id,
            number=number,
            top=face.box[0],
            right=face.box[1],
            bottom=face.box[2],
            left=face.box[3],
            purge_after=purge,
            caution=face.caution,
        )
        if face.encoding is not None:
            row.encoding = biometrics.seal(face.encoding, f"face:{media.id}:{number}")
        session.add(row)
    for code in codes:
        session.add(
            MediaBadge(
                media_id=media.id,
                code=code.text[:200],
                top=code.box[0],
                right=code.box[1],
                bottom=code.box[2],
                left=code.box[3],
                booking_id=badge_booking(session, media, code.text),
            )
        )
    media.width, media.height = result.width, result.height
    media.min_face_px = result.min_face_px
    media.analysed_at = utcnow()
    media.lease_until = None
    session.add(media)
    session.flush()
    reclear.decide_and_spread(session=session, media=media)
    _observe(media, result)
    return media


def _observe(media: Media, result: Analysis | VideoAnalysis) -> None:
    """The figures a decision adds: time from upload, faces found, seconds per stage."""
    figures = metrics.get()
    if isinstance(result, Analysis):
        figures.faces_per_photo.observe(len(result.faces))
        for stage, seconds in result.stages.items():
            figures.stage_seconds.labels(stage).observe(seconds)
    figures.clearance_seconds.labels(media.kind).observe(
        max(0.0, (utcnow() - media.created_at).total_seconds())
    )
