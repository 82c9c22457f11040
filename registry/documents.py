"""Readable PDF documents (receipts, posters): text that can be selected, searched and read
aloud, in a font that covers every name people have (DejaVu Sans, shipped in web/fonts/).

The PDF writer (fpdf2 with fontTools, about a second to import) is loaded when a document is
made (`registry.pdf_document`), not by every process that starts: a command, a server, a worker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from registry.config import ROOT_DIR

FONTS = ROOT_DIR / "web" / "fonts"
FAMILY = "DejaVu"


@dataclass(frozen=True)
class Section:
    """A titled part of a document: label/value facts, then paragraphs, then bullet items."""

    title: str
    facts: Sequence[tuple[str, str]] = ()
    paragraphs: Sequence[str] = ()
    items: Sequence[str] = field(default_factory=tuple)


def render(*, title: str, intro: Sequence[str], sections: Sequence[Section], footer: str) -> bytes:
    """A simple document: a title, introductory paragraphs, then the sections."""
    from registry.pdf_document import Document  # the PDF writer, when a document is made

    doc = Document(title=title, footer=footer)
    doc.heading(title)
    for text in intro:
        doc.paragraph(text)
    for section in sections:
        doc.section(section)
    return doc.bytes()
