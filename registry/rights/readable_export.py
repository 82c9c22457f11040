"""`my-data.pdf`: an attendee's export (`my-data.json`) in words, for the person to read.

A PDF because it opens as it is on every phone and computer (their viewers show it inside
the ZIP, where an HTML file would ask which app to use), prints as it looks, and is what the
patient's receipt already is. It is made from the document `my-data.json` is written from
(`export_format.AttendeeExport`) alone, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from registry import documents, zones
from registry.channels import words as channel_words
from registry.documents import Section
from registry.organisation.service import UNSET_NAME
from registry.rights.export_format import (
    AttendeeExport,
    BookingPart,
    Controller,
    Mail,
    MediaEntry,
    Objection,
    PublicationPart,
    ReferencePhoto,
)

CHANGES = {
    "booked": "You booked",
    "opted_out": "You opted out of photos and video",
    "opted_in": "You agreed to appear in photos and video",
    "cancelled": "The booking was cancelled",
    "link_reissued": "A new private link was issued (older links stopped working)",
    "reference_added": "You gave a reference photo",
    "reference_deleted": "A reference photo was deleted",
    "references_purged": "Your reference photos were deleted (their time was up)",
    "objected": "You objected to a photo",
    "erased": "Your booking and data were deleted",
    "notice_shown": "You were shown the filming notice",
}
FOUND = {
    "review": "A member of staff is checking whether this is you",
    "clear": "You may appear (you had not opted out)",
    "too_small": "Too small for anyone to recognise",
}
OBJECTION = {
    "pending": "Not decided yet: until staff decide, it counts",
    "upheld": "Upheld: it will not be published with you in it",
    "dismissed": "Dismissed",
}
REVIEW = {
    "confirm": "confirmed it is you",
    "not_this_person": "said it is not you",
    "objector": "marked it as you (the person who objected)",
    "consented_otherwise": "recorded that you consented another way",
}
MAILS = {
    "queued": "waiting to be sent",
    "sent": "sent",
    "logged": "not sent (no mail server was set up)",
    "bounced": "refused by your mail server",
    "failed": "could not be sent",
    "dropped": "not sent (it no longer applied)",
}


def _who(label: str | None) -> str:
    if label in ("attendee", None):
        return "you"
    if label == "system":
        return "the registry"
    if label == "cli":
        return "an administrator"
    return "a member of staff"


# A time as the document's reader sees it: in the event's time zone, or "—" when there is none.
Shown = Callable[[datetime | None], str]


def _shown_in(timezone: str) -> Shown:
    def when(value: datetime | None) -> str:
        local = zones.in_zone(value, timezone) if value else None
        return f"{local.day} {local:%B %Y, %H:%M} {local.tzname()}" if local else "—"

    return when


def pdf(document: AttendeeExport) -> bytes:
    """The document (format registry.attendee-export/1) as a PDF to read, its times in the
    event's time zone."""
    when = _shown_in(document.event.timezone)
    organisation = document.controller.name or UNSET_NAME
    sections = [
        _booking_section(document.booking, when),
        Section(
            "The event",
            facts=[
                ("Name", document.event.name),
                ("Starts", when(document.event.starts_at)),
                ("Venue", document.event.venue or "—"),
            ],
        ),
        Section(
            "Every change, oldest first",
            items=[
                f"{when(c.at)}: {CHANGES.get(c.action, c.action)} (by {_who(c.by)})"
                for c in document.choices
            ]
            or ["None."],
        ),
        _references_section(document.reference_photos, when),
        *_media_sections(document.media, when, opted_out=document.booking.photo_opt_out),
        _objections_section(document.objections, when),
        _mails_section(document.mails, when),
        _rights_section(document.controller, organisation),
    ]
    return documents.render(
        title=f"Your data: {document.event.name}",
        intro=[
            f"Everything {organisation} holds about your booking, as it was on "
            f"{when(document.generated_at)}. The same is in my-data.json (for computers); "
            "the photos you were found in are in the folder photos/, each with everyone "
            "else's face covered.",
        ],
        sections=sections,
        footer=f"{document.version} · {when(document.generated_at)}",
    )


def _booking_section(booking: BookingPart, when: Shown) -> Section:
    return Section(
        "Your booking",
        facts=[
            ("Name", booking.name or "—"),
            ("Email address", booking.email or "—"),
            ("Booked", when(booking.booked_at)),
            ("Badge code", booking.badge_code),
            (
                "Your choice now",
                "You opted out of photos and video"
                if booking.photo_opt_out
                else "You may appear in photos and video",
            ),
            (
                "Filming notice you were shown",
                f"version {booking.notice_version}"
                if booking.notice_version is not None
                else "None yet (your booking was made for you; you will see it with your "
                "confirmation or on your booking page)",
            ),
            *([("Cancelled", when(booking.cancelled_at))] if booking.cancelled_at else []),
        ],
    )


def _references_section(photos: list[ReferencePhoto], when: Shown) -> Section:
    return Section(
        "Reference photos",
        paragraphs=[
            "A photo of your face you gave, with your consent, so that we could find you and "
            "cover your face. We keep a description of the face and a small picture of it "
            "(in the folder references/), never the photo itself."
        ]
        if photos
        else ["You gave none."],
        items=[
            f"Given {when(r.added_at)}; deleted by {when(r.deleted_after)} at the "
            f"latest" + (f" (its picture: {r.thumbnail})" if r.thumbnail else "")
            for r in photos
        ],
    )


def _objections_section(objections: list[Objection], when: Shown) -> Section:
    return Section(
        "Photos you objected to",
        items=[
            f"{o.file_name or o.media_id}, "
            f"{when(o.at)}: {OBJECTION.get(o.decision, o.decision)}"
            + (f" on {when(o.decided_at)}" if o.decided_at else "")
            + (f" (reason: {o.decision_reason})" if o.decision_reason else "")
            + (f". Where you said you are: {o.explanation}" if o.explanation else "")
            for o in objections
        ]
        or ["None."],
    )


def _mails_section(mails: list[Mail], when: Shown) -> Section:
    return Section(
        "Messages we sent you",
        paragraphs=["We keep what was sent and when, not the text of each message."],
        items=[
            f"{when(m.queued_at)}: {m.what} — {MAILS.get(m.state, m.state)}"
            + (f" ({when(m.sent_at)})" if m.sent_at else "")
            for m in mails
        ]
        or ["None."],
    )


def _rights_section(controller: Controller, organisation: str) -> Section:
    return Section(
        "Who holds your data, and your rights",
        facts=[
            ("Organisation", organisation),
            ("Contact", controller.email or "—"),
            ("Address", controller.address or "—"),
        ],
        paragraphs=[
            "You may change your choice, object to a photo, or delete your booking and "
            "data from your booking page at any time. You may also ask the organisation to "
            "correct your data, and complain to the data protection authority.",
        ],
    )


def _media_sections(media: list[MediaEntry], when: Shown, *, opted_out: bool) -> list[Section]:
    sections = [
        Section(
            "Photos and video you were found in",
            paragraphs=[
                "Each photo or video of the event in which we matched your face or read your "
                "badge, what was decided for you and where it was published."
                if media
                else "We did not find you in any photo or video of this event."
            ],
        )
    ]
    found_words = {
        **FOUND,
        "opted_out": "Not to be published with you recognisable "
        + ("(you opted out)" if opted_out else "(you objected to it)"),
    }
    for number, entry in enumerate(media, start=1):
        what = "Video" if entry.kind == "video" else "Photo"
        sections.append(
            Section(f"{what} {number}: {entry.file_name}", _media_facts(entry, when, found_words))
        )
    return sections


def _media_facts(
    entry: MediaEntry, when: Shown, found_words: dict[str, str]
) -> list[tuple[str, str]]:
    found = [
        f"{'Track' if entry.kind == 'video' else 'Face'} {f.number}, found by {f.how}: "
        f"{found_words.get(f.decision, f.decision)}"
        for f in entry.found
    ]
    if entry.badge_seen:
        seen = len(entry.badge_seen)
        found.append("Your badge was read in it" + (f" {seen} times" if seen > 1 else ""))
    facts = [
        ("Uploaded", when(entry.uploaded_at)),
        ("How you were found", "; ".join(found) or "—"),
    ]
    if entry.reviews:
        facts.append(
            (
                "Checked by staff",
                "; ".join(
                    f"{when(r.at)}: {_who(r.by)} {REVIEW.get(r.decision, r.decision)}"
                    for r in entry.reviews
                ),
            )
        )
    facts.append(("Published", _published(entry.publications, when)))
    if entry.covered_copy:
        facts.append(("Your copy (everyone else's face covered)", entry.covered_copy))
    return facts


def _published(publications: list[PublicationPart], when: Shown) -> str:
    return (
        "; ".join(
            f"{channel_words(p.channel)}, {when(p.published_at)}"
            + (f", at {p.url}" if p.url else "")
            + (f"; taken down {when(p.taken_down_at)}" if p.taken_down_at else "")
            + (
                f"; to be taken down (asked {when(p.takedown_requested_at)})"
                if p.takedown_requested_at and not p.taken_down_at
                else ""
            )
            for p in publications
        )
        or "Not published"
    )
