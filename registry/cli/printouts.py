"""`registry badges` and `registry signage`: an event's printed matter, as PDF files."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from registry.cli.console import fail, out
from registry.cli.startup import event_id as parse_event_id
from registry.cli.startup import load_settings
from registry.db import unit_of_work
from registry.errors import NotFound
from registry.events import service as events
from registry.events.models import Event


def badges(
    event_id: Annotated[str, typer.Argument(help="The event's id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF file to write.")],
    layout: Annotated[
        str, typer.Option(help="sheet: 4 per A4 page with cut marks; single: one per A6 page.")
    ] = "sheet",
) -> None:
    """Write the event's badge sheet as a PDF."""

    if layout not in ("sheet", "single"):
        fail("--layout must be sheet or single")
    parsed = parse_event_id(event_id)
    load_settings()
    with unit_of_work() as session:
        event = _event(session, parsed)
        count = sum(
            1 for b in events.list_bookings(session=session, event=event) if not b.cancelled_at
        )
        pdf = events.badges_pdf(
            session=session, event=event, layout="single" if layout == "single" else "sheet"
        )
    _write(output, pdf)
    out.print(f"ok: {count} badge(s) for {event.name} written to {output}")


def signage(
    event_id: Annotated[str, typer.Argument(help="The event's id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF file to write.")],
    size: Annotated[str, typer.Option(help="Paper size: A4 or A3.")] = "A4",
) -> None:
    """Write the event's signage poster (filmed and photographed; how to opt out) as a PDF."""
    if size.upper() not in ("A4", "A3"):
        fail("--size must be A4 or A3")
    parsed = parse_event_id(event_id)
    load_settings()
    with unit_of_work() as session:
        event = _event(session, parsed)
        pdf = events.signage_pdf(
            session=session, event=event, size="A3" if size.upper() == "A3" else "A4"
        )
    _write(output, pdf)
    out.print(f"ok: {size.upper()} signage poster for {event.name} written to {output}")


def _event(session: Session, event_id: uuid.UUID) -> Event:
    """The event, or the command ends saying there is none."""
    try:
        return events.get_event(session=session, event_id=event_id)
    except NotFound as exc:
        fail(exc.message)


def _write(output: Path, pdf: bytes) -> None:
    try:
        output.write_bytes(pdf)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
