"""Which time zone names Almanac accepts, from anyone (a form, a browser, a provider): the tz database's, only.

ZoneInfo(name) loads whatever file the name leads to under the system's zoneinfo folder, which also holds copies
that are not zones anyone lives in: `right/…` (clocks that count leap seconds, 27 s off), `posix/…`, `posixrules`,
`Factory` and `localtime` (the server's own zone). available_timezones() leaves out `right/` and `posix/` but
keeps the rest, so they are dropped here by name. Backward-compatible links such as US/Eastern or Asia/Calcutta
stay valid: the tz database lists them, providers and browsers still send them, and each means one real zone.
"""
from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})
_COPIES = ("posix/", "right/")


@cache
def iana_zone_names() -> frozenset[str]:
    return frozenset(name for name in available_timezones()
                     if name not in _NOT_ZONES and not name.startswith(_COPIES))


def is_iana_zone(name: object) -> bool:
    """The one test of a zone name: True only for a zone of the tz database (never a folder, file or copy)."""
    return isinstance(name, str) and name in iana_zone_names()
