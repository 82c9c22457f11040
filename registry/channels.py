"""Publication channels (configurable): validation and the plain words pages use for them."""

from __future__ import annotations

from collections.abc import Iterable

from registry.config import get_settings
from registry.errors import Invalid

WORDS = {
    "public_social": "our public social media accounts",
    "closed_network": "closed professional networks and members' areas",
    "internal": "internal staff communications",
    "print": "printed material (leaflets, posters, magazines)",
}


def known() -> list[str]:
    return list(get_settings().channels)


def words(channel: str) -> str:
    """How a page names a channel to a patient, an attendee or a comms officer."""
    return WORDS.get(channel, channel.replace("_", " "))


def validate(
    channels: Iterable[str], *, field: str = "channels", allow_empty: bool = False
) -> list[str]:
    """The given channels in configured order; Invalid (422) for unknown ones or none."""
    wanted = set(channels)
    allowed = known()
    unknown = sorted(wanted - set(allowed))
    if unknown:
        raise Invalid(
            f"Unknown channel {', '.join(unknown)}: choose from {', '.join(allowed)}.", field=field
        )
    if not wanted and not allow_empty:
        raise Invalid("Choose at least one channel.", field=field)
    return [c for c in allowed if c in wanted]
