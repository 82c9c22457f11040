"""Faces are numbered as a person reads a photo: rows top to bottom, each left to right."""

from __future__ import annotations

from registry.media.analyses import reading_order


def _box(left: int, top: int, size: int = 100) -> tuple[int, int, int, int]:
    return (top, left + size, top + size, left)


def test_a_row_at_slightly_different_heights_reads_left_to_right() -> None:
    # Three people side by side, their heads at 190, 215 and 205 px: one row (a fixed 200 px
    # band split it, numbering the middle person first).
    boxes = [_box(900, 215), _box(100, 190), _box(500, 205)]
    assert reading_order(boxes) == [1, 2, 0]


def test_rows_top_to_bottom_each_left_to_right() -> None:
    back = [_box(1200, 100, 60), _box(300, 120, 60), _box(700, 90, 60)]
    front = [_box(800, 500, 160), _box(100, 520, 160)]
    boxes = [*front, *back]
    assert reading_order(boxes) == [3, 4, 2, 1, 0]


def test_no_faces_and_one_face() -> None:
    assert reading_order([]) == []
    assert reading_order([_box(10, 10)]) == [0]
