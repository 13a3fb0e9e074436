"""IANA time zones for the calendar: which names we offer, how we read a user's zone, and short labels for them."""
from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo

from webapp.zones import iana_zone_names, is_iana_zone

UTC_NAME = "UTC"
# Legacy and administrative keys that nobody picks on purpose (still valid when already set).
_HIDDEN_PREFIXES = ("Etc/", "SystemV/", "US/")


@cache
def time_zone_names() -> tuple[str, ...]:
    """The zones offered in pickers: "Area/City" names plus UTC."""
    names = {name for name in iana_zone_names() if "/" in name and not name.startswith(_HIDDEN_PREFIXES)}
    return (UTC_NAME, *sorted(names))


def zone_or_utc(name: str | None) -> ZoneInfo:
    """A user's or event's zone; unknown or unset zones read as UTC rather than failing a page."""
    return ZoneInfo(name) if is_iana_zone(name) else ZoneInfo(UTC_NAME)


def city_label(name: str) -> str:
    """ "America/New_York" -> "New York", "America/Argentina/Buenos_Aires" -> "Buenos Aires"."""
    return name.rsplit("/", 1)[-1].replace("_", " ")
