"""Time zones: events are shown in their own zone, typed-in local times become UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from registry.config import get_settings
from registry.errors import Invalid


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The zone called `name` (an IANA name such as Europe/London); UTC for unknown names."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_known(name: str) -> bool:
    return name in names()


@lru_cache(maxsize=1)
def names() -> list[str]:
    """Every IANA zone name this machine knows (from the tzdata package), sorted."""
    return sorted(n for n in available_timezones() if "/" in n or n == "UTC")


def checked(name: str, *, field: str = "timezone") -> str:
    """`name` if it is an IANA zone; Invalid (422) otherwise."""
    name = (name or "").strip()
    if not is_known(name):
        raise Invalid(
            f"Unknown time zone {name!r}: use a name such as Europe/London or America/New_York.",
            field=field,
        )
    return name


def from_local(value: datetime, name: str) -> datetime:
    """A wall-clock time typed for the zone `name`, as an aware UTC datetime (times that
    already carry an offset are only converted)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(name))
    return value.astimezone(UTC)


def in_zone(value: datetime | None, name: str) -> datetime | None:
    """`value` as a wall-clock time in the zone `name`."""
    return value.astimezone(zone(name)) if value is not None else None


def end_of_day(day: datetime | None, name: str) -> datetime | None:
    """The first instant after the calendar day of `day` in zone `name` (for 'until' dates)."""
    if day is None:
        return None
    local = day.astimezone(zone(name)) if day.tzinfo else day.replace(tzinfo=zone(name))
    start = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone(name))
    return start.astimezone(UTC)


def in_default_zone(value: datetime | None, tz: str | None = None) -> datetime | None:
    """`value` in the zone `tz`, else the organisation's (`REGISTRY_TIMEZONE`)."""
    return in_zone(value, tz or get_settings().timezone)


def long_datetime(value: datetime | None, tz: str | None = None) -> str:
    """'Wednesday 1 May 2030, 10:00 BST': a time as people at the event read their clocks."""
    local = in_default_zone(value, tz)
    if local is None:
        return "—"
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def short_datetime(value: datetime | None, tz: str | None = None) -> str:
    """'1 May 2030, 10:00 BST'."""
    local = in_default_zone(value, tz)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}" if local else "—"


def long_date(value: datetime | None, tz: str | None = None) -> str:
    """'1 May 2030' in the zone (the organisation's when none is given)."""
    local = in_default_zone(value, tz)
    return f"{local.day} {local:%B %Y}" if local else "—"


def last_day(value: datetime | None, tz: str | None = None) -> str:
    """The last day a period ending (exclusively) at `value` covers: 'until 31 January 2027'
    for a consent that ends at the first instant of 1 February in the zone."""
    if value is None:
        return "—"
    return long_date(value - timedelta(microseconds=1), tz)
