"""Readable proof: beside each signed certificate in a cleared set's ZIP, a one-page PDF a
person can read (the file, its SHA-256, the basis, the channel, when it is valid, how to check
it), agreeing with the certificate it sits beside."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from registry import zones
from registry.audit.service import SYSTEM
from registry.config import get_settings
from registry.consent.models import ConsentRequest
from registry.db import utcnow
from registry.events.models import Event
from registry.media.models import Media, Rendition
from registry.publishing import cleared_sets, readable_certificates, service
from registry.publishing.certificates import verify
from registry.publishing.models import Publication
from tests.consent.factories import grant
from tests.pdf import pdf_text, render_pdf


def _day(value: int, tz: str) -> str:
    local = zones.in_zone(datetime.fromtimestamp(value).astimezone(), tz)
    assert local is not None
    return f"{local.day} {local:%B %Y, %H:%M}"


def test_each_certificate_in_a_cleared_set_has_a_page_a_person_can_read(
    session: Session,
    make_event: Callable[..., Event],
    make_media: Callable[..., Media],
    make_consent: Callable[..., ConsentRequest],
    tmp_path: Path,
) -> None:
    event = make_event(name="Spring open day", channels=["internal"])
    at_event = make_media(event=event, filename="IMG_2001.jpg")
    patient = make_media(event=None, filename="knee-exercise.jpg")
    consent = make_consent(media_ids=[patient.id], channels=["internal", "print"])
    grant(session, consent)
    rows = service.readiness(session=session, media=[at_event, patient], channel="internal")
    picks = [cleared_sets.Pick(r.media.id, None, r.seen) for r in rows if r.allowed]
    assert len(picks) == 2

    data, outcome = cleared_sets.download(
        session=session, actor=SYSTEM, channel="internal", picks=picks
    )
    assert outcome.refused == []
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("manifest.json"))
    jwts = sorted(n for n in archive.namelist() if n.endswith(".jwt"))
    assert sorted(f["certificate_page"] for f in manifest["files"]) == [
        n.removesuffix(".jwt") + ".pdf" for n in jwts
    ]
    base = get_settings().base_url.rstrip("/")
    texts = {}
    for entry in manifest["files"]:
        page = archive.read(entry["certificate_page"])
        assert page[:5] == b"%PDF-"
        token = archive.read(entry["certificate_page"].removesuffix(".pdf") + ".jwt").decode()
        claims = verify(token)
        folder = tmp_path / entry["media_id"]
        folder.mkdir()
        assert len(render_pdf(page, folder, dpi=40)) == 1  # one page
        text = " ".join(pdf_text(page, folder).split())
        texts[entry["media_id"]] = text
        tz = event.timezone if entry["media_id"] == str(at_event.id) else get_settings().timezone
        for words in (
            "Clearance certificate",
            entry["file"],  # the file beside it in the ZIP
            entry["sha256"],
            "internal staff communications (internal)",
            f"From {_day(claims['nbf'], tz)}",
            f"Until {_day(claims['exp'], tz)}",
            claims["jti"],
            f"registry verify {entry['certificate_page'].removesuffix('.pdf')}.jwt --file "
            f"{entry['file']} --jwks {base}/.well-known/jwks.json",
            f"{base}/api/certificates/{claims['jti']}/status",
        ):
            assert words in text, (words, text)
    assert "filming notice of “Spring open day” (version 1)" in texts[str(at_event.id)]
    assert f"urn:uuid:{consent.id}" in texts[str(patient.id)]
    assert "consent of 1 person" in texts[str(patient.id)]


def test_the_page_stays_one_page_with_the_longest_names(
    session: Session, make_event: Callable[..., Event], tmp_path: Path
) -> None:
    event = make_event(name="The annual staff awards ceremony and dinner in the main hall " * 2)
    stem = "Annual-staff-awards-ceremony-2026-main-hall-evening-photo-00"  # as long as packed
    media = Media(
        event_id=event.id,
        sha256="a" * 64,
        filename=stem + "x" * 190 + ".jpeg",
        content_type="image/jpeg",
        size_bytes=1,
        uploaded_by="system",
    )
    rendition = Rendition(media_id=media.id, kind="redacted", sha256="b" * 64, created_by="system")
    consents = [str(uuid.uuid4()) for _ in range(12)]
    publication = Publication(
        media_id=media.id,
        rendition_id=rendition.id,
        channel="closed_network",
        url_key="",
        certificate="",
        certificate_expires_at=utcnow() + timedelta(days=30),
        published_by="system",
        basis={"consents": consents, "event": {"id": str(event.id), "notice_version": 12}},
    )
    page = readable_certificates.certificate_pdf(
        session=session,
        media=media,
        rendition=rendition,
        publication=publication,
        file_name=f"files/001-{stem}.jpg",
        certificate_name=f"certificates/001-{stem}.jwt",
    )
    assert len(render_pdf(page, tmp_path, dpi=40)) == 1
    text = " ".join(pdf_text(page, tmp_path).split())
    assert "b" * 64 in text
    assert f"/api/certificates/{publication.id}/status" in text.replace(" ", "")
    assert "consent of 12 people" in text
    assert all(c[:8] in text for c in consents)
