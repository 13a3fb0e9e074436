"""iCalendar (RFC 5545) resources <-> RemoteEvent.

A CalDAV resource holds one UID: the series master (or a single event) plus its RECURRENCE-ID overrides.
Ids are href-based so a removal reported only by href maps straight to an id:
the master is `href`, an override is `href::<original start>` (UTC "YYYY-MM-DDTHH:MM:SSZ", or "YYYY-MM-DD").
"""
from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Component, Event, Timezone, vCalAddress
from icalendar.timezone import tzp
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from webapp.providers.base import RemoteEvent
from webapp.providers.windows_zones import WINDOWS_TO_IANA, windows_to_iana
from webapp.zones import iana_zone_names, is_iana_zone

log = logging.getLogger(__name__)

PRODID = "-//Almanac//EN"
OVERRIDE_SEPARATOR = "::"
FEED_ID_PREFIX = "uid-sha256:"
RECURRENCE_PROPERTIES = ("RRULE", "RDATE", "EXDATE")
STATUSES = ("CONFIRMED", "TENTATIVE", "CANCELLED")
_PARTSTAT_TO_RESPONSE = {"ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative"}
_RESPONSE_TO_PARTSTAT = {response: partstat for partstat, response in _PARTSTAT_TO_RESPONSE.items()}
_UTC_KEY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_COMMON_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
                 "America/Anchorage", "Pacific/Honolulu", "Europe/London", "Europe/Berlin", "Asia/Kolkata",
                 "Asia/Tokyo", "Australia/Sydney")


# ---------------------------------------------------------------------------- ids


def override_event_id(href: str, original_start: datetime, is_all_day: bool) -> str:
    return f"{href}{OVERRIDE_SEPARATOR}{_recurrence_key(original_start, is_all_day)}"


def split_event_id(provider_event_id: str) -> tuple[str, str | None]:
    """"/cal/a.ics::2024-03-11T13:00:00Z" -> ("/cal/a.ics", "2024-03-11T13:00:00Z"); a master id -> (id, None)."""
    href, _, key = provider_event_id.partition(OVERRIDE_SEPARATOR)
    return href, key or None


def parse_recurrence_key(key: str) -> tuple[datetime, bool]:
    """The original start (aware UTC) an override key names, and whether it is a DATE (all-day) instance."""
    if len(key) == len("2024-03-11"):
        return datetime.combine(date.fromisoformat(key), datetime.min.time(), UTC), True
    return datetime.strptime(key, _UTC_KEY_FORMAT).replace(tzinfo=UTC), False


def _recurrence_key(original_start: datetime, is_all_day: bool) -> str:
    utc = original_start.astimezone(UTC)
    return utc.date().isoformat() if is_all_day else utc.strftime(_UTC_KEY_FORMAT)


# ---------------------------------------------------------------------------- parsing


def parse_calendar_resource(
    ics_text: str, href: str, etag: str | None, default_timezone: str = "UTC",
    calendar_timezone: str | None = None,
) -> list[RemoteEvent]:
    """Parse one calendar object resource into its master (first) and overrides.

    Floating times belong to `calendar_timezone` (the collection's calendar-timezone), else the resource's
    X-WR-TIMEZONE, else `default_timezone` (the user's); such events carry metadata["floating"] = True and the
    zone chosen, so an edit writes the same wall clock back. VEVENTs without a usable DTSTART are skipped; text
    that is not iCalendar at all raises ValueError.
    """
    calendar = Calendar.from_ical(ics_text)
    zones = _ZoneResolver(calendar, _floating_zone(calendar, calendar_timezone, default_timezone))
    return _parse_resource(calendar.walk("VEVENT"), href, etag, zones)


def _floating_zone(calendar: Calendar, calendar_timezone: str | None, default_timezone: str) -> str:
    """Where floating times belong: the collection's zone, else X-WR-TIMEZONE (an IANA or a Windows name), else
    the user's."""
    for name in (calendar_timezone, str(calendar.get("X-WR-TIMEZONE", "")).strip()):
        zone = name and (_iana_zone(name, exact=True) or _windows_zone(name))
        if zone and _iana_zone(zone, exact=True):
            return zone
    return default_timezone


def _parse_resource(vevents: list[Component], href: str, etag: str | None, zones: _ZoneResolver) -> list[RemoteEvent]:
    """One UID's VEVENTs: the master (first) and its overrides."""
    masters = [vevent for vevent in vevents if "RECURRENCE-ID" not in vevent]
    if len(masters) > 1:
        # A client saved a newer copy beside the old one: the highest SEQUENCE, then the latest change, wins.
        log.warning("calendar resource has %d master VEVENTs; keeping the newest href=%s", len(masters), href)
        masters.sort(key=_revision, reverse=True)
    master = _parse_vevent(masters[0], href, etag, zones) if masters else None
    events = [master] if master else []
    for vevent in vevents:
        if "RECURRENCE-ID" in vevent:
            override = _parse_override(vevent, href, etag, zones, master)
            if override:
                events.append(override)
    return events


@dataclass
class FeedContents:
    """A whole iCalendar feed: its own name and colour (X-WR-CALNAME, X-APPLE-CALENDAR-COLOR) and its events."""

    name: str | None
    color: str | None
    events: list[RemoteEvent]
    unidentified: int  # VEVENTs without a UID, given an id made from their content


def parse_feed(ics_text: str, default_timezone: str = "UTC") -> FeedContents:
    """Every event of a subscribed feed. Events are grouped by UID (a series with its overrides, as one CalDAV
    resource) and named by it (FEED_ID_PREFIX and a digest when the UID is too long to be an id); an event without a
    UID is named by a digest of its content. Floating times follow X-WR-TIMEZONE, else the user's zone. Raises
    ValueError when the text is not iCalendar."""
    calendar = Calendar.from_ical(ics_text)
    if calendar.name != "VCALENDAR":
        raise ValueError("not a VCALENDAR")
    zones = _ZoneResolver(calendar, _floating_zone(calendar, None, default_timezone))
    groups: dict[str, list[Component]] = {}
    unidentified = 0
    for vevent in calendar.walk("VEVENT"):
        uid = str(vevent.get("UID", "")).strip()
        if not uid:
            unidentified += 1
            uid = "content:" + hashlib.sha256(vevent.to_ical()).hexdigest()[:32]
        groups.setdefault(uid, []).append(vevent)
    events = []
    for uid, vevents in groups.items():
        # The group's own digest stands for an etag: an event that did not change is not written again.
        digest = hashlib.sha256(b"".join(vevent.to_ical() for vevent in vevents)).hexdigest()[:32]
        events += _parse_resource(vevents, feed_event_id(uid), f'"{digest}"', zones)
    name = str(calendar.get("X-WR-CALNAME", "") or calendar.get("NAME", "")).strip() or None
    return FeedContents(name, _feed_color(calendar), events, unidentified)


def feed_event_id(uid: str) -> str:
    """A feed event's id: its UID, or a digest of it when it would not fit an id (255 with an override's key)."""
    if len(uid) <= 200 and OVERRIDE_SEPARATOR not in uid:
        return uid
    return FEED_ID_PREFIX + hashlib.sha256(uid.encode()).hexdigest()


def _feed_color(calendar: Calendar) -> str | None:
    match = re.fullmatch(r"#?([0-9a-fA-F]{6})(?:[0-9a-fA-F]{2})?",
                         str(calendar.get("X-APPLE-CALENDAR-COLOR", "") or calendar.get("COLOR", "")).strip())
    return f"#{match.group(1).lower()}" if match else None


def _parse_vevent(vevent: Component, href: str, etag: str | None, zones: _ZoneResolver) -> RemoteEvent | None:
    try:
        start = zones.moment(vevent["DTSTART"])
    except (KeyError, ValueError):
        log.warning("skipping VEVENT without a usable DTSTART href=%s", href)
        return None
    end = _end_time(vevent, start, zones)
    metadata: dict = {"href": href}
    if start.is_floating:
        metadata["floating"] = True
    if "TRANSP" in vevent:
        metadata["transp"] = str(vevent["TRANSP"]).upper()  # TRANSPARENT: the time stays free
    x_props = [str(vevent.content_line(name, value)) for name, value in _properties(vevent) if name.startswith("X-")]
    if x_props:
        metadata["x_props"] = x_props
    status = str(vevent.get("STATUS", "CONFIRMED")).upper()
    url = str(vevent.get("URL", ""))
    return RemoteEvent(
        provider_event_id=href,
        title=str(vevent.get("SUMMARY", "")).strip() or "(No title)",
        start_time=start.utc,
        end_time=end,
        is_all_day=start.is_date,
        timezone=start.zone_name,
        status=status if status in STATUSES else "CONFIRMED",
        description=_optional_text(vevent, "DESCRIPTION"),
        location=_optional_text(vevent, "LOCATION"),
        recurrence_rule=_recurrence_lines(vevent, zones),
        attendees=_attendees(vevent),
        reminders=_reminders(vevent),
        html_link=url if url.lower().startswith(("http://", "https://")) else None,
        etag=etag,
        ical_uid=str(vevent["UID"]) if "UID" in vevent else None,
        sequence=int(vevent["SEQUENCE"]) if "SEQUENCE" in vevent else None,
        metadata=metadata,
    )


def _revision(vevent: Component) -> tuple[int, datetime, datetime]:
    def stamp(name: str) -> datetime:
        try:
            value = vevent[name].dt
        except (KeyError, AttributeError):
            return datetime.min.replace(tzinfo=UTC)
        if not isinstance(value, datetime):
            value = datetime.combine(value, datetime.min.time())
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    try:
        sequence = int(vevent.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0
    return sequence, stamp("LAST-MODIFIED"), stamp("DTSTAMP")


def _parse_override(
    vevent: Component, href: str, etag: str | None, zones: _ZoneResolver, master: RemoteEvent | None
) -> RemoteEvent | None:
    event = _parse_vevent(vevent, href, etag, zones)
    if event is None:
        return None
    recurrence_id = vevent["RECURRENCE-ID"]
    if master and master.is_all_day and isinstance(recurrence_id.dt, datetime):
        # A date series whose override names its instance with a date-time (often midnight, in some zone):
        # the instance is the date as written.
        original = zones.resolve(recurrence_id.dt.date(), None)
    else:
        original = zones.moment(recurrence_id)
    event.provider_event_id = override_event_id(href, original.utc, original.is_date)
    event.parent_provider_event_id = href
    event.original_start_time = original.utc
    event.recurrence_rule = None
    if master and "SUMMARY" not in vevent:
        event.title = master.title  # overrides often repeat only what changed
    return event


def _properties(component: Component) -> Iterable[tuple[str, object]]:
    """(name, value) for each property line of the component itself, repeated names included."""
    for name, value in component.property_items(recursive=False, sorted=False):
        if name not in ("BEGIN", "END"):
            yield name, value


def _optional_text(vevent: Component, name: str) -> str | None:
    text = str(vevent.get(name, "")).strip()
    return text or None


def _end_time(vevent: Component, start: _Moment, zones: _ZoneResolver) -> datetime:
    if "DTEND" in vevent:
        end = zones.moment(vevent["DTEND"]).utc
    elif "DURATION" in vevent:
        end = _add_nominal(start, vevent["DURATION"].dt)
    else:
        # RFC 5545: a DATE lasts one day, a DATE-TIME without an end has no length.
        end = start.utc + timedelta(days=1) if start.is_date else start.utc
    return max(end, start.utc)


def _add_nominal(start: _Moment, duration: timedelta) -> datetime:
    """Days are nominal (wall clock, 23/25 h across DST); hours and smaller are exact."""
    local = start.utc.astimezone(start.tz) + timedelta(days=duration.days)
    return local.astimezone(UTC) + timedelta(seconds=duration.seconds)


def _recurrence_lines(vevent: Component, zones: _ZoneResolver) -> str | None:
    """RRULE, RDATE, EXDATE lines in that order (RRULE parts in icalendar's canonical order)."""
    lines = []
    for wanted in RECURRENCE_PROPERTIES:
        for name, value in _properties(vevent):
            if name != wanted:
                continue
            if name == "RRULE":
                lines.append(f"RRULE:{value.to_ical().decode()}")
            else:
                lines.append(_date_list_line(vevent, name, value, zones))
    return "\n".join(lines) or None


def _date_list_line(vevent: Component, name: str, value, zones: _ZoneResolver) -> str:
    """Keep the line verbatim unless its TZID is not IANA; then restate the instants in UTC."""
    tzid = value.params.get("TZID")
    if not tzid or _iana_zone(tzid, exact=True):
        return str(vevent.content_line(name, value))
    # A PERIOD value restates as its start; the period's length is not kept.
    starts = [item.dt[0] if isinstance(item.dt, tuple) else item.dt for item in value.dts]
    instants = [zones.resolve(start, tzid).utc.strftime("%Y%m%dT%H%M%SZ") for start in starts]
    return f"{name}:{','.join(instants)}"


def _attendees(vevent: Component) -> list[dict] | None:
    organizer = vevent.get("ORGANIZER")
    organizer_email = _email(organizer) if organizer else None
    attendees = []
    for attendee in _as_list(vevent.get("ATTENDEE")):
        email = _email(attendee)
        partstat = str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
        attendees.append({
            "email": email,
            "name": attendee.params.get("CN"),
            "responseStatus": _PARTSTAT_TO_RESPONSE.get(partstat, "needsAction"),
            "organizer": bool(organizer_email) and email.lower() == organizer_email.lower(),
        })
    # A meeting's organizer is often not listed as an attendee; a lone ORGANIZER is not a meeting.
    if attendees and organizer_email and not any(a["organizer"] for a in attendees):
        attendees.append({"email": organizer_email, "name": organizer.params.get("CN"),
                          "responseStatus": "accepted", "organizer": True})
    return attendees or None


def _email(address: vCalAddress) -> str:
    text = str(address).strip()
    return text[len("mailto:"):] if text.lower().startswith("mailto:") else text


def _reminders(vevent: Component) -> list[dict] | None:
    reminders = []
    for alarm in vevent.walk("VALARM"):
        trigger = alarm.get("TRIGGER")
        # Only "before the start" alarms map onto reminders; absolute and after-end triggers don't.
        if trigger is None or not isinstance(trigger.dt, timedelta) or trigger.params.get("RELATED") == "END":
            continue
        if trigger.dt <= timedelta(0):
            method = "email" if str(alarm.get("ACTION", "")).upper() == "EMAIL" else "popup"
            reminders.append({"method": method, "minutes": int(-trigger.dt.total_seconds() // 60)})
    return reminders or None


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------------------- time zones


class _Moment:
    """A DTSTART-like value resolved to UTC, remembering how it was written."""

    def __init__(self, utc: datetime, tz: tzinfo, zone_name: str, is_date: bool = False, is_floating: bool = False):
        self.utc = utc
        self.tz = tz
        self.zone_name = zone_name
        self.is_date = is_date
        self.is_floating = is_floating


class _ZoneResolver:
    """Resolves TZIDs: IANA name, else a VTIMEZONE of this calendar, else a Windows name, else the default.

    Custom VTIMEZONEs are built per calendar rather than through icalendar's process-wide cache, which
    keeps the first definition it ever saw for a TZID.
    """

    def __init__(self, calendar: Calendar, default_timezone: str):
        self.default_name = _iana_zone(default_timezone, exact=True) or "UTC"
        self.default = ZoneInfo(self.default_name)
        self._vtimezones = {str(component["TZID"]): component for component in calendar.walk("VTIMEZONE")}
        self._resolved: dict[str, tuple[tzinfo, str]] = {}

    def moment(self, prop) -> _Moment:
        return self.resolve(prop.dt, prop.params.get("TZID"))

    def resolve(self, value: date, tzid: str | None) -> _Moment:
        if not isinstance(value, datetime):
            return _Moment(datetime.combine(value, datetime.min.time(), UTC), UTC, "UTC", is_date=True)
        if tzid:
            tz, name = self.zone(str(tzid), value)
        elif value.tzinfo is not None:
            tz, name = UTC, "UTC"
        else:
            return _Moment(value.replace(tzinfo=self.default).astimezone(UTC), self.default, self.default_name,
                           is_floating=True)
        return _Moment(value.replace(tzinfo=tz).astimezone(UTC), tz, name)

    def zone(self, tzid: str, near: datetime) -> tuple[tzinfo, str]:
        if tzid not in self._resolved:
            self._resolved[tzid] = self._lookup(tzid, near)
        return self._resolved[tzid]

    def _lookup(self, tzid: str, near: datetime) -> tuple[tzinfo, str]:
        name = _iana_zone(tzid)
        if name:
            return ZoneInfo(name), name
        # A Windows name means its zone, whatever (often partial) VTIMEZONE the exporter wrote beside it.
        name = _windows_zone(tzid)
        if name and _iana_zone(name, exact=True):
            return ZoneInfo(name), name
        if tzid in self._vtimezones:
            component = self._vtimezones[tzid]
            hint = _iana_zone(str(component.get("X-LIC-LOCATION", "")), exact=True)
            if hint:  # Lightning/Evolution name the zone they copied the rules from
                return ZoneInfo(hint), hint
            custom = tzp.create_timezone(component)
            equivalent = _equivalent_iana_zone(component.to_ical(), near.year)
            return (ZoneInfo(equivalent), equivalent) if equivalent else (custom, "UTC")
        log.warning("unknown TZID %r; reading it as %s", tzid, self.default_name)
        return self.default, self.default_name


def _iana_zone(tzid: str, exact: bool = False) -> str | None:
    """The IANA name a TZID denotes; unless `exact`, also "/vendor/.../Area/City" style ids."""
    candidates = [tzid]
    if not exact and tzid.startswith("/"):
        parts = tzid.strip("/").split("/")
        candidates += ["/".join(parts[index:]) for index in range(len(parts))]
    return next((candidate for candidate in candidates if is_iana_zone(candidate)), None)


def _windows_zone(name: str) -> str | None:
    return windows_to_iana(name) if name in WINDOWS_TO_IANA else None


def calendar_timezone_name(vcalendar_text: str) -> str | None:
    """The IANA zone a CalDAV calendar-timezone property (a VCALENDAR holding one VTIMEZONE) stands for."""
    try:
        calendar = Calendar.from_ical(vcalendar_text)
    except ValueError:
        return None
    for component in calendar.walk("VTIMEZONE"):
        tzid = str(component.get("TZID", ""))
        resolver = _ZoneResolver(calendar, "UTC")
        tz, name = resolver.zone(tzid, datetime.now(UTC).replace(tzinfo=None))
        if name != "UTC" or tzid in ("UTC", "Etc/UTC"):
            return name
    return None


@functools.lru_cache(maxsize=64)
def _equivalent_iana_zone(vtimezone_ical: bytes, year: int) -> str | None:
    """An IANA zone with the same UTC offsets as a custom VTIMEZONE, day by day over two years from `year`.

    Expanding a series needs a real zone; a custom definition that matches one is that zone for our purposes.
    """
    custom = tzp.create_timezone(Timezone.from_ical(vtimezone_ical))
    days = [datetime(year, 1, 1, 12, tzinfo=UTC) + timedelta(days=offset) for offset in range(2 * 366)]
    coarse = days[::61]
    wanted_coarse = _offsets(custom, coarse)
    wanted = None
    for name in _candidate_zones():
        zone = ZoneInfo(name)
        if _offsets(zone, coarse) != wanted_coarse:
            continue
        wanted = wanted or _offsets(custom, days)
        if _offsets(zone, days) == wanted:
            return name
    return None


def _offsets(zone: tzinfo, instants: list[datetime]) -> list[timedelta | None]:
    return [instant.astimezone(zone).utcoffset() for instant in instants]


@functools.cache
def _candidate_zones() -> list[str]:
    """The zones most calendars use, then each region's principal zone (CLDR's Windows mapping), then the rest.

    Several zones share today's rules; the order decides which name a custom Eastern definition gets.
    """
    known = iana_zone_names()
    preferred = [name for name in dict.fromkeys([*_COMMON_ZONES, *WINDOWS_TO_OLSON.values()]) if name in known]
    return preferred + sorted(known - set(preferred))


# ---------------------------------------------------------------------------- serialising


def build_calendar_resource(master: RemoteEvent, overrides: Iterable[RemoteEvent] = ()) -> str:
    """One VCALENDAR: the master, its overrides as RECURRENCE-ID VEVENTs, and the VTIMEZONEs they use.

    Cancelled overrides become EXDATEs on the master, the form every CalDAV client honours.
    """
    uid = master.ical_uid or master.provider_event_id
    overrides = list(overrides)
    cancelled = [o.original_start_time for o in overrides if o.status == "CANCELLED" and o.original_start_time]
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add_component(_master_vevent(master, uid, cancelled))
    for override in overrides:
        if override.status != "CANCELLED" and override.original_start_time:
            calendar.add_component(_override_vevent(override, uid, master))
    starts = [master.start_time, *(o.start_time for o in overrides)]
    calendar.add_missing_timezones(first_date=min(starts).date() - timedelta(days=366),
                                   last_date=max(Timezone.DEFAULT_LAST_DATE, max(starts).date() + timedelta(days=366)))
    return calendar.to_ical().decode()


def _master_vevent(master: RemoteEvent, uid: str, cancelled: list[datetime]) -> Event:
    vevent = _vevent(master, uid)
    lines = (master.recurrence_rule or "").splitlines()
    lines += [_instant_line("EXDATE", start, master) for start in cancelled]
    _add_lines(vevent, dict.fromkeys(line.strip() for line in lines if line.strip()))
    return vevent


def _override_vevent(override: RemoteEvent, uid: str, master: RemoteEvent) -> Event:
    vevent = _vevent(override, uid)
    _add_lines(vevent, [_instant_line("RECURRENCE-ID", override.original_start_time, master)])
    return vevent


def _vevent(event: RemoteEvent, uid: str) -> Event:
    vevent = Event()
    vevent.add("UID", uid)
    vevent.add("DTSTAMP", datetime.now(UTC))
    _add_times(vevent, event)
    vevent.add("SUMMARY", event.title)
    for name, value in (("DESCRIPTION", event.description), ("LOCATION", event.location),
                        ("URL", event.html_link), ("SEQUENCE", event.sequence)):
        if value is not None:
            vevent.add(name, value)
    if event.status != "CONFIRMED":
        vevent.add("STATUS", event.status)
    _add_attendees(vevent, event.attendees or [])
    for reminder in event.reminders or []:
        vevent.add_component(_alarm(reminder))
    _add_lines(vevent, event.metadata.get("x_props", []))
    return vevent


def _add_times(vevent: Event, event: RemoteEvent) -> None:
    """DTSTART in the event's own zone; always an explicit DTEND (iCloud mishandles events without one)."""
    if event.is_all_day:
        start = event.start_time.date()
        vevent.add("DTSTART", start)
        vevent.add("DTEND", max(event.end_time.date(), start + timedelta(days=1)))
        return
    zone = _event_zone(event)
    start, end = event.start_time.astimezone(zone), max(event.end_time, event.start_time).astimezone(zone)
    if event.metadata.get("floating"):  # written without a zone, as it came: the same wall clock goes back
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    vevent.add("DTSTART", start)
    vevent.add("DTEND", end)


def _instant_line(name: str, instant: datetime, master: RemoteEvent) -> str:
    """EXDATE / RECURRENCE-ID in the master's value type and zone, as RFC 5545 asks."""
    if master.is_all_day:
        return f"{name};VALUE=DATE:{instant.astimezone(UTC):%Y%m%d}"
    zone = _event_zone(master)
    if zone is UTC:
        return f"{name}:{instant.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{name};TZID={zone.key}:{instant.astimezone(zone):%Y%m%dT%H%M%S}"


def _event_zone(event: RemoteEvent) -> tzinfo:
    name = _iana_zone(event.timezone or "UTC", exact=True)
    return UTC if name in (None, "UTC", "Etc/UTC") else ZoneInfo(name)


def _add_lines(vevent: Event, lines: Iterable[str]) -> None:
    """Copy content lines we keep as text (RRULE/EXDATE/RDATE, X- properties) onto a component."""
    lines = list(lines)
    if not lines:
        return
    parsed = Event.from_ical("BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n")
    for name, value in _properties(parsed):
        vevent.add(name, value)


def _add_attendees(vevent: Event, attendees: list[dict]) -> None:
    for attendee in attendees:
        if not attendee.get("email"):
            continue
        params = {"PARTSTAT": _RESPONSE_TO_PARTSTAT.get(attendee.get("responseStatus"), "NEEDS-ACTION")}
        if attendee.get("name"):
            params["CN"] = attendee["name"]
        vevent.add("ATTENDEE", vCalAddress(f"mailto:{attendee['email']}"), parameters=params)
        if attendee.get("organizer") and "ORGANIZER" not in vevent:
            organizer_params = {"CN": attendee["name"]} if attendee.get("name") else {}
            vevent.add("ORGANIZER", vCalAddress(f"mailto:{attendee['email']}"), parameters=organizer_params)


def _alarm(reminder: dict) -> Alarm:
    alarm = Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", "Reminder")
    alarm.add("TRIGGER", -timedelta(minutes=int(reminder.get("minutes", 0))))
    return alarm
