"""The filming notice people are shown: the event's own introduction, then the sentences no notice
may lack (how images are used, that attendees hold no copyright, how to opt out and change their
mind), made from the event's settings so that no introduction can leave them out.

One text for every place it is shown (booking page, confirmation, manage page, notice page,
poster): each version stored in `FilmingNotice` is this whole text, as people saw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from registry import channels as channel_names
from registry.errors import Invalid

COPYRIGHT = (
    "You do not hold copyright in photos or video taken at the event: the organiser does, and "
    "decides how they are used within this notice."
)
CHOICE = (
    "You can opt out of photos and video when you book, and opt out or back in at any time with "
    "the private link in your booking confirmation, or by telling a photographer or the "
    "organiser at the event. People who opted out wear a badge marked NO PHOTOS, and photos and "
    "video they appear in are checked and not published."
)
NOWHERE = "nowhere outside the organiser's own records"


@dataclass(frozen=True)
class Notice:
    introduction: str
    channels: tuple[str, ...]  # the channels in words, in the event's order
    copyright: str = COPYRIGHT
    choice: str = CHOICE

    @property
    def channel_list(self) -> list[str]:
        return list(self.channels) or [NOWHERE]

    @property
    def uses(self) -> str:
        """The sentence saying where images may be used."""
        return f"Photos and video of this event may be used on {_listed(self.channels)}."

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in (self.introduction, self.uses, self.copyright, self.choice) if p]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def _listed(items: Sequence[str]) -> str:
    if not items:
        return NOWHERE
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return "; ".join(items[:-1]) + "; and " + items[-1]


def compose(*, introduction: str, channels: Sequence[str]) -> Notice:
    """The whole notice for an introduction and the event's channels."""
    return Notice(
        introduction=introduction.strip(),
        channels=tuple(channel_names.words(c) for c in channels),
    )


def checked_introduction(text: str) -> str:
    """The introduction as stored; refused when blank (every other sentence is added)."""
    cleaned = text.strip()
    if not cleaned:
        raise Invalid(
            "Write an introduction to the filming notice: what is photographed or filmed, and "
            "why. How images are used, copyright and opting out are added for you.",
            field="filming_notice",
        )
    return cleaned
