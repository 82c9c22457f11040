"""Printable badges: the attendee's name, the event, a QR code of the badge code, and a no-photo
marker for attendees who opted out.

Pages are drawn with Pillow at 300 dpi and written losslessly (Flate) into a small PDF, so QR
modules stay sharp: each module is 36 px = 3.05 mm, above the 3 mm a photo of a badge needs.
Layouts: "sheet" puts four 100 × 140 mm badges on an A4 page with cut marks; "single" puts one
badge per A6 page (for card printers).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from registry import qr_codes
from registry.documents import FONTS

Layout = Literal["sheet", "single"]
DPI = 300
MODULE_PX = 36  # 3.05 mm at 300 dpi
QUIET_MODULES = 4


def mm(value: float) -> int:
    return round(value / 25.4 * DPI)


BADGE_W, BADGE_H = mm(100), mm(140)
A4_W, A4_H = mm(210), mm(297)
A6_W, A6_H = mm(105), mm(148)
MARGIN = 40
INK = (0, 0, 0)
BLACK = 0  # INK as badges draw it: black in a grey picture and in a colour one
PAPER = (255, 255, 255)
# Black on signal yellow: the strongest contrast for every kind of colour vision; the meaning is
# carried by the symbol and the words, never by the colour alone.
WARN = (255, 213, 0)


@dataclass(frozen=True)
class BadgeInfo:
    name: str
    event: str
    when: str
    badge_code: str
    opted_out: bool


@lru_cache(maxsize=16)
def typeface(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans, which has every letter people's names have (Pillow's default font printed
    "Gómez" as "G☐mez")."""
    return ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), size=size)


def qr_matrix(code: str) -> list[list[bool]]:
    """The QR modules of a badge code: version 1, ECC H (30% of the symbol may be covered)."""
    return qr_codes.matrix(code, level="H", border=0)


def _fit(
    draw: ImageDraw.ImageDraw, text: str, width: int, sizes: Sequence[int]
) -> tuple[list[str], int]:
    """Wrap text into at most two lines at the largest size that fits the width."""
    for size in sizes:
        font = typeface(size)
        words, lines, line = text.split(), [], ""
        for word in words:
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=font) <= width:
                line = trial
            else:
                if line:
                    lines.append(line)
                line = word
        if line:
            lines.append(line)
        if len(lines) <= 2 and all(draw.textlength(x, font=font) <= width for x in lines):
            return lines, size
    size = sizes[-1]
    font = typeface(size)
    clipped = text
    while clipped and draw.textlength(clipped + "…", font=font) > width:
        clipped = clipped[:-1]
    return [clipped + "…"], size


def _centred(
    draw: ImageDraw.ImageDraw, y: int, lines: list[str], size: int, width: int, bold: bool = False
) -> int:
    font = typeface(size)
    for line in lines:
        x = (width - draw.textlength(line, font=font)) / 2
        draw.text(
            (x, y), line, font=font, fill=BLACK, stroke_width=2 if bold else 0, stroke_fill=BLACK
        )
        y += round(size * 1.2)
    return y


def _no_photo_symbol(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int) -> None:
    """A camera inside a circle with a bar across it (the usual "no photography" sign)."""
    body = (cx - r * 0.55, cy - r * 0.3, cx + r * 0.55, cy + r * 0.4)
    draw.rounded_rectangle(body, radius=r * 0.08, fill=BLACK)
    draw.rectangle((cx - r * 0.2, cy - r * 0.45, cx + r * 0.15, cy - r * 0.3), fill=BLACK)
    lens = r * 0.2
    draw.ellipse((cx - lens, cy + 0.05 * r - lens, cx + lens, cy + 0.05 * r + lens), fill=WARN)
    width = max(6, r // 6)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=BLACK, width=width)
    offset = r * 0.7071
    draw.line((cx - offset, cy - offset, cx + offset, cy + offset), fill=BLACK, width=width)


def marker(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    draw.rectangle(box, fill=WARN, outline=BLACK, width=10)
    height = bottom - top
    _no_photo_symbol(draw, left + height // 2 + 10, top + height // 2, height // 2 - 30)
    text_left = left + height + 10
    draw.text(
        (text_left, top + 40),
        "NO PHOTOS",
        font=typeface(92),
        fill=BLACK,
        stroke_width=3,
        stroke_fill=BLACK,
    )
    draw.text((text_left, top + 150), "Please do not photograph", font=typeface(40), fill=BLACK)
    draw.text((text_left, top + 200), "or film me", font=typeface(40), fill=BLACK)


def draw_badge(info: BadgeInfo) -> Image.Image:
    """One badge, BADGE_W × BADGE_H pixels at 300 dpi."""
    image = _blank((BADGE_W, BADGE_H), colour=info.opted_out)
    draw = ImageDraw.Draw(image)
    inner = BADGE_W - 2 * MARGIN
    if info.opted_out:
        marker(draw, (MARGIN, 30, BADGE_W - MARGIN, 310))
    event_lines, event_size = _fit(draw, info.event, inner, (48, 42, 36))
    y = _centred(draw, 330, event_lines[:1], event_size, BADGE_W)
    _centred(draw, y - 4, [info.when], 34, BADGE_W)
    name_lines, name_size = _fit(draw, info.name, inner, (96, 84, 72, 60, 52))
    _centred(
        draw,
        450 if len(name_lines) == 1 else 420,
        name_lines,
        name_size if len(name_lines) == 1 else min(name_size, 64),
        BADGE_W,
        bold=True,
    )
    matrix = qr_matrix(info.badge_code)
    side = len(matrix) * MODULE_PX
    qx, qy = (BADGE_W - side) // 2, 660
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                x, y0 = qx + c * MODULE_PX, qy + r * MODULE_PX
                draw.rectangle((x, y0, x + MODULE_PX - 1, y0 + MODULE_PX - 1), fill=BLACK)
    spaced = " ".join(info.badge_code[i : i + 5] for i in range(0, len(info.badge_code), 5))
    _centred(draw, qy + side + QUIET_MODULES * MODULE_PX + 10, [spaced], 44, BADGE_W)
    return image


def _cut_marks(draw: ImageDraw.ImageDraw, xs: Iterable[int], ys: Iterable[int], gap: int) -> None:
    """Short lines in the margins, in line with each badge edge (never across a badge)."""
    xs, ys = sorted(set(xs)), sorted(set(ys))
    length = min(gap - 6, mm(4))
    for x in xs:
        draw.line((x, ys[0] - gap, x, ys[0] - gap + length), fill=BLACK, width=2)
        draw.line((x, ys[-1] + gap - length, x, ys[-1] + gap), fill=BLACK, width=2)
    for y in ys:
        draw.line((xs[0] - gap, y, xs[0] - gap + length, y), fill=BLACK, width=2)
        draw.line((xs[-1] + gap - length, y, xs[-1] + gap, y), fill=BLACK, width=2)


def pages(badges: Sequence[BadgeInfo], layout: Layout) -> Iterator[Image.Image]:
    """Pages one at a time (an A4 page is 26 MB of pixels: never hold them all)."""
    if not badges:
        yield Image.new("RGB", (A4_W, A4_H) if layout == "sheet" else (A6_W, A6_H), PAPER)
        return
    if layout == "single":
        for info in badges:
            page = _blank((A6_W, A6_H), colour=info.opted_out)
            page.paste(draw_badge(info), ((A6_W - BADGE_W) // 2, (A6_H - BADGE_H) // 2))
            yield page
        return
    left, top = (A4_W - 2 * BADGE_W) // 2, (A4_H - 2 * BADGE_H) // 2
    slots = [(left + c * BADGE_W, top + r * BADGE_H) for r in range(2) for c in range(2)]
    for start in range(0, len(badges), 4):
        page = _blank((A4_W, A4_H), colour=any(b.opted_out for b in badges[start : start + 4]))
        for info, (x, y) in zip(badges[start : start + 4], slots, strict=False):
            page.paste(draw_badge(info), (x, y))
        draw = ImageDraw.Draw(page)
        _cut_marks(
            draw,
            [left, left + BADGE_W, left + 2 * BADGE_W],
            [top, top + BADGE_H, top + 2 * BADGE_H],
            min(left, top),
        )
        yield page


def _blank(size: tuple[int, int], *, colour: bool) -> Image.Image:
    """A white page or badge: in colour only when it carries the yellow band, else grey (a
    third of the pixels to fill, write and compress: every booking's confirmation makes one)."""
    return Image.new("RGB", size, PAPER) if colour else Image.new("L", size, 255)


def write_pdf(images: Iterable[Image.Image], *, title: str, dpi: float = DPI) -> bytes:
    """A minimal PDF with one lossless (Flate) RGB or grey image per page, at `dpi` (300)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # placeholders, filled once the page ids are known
    tree = add(b"")
    info = add(b"<< /Title (" + _pdf_text(title) + b") /Producer (registry) >>")
    kids = []
    for image in images:
        raw = zlib.compress(image.tobytes(), 3)
        space = b"/DeviceGray" if image.mode == "L" else b"/DeviceRGB"
        img = add(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
            b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n"
            % (image.width, image.height, space, len(raw))
            + raw
            + b"\nendstream"
        )
        w_pt, h_pt = image.width * 72 / dpi, image.height * 72 / dpi
        content = b"q %.3f 0 0 %.3f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.3f %.3f] "
                b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                % (tree, w_pt, h_pt, img, stream)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, catalog, info, xref)
    )
    return out.getvalue()


def _pdf_text(text: str) -> bytes:
    safe = text.encode("latin-1", "replace")
    return safe.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def render(
    badges: Sequence[BadgeInfo], *, layout: Layout = "sheet", title: str = "Badges"
) -> bytes:
    """The badges as a PDF; an event without bookings still gets a (blank) page."""
    return write_pdf(pages(badges, layout), title=title)
