"""Readable PDF documents (receipts, posters): text that can be selected, searched and read
aloud, in a font that covers every name people have (DejaVu Sans, shipped in web/fonts/)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fpdf import FPDF

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


class Document(FPDF):
    """An A4 (or A3) page flow with the registry's font, a title and a footer line."""

    def __init__(self, *, title: str, footer: str = "", size: str = "A4") -> None:
        super().__init__(format=size)
        self.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_title(title)
        self.set_creator("Consent & event-media registry")
        self.set_lang("en")
        self._footer_text = footer
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)
        self.add_page()

    def footer(self) -> None:
        """The footer line, wrapped within the margins (a long record id and date made one line
        run off both edges of the page)."""
        self.set_font(FAMILY, "", 8)
        self.set_text_color(90, 90, 90)
        text = f"{self._footer_text}   ·   page {self.page_no()}/{{nb}}".strip(" ·")
        # {nb} becomes the page count on output: measure with room for it.
        lines = 1 if self.get_string_width(text.replace("{nb}", "999")) <= self.epw else 2
        self.set_y(-8 - 4 * lines)
        self.multi_cell(self.epw, 4, text, align="C", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: float = 18) -> None:
        self.set_font(FAMILY, "B", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def paragraph(self, text: str, size: float = 10.5, bold: bool = False) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)

    def section(self, section: Section) -> None:
        self.ln(2)
        self.heading(section.title, 13)
        width = self.epw
        for label, value in section.facts:
            self.set_font(FAMILY, "B", 10)
            self.multi_cell(width, 5, label, new_x="LMARGIN", new_y="NEXT")
            self.set_font(FAMILY, "", 10)
            self.multi_cell(width, 5, value or "—", new_x="LMARGIN", new_y="NEXT")
            self.ln(1)
        for text in section.paragraphs:
            self.paragraph(text)
        for item in section.items:
            self.set_font(FAMILY, "", 10)
            self.multi_cell(width, 5, f"•  {item}", new_x="LMARGIN", new_y="NEXT")
            self.ln(0.5)

    def bytes(self) -> bytes:
        return bytes(self.output())


def render(*, title: str, intro: Sequence[str], sections: Sequence[Section], footer: str) -> bytes:
    """A simple document: a title, introductory paragraphs, then the sections."""
    doc = Document(title=title, footer=footer)
    doc.heading(title)
    for text in intro:
        doc.paragraph(text)
    for section in sections:
        doc.section(section)
    return doc.bytes()
