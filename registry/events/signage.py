"""The printable signage poster for an event's venue: it is photographed and filmed, how the
images are used, that attendees hold no copyright in them, how to opt out or change their mind,
what the NO PHOTOS badge marker means, and a QR code of the event's public notice page.

Drawn with Pillow on an A4 page at 300 dpi and written into a PDF; A3 is the same drawing at
212 dpi (√2 larger), so every proportion, and the QR code's quiet zone, holds at both sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw

from registry.events.badges import A4_H, A4_W, DPI, INK, PAPER, marker, typeface, write_pdf

Size = Literal["A4", "A3"]
MARGIN = 170
WIDTH = A4_W - 2 * MARGIN


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


def _wrap(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> list[str]:
    font = typeface(size)
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=font) <= width or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def _text(
    draw: ImageDraw.ImageDraw,
    y: int,
    text: str,
    size: int,
    *,
    width: int = WIDTH,
    x: int = MARGIN,
    bold: bool = False,
    fill: tuple[int, int, int] = INK,
) -> int:
    for line in _wrap(draw, text, size, width):
        draw.text(
            (x, y),
            line,
            font=typeface(size),
            fill=fill,
            stroke_width=2 if bold else 0,
            stroke_fill=fill,
        )
        y += round(size * 1.25)
    return y


def _breakable(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> str:
    """A long word (a URL) cut into lines that fit the width."""
    font, lines, line = typeface(size), [], ""
    for char in text:
        if draw.textlength(line + char, font=font) > width:
            lines.append(line)
            line = ""
        line += char
    return "\n".join([*lines, line])


def _qr(url: str, px: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=1)
    code.add_data(url)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    modules = image.width
    return image.resize((px // modules * modules,) * 2, Image.Resampling.NEAREST)


def draw_poster(info: PosterInfo) -> Image.Image:
    page = Image.new("RGB", (A4_W, A4_H), PAPER)
    draw = ImageDraw.Draw(page)
    # Headline band, as tall as its text.
    headline = "This event is photographed and filmed"
    where = f"{info.when}" + (f" · {info.venue}" if info.venue else "")
    head_lines = len(_wrap(draw, headline, 150, WIDTH))
    sub_lines = len(_wrap(draw, f"{info.event}\n{where}", 56, WIDTH))
    band_bottom = MARGIN + head_lines * round(150 * 1.25) + 30 + sub_lines * 70 + 80
    draw.rectangle((0, 0, A4_W, band_bottom), fill=INK)
    y = _text(draw, MARGIN, headline, 150, bold=True, fill=PAPER)
    _text(draw, y + 30, f"{info.event}\n{where}", 56, fill=PAPER)

    # How the images are used: the notice, as long as it fits; the QR code leads to all of it.
    y = band_bottom + 90
    y = _text(draw, y, "How photos and video are used", 72, bold=True) + 20
    notice_bottom = A4_H - 1500
    for size in (60, 54, 48, 44, 40, 36, 32):
        lines = _wrap(draw, info.notice, size, WIDTH)
        if y + len(lines) * round(size * 1.25) <= notice_bottom:
            break
    fitting = max(1, (notice_bottom - y) // round(size * 1.25))
    if len(lines) > fitting:
        lines = [*lines[: fitting - 1], "… (read the whole notice through the QR code)"]
    y = _text(draw, y, "\n".join(lines), size)
    if info.channels:
        y = _text(draw, y + 20, "They may be used on: " + "; ".join(info.channels) + ".", size)
    y = _text(
        draw, y + 30, "You do not hold copyright in photos or video taken here.", 56, bold=True
    )

    # How to opt out, beside the QR code.
    top = A4_H - 1400
    qr_px = 760
    qr = _qr(info.notice_url, qr_px)
    page.paste(qr, (A4_W - MARGIN - qr.width, top))
    text_width = WIDTH - qr.width - 60
    y = _text(draw, top, "Do not want to appear?", 72, bold=True, width=text_width) + 10
    y = _text(
        draw,
        y,
        "You can opt out, or change your mind, at any time: use the private link in your "
        "booking email, scan this code, or tell a photographer or the organiser. Opting out "
        "has no effect on your place at the event.",
        44,
        width=text_width,
    )
    _text(
        draw,
        top + qr.height + 10,
        _breakable(draw, info.notice_url, 30, qr.width),
        30,
        x=A4_W - MARGIN - qr.width,
        width=qr.width,
    )

    # The badge marker, explained.
    marker_top = A4_H - MARGIN - 420
    box = (MARGIN, marker_top, MARGIN + 1000, marker_top + 300)
    marker(draw, box)
    _text(
        draw,
        marker_top,
        "People wearing this mark on their badge have opted out: please do not photograph or "
        "film them. Photos they appear in are not published.",
        40,
        x=MARGIN + 1060,
        width=WIDTH - 1060,
    )
    contact = f"{info.organiser}" + (f" · {info.contact}" if info.contact else "")
    _text(draw, A4_H - MARGIN - 60, contact, 34)
    return page


def render(info: PosterInfo, *, size: Size = "A4") -> bytes:
    dpi = DPI if size == "A4" else DPI / 2**0.5
    return write_pdf([draw_poster(info)], title=f"Signage: {info.event}", dpi=dpi)
