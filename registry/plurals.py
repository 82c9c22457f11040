"""Counts in words people read: "1 booking", "3 bookings", never "booking(s)"."""

from __future__ import annotations


def count(n: int, one: str, many: str | None = None) -> str:
    """`n` and the word for it: `count(1, "booking")` is "1 booking", `count(2, "booking")`
    "2 bookings", `count(2, "face", "faces")` with an irregular plural given."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
