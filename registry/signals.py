"""Named domain signals: a domain says what happened; the reactions are bound in one place.

Lower domains must not call higher ones (events and consent know nothing of media or
publishing), yet an opt-out must re-clear the event's photos and a withdrawn consent must become
a takedown. So the lower domain *sends* a signal, in its own transaction, and `registry.reactions`
(the wiring module at the top, called by the app factory, the CLI, the worker and the tests)
binds the handlers. This module imports no domain.

A signal without a handler is an error, never a silent no-op: a lost takedown notice would be a
legal fault.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlmodel import Session


class NotWired(RuntimeError):
    """A signal was sent before `registry.reactions.wire()` bound its handlers."""


class OptOutsChanged(Protocol):
    def __call__(self, *, session: Session, event_id: uuid.UUID, booking_id: uuid.UUID) -> None: ...


class BasisChanged(Protocol):
    def __call__(
        self,
        *,
        session: Session,
        media_ids: Iterable[uuid.UUID] | None = None,
        event_id: uuid.UUID | None = None,
    ) -> None: ...


class RetentionChanged(Protocol):
    def __call__(self, *, session: Session, event_id: uuid.UUID, purge_after: datetime) -> None: ...


H = TypeVar("H", bound=Callable[..., Any])


@dataclass
class Signal(Generic[H]):
    """A named event with its handlers, called in order, in the sender's transaction."""

    name: str
    doc: str
    handlers: list[H] = field(default_factory=list)

    def connect(self, handler: H) -> None:
        """Bind a handler (binding the same one twice keeps one)."""
        if handler not in self.handlers:
            self.handlers.append(handler)

    def send(self, **kwargs: Any) -> None:
        if not self.handlers:
            raise NotWired(
                f"signal {self.name!r} has no handler: call registry.reactions.wire() at start-up"
            )
        for handler in self.handlers:
            handler(**kwargs)


opt_outs_changed: Signal[OptOutsChanged] = Signal(
    "opt_outs_changed",
    "Whether one attendee may appear in an event's photos, or how to recognise them, changed (an "
    "opt-out or opt-in, a cancellation, a reference photo added or deleted): the photos they "
    "could be in must be decided again.",
)
basis_changed: Signal[BasisChanged] = Signal(
    "basis_changed",
    "The basis for publishing some media (by id, or every media of an event) may have gone: "
    "consent withdrawn, declined or expired, an event's channels narrowed, a match confirmed.",
)


retention_changed: Signal[RetentionChanged] = Signal(
    "retention_changed",
    "An event's biometric purge date moved (its end or its retention was edited): every "
    "template kept for it (photo face encodings, transient references) must follow.",
)


def on(signal: Signal[H], handler: H) -> None:
    """Bind `handler` to `signal` (idempotent)."""
    signal.connect(handler)
