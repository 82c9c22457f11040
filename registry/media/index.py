"""Which photos of an event hold a face near given encodings: an in-memory index per event.

Re-clearance after an opt-out (or a new transient reference) must not re-decide every photo of a
large event: only photos that hold a face that could be that person can change. This index keeps
the event's stored face encodings decrypted in memory (float32, in this process only), loads the
photos analysed since it last looked (by photo, so commit order does not matter), drops faces past
their purge date, and answers "which photos have a face within this distance" with one
vectorised computation. It only narrows the search: every candidate is then decided from the
database, so a stale extra candidate costs a little time and never changes a result.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlmodel import Session, col, select

from registry import crypto
from registry.media.models import FINAL, Media, MediaFace

MAX_EVENTS = 8  # events kept in memory (least recently used go first)


@dataclass
class _EventFaces:
    media: list[uuid.UUID] = field(default_factory=list)  # one per row of `encodings`
    numbers: list[int] = field(default_factory=list)  # the face's number in its photo
    encodings: np.ndarray = field(default_factory=lambda: np.zeros((0, 128), np.float32))
    purge_at: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    loaded: dict[uuid.UUID, datetime | None] = field(default_factory=dict)  # media -> analysed_at


_events: OrderedDict[uuid.UUID, _EventFaces] = OrderedDict()
_lock = threading.Lock()


def _decrypt(blob: bytes, media_id: uuid.UUID, number: int) -> np.ndarray:
    raw = crypto.decrypt(blob, bound_to=f"face:{media_id}:{number}")
    return np.frombuffer(raw, dtype="<f8").astype(np.float32)


def _refresh(session: Session, event_id: uuid.UUID, faces: _EventFaces) -> None:
    """Load the faces of photos finished (or re-analysed) since the last look."""
    final = session.exec(
        select(Media.id, Media.analysed_at).where(
            Media.event_id == event_id, col(Media.status).in_(list(FINAL))
        )
    ).all()
    due = [m for m, at in final if faces.loaded.get(m, "unset") != at]
    if not due:
        return
    rows: list[tuple[uuid.UUID, int, bytes, datetime | None]] = []
    for start in range(0, len(due), 500):
        chunk = due[start : start + 500]
        rows.extend(
            session.exec(
                select(
                    MediaFace.media_id, MediaFace.number, MediaFace.encoding, MediaFace.purge_after
                ).where(col(MediaFace.media_id).in_(chunk), col(MediaFace.encoding).is_not(None))
            ).all()  # type: ignore[arg-type]
        )
    stale = {m for m in due if m in faces.loaded}
    if stale:  # re-analysed photos: drop their old faces
        keep = [i for i, m in enumerate(faces.media) if m not in stale]
        faces.media = [faces.media[i] for i in keep]
        faces.numbers = [faces.numbers[i] for i in keep]
        faces.encodings = faces.encodings[keep]
        faces.purge_at = faces.purge_at[keep]
    if rows:
        faces.media.extend(r[0] for r in rows)
        faces.numbers.extend(r[1] for r in rows)
        faces.encodings = np.vstack(
            [faces.encodings, np.stack([_decrypt(r[2], r[0], r[1]) for r in rows])]
        )
        faces.purge_at = np.concatenate(
            [faces.purge_at, np.array([r[3].timestamp() if r[3] else np.inf for r in rows])]
        )
    analysed = dict(final)
    for media_id in due:
        faces.loaded[media_id] = analysed[media_id]


def faces_near(
    *,
    session: Session,
    event_id: uuid.UUID,
    encodings: Sequence[np.ndarray],
    radius: float,
) -> set[tuple[uuid.UUID, int]]:
    """(photo, face number) of the event's analysed faces within `radius` of any `encodings`."""
    if not encodings:
        return set()
    with _lock:
        faces = _events.pop(event_id, None) or _EventFaces()
        _events[event_id] = faces
        while len(_events) > MAX_EVENTS:
            _events.popitem(last=False)
        _refresh(session, event_id, faces)
        live = faces.purge_at > time.time()  # purged templates are never compared
        if not live.all():
            faces.media = [m for m, ok in zip(faces.media, live, strict=True) if ok]
            faces.numbers = [n for n, ok in zip(faces.numbers, live, strict=True) if ok]
            faces.encodings, faces.purge_at = faces.encodings[live], faces.purge_at[live]
        stored, owners, numbers = faces.encodings, list(faces.media), list(faces.numbers)
    if not owners:
        return set()
    query = np.asarray(encodings, dtype=np.float32)
    # Squared distances without materialising (faces × queries × 128).
    d2 = (
        np.sum(stored * stored, axis=1)[:, None]
        - 2 * stored @ query.T
        + np.sum(query * query, axis=1)[None, :]
    )
    hits = np.nonzero((d2 <= radius * radius + 1e-4).any(axis=1))[0]
    return {(owners[i], numbers[i]) for i in hits}


def photos_near(
    *,
    session: Session,
    event_id: uuid.UUID,
    encodings: Sequence[np.ndarray],
    radius: float,
    exclude: Iterable[uuid.UUID] = (),
) -> set[uuid.UUID]:
    """Analysed photos of the event with a face within `radius` of any of `encodings`."""
    near = faces_near(session=session, event_id=event_id, encodings=encodings, radius=radius)
    return {media_id for media_id, _ in near} - set(exclude)


def forget(event_id: uuid.UUID | None = None) -> None:
    """Drop the index of one event (or all): after a purge, or in tests."""
    with _lock:
        if event_id is None:
            _events.clear()
        else:
            _events.pop(event_id, None)
