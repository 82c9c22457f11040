"""`my-data.pdf`: an attendee's export (`my-data.json`) in words, for the person to read.

A PDF because it opens as it is on every phone and computer (their viewers show it inside
the ZIP, where an HTML file would ask which app to use), prints as it looks, and is what the
patient's receipt already is. It is made from the JSON document alone, so the two cannot
disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from registry import documents, zones
from registry.channels import words as channel_words
from registry.documents import Section
from registry.organisation.service import UNSET_NAME

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


def pdf(document: dict[str, Any]) -> bytes:
    """The document (format registry.attendee-export/1) as a PDF to read, its times in the
    event's time zone."""
    timezone = document["event"]["timezone"]

    def when(value: str | None) -> str:
        local = zones.in_zone(datetime.fromisoformat(value), timezone) if value else None
        return f"{local.day} {local:%B %Y, %H:%M} {local.tzname()}" if local else "—"

    booking, event, controller = document["booking"], document["event"], document["controller"]
    organisation = controller["name"] or UNSET_NAME
    sections = [
        Section(
            "Your booking",
            facts=[
                ("Name", booking["name"] or "—"),
                ("Email address", booking["email"] or "—"),
                ("Booked", when(booking["booked_at"])),
                ("Badge code", booking["badge_code"]),
                (
                    "Your choice now",
                    "You opted out of photos and video"
                    if booking["photo_opt_out"]
                    else "You may appear in photos and video",
                ),
                (
                    "Filming notice you were shown",
                    f"version {booking['notice_version']}"
                    if booking["notice_version"] is not None
                    else "None yet (your booking was made for you; you will see it with your "
                    "confirmation or on your booking page)",
                ),
                *(
                    [("Cancelled", when(booking["cancelled_at"]))]
                    if booking["cancelled_at"]
                    else []
                ),
            ],
        ),
        Section(
            "The event",
            facts=[
                ("Name", event["name"]),
                ("Starts", when(event["starts_at"])),
                ("Venue", event["venue"] or "—"),
            ],
        ),
        Section(
            "Every change, oldest first",
            items=[
                f"{when(c['at'])}: {CHANGES.get(c['action'], c['action'])} (by {_who(c['by'])})"
                for c in document["choices"]
            ]
            or ["None."],
        ),
        Section(
            "Reference photos",
            paragraphs=[
                "A photo of your face you gave, with your consent, so that we could find you and "
                "cover your face. We keep a description of the face and a small picture of it "
                "(in the folder references/), never the photo itself."
            ]
            if document["reference_photos"]
            else ["You gave none."],
            items=[
                f"Given {when(r['added_at'])}; deleted by {when(r['deleted_after'])} at the "
                f"latest" + (f" (its picture: {r['thumbnail']})" if r.get("thumbnail") else "")
                for r in document["reference_photos"]
            ],
        ),
        *_media_sections(document["media"], when, opted_out=booking["photo_opt_out"]),
        Section(
            "Photos you objected to",
            items=[
                f"{o['file_name'] or o['media_id']}, "
                f"{when(o['at'])}: {OBJECTION.get(o['decision'], o['decision'])}"
                + (f" on {when(o['decided_at'])}" if o["decided_at"] else "")
                + (f" (reason: {o['decision_reason']})" if o["decision_reason"] else "")
                + (f". Where you said you are: {o['explanation']}" if o["explanation"] else "")
                for o in document["objections"]
            ]
            or ["None."],
        ),
        Section(
            "Messages we sent you",
            paragraphs=["We keep what was sent and when, not the text of each message."],
            items=[
                f"{when(m['queued_at'])}: {m['what']} — {MAILS.get(m['state'], m['state'])}"
                + (f" ({when(m['sent_at'])})" if m["sent_at"] else "")
                for m in document.get("mails", [])
            ]
            or ["None."],
        ),
        Section(
            "Who holds your data, and your rights",
            facts=[
                ("Organisation", organisation),
                ("Contact", controller["email"] or "—"),
                ("Address", controller["address"] or "—"),
            ],
            paragraphs=[
                "You may change your choice, object to a photo, or delete your booking and "
                "data from your booking page at any time. You may also ask the organisation to "
                "correct your data, and complain to the data protection authority.",
            ],
        ),
    ]
    return documents.render(
        title=f"Your data: {event['name']}",
        intro=[
            f"Everything {organisation} holds about your booking, as it was on "
            f"{when(document['generated_at'])}. The same is in my-data.json (for computers); "
            "the photos you were found in are in the folder photos/, each with everyone "
            "else's face covered.",
        ],
        sections=sections,
        footer=f"{document['format']} · {when(document['generated_at'])}",
    )


def _media_sections(
    media: list[dict[str, Any]], when: Callable[[str | None], str], *, opted_out: bool
) -> list[Section]:
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
    for number, m in enumerate(media, start=1):
        what = "Video" if m["kind"] == "video" else "Photo"
        found = [
            f"{'Track' if m['kind'] == 'video' else 'Face'} "
            f"{f.get('track', f.get('face'))}, found by {f['how']}: "
            f"{found_words.get(f['decision'], f['decision'])}"
            for f in m["found"]
        ]
        if m["badge_seen"]:
            seen = len(m["badge_seen"])
            found.append("Your badge was read in it" + (f" {seen} times" if seen > 1 else ""))
        facts = [
            ("Uploaded", when(m["uploaded_at"])),
            ("How you were found", "; ".join(found) or "—"),
        ]
        if m["reviews"]:
            facts.append(
                (
                    "Checked by staff",
                    "; ".join(
                        f"{when(r['at'])}: {_who(r['by'])} "
                        f"{REVIEW.get(r['decision'], r['decision'])}"
                        for r in m["reviews"]
                    ),
                )
            )
        facts.append(
            (
                "Published",
                "; ".join(
                    f"{channel_words(p['channel'])}, {when(p['published_at'])}"
                    + (f", at {p['url']}" if p["url"] else "")
                    + (f"; taken down {when(p['taken_down_at'])}" if p["taken_down_at"] else "")
                    + (
                        f"; to be taken down (asked {when(p['takedown_requested_at'])})"
                        if p["takedown_requested_at"] and not p["taken_down_at"]
                        else ""
                    )
                    for p in m["publications"]
                )
                or "Not published",
            )
        )
        if m.get("copy"):
            facts.append(("Your copy (everyone else's face covered)", m["copy"]))
        sections.append(Section(f"{what} {number}: {m['file_name']}", facts))
    return sections
