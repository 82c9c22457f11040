"""Who caused a change, as the audit log and every service name it: a staff account by its id, a
member of the public by their role (never a name or an address), the system or the CLI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who caused a change, as written in the log (no names or emails of the public)."""

    label: str

    @classmethod
    def staff(cls, user_id: int | None) -> Actor:
        return cls(f"staff:{user_id}")

    @classmethod
    def public(cls, kind: str) -> Actor:
        return cls(kind)


SYSTEM = Actor("system")
CLI = Actor("cli")
