"""A video's reasons: who appears when (people and time ranges), from its decided tracks and
the badges seen in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session, col, select

from registry.events.models import Booking
from registry.media.models import (
    MediaBadge,
    MediaFace,
)
from registry.plurals import count
from registry.vision.video_sampling import timestamp


def _span(start: float | None, end: float | None) -> str:
    return f"{timestamp(start or 0.0)}–{timestamp(end or start or 0.0)}"


def video_reasons(
    session: Session,
    tracks: Sequence[MediaFace],
    badges: Sequence[MediaBadge],
    opted_out: set[uuid.UUID],
) -> list[str]:
    """A video's reasons: who appears when (people and time ranges), from its decided tracks."""
    wanted = {t.booking_id for t in tracks if t.booking_id} | {
        b.booking_id for b in badges if b.booking_id
    }
    names = (
        {
            b.id: b.name
            for b in session.exec(select(Booking).where(col(Booking.id).in_(wanted))).all()
        }
        if wanted
        else {}
    )
    reasons: list[str] = []
    for track in tracks:
        name = names.get(track.booking_id, "an attendee") if track.booking_id else None
        when = _span(track.start_s, track.end_s)
        if track.decision == "opted_out" and name:
            how = {
                "badge": "wearing their badge",
                "face": f"matched to their reference photo, distance {track.distance or 0:.2f}",
                "linked": "matched to a face seen wearing their badge, "
                f"distance {track.distance or 0:.2f}",
            }.get(track.via or "", "confirmed by a reviewer")
            reasons.append(f"{name} (opted out) appears {when} (track {track.number}, {how}).")
        elif track.decision == "review" and name:
            reasons.append(
                f"Track {track.number} ({when}) may be {name}, who opted out: please review."
            )
    unlinked: dict[uuid.UUID, list[float]] = {}
    unknown: dict[str, list[float]] = {}
    for badge in badges:
        t = badge.t_s or 0.0
        if badge.booking_id is None:
            unknown.setdefault(badge.code, []).append(t)
        elif badge.booking_id in opted_out and badge.face_number is None:
            unlinked.setdefault(badge.booking_id, []).append(t)
    for booking_id, times in unlinked.items():
        reasons.append(
            f"The badge of {names.get(booking_id, 'an attendee')} (opted out) is visible "
            f"{_span(min(times), max(times))}, its wearer not certain."
        )
    for code, times in unknown.items():
        reasons.append(
            f"A QR code that is not a badge of this event was seen ({code!r}, "
            f"{_span(min(times), max(times))})."
        )
    small = sum(1 for t in tracks if t.decision == "too_small")
    if small:
        are = "is" if small == 1 else "are"
        reasons.append(f"{count(small, 'track')} {are} too small to verify.")
    return reasons
