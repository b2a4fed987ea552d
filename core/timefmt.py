"""Times as people read them: in the course's time zone, and as a countdown."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from core.errors import InvalidSettings


@cache
def zones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def zone(name: str) -> ZoneInfo:
    """The time zone of an IANA name, e.g. "America/New_York"; InvalidSettings if there is none."""
    if name not in zones():
        raise InvalidSettings(f"unknown time zone {name!r}: use an IANA name such as America/New_York")
    return ZoneInfo(name)


def local_text(at: datetime, zone_name: str) -> str:
    """E.g. "Mon 7 Dec 2026, 09:20 EST": the day, the date and the time in the zone, with its name."""
    local = at.astimezone(zone(zone_name))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def duration_text(seconds: float) -> str:
    """E.g. "2 days 3 h", "5 h 20 min", "12 min": the two largest units, whole."""
    minutes = int(seconds // 60)
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{max(minutes, 1) if seconds > 0 else 0} min"


def countdown(at: datetime, now: datetime, future: str = "due", past: str = "was due") -> str:
    """E.g. "due in 2 days 3 h", or "was due 1 day 4 h ago" once it has passed."""
    seconds = (at - now).total_seconds()
    if seconds >= 0:
        return f"{future} in {duration_text(seconds)}"
    return f"{past} {duration_text(-seconds)} ago"
