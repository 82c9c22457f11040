"""The printable signage poster for an event's venue: it is photographed and filmed, how the
images are used, that attendees hold no copyright in them, how to opt out or change their mind,
what the NO PHOTOS badge marker means, and a QR code of the event's public notice page.

Laid out by measuring its text in the font it is printed in (DejaVu Sans, as the receipts):
each block is wrapped to its width and stacked, so nothing is ever printed over anything else.
When the page is short, the type shrinks step by step to a floor; a notice still too long then
continues on further pages, while the first page always keeps every sentence people must be
told. The text is real text (selectable, searchable, read aloud). A3 is the A4 layout scaled by
√2, so every proportion, and the QR code's quiet zone, holds at both sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

from fpdf import FPDF
from PIL import Image, ImageDraw

from registry import qr_codes
from registry.documents import FAMILY, FONTS
from registry.events.badges import DPI, INK, PAPER, marker

Size = Literal["A4", "A3"]
Colour = tuple[int, int, int]

# The A4 layout, in millimetres and points; A3 multiplies every figure by √2.
SCALE: dict[Size, float] = {"A4": 1.0, "A3": 2**0.5}
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 14.0
WIDTH = PAGE_W - 2 * MARGIN
GAP = 5.0
QR_SIDE = 64.0  # with its quiet zone of four modules on each side
MARKER_W, MARKER_H = 1000 / DPI * 25.4, 300 / DPI * 25.4  # the badge's mark, 1000 × 300 px
PT = 25.4 / 72  # millimetres per point
LEADING = 1.25
FLOOR = 8.0  # pt: the fine print never shrinks below this
NOTICE_FLOOR = 10.0  # pt: nor the notice below this; the rest goes to the next page
SCALES = (1.0, 0.9, 0.8, 0.7, 0.6)
MIN_NOTICE_LINES = 3

HEADLINE = "This event is photographed and filmed"
NOTICE_HEADING = "How photos and video are used"
COPYRIGHT = "You do not hold copyright in photos or video taken here."
OPT_OUT_HEADING = "Do not want to appear?"
OPT_OUT = (
    "You can opt out, or change your mind, at any time: use the private link in your booking "
    "email, scan this code, or tell a photographer or the organiser. Opting out has no effect "
    "on your place at the event."
)
CONTINUES = "The notice continues on page 2; the QR code leads to all of it."
MARKER = (
    "People wearing this mark on their badge have opted out: please do not photograph or film "
    "them. Photos they appear in are not published."
)


@dataclass(frozen=True)
class PosterInfo:
    event: str
    when: str
    venue: str | None
    notice: str
    channels: Sequence[str]  # in words
    notice_url: str
    organiser: str
    contact: str | None


@dataclass(frozen=True)
class _Text:
    """Lines set at `size` pt from the top left corner (x, y), in A4 millimetres."""

    x: float
    y: float
    lines: tuple[str, ...]
    size: float
    bold: bool = False
    colour: Colour = INK

    @property
    def height(self) -> float:
        return _height(len(self.lines), self.size)

    def at(self, y: float) -> _Text:
        return replace(self, y=y)


@dataclass(frozen=True)
class _Band:
    bottom: float


@dataclass(frozen=True)
class _Picture:
    image: Image.Image
    x: float
    y: float
    w: float
    h: float


_Item = _Text | _Band | _Picture


def _height(lines: int, size: float) -> float:
    return lines * size * LEADING * PT


class _Measure:
    """Widths of text in the poster's font, in A4 millimetres (widths scale with the size)."""

    def __init__(self, pdf: FPDF) -> None:
        self._pdf = pdf
        self._widths: dict[tuple[str, bool], float] = {}

    def width(self, text: str, size: float, bold: bool = False) -> float:
        key = (text, bold)
        if key not in self._widths:
            self._pdf.set_font(FAMILY, "B" if bold else "", 100)
            self._widths[key] = self._pdf.get_string_width(text) / 100
        return self._widths[key] * size

    def _pieces(self, word: str, size: float, bold: bool, width: float) -> list[str]:
        """A word too long for the line (an address) cut where it must be."""
        if self.width(word, size, bold) <= width:
            return [word]
        pieces, piece = [], ""
        for char in word:
            if piece and self.width(piece + char, size, bold) > width:
                pieces.append(piece)
                piece = ""
            piece += char
        return [*pieces, piece]

    def wrap(self, text: str, size: float, width: float, bold: bool = False) -> tuple[str, ...]:
        """The lines of `text` at `size`, none wider than `width`; one blank line between
        paragraphs."""
        space = self.width(" ", size, bold)
        lines: list[str] = []
        for paragraph in text.splitlines():
            words = [p for w in paragraph.split() for p in self._pieces(w, size, bold, width)]
            if not words:
                if lines and lines[-1]:
                    lines.append("")
                continue
            line, used = words[0], self.width(words[0], size, bold)
            for word in words[1:]:
                extra = space + self.width(word, size, bold)
                if used + extra <= width:
                    line, used = f"{line} {word}", used + extra
                else:
                    lines.append(line)
                    line, used = word, extra - space
            lines.append(line)
        while lines and not lines[-1]:
            lines.pop()
        return tuple(lines) or ("",)


@dataclass(frozen=True)
class _Frame:
    """The first page at one scale, apart from the notice: what sits above it, what follows it,
    what sits at the bottom, and the room between."""

    above: list[_Item]
    top: float  # where the notice starts
    follows: list[_Text]  # the channels and the copyright, right after the notice
    bottom: list[_Item]
    room: float  # for the notice and what follows it

    def place(self, notice: _Text) -> list[_Item]:
        items, y = [*self.above, notice.at(self.top)], self.top + notice.height + GAP / 2
        for text in self.follows:
            items.append(text.at(y))
            y += text.height + GAP / 2
        return items + self.bottom


def _frame(m: _Measure, info: PosterInfo, scale: float) -> _Frame:
    def size(points: float) -> float:
        return round(max(FLOOR, points * scale), 1)

    def block(
        text: str, points: float, *, x: float = MARGIN, width: float = WIDTH, bold: bool = False
    ) -> _Text:
        return _Text(x, 0, m.wrap(text, size(points), width, bold), size(points), bold)

    # The headline band, as tall as its text.
    where = info.when + (f" · {info.venue}" if info.venue else "")
    band = [block(HEADLINE, 32, bold=True), block(info.event, 16, bold=True), block(where, 13)]
    above: list[_Item] = []
    y = MARGIN
    for text in band:
        above.append(replace(text, y=y, colour=PAPER))
        y += text.height + GAP / 3
    above.insert(0, _Band(y + GAP))
    heading = block(NOTICE_HEADING, 17, bold=True)
    above.append(heading.at(y + 2 * GAP))
    top = y + 2 * GAP + heading.height + GAP / 2

    # From the foot of the page up: the organiser, the badge's mark, how to opt out.
    contact = info.organiser + (f" · {info.contact}" if info.contact else "")
    footer = block(contact, 8)
    y = PAGE_H - MARGIN - footer.height
    bottom: list[_Item] = [footer.at(y)]
    explained = block(MARKER, 10.5, x=MARGIN + MARKER_W + GAP, width=WIDTH - MARKER_W - GAP)
    row = max(MARKER_H, explained.height)
    y -= GAP + row
    bottom += [_Picture(_marker(), MARGIN, y, MARKER_W, MARKER_H), explained.at(y)]
    column = WIDTH - QR_SIDE - GAP
    asked = block(OPT_OUT_HEADING, 17, width=column, bold=True)
    told = block(OPT_OUT, 11.5, width=column)
    url = block(info.notice_url, 8, x=PAGE_W - MARGIN - QR_SIDE, width=QR_SIDE)
    row = max(asked.height + GAP / 2 + told.height, QR_SIDE + GAP / 2 + url.height)
    y -= 2 * GAP + row
    bottom += [
        asked.at(y),
        told.at(y + asked.height + GAP / 2),
        _Picture(_qr(info.notice_url), url.x, y, QR_SIDE, QR_SIDE),
        url.at(y + QR_SIDE + GAP / 2),
    ]

    follows = [block(COPYRIGHT, 14, bold=True)]
    if info.channels:
        follows.insert(0, block("They may be used on: " + "; ".join(info.channels) + ".", 13))
    room = y - 2 * GAP - top
    return _Frame(above, top, follows, bottom, room)


def _notice_sizes(scale: float) -> list[float]:
    largest = max(NOTICE_FLOOR, round(14 * scale))
    return [float(s) for s in range(int(largest), int(NOTICE_FLOOR) - 1, -1)]


def _after(frame: _Frame) -> float:
    return sum(t.height + GAP / 2 for t in frame.follows)


def _one_page(m: _Measure, info: PosterInfo) -> list[list[_Item]] | None:
    """The poster on one page at the largest type that holds the whole notice, if any does."""
    for scale in SCALES:
        frame = _frame(m, info, scale)
        for size in _notice_sizes(scale):
            notice = _Text(MARGIN, 0, m.wrap(info.notice, size, WIDTH), size)
            if notice.height + GAP / 2 + _after(frame) <= frame.room:
                return [frame.place(notice)]
    return None


def _continued(m: _Measure, info: PosterInfo) -> list[list[_Item]]:
    """The first page with as much of the notice as fits at its floor, then the rest."""
    lines = m.wrap(info.notice, NOTICE_FLOOR, WIDTH)
    said = ("", *m.wrap(CONTINUES, NOTICE_FLOOR, WIDTH))
    line = _height(1, NOTICE_FLOOR)
    for scale in SCALES:
        frame = _frame(m, info, scale)
        fits = int((frame.room - _after(frame) - GAP / 2) / line) - len(said)
        if fits >= min(MIN_NOTICE_LINES, len(lines)):
            break
    fits = max(fits, 0)
    while 0 < fits < len(lines) and not lines[fits - 1]:
        fits -= 1  # the first page does not end on a blank line
    pages = [frame.place(_Text(MARGIN, 0, (*lines[:fits], *said), NOTICE_FLOOR))]
    rest, heading = lines[fits:], 14.0
    per_page = int((PAGE_H - 2 * MARGIN - _height(2, heading) - GAP) / line)
    chunks = [rest[i : i + per_page] for i in range(0, len(rest), per_page)]
    for number, chunk in enumerate(chunks, start=2):
        text = chunk[1:] if not chunk[0] else chunk  # a page starts with words
        title = f"{NOTICE_HEADING} (continued, page {number} of {1 + len(chunks)})"
        titled = _Text(MARGIN, MARGIN, m.wrap(title, heading, WIDTH, bold=True), heading, True)
        notice = _Text(MARGIN, MARGIN + titled.height + GAP, text, NOTICE_FLOOR)
        pages.append([titled, notice])
    return pages


@cache
def _marker() -> Image.Image:
    image = Image.new("RGB", (1000, 300), PAPER)
    marker(ImageDraw.Draw(image), (0, 0, 999, 299))
    return image


def _qr(url: str) -> Image.Image:
    """The code with its quiet zone, in whole pixels per module (300 dpi or more on A3)."""
    image = qr_codes.image(url, level="M")
    box = max(1, math.ceil(QR_SIDE * SCALE["A3"] / 25.4 * DPI / image.width))
    return image.resize((image.width * box,) * 2, Image.Resampling.NEAREST)


def _draw(pdf: FPDF, pages: list[list[_Item]], scale: float) -> None:
    for items in pages:
        pdf.add_page()
        for item in items:
            if isinstance(item, _Band):
                pdf.set_fill_color(*INK)
                pdf.rect(0, 0, PAGE_W * scale, item.bottom * scale, style="F")
            elif isinstance(item, _Picture):
                pdf.image(
                    item.image, item.x * scale, item.y * scale, item.w * scale, item.h * scale
                )
            else:
                pdf.set_font(FAMILY, "B" if item.bold else "", item.size * scale)
                pdf.set_text_color(*item.colour)
                for number, line in enumerate(item.lines):
                    # The baseline one em below the line's top: DejaVu's ascender (0.93 em)
                    # and descender (0.24 em) stay inside the line's 1.25 em.
                    baseline = item.y + _height(number, item.size) + item.size * PT
                    pdf.text(item.x * scale, baseline * scale, line)


def render(info: PosterInfo, *, size: Size = "A4") -> bytes:
    """The poster as a PDF: one page, or more when the notice needs them."""
    pdf = FPDF(format=size, unit="mm")
    pdf.set_auto_page_break(False)
    pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(f"Signage: {info.event}")
    pdf.set_creator("Consent & event-media registry")
    pdf.set_lang("en")
    measure = _Measure(pdf)
    pages = _one_page(measure, info) or _continued(measure, info)
    _draw(pdf, pages, SCALE[size])
    return bytes(pdf.output())
