"""What a post's text says about people: the caption's part of the publish gate (pure).

The guidance: a patient must not be identified "either through your post or in combination with
details posted elsewhere" without express consent. A caption (the post's text and alt text) is
checked for

- **people**: the registry's patients (subject and guardian names) and the attendees who opted
  out of the media's event, in their common forms (`caption_names`). The caller says who may be
  named here (a granted consent covering this media on this channel);
- **identifiers**, refused on every channel (a consent covers being shown, not a record number):
  NHS and CHI numbers, hospital numbers (a configurable pattern), dates of birth written as
  such, full UK postcodes, phone numbers and email addresses other than the organisation's own
  (`caption_identifiers`).

Both are looked for in a normalised copy of the caption (`registry.normalise`: what reads the
same to a person matches the same, however it is encoded), in time linear in its length; each
finding says what was found and where in the caption as written (1-based character positions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from registry.normalise import Normalised, normalise
from registry.publishing import caption_identifiers, caption_names
from registry.publishing.caption_identifiers import Own, Pattern, linear
from registry.publishing.caption_names import Index, Person

__all__ = [
    "IDENTIFIERS",
    "MAX_CAPTION",
    "Finding",
    "Index",
    "Own",
    "Person",
    "Reading",
    "check",
    "mod11_valid",
    "normal_postcode",
    "postcodes_in",
    "read",
]

MAX_CAPTION = 5000
NOT_OURS = Own()  # no contact details of the organisation's own
mod11_valid = caption_identifiers.mod11_valid
normal_postcode = caption_identifiers.normal_postcode
postcodes_in = caption_identifiers.postcodes_in


@dataclass(frozen=True)
class Finding:
    kind: str  # person | nhs_number | chi_number | hospital_number | date_of_birth | postcode | ...
    text: str  # as written in the caption
    start: int  # 0-based in the caption as written, end exclusive
    end: int
    person: Person | None = None

    @property
    def where(self) -> str:
        if self.end - self.start <= 1:
            return f"character {self.start + 1}"
        return f"characters {self.start + 1}–{self.end}"

    def reason(self) -> str:
        if self.person is not None:
            who = {
                "patient": "a patient in the registry",
                "guardian": "someone who decides for a patient in the registry",
                "attendee": "an attendee who opted out of photography at this event",
            }.get(self.person.role, "someone in the registry")
            why = f" {self.person.why_not}" if self.person.why_not else ""
            return (
                f"The caption names {self.person.name} (“{self.text}”, {self.where}), {who}"
                f"{why}: remove the name, or post it without identifying them."
            )
        if self.kind == "numbers":
            return (
                f"The caption has more numbers than are checked one by one (from character "
                f"{self.start + 1} on): shorten it, or split it into several posts."
            )
        words = IDENTIFIERS[self.kind]
        return (
            f"The caption contains {words} (“{self.text}”, {self.where}): identifiers like "
            "this are never published, on any channel, whatever the consent."
        )


IDENTIFIERS = {
    "nhs_number": "an NHS number",
    "chi_number": "a CHI number",
    "health_number": "an NHS or CHI number",
    "hospital_number": "a hospital number",
    "date_of_birth": "a date of birth",
    "postcode": "a full postcode",
    "phone": "a phone number",
    "email": "an email address",
    "numbers": "more numbers than are checked one by one",
}


@dataclass(frozen=True)
class Reading:
    """A caption read once: its normalised copy and the identifiers in it (the same for every
    media it is checked with); `check` adds the people a post of one media may not name."""

    copy: Normalised
    identifiers: tuple[Finding, ...]
    held: bytes  # for each character of the caption, whether an identifier holds it

    def check(self, people: Iterable[Person] | Index = ()) -> list[Finding]:
        """Everything in the caption that may not be published with it, in reading order."""
        found = list(self.identifiers)
        for named in caption_names.named(self.copy.text, people):
            start, end = self.copy.span(named.start, named.end)
            if not any(self.held[start:end]):
                found.append(
                    Finding("person", self.copy.original[start:end], start, end, named.person)
                )
        return sorted(found, key=lambda f: (f.start, f.end))


def hospital(pattern: str | re.Pattern[str] | Pattern | None) -> Pattern | None:
    """The hospital-number pattern as RE2 runs it (a pattern written for `re` is recompiled;
    one RE2 cannot run raises caption_identifiers.NotLinear)."""
    if pattern is None:
        return None
    source = pattern if isinstance(pattern, str) else pattern.pattern
    return linear(source) if source else None


def read(
    caption: str,
    *,
    own: Own = NOT_OURS,
    hospital_pattern: str | re.Pattern[str] | Pattern | None = None,
) -> Reading:
    """The caption's normalised copy and the identifiers in it, with where each is written."""
    copy = normalise(caption)
    hits = caption_identifiers.identifiers(copy.text, own=own, hospital=hospital(hospital_pattern))
    found = []
    held = bytearray(len(caption))
    for hit in hits:
        start, end = copy.span(hit.start, hit.end)
        found.append(Finding(hit.kind, caption[start:end], start, end))
        held[start:end] = b"\x01" * (end - start)
    return Reading(copy, tuple(found), bytes(held))


def check(
    caption: str,
    *,
    people: Iterable[Person] | Index = (),
    own: Own = NOT_OURS,
    hospital_pattern: str | re.Pattern[str] | Pattern | None = None,
) -> list[Finding]:
    """Everything in the caption that may not be published with it, in reading order."""
    if not caption or not caption.strip():
        return []
    return read(caption, own=own, hospital_pattern=hospital_pattern).check(people)
