"""Windows time zone ids (what Outlook and Graph send) to IANA names.

The table itself is CLDR's windowsZones.xml (every Windows id's `territory="001"` zone), as icalendar ships it.
CLDR deliberately keeps some retired IANA ids (Asia/Calcutta, Europe/Kiev); we hand out the current tzdb names
instead so that stored zones compare equal to the ones the rest of the app uses.
"""
from __future__ import annotations

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from webapp.zones import is_iana_zone

# Ids CLDR still uses that tzdb has renamed since (the old names live on in tzdb only as links).
_TZDB_RENAMES = {
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Godthab": "America/Nuuk",
    "America/Indianapolis": "America/Indiana/Indianapolis",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Europe/Kiev": "Europe/Kyiv",
    "Etc/UTC": "UTC",
}

# Exchange writes this for UTC on some items instead of the Windows id.
_EXCHANGE_ALIASES = {"tzone://Microsoft/Utc": "UTC"}

WINDOWS_TO_IANA: dict[str, str] = {
    windows: _TZDB_RENAMES.get(cldr, cldr) for windows, cldr in WINDOWS_TO_OLSON.items()
} | _EXCHANGE_ALIASES


def windows_to_iana(name: str | None) -> str | None:
    """The IANA zone for a Windows zone id; an IANA name passes through; anything else is None."""
    if not name:
        return None
    if name in WINDOWS_TO_IANA:
        return WINDOWS_TO_IANA[name]
    return name if is_iana_zone(name) else None
