"""Badge PDFs: every QR decodes (rendered by poppler, read by zxing-cpp) to its booking's code."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.events import badges, service
from registry.events.models import Booking, Event
from tests.pdf import render_pdf

RENDER_DPI = 150


def decode_all(pages: list[Image.Image]) -> list[zxingcpp.Barcode]:
    found = []
    for page in pages:
        found += [
            b for b in zxingcpp.read_barcodes(page) if b.format == zxingcpp.BarcodeFormat.QRCode
        ]
    return found


@pytest.fixture
def event_with_bookings(
    session: Session, make_event: Callable[..., Event], make_booking: Callable[..., Booking]
) -> tuple[Event, list[Booking]]:
    event = make_event(name="Spring Conference")
    bookings = [make_booking(event=event, opt_out=i % 2 == 1) for i in range(6)]
    cancelled = make_booking(event=event)
    service.cancel_booking(session=session, actor=SYSTEM, booking=cancelled)
    return event, bookings


@pytest.mark.parametrize("layout", ["sheet", "single"])
def test_every_qr_in_the_pdf_decodes_to_its_badge_code(
    session: Session,
    event_with_bookings: tuple[Event, list[Booking]],
    tmp_path: Path,
    layout: badges.Layout,
) -> None:
    event, bookings = event_with_bookings
    pdf = service.badges_pdf(session=session, event=event, layout=layout)
    pages = render_pdf(pdf, tmp_path, RENDER_DPI)
    assert len(pages) == (2 if layout == "sheet" else 6)  # the cancelled booking has no badge
    codes = sorted(b.text for b in decode_all(pages))
    assert codes == sorted(b.badge_code for b in bookings)


def test_qr_modules_are_at_least_3_mm(
    session: Session, event_with_bookings: tuple[Event, list[Booking]], tmp_path: Path
) -> None:
    event, _ = event_with_bookings
    pages = render_pdf(service.badges_pdf(session=session, event=event), tmp_path, RENDER_DPI)
    for code in decode_all(pages):
        corners = code.position
        width_px = abs(corners.top_right.x - corners.top_left.x)
        module_mm = width_px / 21 / RENDER_DPI * 25.4  # version 1: 21 modules
        assert module_mm >= 3.0, module_mm
    assert all(b.symbology_identifier for b in decode_all(pages))


def test_qr_is_version_1_with_high_error_correction() -> None:
    assert len(badges.qr_matrix("ABCDE23456")) == 21


def _yellow_share(image: Image.Image) -> float:
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    return float(np.mean(np.all(np.abs(pixels - badges.WARN) < 30, axis=1)))


def test_opted_out_badges_carry_the_no_photo_marker() -> None:
    info = badges.BadgeInfo("Kim", "Conf", "1 May", "ABCDE23456", opted_out=True)
    marked = badges.draw_badge(info)
    plain = badges.draw_badge(badges.BadgeInfo("Kim", "Conf", "1 May", "ABCDE23456", False))
    assert _yellow_share(marked) > 0.05
    assert _yellow_share(plain) == 0
    # The marker is also black ink (symbol and words), so it reads in greyscale too.
    band = np.asarray(marked.convert("L").crop((0, 30, badges.BADGE_W, 310)))
    assert (band < 60).mean() > 0.05


def test_long_names_fit_the_badge() -> None:
    info = badges.BadgeInfo(
        "Maximiliana Bartholomew-Fitzwilliam Montgomery de la Cruz y Villanueva",
        "A rather long event name that goes on and on for ever and ever",
        "1 May 2027",
        "ABCDE23456",
        opted_out=False,
    )
    image = badges.draw_badge(info)
    [code] = zxingcpp.read_barcodes(image)
    assert code.text == "ABCDE23456"


def test_api_and_manage_page_serve_pdfs(
    client: TestClient,
    comms_headers: dict[str, str],
    event_with_bookings: tuple[Event, list[Booking]],
    tmp_path: Path,
) -> None:
    event, bookings = event_with_bookings
    response = client.get(f"/api/events/{event.id}/badges.pdf", headers=comms_headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    bad = client.get(f"/api/events/{event.id}/badges.pdf?layout=poster", headers=comms_headers)
    assert bad.status_code == 422
    mine = client.get(f"/b/{service.manage_token(bookings[0])}/badge.pdf")
    assert mine.status_code == 200
    [code] = decode_all(render_pdf(mine.content, tmp_path, RENDER_DPI))
    assert code.text == bookings[0].badge_code


def test_manage_page_previews_the_badge(
    client: TestClient, event_with_bookings: tuple[Event, list[Booking]]
) -> None:
    _, bookings = event_with_bookings
    path = f"/b/{service.manage_token(bookings[1])}"
    assert "badge.png" in client.get(path).text
    preview = client.get(f"{path}/badge.png")
    assert preview.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(preview.content))
    [code] = zxingcpp.read_barcodes(image)
    assert code.text == bookings[1].badge_code


def test_every_letter_of_a_name_is_drawn_not_a_box() -> None:
    """Names as people have them: accents, ligatures, Polish, Nordic, Greek and Cyrillic
    letters are glyphs of the badge's font, not its missing-glyph box."""
    font = badges.typeface(40)
    box = font.getmask("\uffff")  # what the font draws for a letter it lacks
    for letter in "óéñüçßøØłŁæÆœąęšžčřőűäåÅΩжЖ":
        mask = font.getmask(letter)
        assert mask.getbbox() is not None, letter
        assert (mask.size, bytes(mask)) != (box.size, bytes(box)), letter
