"""A clearance certificate a person can read: one A4 page beside each `.jwt` of a cleared set.

The signed JWT is the proof a program checks; this page says what it holds (the file and its
SHA-256, the channel, the basis, when it is valid) and how anyone can check it. A PDF, because
whoever receives the ZIP (a comms officer, a printer, a partner's legal team) opens it as it is,
on any computer or phone, and can print it or attach it as it looks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from registry import documents, zones
from registry.channels import words as channel_words
from registry.config import get_settings
from registry.events.models import Event
from registry.media.models import Media, Rendition
from registry.organisation import service as organisation
from registry.publishing.certificates import TYPE
from registry.publishing.models import Publication

SCALES = (1.0, 0.92, 0.85, 0.78)  # type sizes tried in turn until the page fits on one A4


def _when(value: datetime, tz: str) -> str:
    local = zones.in_zone(value, tz)
    assert local is not None
    return f"{local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def _basis(session: Session, publication: Publication) -> tuple[list[str], str]:
    """The basis in words, and the time zone its times are shown in (the event's, if any)."""
    settings = get_settings()
    words: list[str] = []
    tz = settings.timezone
    event_basis = publication.basis.get("event")
    if isinstance(event_basis, dict):
        event = session.get(Event, uuid.UUID(str(event_basis["id"])))
        name = f"“{event.name}”" if event is not None else "the event"
        tz = event.timezone if event is not None else tz
        words.append(
            f"The filming notice of {name} (version {event_basis.get('notice_version')}), which "
            "told the people there that images would be used on this channel; the registry "
            "found nobody who opted out or objected recognisable in this file."
        )
    listed = publication.basis.get("consents")
    consents = [str(c) for c in listed] if isinstance(listed, list) else []
    if consents:
        words.append(
            f"The consent of {len(consents)} "
            f"{'person' if len(consents) == 1 else 'people'} shown in it, for this channel "
            + (
                f"(consent record{'' if len(consents) == 1 else 's'} "
                f"{', '.join(f'urn:uuid:{c}' for c in consents)})."
                if len(consents) <= 2
                # Many ids would push the page past one: their starts, the rest is in the .jwt.
                else f"(consent records {', '.join(c[:8] for c in consents)}; the full ids "
                "are in the certificate)."
            )
        )
    return words or ["—"], tz


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class _Page:
    """One certificate's words, laid out at a scale (1: the house sizes)."""

    title: str
    intro: str
    sections: list[tuple[str, list[tuple[str, str]]]]
    steps: list[tuple[str, list[str]]]
    footer: str

    def render(self, scale: float) -> documents.Document:
        doc = documents.Document(title=self.title, footer=self.footer)
        doc.heading(self.title, 18 * scale)
        self._text(doc, self.intro, 10.5 * scale)
        doc.ln(2 * scale)
        for title, facts in self.sections:
            doc.heading(title, 13 * scale)
            for label, value in facts:
                if label:
                    self._text(doc, label, 10 * scale, bold=True)
                self._text(doc, value, 10 * scale)
                doc.ln(scale)
        doc.heading("How to check it", 13 * scale)
        doc.set_fill_color(238, 240, 243)
        for number, (text, lines) in enumerate(self.steps, start=1):
            self._text(doc, f"{number}. {text}", 10 * scale)
            for line in lines:  # what to type or open, each on its own shaded line
                doc.set_x(doc.l_margin + 5)
                self._text(doc, line, 9 * scale, fill=True, indent=5)
                doc.ln(0.6 * scale)
            doc.ln(1.5 * scale)
        return doc

    def on_one_page(self) -> bytes:
        """The page at the largest scale that fits one A4 (the smallest if none does)."""
        for scale in SCALES:
            doc = self.render(scale)
            if doc.page_no() == 1:
                break
        return doc.bytes()

    @staticmethod
    def _text(
        doc: documents.Document,
        text: str,
        size: float,
        *,
        bold: bool = False,
        fill: bool = False,
        indent: float = 0,
    ) -> None:
        doc.set_font(documents.FAMILY, "B" if bold else "", size)
        doc.multi_cell(
            doc.epw - indent,
            size * 0.5,
            text,
            align="L",
            fill=fill,
            new_x="LMARGIN",
            new_y="NEXT",
        )


def certificate_pdf(
    *,
    session: Session,
    media: Media,
    rendition: Rendition,
    publication: Publication,
    file_name: str,
    certificate_name: str,
) -> bytes:
    """The readable page of one certificate, naming the files beside it in the ZIP: one A4
    page (the type shrinks, to a floor, for long names)."""
    base = get_settings().base_url.rstrip("/")
    org = organisation.profile(session=session)
    basis, tz = _basis(session, publication)
    channel = channel_words(publication.channel)
    original = _short(media.filename)
    until = _when(publication.certificate_expires_at, tz)
    page = _Page(
        title="Clearance certificate",
        intro=f"This file may be published on {channel} until {until}, unless the basis below "
        f"is withdrawn sooner: the registry of {org.display_name} checked it before it left. "
        f"The signed certificate beside this page ({certificate_name}) is the proof; this page "
        "says what it holds.",
        sections=[
            (
                "What it clears",
                [
                    ("File (in this ZIP)", file_name),
                    (
                        "What it is",
                        f"A copy of {original} with faces covered (checked: none of them can "
                        "be found)"
                        if rendition.kind == "redacted"
                        else f"{original}, without its metadata (location, camera, dates)",
                    ),
                    ("SHA-256 of the file", rendition.sha256),
                    ("Channel", f"{channel} ({publication.channel})"),
                ],
            ),
            ("Basis", [("", line) for line in basis]),
            (
                "Valid",
                [
                    ("From", _when(publication.published_at, tz)),
                    ("Until", f"{until}, or until the basis is withdrawn if sooner"),
                    ("Certificate", str(publication.id)),
                    ("Issued by", base),
                ],
            ),
        ],
        steps=_checking_steps(file_name, certificate_name, base, publication.id),
        footer=f"Certificate {publication.id} · the .jwt beside this page is the proof",
    )
    return page.on_one_page()


def _checking_steps(
    file_name: str, certificate_name: str, base: str, publication_id: uuid.UUID
) -> list[tuple[str, list[str]]]:
    """How anyone checks the file, the signature and that the certificate still stands."""
    return [
        (
            "The file is the one cleared: its SHA-256 is exactly the one above.",
            [
                f"Windows: certutil -hashfile {file_name} SHA256",
                f"macOS: shasum -a 256 {file_name}",
                f"Linux: sha256sum {file_name}",
            ],
        ),
        (
            "The certificate is genuine: signed with the registry's key (with the "
            "registry's command line, or any JWT library: EdDSA (Ed25519), type "
            f"{TYPE}, key from the address below).",
            [
                f"registry verify {certificate_name} --file {file_name} "
                f"--jwks {base}/.well-known/jwks.json"
            ],
        ),
        (
            "It still stands: this address answers “valid”, or “revoked” once a consent is "
            "withdrawn, someone opts out, or it is taken down. Look before each new use.",
            [f"{base}/api/certificates/{publication_id}/status"],
        ),
    ]
