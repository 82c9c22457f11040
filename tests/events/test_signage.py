"""The venue poster, read back as a viewer and a phone see it: for A4 and A3, every number of
channels and notices up to the longest an event may have, no text is printed over other text or
over the QR code, nothing runs off the page, the code scans on clear paper, and the first page
says everything people must be told during the event itself."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import cast

import pytest
import zxingcpp
from PIL import Image

from registry.channels import WORDS
from registry.events import signage
from registry.events.schemas import EventCreate
from registry.organisation.models import Organisation
from tests.events.factories import NOTICE
from tests.pdf import _need

MM = 72 / 25.4  # points per millimetre
SCALE = {"A4": 1.0, "A3": 2**0.5}
PAGE = {"A4": (595.28, 841.89), "A3": (841.89, 1190.55)}
FLOOR_PT = 8  # the smallest text on an A4 poster (A3: scaled by √2)
URL = "https://registry.example.org/events/8d7f1f6e-4c1a-4a8e-9f0e-2b6d0c5a7e13/notice"
RENDER_DPI = 100


def _max_length(model: type[EventCreate] | type[Organisation], field: str) -> int:
    return next(
        limit
        for limit in (getattr(m, "max_length", None) for m in model.model_fields[field].metadata)
        if isinstance(limit, int)
    )


def _longest_notice() -> str:
    paragraphs = [
        "We photograph and film this event so that people who could not come can see it, and "
        "so that we can tell our members, funders and the public about our work.",
        "Photos and short clips may appear on our website, in our newsletters and reports, on "
        "our social media accounts and in printed leaflets and posters for up to five years; "
        "see https://example.org/privacy/events for how long we keep them.",
        "Photographers will ask before taking close-up portraits. Wide shots of the room and "
        "the stage are taken throughout the day, including during questions from the floor.",
    ]
    text, limit = "", _max_length(EventCreate, "filming_notice")
    while len(text) < limit:
        text += "\n\n".join(paragraphs) + "\n\n"
    return text[:limit].rstrip()


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    def overlaps(self, other: Box, slack: float = 0.25) -> bool:
        return (
            self.left + slack < other.right
            and other.left + slack < self.right
            and self.top + slack < other.bottom
            and other.top + slack < self.bottom
        )

    def holds(self, other: Box) -> bool:
        return (
            self.left <= other.left
            and other.right <= self.right
            and self.top <= other.top
            and other.bottom <= self.bottom
        )

    def grown(self, by: float) -> Box:
        return Box(self.left - by, self.top - by, self.right + by, self.bottom + by)


@dataclass(frozen=True)
class Word:
    text: str
    box: Box


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    words: list[Word]
    images: list[Box]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def _read(pdf: bytes, tmp_path: Path) -> list[Page]:
    """Words and images with their boxes (in points, from the top left) of every page."""
    _need("pdftotext")
    _need("pdftohtml")
    source = tmp_path / "poster.pdf"
    source.write_bytes(pdf)
    layout = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-bbox-layout", str(source), "-"],
        check=True,
        timeout=60,
        capture_output=True,
    ).stdout
    xhtml = "{http://www.w3.org/1999/xhtml}"
    pages = []
    for page in ET.fromstring(layout).iter(f"{xhtml}page"):
        words = [
            Word(
                w.text or "",
                Box(*(float(w.attrib[k]) for k in ("xMin", "yMin", "xMax", "yMax"))),
            )
            for w in page.iter(f"{xhtml}word")
        ]
        pages.append(Page(float(page.attrib["width"]), float(page.attrib["height"]), words, []))
    # pdftohtml lists each drawn image with its placement (in whole points at -zoom 1).
    images = subprocess.run(
        ["pdftohtml", "-xml", "-stdout", "-zoom", "1", str(source), str(tmp_path / "img")],
        check=True,
        timeout=60,
        capture_output=True,
    ).stdout
    for page in ET.fromstring(images).iter("page"):
        number = int(page.attrib["number"]) - 1
        for image in page.iter("image"):
            left, top = float(image.attrib["left"]), float(image.attrib["top"])
            width, height = float(image.attrib["width"]), float(image.attrib["height"])
            pages[number].images.append(Box(left, top, left + width, top + height))
    return pages


def _first_page(pdf: bytes, tmp_path: Path) -> Image.Image:
    """The first page as pdftoppm renders it."""
    _need("pdftoppm")
    source = tmp_path / "first.pdf"
    source.write_bytes(pdf)
    target = tmp_path / "first"
    subprocess.run(
        ["pdftoppm", "-f", "1", "-l", "1", "-singlefile", "-r", str(RENDER_DPI), "-png"]
        + [str(source), str(target)],
        check=True,
        timeout=60,
    )
    return Image.open(target.with_suffix(".png"))


def _overlapping(words: list[Word]) -> list[tuple[str, str]]:
    """Pairs of words whose boxes overlap (sorted by top, so only near neighbours are compared)."""
    ordered = sorted(words, key=lambda w: w.box.top)
    found = []
    for i, word in enumerate(ordered):
        for other in ordered[i + 1 :]:
            if other.box.top >= word.box.bottom:
                break
            if word.box.overlaps(other.box):
                found.append((word.text, other.text))
    return found


def _qr_code(page: Image.Image) -> tuple[str, Box, float]:
    """The QR code's text, its symbol's box and its module size, in points."""
    [code] = zxingcpp.read_barcodes(page)
    points = RENDER_DPI / 72
    corners = [code.position.top_left, code.position.top_right]
    corners += [code.position.bottom_left, code.position.bottom_right]
    xs, ys = [c.x / points for c in corners], [c.y / points for c in corners]
    symbol = Box(min(xs), min(ys), max(xs), max(ys))
    modules = 17 + 4 * int(cast(dict[str, str], code.extra)["Version"])
    return code.text, symbol, (symbol.right - symbol.left) / modules


def _blank_around(page: Image.Image, inner: Box, outer: Box) -> bool:
    """Whether the paper between the two boxes (in points) carries no ink."""
    points = RENDER_DPI / 72

    def pixels(box: Box) -> tuple[int, int, int, int]:
        return (
            round(box.left * points),
            round(box.top * points),
            round(box.right * points),
            round(box.bottom * points),
        )

    grey = page.convert("L")
    grey.paste(255, pixels(inner))
    low, _ = cast(tuple[int, int], grey.crop(pixels(outer)).getextrema())
    return low >= 160


def _visible(page: Image.Image, word: Word) -> bool:
    """Whether a word's box shows both ink and paper (not white on white, nor lost in black)."""
    points = RENDER_DPI / 72
    left, top = round(word.box.left * points), round(word.box.top * points)
    right = max(round(word.box.right * points), left + 1)
    bottom = max(round(word.box.bottom * points), top + 1)
    low, high = cast(tuple[int, int], page.crop((left, top, right, bottom)).getextrema())
    return low < 100 and high > 155


def _info(channels: int, notice: str, longest: bool) -> signage.PosterInfo:
    words = list(WORDS.values())[:channels]
    if not longest:
        return signage.PosterInfo(
            event="Annual Members' Conference",
            when="Saturday 14 November 2026, 09:30 (Europe/London)",
            venue="Hall A, Riverside Centre",
            notice=notice,
            channels=words,
            notice_url=URL,
            organiser="Riverside Health Trust",
            contact="privacy@riverside.example.org",
        )
    return signage.PosterInfo(
        event=("Annual Members' Conference and Awards " * 10)[
            : _max_length(EventCreate, "name")
        ].strip(),
        when="Wednesday 30 September 2026, 18:30 (America/Argentina/ComodRivadavia)",
        venue=("Great Hall, Riverside Centre, 1 Embankment Road, " * 10)[
            : _max_length(EventCreate, "venue")
        ].strip(),
        notice=notice,
        channels=words,
        notice_url=URL,
        organiser=("Riverside Health Trust " * 20)[: _max_length(Organisation, "name")].strip(),
        contact="privacy." + "a" * 240 + "@riverside.example.org",
    )


def _required(info: signage.PosterInfo) -> list[str]:
    """What the first page must say, word for word."""
    where = info.when + (f" · {info.venue}" if info.venue else "")
    return [
        "This event is photographed and filmed",
        info.event,
        where,
        "How photos and video are used",
        "They may be used on: " + "; ".join(info.channels) + ".",
        "You do not hold copyright in photos or video taken here.",
        "Do not want to appear?",
        "You can opt out, or change your mind, at any time: use the private link in your booking "
        "email, scan this code, or tell a photographer or the organiser.",
        "Opting out has no effect on your place at the event.",
        "People wearing this mark on their badge have opted out: please do not photograph or "
        "film them. Photos they appear in are not published.",
        info.organiser,
        *([info.contact] if info.contact else []),
    ]


def _flat(text: str) -> str:
    # Without any spacing: a word too long for its line (an address) is cut where it must be.
    return "".join(text.split())


def _notice_printed(pages: list[Page]) -> str:
    """The notice's text as printed: on the first page under its heading, up to the channels
    (or to where it says it goes on), then on each further page under its heading."""
    first = _flat(pages[0].text)
    start = first.index(_flat("How photos and video are used")) + len(
        _flat("How photos and video are used")
    )
    end = first.index(_flat("The notice continues on page 2" if len(pages) > 1 else "They may"))
    parts = [first[start:end]]
    for number, page in enumerate(pages[1:], start=2):
        text, heading = _flat(page.text), _flat(f"(continued, page {number} of {len(pages)})")
        parts.append(text[text.index(heading) + len(heading) :])
    return "".join(parts)


NOTICES = {
    "short": NOTICE,
    "a few paragraphs": "\n\n".join([NOTICE] * 6),
    "the longest allowed": _longest_notice(),
}


@pytest.mark.parametrize("size", ["A4", "A3"])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("notice", list(NOTICES))
def test_poster_text_never_overlaps_and_says_everything(
    size: signage.Size, channels: int, notice: str, tmp_path: Path
) -> None:
    longest = notice == "the longest allowed"
    info = _info(channels, NOTICES[notice], longest)
    pdf = signage.render(info, size=size)
    first = _first_page(pdf, tmp_path)

    # The code scans, and stands on clear paper: its quiet zone and a margin round it are blank.
    text, symbol, module = _qr_code(first)
    assert text == URL
    quiet = symbol.grown(4 * module)
    # (The symbol's box is grown by half a module: its edges are found to within a pixel.)
    assert _blank_around(first, symbol.grown(module / 2), quiet.grown(2 * MM)), "ink on the QR"

    pages = _read(pdf, tmp_path)
    scale = SCALE[size]
    for number, page in enumerate(pages, start=1):
        assert (page.width, page.height) == pytest.approx(PAGE[size], abs=0.5)
        assert page.words, f"page {number} has no text a viewer can read"
        assert _overlapping(page.words) == [], f"text over text on page {number}"
        for word in page.words:
            where = f"{word.text!r} on page {number}"
            assert not any(word.box.overlaps(image) for image in page.images), (
                f"{where} on a picture"
            )
            printable = Box(0, 0, page.width, page.height).grown(-8 * MM)
            assert printable.holds(word.box), f"{where} runs into the page's edge"
            # A word's box is a little taller than its type: 1.16 em in DejaVu Sans.
            assert word.box.bottom - word.box.top >= FLOOR_PT * scale * 1.1, f"{where} too small"
    [page_one, *more] = pages
    assert any(image.overlaps(quiet) for image in page_one.images), "the QR code is not a picture"
    assert not any(word.box.overlaps(quiet) for word in page_one.words)
    grey = first.convert("L")
    hidden = [w.text for w in page_one.words if w.text.isalnum() and not _visible(grey, w)]
    assert hidden == [], "words that cannot be seen"
    for sentence in _required(info):
        assert _flat(sentence) in _flat(page_one.text), f"page 1 does not say {sentence!r}"
    # The whole notice is printed, in order, however many pages it takes; short ones take one.
    assert _notice_printed(pages) == _flat(info.notice)
    if notice != "the longest allowed":
        assert more == [], "a notice that fits on one page is split"


@pytest.mark.parametrize("size", ["A4", "A3"])
def test_a_long_notice_continues_on_the_next_page_and_says_so(
    size: signage.Size, tmp_path: Path
) -> None:
    info = _info(4, NOTICES["the longest allowed"], longest=False)
    pages = _read(signage.render(info, size=size), tmp_path)
    assert len(pages) >= 2
    assert _flat("The notice continues on page 2") in _flat(pages[0].text)
    for number, page in enumerate(pages[1:], start=2):
        assert _flat(f"(continued, page {number} of {len(pages)})") in _flat(page.text)
    assert _notice_printed(pages) == _flat(info.notice)


def test_every_pair_of_words_is_compared() -> None:
    # The sweep in _overlapping stops at the first word below: it must still see every overlap.
    words = [
        Word("a", Box(0, 0, 10, 10)),
        Word("b", Box(20, 1, 30, 11)),
        Word("c", Box(5, 5, 15, 15)),
        Word("d", Box(40, 30, 50, 40)),
    ]
    brute = [(x.text, y.text) for x, y in combinations(words, 2) if x.box.overlaps(y.box)]
    assert _overlapping(words) == brute == [("a", "c")]
