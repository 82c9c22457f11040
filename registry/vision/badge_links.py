"""Which face wears which badge, by where a badge hangs on a person (geometry only: no
likeness, no images). A photo and each sampled frame of a video are linked the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from registry.vision.faces import Box


class PlacedFace(Protocol):
    """A face as linking needs it: which one, and where."""

    @property
    def id(self) -> int: ...

    @property
    def box(self) -> Box: ...


class PlacedBadge(Protocol):
    @property
    def box(self) -> Box: ...


# Badge-to-face geometry. A badge hangs on the chest: its centre within the wearer's body
# column, its top from just under the chin to a few face heights lower, and its code a plausible
# size for that face (at the same distance from the camera, a badge's QR code is about half a
# face wide). Anything else is not linked.
COLUMN = 0.75  # |badge centre - face centre| / face width
DROP = (-0.2, 4.0)  # (badge top - chin) / face height
SCALE = (0.2, 1.3)  # badge width / face width
# A second face whose fit is nearly as good makes the link ambiguous: nobody is linked.
AMBIGUITY = 0.35


def _fit(face: Box, badge: Box) -> float | None:
    """How well a badge fits as worn by this face (lower is better), or None if it cannot be."""
    top, right, bottom, left = face
    b_top, b_right, _b_bottom, b_left = badge
    w, h = max(1, right - left), max(1, bottom - top)
    dx = abs((b_left + b_right) / 2 - (left + right) / 2) / w
    dy = (b_top - bottom) / h
    ratio = max(1, b_right - b_left) / w
    if dx > COLUMN or not DROP[0] <= dy <= DROP[1] or not SCALE[0] <= ratio <= SCALE[1]:
        return None
    # Centred under the chin at a usual lanyard drop, at the usual size, fits best.
    return dx + 0.15 * abs(dy - 1.0) + 0.5 * abs(ratio - 0.5)


def link_badges(
    faces: Sequence[PlacedFace], badges: Sequence[PlacedBadge]
) -> tuple[dict[int, int], dict[int, tuple[int, ...]]]:
    """(badge index → face id) for badges whose wearer is unambiguous, and (badge index →
    candidate face ids) for badges two or more faces could be wearing."""
    fits: dict[int, list[tuple[float, int]]] = {}
    for b_index, badge in enumerate(badges):
        scored = sorted(
            (fit, face.id) for face in faces if (fit := _fit(face.box, badge.box)) is not None
        )
        if scored:
            fits[b_index] = scored
    links: dict[int, int] = {}
    ambiguous: dict[int, tuple[int, ...]] = {}
    used: set[int] = set()
    for b_index, scored in sorted(fits.items(), key=lambda item: item[1][0][0]):
        free = [(fit, face_id) for fit, face_id in scored if face_id not in used]
        if not free:
            continue
        best_fit, best_face = free[0]
        rivals = [face_id for fit, face_id in free[1:] if fit <= best_fit + AMBIGUITY]
        if rivals:
            ambiguous[b_index] = (best_face, *rivals)
            continue
        links[b_index] = best_face
        used.add(best_face)
    return links, ambiguous
