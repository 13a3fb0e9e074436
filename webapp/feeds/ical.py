"""One iCalendar file (RFC 5545) of every calendar the user shows: what their week pages show, for other apps.

Series go out as their master (DTSTART in the series' own zone, RRULE/RDATE/EXDATE restated in that zone) with
RECURRENCE-ID overrides, and cancelled occurrences as EXDATEs, so any client expands them as our week view does.
Every zone used gets a VTIMEZONE. Guests are left out unless the user asks for them. The file covers the last
twelve months (counted from the first of this month, so the file does not change every day) and all that is ahead.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vDuration, vText
from icalendar.parser import Contentline
from icalendar.prop import vDDDTypes, vRecur
from sqlalchemy import Text, and_, cast, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session

from webapp.calendar.colours import css_colour_name
from webapp.calendar.copies import merge_copies
from webapp.calendar.display import description_text
from webapp.calendar.entries import CalendarInfo
from webapp.calendar.facts import event_facts
from webapp.calendar.queries import SERIES_END_SLACK, original_start_of, user_calendars
from webapp.calendar.zones import zone_or_utc
from webapp.models import CalendarEvent, CalendarFeed, EventStatus, User
from webapp.models.base import Timestamp
from webapp.recurrence import EXPANDABLE_FREQUENCIES
from webapp.sync.events import safe_link
from webapp.zones import is_iana_zone

# Bump when the file's layout changes, so every client fetches it again.
FORMAT_VERSION = 2
WINDOW_MONTHS = 12
PRODUCT_ID = "-//Almanac//Merged calendar feed//EN"
REFRESH = timedelta(minutes=15)
# How many years ahead each VTIMEZONE spells out its transitions.
ZONE_YEARS_AHEAD = 15
_RESPONSE_TO_PARTSTAT = {"accepted": "ACCEPTED", "declined": "DECLINED", "tentative": "TENTATIVE"}


def window_start(now: datetime) -> datetime:
    """The first of the month, twelve months back (UTC): the oldest events the feed still carries."""
    months = now.year * 12 + now.month - 1 - WINDOW_MONTHS
    return datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)


def shown_calendars(session: Session, user_id: uuid.UUID) -> list[CalendarInfo]:
    """The calendars the week pages show: visible and connected."""
    return [calendar for calendar in user_calendars(session, user_id)
            if calendar.is_visible and calendar.is_connected]


def busy_calendars(session: Session, user_id: uuid.UUID) -> list[CalendarInfo]:
    """The calendars whose events take the user's time: every connected calendar of theirs, shown or hidden, but
    not subscribed feeds (holidays, fixtures, someone else's published calendar are not the user's time)."""
    return [calendar for calendar in user_calendars(session, user_id)
            if calendar.is_connected and calendar.provider != "ICS"]


def feed_calendars(session: Session, feed: CalendarFeed) -> list[CalendarInfo]:
    return (busy_calendars if feed.variant == "busy" else shown_calendars)(session, feed.user_id)


@dataclass(frozen=True)
class FeedVersion:
    etag: str  # strong, unquoted
    newest_change: datetime  # of an event or of the feed's settings


def feed_version(session: Session, feed: CalendarFeed, user: User, now: datetime) -> FeedVersion:
    """What the file depends on, read cheaply: one aggregate over the shown calendars' events (deleted ones too,
    so a deletion moves it) and the calendars themselves. Equal versions mean byte-identical files.

    Rows are fingerprinted by their row version (xmin), which every write changes: max(updated_at) would miss a
    change committed after a newer one by a transaction that began earlier.
    """
    calendars = feed_calendars(session, feed)
    count, fingerprint, newest = 0, 0, None
    if calendars:
        row_version = func.hashtextextended(cast(CalendarEvent.id, Text) + literal_column("xmin::text"), 0)
        count, fingerprint, newest = session.execute(
            select(func.count(), func.sum(row_version), func.max(CalendarEvent.updated_at))
            .where(CalendarEvent.calendar_connection_id.in_([calendar.id for calendar in calendars]))
        ).one()
    key = "|".join(str(part) for part in (
        FORMAT_VERSION, feed.id, feed.variant, feed.created_at.isoformat(), feed.include_attendees,
        window_start(now).date(),
        user.time_zone, user.display_name, count, fingerprint,
        *((calendar.id, calendar.name, calendar.is_writable) for calendar in calendars),
    ))
    newest_change = max(filter(None, (newest, feed.changed_at)))
    return FeedVersion(hashlib.sha256(key.encode()).hexdigest()[:32], newest_change.replace(microsecond=0))


def build_feed(session: Session, feed: CalendarFeed, user: User, now: datetime) -> bytes:
    if feed.variant == "busy":
        return build_busy_feed(session, feed, user, now)
    shown = shown_calendars(session, feed.user_id)
    calendars = {calendar.id: calendar for calendar in shown}
    events = _once_per_invitation(session, feed.user_id, _events(session, list(calendars), window_start(now)),
                                  shown)
    feed_file = _calendar_file(f"{user.display_name} · Almanac", user.time_zone)
    feed_file.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    feed_file.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    return _with_events(session, feed_file, events, calendars, feed.include_attendees, now)


def build_busy_feed(session: Session, feed: CalendarFeed, user: User, now: datetime) -> bytes:
    """Only when the user is busy, across all their calendars: each event that takes their time as a "Busy"
    block with its times and repetition, nothing else (no title, place, description, guests, calendar). Events
    marked free and invitations the user declined are left out (an occurrence of a series that is, as an EXDATE);
    the same invitation on several calendars goes out once. UIDs are digests that no other feed shares."""
    calendars = {calendar.id: calendar for calendar in busy_calendars(session, feed.user_id)}
    events = _once_per_invitation(session, feed.user_id, _events(session, list(calendars), window_start(now)),
                                  list(calendars.values()))
    overrides = _overrides(session, [event.id for event in events if event.is_recurring])
    facts = event_facts(session, feed.user_id, {event.id for event in events} | {
        child.id for children in overrides.values() for child in children})
    feed_file = _calendar_file(f"{user.display_name} · busy times", user.time_zone)
    feed_file.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    feed_file.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    first_day = now.date()
    for event in events:
        if event.id in facts and not facts[event.id].blocks_time:
            continue
        uid = hashlib.sha256(f"{feed.id}:{event.id}".encode()).hexdigest()[:32] + "@almanac"
        children = []
        for child in overrides.get(event.id, []):
            if child.id in facts and not facts[child.id].blocks_time and child.status is not EventStatus.CANCELLED:
                child = _Declined(child)
            children.append(child)
        for component in _series_or_event(event, children, calendars[event.calendar_connection_id], False,
                                          busy_uid=uid):
            feed_file.add_component(component)
            first_day = min(first_day, component.DTSTART.date() if isinstance(component.DTSTART, datetime)
                            else component.DTSTART)
    feed_file.add_missing_timezones(first_date=first_day - timedelta(days=7),
                                    last_date=date(now.year + ZONE_YEARS_AHEAD, 1, 1))
    return feed_file.to_ical()


class _Declined:
    """An occurrence the user declined: in a busy feed it goes out as cancelled (an EXDATE of its series)."""

    status = EventStatus.CANCELLED

    def __init__(self, row: CalendarEvent):
        self._row = row

    def __getattr__(self, name):
        return getattr(self._row, name)


def export_calendar(session: Session, calendar: CalendarInfo, zone_name: str | None, now: datetime) -> bytes:
    """One calendar as "download my data" hands it over: every live event of its whole history, guests included."""
    events = _events(session, [calendar.id], datetime(2, 1, 1, tzinfo=UTC))  # all of it (less a slack, no overflow)
    return _with_events(session, _calendar_file(calendar.name, zone_name), events, {calendar.id: calendar}, True, now)


def _calendar_file(name: str, zone_name: str | None) -> Calendar:
    calendar_file = Calendar()
    calendar_file.add("PRODID", PRODUCT_ID)
    calendar_file.add("VERSION", "2.0")
    calendar_file.add("CALSCALE", "GREGORIAN")
    calendar_file.add("METHOD", "PUBLISH")
    calendar_file.add("NAME", name)
    calendar_file.add("X-WR-CALNAME", name)
    if is_iana_zone(zone_name):
        calendar_file.add("X-WR-TIMEZONE", zone_name)
    return calendar_file


def _with_events(session: Session, calendar_file: Calendar, events: list[CalendarEvent],
                 calendars: dict[uuid.UUID, CalendarInfo], with_guests: bool, now: datetime) -> bytes:
    """The file with the events (series with their overrides) and a VTIMEZONE for every zone they use."""
    overrides = _overrides(session, [event.id for event in events if event.is_recurring])
    first_day = now.date()
    for event in events:
        calendar = calendars[event.calendar_connection_id]
        for component in _series_or_event(event, overrides.get(event.id, []), calendar, with_guests):
            calendar_file.add_component(component)
            first_day = min(first_day, component.DTSTART.date() if isinstance(component.DTSTART, datetime)
                            else component.DTSTART)
    calendar_file.add_missing_timezones(first_date=first_day - timedelta(days=7),
                                        last_date=date(now.year + ZONE_YEARS_AHEAD, 1, 1))
    return calendar_file.to_ical()


def _events(session: Session, calendar_ids: list[uuid.UUID], since: datetime) -> list[CalendarEvent]:
    """Plain events ending after `since` and the series that may still have occurrences after it, as the week
    view picks them (no cancelled ones, no removed ones)."""
    if not calendar_ids:
        return []
    event = CalendarEvent
    bound = literal(since - SERIES_END_SLACK, Timestamp())
    series_reaches = and_(event.is_recurring, or_(
        event.recurrence_end_date.is_(None), event.recurrence_end_date + (event.end_time - event.start_time) > bound))
    return list(session.scalars(
        select(event).where(
            event.calendar_connection_id.in_(calendar_ids), event.deleted_at.is_(None),
            event.parent_event_id.is_(None), event.status != EventStatus.CANCELLED,
            or_(event.end_time > since, series_reaches),
        ).order_by(event.start_time, event.id)
    ))


@dataclass(frozen=True, eq=False)
class _Copy:
    """A row as webapp.calendar.copies merges occurrences."""

    row: CalendarEvent
    calendar: CalendarInfo

    @property
    def event_id(self) -> uuid.UUID:
        return self.row.id

    @property
    def start(self) -> datetime:
        return self.row.start_time


def _once_per_invitation(session: Session, user_id: uuid.UUID, events: list[CalendarEvent],
                         calendars: list[CalendarInfo]) -> list[CalendarEvent]:
    """The same invitation on several calendars goes out once, as the copy the week view shows."""
    def uid_of(copy: _Copy) -> str | None:
        uid = (copy.row.provider_metadata or {}).get("ical_uid")
        return f"{uid}|{copy.row.is_recurring}" if isinstance(uid, str) and uid else None

    by_id = {calendar.id: calendar for calendar in calendars}
    copies = [_Copy(event, by_id[event.calendar_connection_id]) for event in events]
    keys = [(uid_of(copy), copy.start) for copy in copies if uid_of(copy)]
    if len(keys) == len(set(keys)):
        return events
    facts = event_facts(session, user_id, {copy.event_id for copy in copies if uid_of(copy)})
    rank = {calendar.id: position for position, calendar in enumerate(calendars)}
    kept, _merged = merge_copies(copies, uid_of=uid_of,
                                 organises=lambda copy: copy.event_id in facts and facts[copy.event_id].is_organizer,
                                 calendar_rank=lambda calendar: rank[calendar.id])
    return [copy.row for copy in kept]


def _overrides(session: Session, master_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[CalendarEvent]]:
    if not master_ids:
        return {}
    grouped: dict[uuid.UUID, list[CalendarEvent]] = {}
    for child in session.scalars(
        select(CalendarEvent)
        .where(CalendarEvent.parent_event_id.in_(master_ids), CalendarEvent.deleted_at.is_(None))
        .order_by(CalendarEvent.start_time, CalendarEvent.id)
    ):
        grouped.setdefault(child.parent_event_id, []).append(child)
    return grouped


def event_uid(event: CalendarEvent) -> str:
    """Ours, not the provider's: the same invitation on two calendars has one provider UID, and a UID must name
    one event in a file."""
    return f"{event.id}@almanac"


def _series_or_event(event: CalendarEvent, overrides: list[CalendarEvent], calendar: CalendarInfo,
                     with_guests: bool, busy_uid: str | None = None) -> Iterable[Event]:
    """The event, or the series with its overrides; with `busy_uid`, as busy blocks under that UID."""
    zone = _zone(event)
    uid = busy_uid or event_uid(event)
    component = _busy_vevent(event, uid, zone) if busy_uid else _vevent(event, uid, calendar, with_guests, zone)
    if not event.is_recurring:
        yield component
        return
    clock = _SeriesClock(event, zone)
    for line in (event.recurrence_rule or "").splitlines():
        _add_recurrence_line(component, line, clock)
    cancelled = [original_start_of(child) for child in overrides if child.status is EventStatus.CANCELLED]
    if cancelled:
        component.add("EXDATE", [clock.instant(moment) for moment in cancelled])
    yield component
    for child in overrides:
        if child.status is EventStatus.CANCELLED:
            continue
        moved = (_busy_vevent(child, uid, _zone(child)) if busy_uid
                 else _vevent(child, uid, calendar, with_guests, _zone(child)))
        moved.add("RECURRENCE-ID", clock.instant(original_start_of(child)))
        yield moved


def _zone(event: CalendarEvent) -> tzinfo:
    return zone_or_utc(event.timezone)


def _busy_vevent(event: CalendarEvent, uid: str, zone: tzinfo) -> Event:
    component = Event()
    component.add("UID", uid)
    component.add("DTSTAMP", event.updated_at.astimezone(UTC))
    _add_times(component, event, zone)
    component.add("SUMMARY", "Busy")
    component.add("CLASS", "PRIVATE")
    component.add("TRANSP", "OPAQUE")
    return component


def _vevent(event: CalendarEvent, uid: str, calendar: CalendarInfo, with_guests: bool, zone: tzinfo) -> Event:
    component = Event()
    component.add("UID", uid)
    component.add("DTSTAMP", event.updated_at.astimezone(UTC))
    component.add("CREATED", event.created_at.astimezone(UTC))
    component.add("LAST-MODIFIED", event.updated_at.astimezone(UTC))
    _add_times(component, event, zone)
    component.add("SUMMARY", event.title)
    if event.location:
        component.add("LOCATION", event.location)
    description = description_text(event.description)
    if description:
        component.add("DESCRIPTION", description)
    link = safe_link(event.html_link)
    if link:
        component.add("URL", link)
    component.add("CATEGORIES", [calendar.name])
    component.add("COLOR", css_colour_name(calendar.colour))  # RFC 7986 takes CSS names: the calendar's nearest
    component.add("STATUS", "TENTATIVE" if event.status is EventStatus.TENTATIVE else "CONFIRMED")
    sequence = (event.provider_metadata or {}).get("sequence")
    if isinstance(sequence, int) and sequence >= 0:
        component.add("SEQUENCE", sequence)
    if with_guests:
        _add_guests(component, event.attendees)
    return component


def _add_times(component: Event, event: CalendarEvent, zone: tzinfo) -> None:
    if event.is_all_day:
        first = event.start_time.astimezone(UTC).date()
        component.add("DTSTART", first)
        component.add("DTEND", max(event.end_time.astimezone(UTC).date(), first + timedelta(days=1)))
    else:
        component.add("DTSTART", event.start_time.astimezone(zone))
        component.add("DTEND", event.end_time.astimezone(zone))


def _add_guests(component: Event, attendees) -> None:
    for guest in attendees if isinstance(attendees, list) else []:
        email = guest.get("email") if isinstance(guest, dict) else None
        if not isinstance(email, str) or not email or any(char in email for char in "\r\n"):
            continue
        name = guest.get("name") if isinstance(guest.get("name"), str) else None
        if guest.get("organizer"):
            component.add("ORGANIZER", _address(email, name))
        attendee = _address(email, name)
        attendee.params["PARTSTAT"] = _RESPONSE_TO_PARTSTAT.get(guest.get("responseStatus"), "NEEDS-ACTION")
        component.add("ATTENDEE", attendee)


def _address(email: str, name: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    return address


class _SeriesClock:
    """A series' own clock: its zone for timed series, plain dates for all-day ones."""

    def __init__(self, master: CalendarEvent, zone: tzinfo):
        self.is_all_day = master.is_all_day
        self.zone = zone
        self.local_start = master.start_time.astimezone(zone)

    def instant(self, moment: datetime) -> date | datetime:
        """How the series names an instance (EXDATE, RECURRENCE-ID): same value type as its DTSTART."""
        return moment.astimezone(UTC).date() if self.is_all_day else moment.astimezone(self.zone)

    def read(self, value: str, tzid: str | None) -> date | datetime | None:
        """A DATE or DATE-TIME as the recurrence module reads it: "Z" is UTC, a TZID its zone (ours when we do not
        know it), a floating time the series' zone."""
        try:
            moment = vDDDTypes.from_ical(value.split("/")[0])  # a PERIOD counts from its start
        except ValueError:
            return None
        if isinstance(moment, datetime) and moment.tzinfo is None:
            zone = ZoneInfo(tzid) if is_iana_zone(tzid) else self.zone
            moment = moment.replace(tzinfo=zone)
        return moment

    def until(self, value: date | datetime) -> date | datetime:
        """UNTIL as RFC 5545 wants it beside this DTSTART: a DATE for all-day series, else UTC. A DATE bound on a
        timed series keeps that whole day (local)."""
        if self.is_all_day:
            return value.date() if isinstance(value, datetime) else value
        if not isinstance(value, datetime):
            value = datetime.combine(value, time(23, 59, 59), self.zone)
        elif value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(UTC)


def _add_recurrence_line(component: Event, line: str, clock: _SeriesClock) -> None:
    try:
        name, params, value = Contentline(line.strip()).parts()
    except ValueError:
        return
    name = name.upper()
    if name == "RRULE":
        rule = vRecur.from_ical(value)
        if (rule.get("FREQ") or [None])[0] not in EXPANDABLE_FREQUENCIES:
            return  # the week view keeps only the first instance of sub-daily rules, and so do we
        if rule.get("UNTIL"):
            rule["UNTIL"] = [clock.until(rule["UNTIL"][0])]
        component.add("RRULE", rule)
    elif name in ("RDATE", "EXDATE"):
        moments = [clock.read(item, params.get("TZID")) for item in value.split(",")]
        instants = [_on_clock(moment, clock) for moment in moments if moment is not None]
        if instants:
            component.add(name, instants)


def _on_clock(moment: date | datetime, clock: _SeriesClock) -> date | datetime:
    if clock.is_all_day:
        return moment.date() if isinstance(moment, datetime) else moment
    if isinstance(moment, datetime):
        return moment.astimezone(clock.zone)
    # A bare date on a timed series: the instance that day, at the series' time.
    return datetime.combine(moment, clock.local_start.timetz().replace(tzinfo=None), clock.zone)
