"""A cleared set leaves in one click: staff pick what may go out on a channel (each as its
original without metadata, or its verified redacted copy), download one ZIP of exactly those
files with a manifest and their clearance certificates, then say "I have posted these" with the
URLs and caption. Beside each certificate is a page a person can read (`readable_certificates`).

Downloading records each file as released on the channel (a publication without a URL yet):
its certificate is real and verifiable, and if the basis goes before or after it is posted, the
release is on the takedown list and the systems behind the webhooks are told. "I have posted
these" completes each record with where it went and the post's text, through the same gate.
Every item carries the fingerprint of what the gate saw when the page was shown: an item whose
facts changed since (a face decided, an opt-out, a consent) is refused and listed, not guessed.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlmodel import Session

from registry.audit import service as audit
from registry.audit.service import Actor
from registry.db import utcnow
from registry.errors import Invalid
from registry.media import service as media_service
from registry.media.models import Media, Rendition
from registry.media.storage import get_storage
from registry.publishing import caption_facts, readable_certificates, service
from registry.publishing.facts import channel_checked, fingerprint, load_facts, rendition_fact
from registry.publishing.gate import check
from registry.publishing.models import Publication

MAX_ITEMS = 200


@dataclass(frozen=True)
class Pick:
    media_id: uuid.UUID
    rendition_id: uuid.UUID | None
    seen: str  # the fingerprint when the page was shown

    @property
    def value(self) -> str:
        return f"{self.media_id}:{self.rendition_id or ''}:{self.seen}"

    @classmethod
    def parse(cls, value: str) -> Pick:
        try:
            media, rendition, seen = value.split(":")
            return cls(uuid.UUID(media), uuid.UUID(rendition) if rendition else None, seen)
        except ValueError:
            raise Invalid("That selection is not one this page offered.", field="pick") from None


@dataclass
class Outcome:
    done: list[tuple[Media, Publication]]
    refused: list[tuple[Media | None, list[str]]]


def _checked(
    session: Session, channel: str, picks: Sequence[Pick]
) -> tuple[list[tuple[Pick, Media, Rendition | None]], list[tuple[Media | None, list[str]]]]:
    """The picks the gate allows now, unchanged since the page was shown; the others, why."""
    channel_checked(channel)
    if not picks:
        raise Invalid("Choose at least one photo or video.", field="pick")
    if len(picks) > MAX_ITEMS:
        raise Invalid(f"At most {MAX_ITEMS} items at once.", field="pick")
    media = {m.id: m for m in (session.get(Media, p.media_id) for p in picks) if m is not None}
    facts = load_facts(session=session, media=list(media.values()), at=utcnow())
    ok: list[tuple[Pick, Media, Rendition | None]] = []
    refused: list[tuple[Media | None, list[str]]] = []
    for pick in picks:
        item = media.get(pick.media_id)
        if item is None:
            refused.append((None, ["No media with this id."]))
            continue
        rendition = (
            media_service.get_rendition(session=session, media=item, rendition_id=pick.rendition_id)
            if pick.rendition_id
            else None
        )
        if fingerprint(facts[item.id], rendition) != pick.seen:
            refused.append(
                (
                    item,
                    [
                        "It changed since the page was shown (a face, an opt-out or a consent): "
                        "look at it again."
                    ],
                )
            )
            continue
        verdict = check(replace(facts[item.id], rendition=rendition_fact(rendition)), channel)
        if not verdict.allowed:
            refused.append((item, verdict.reasons))
            continue
        ok.append((pick, item, rendition))
    return ok, refused


def download(
    *, session: Session, actor: Actor, channel: str, picks: Sequence[Pick]
) -> tuple[bytes, Outcome]:
    """Release the picked files on the channel (one publication each, without a URL yet) and
    pack them: `files/`, `certificates/` (each signed `.jwt` with a `.pdf` page a person can
    read) and `manifest.json`. Refused items are listed in the manifest too (nothing of theirs
    is packed)."""
    ok, refused = _checked(session, channel, picks)
    done: list[tuple[Media, Publication]] = []
    for pick, item, _rendition in ok:
        try:
            publication, _created = service.publish(
                session=session,
                actor=actor,
                media=item,
                channel=channel,
                rendition_id=pick.rendition_id,
            )
        except service.Refused as exc:
            refused.append((item, exc.reasons))
            continue
        done.append((item, publication))
    storage = get_storage()
    out = io.BytesIO()
    manifest: dict[str, object] = {
        "channel": channel,
        "made_at": utcnow().isoformat(),
        "made_by": actor.label,
        "files": [],
        "refused": [
            {"media_id": str(m.id) if m else None, "reasons": reasons} for m, reasons in refused
        ],
    }
    files: list[dict[str, object]] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for number, (item, publication) in enumerate(done, start=1):
            rendition = session.get(Rendition, publication.rendition_id)
            assert rendition is not None
            ext = "mp4" if item.kind == "video" else "jpg"
            stem = item.filename.rsplit(".", 1)[0][:60] or "media"
            name = f"files/{number:03d}-{stem}.{ext}"
            archive.writestr(name, storage.get(rendition.sha256, kind="renditions"))
            certificate = f"certificates/{number:03d}-{stem}.jwt"
            page = f"certificates/{number:03d}-{stem}.pdf"
            archive.writestr(certificate, publication.certificate)
            archive.writestr(
                page,
                readable_certificates.certificate_pdf(
                    session=session,
                    media=item,
                    rendition=rendition,
                    publication=publication,
                    file_name=name,
                    certificate_name=certificate,
                ),
            )
            files.append(
                {
                    "media_id": str(item.id),
                    "file": name,
                    "channel": channel,
                    "rendition_id": str(rendition.id),
                    "kind": "redacted" if rendition.kind == "redacted" else "original",
                    "sha256": rendition.sha256,
                    "publication_id": str(publication.id),
                    "certificate": publication.certificate,
                    "certificate_page": page,
                }
            )
        manifest["files"] = files
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    audit.record(
        session=session,
        actor=actor,
        action="publication.set_downloaded",
        entity_type="publication_set",
        entity_id=hashlib.sha256(out.getvalue()).hexdigest()[:32],
        after={"channel": channel, "files": len(done), "refused": len(refused)},
    )
    return out.getvalue(), Outcome(done, refused)


def posted(
    *,
    session: Session,
    actor: Actor,
    channel: str,
    picks: Sequence[Pick],
    urls: dict[uuid.UUID, str],
    caption: str | None,
) -> Outcome:
    """ "I have posted these": every pick recorded on the channel with its URL and the caption,
    through the gate (a release from the download is completed; otherwise recorded now)."""
    caption = caption_facts.checked(caption)
    ok, refused = _checked(session, channel, picks)
    done: list[tuple[Media, Publication]] = []
    for pick, item, _rendition in ok:
        url = (urls.get(item.id) or "").strip() or None
        try:
            released = service.released(
                session=session, media=item, channel=channel, rendition_id=pick.rendition_id
            )
            if released is not None and url is not None:
                publication = service.complete_release(
                    session=session, actor=actor, publication=released, url=url, caption=caption
                )
            else:
                publication, _ = service.publish(
                    session=session,
                    actor=actor,
                    media=item,
                    channel=channel,
                    rendition_id=pick.rendition_id,
                    url=url,
                    caption=caption,
                )
        except service.Refused as exc:
            refused.append((item, exc.reasons))
            continue
        done.append((item, publication))
    return Outcome(done, refused)
