"""The calendar's reads: a user's calendars, the occurrences overlapping a window, and one event's details."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, literal, or_, select
from sqlalchemy.orm import Session

from webapp.calendar.entries import CalendarInfo, Entry, safe_colour
from webapp.models import CalendarConnection, CalendarEvent, EventStatus
from webapp.models.base import Timestamp
from webapp.recurrence import Occurrence, Override, SeriesMaster, expand

log = logging.getLogger(__name__)

# recurrence_end_date is the rule's UNTIL; a date-only UNTIL reaches to the end of that day in the series' zone.
SERIES_END_SLACK = timedelta(days=2)

_CALENDAR_COLUMNS = (
    CalendarConnection.id.label("calendar_id"),
    CalendarConnection.calendar_name,
    CalendarConnection.calendar_color,
    CalendarConnection.provider,
    CalendarConnection.is_visible,
    CalendarConnection.is_connected,
    CalendarConnection.can_write,
)
_ENTRY_COLUMNS = (
    CalendarEvent.id,
    CalendarEvent.title,
    CalendarEvent.location,
    CalendarEvent.start_time,
    CalendarEvent.end_time,
    CalendarEvent.is_all_day,
    CalendarEvent.timezone,
    CalendarEvent.sync_status,
)


def _calendar_from(row) -> CalendarInfo:
    return CalendarInfo(
        id=row.calendar_id,
        name=row.calendar_name,
        colour=safe_colour(row.calendar_color, row.calendar_id.int),
        provider=row.provider.value,
        is_visible=row.is_visible,
        is_connected=row.is_connected,
        can_write=row.can_write,
    )


def user_calendars(session: Session, user_id: uuid.UUID) -> list[CalendarInfo]:
    """Every calendar of the user that is not removed, primary first, for the calendar list and the forms."""
    rows = session.execute(
        select(*_CALENDAR_COLUMNS)
        .where(CalendarConnection.user_id == user_id, CalendarConnection.deleted_at.is_(None))
        .order_by(CalendarConnection.is_primary.desc(), CalendarConnection.calendar_name, CalendarConnection.id)
    ).all()
    return [_calendar_from(row) for row in rows]


def window_statement(user_id: uuid.UUID, window_start: datetime, window_end: datetime):
    """Plain events overlapping the window and the series masters that may have instances in it.

    Overlap, not containment: an event crossing either edge of the window belongs to it. One scan of the index
    (calendar_connection_id, start_time, end_time) per visible calendar serves `start_time < window_end` for
    both kinds; splitting them into a UNION made the planner combine single-column indexes instead.
    """
    event, calendar = CalendarEvent, CalendarConnection
    # Typed, or the bound would be compared as a timestamp without time zone.
    series_end_bound = literal(window_start - SERIES_END_SLACK, Timestamp())
    series_may_reach_window = and_(
        event.is_recurring,
        or_(
            event.recurrence_end_date.is_(None),
            event.recurrence_end_date + (event.end_time - event.start_time) > series_end_bound,
        ),
    )
    return (
        select(*_ENTRY_COLUMNS, event.is_recurring, event.recurrence_rule, *_CALENDAR_COLUMNS)
        .join(calendar, event.calendar_connection_id == calendar.id)
        .where(
            calendar.user_id == user_id,
            calendar.is_connected,
            calendar.is_visible,
            calendar.deleted_at.is_(None),
            event.deleted_at.is_(None),
            event.parent_event_id.is_(None),
            event.status != EventStatus.CANCELLED,
            event.start_time < window_end,
            or_(event.end_time > window_start, series_may_reach_window),
        )
        .order_by(event.start_time, event.id)
    )


def entries_between(
    session: Session, user_id: uuid.UUID, window_start: datetime, window_end: datetime
) -> list[Entry]:
    """Everything on the user's visible calendars overlapping [window_start, window_end), series expanded.

    Two statements whatever the data: the window query, then the overrides of the series found in it.
    """
    entries: list[Entry] = []
    masters = []
    for row in session.execute(window_statement(user_id, window_start, window_end)):
        if row.is_recurring:
            masters.append(row)
        else:
            entries.append(_entry(row, _calendar_from(row), series_id=None, original_start=None))
    overrides = _overrides_by_master(session, [master.id for master in masters])
    for master in masters:
        calendar = _calendar_from(master)
        children = overrides.get(master.id, [])
        by_id = {child.id: child for child in children}
        for occurrence in expand(
            series_master(master), [_override(child) for child in children], window_start, window_end
        ):
            entries.append(_occurrence_entry(master, occurrence, by_id, calendar))
    entries.sort(key=lambda entry: (entry.start, -entry.end.timestamp(), entry.title, entry.event_id))
    return entries


def _overrides_by_master(session: Session, master_ids: list[uuid.UUID]) -> dict[uuid.UUID, list]:
    if not master_ids:
        return {}
    rows = session.execute(
        select(
            *_ENTRY_COLUMNS,
            CalendarEvent.parent_event_id,
            CalendarEvent.status,
            CalendarEvent.provider_metadata["original_start_time"].astext.label("original_start_time"),
        ).where(CalendarEvent.parent_event_id.in_(master_ids), CalendarEvent.deleted_at.is_(None))
    ).all()
    grouped: dict[uuid.UUID, list] = {}
    for row in rows:
        grouped.setdefault(row.parent_event_id, []).append(row)
    return grouped


def series_master(row) -> SeriesMaster:
    """A master row (ORM object or result row) as the recurrence module's value."""
    return SeriesMaster(row.id, row.start_time, row.end_time, row.is_all_day, row.timezone, row.recurrence_rule)


def parse_original_start(value: str | None, event_id: uuid.UUID, fallback: datetime) -> datetime:
    """The instance an override replaces; an override without a readable one replaces the instance it sits on."""
    if value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        log.warning("unusable original_start_time event_id=%s", event_id)
    return fallback


def original_start_of(event: CalendarEvent) -> datetime:
    value = (event.provider_metadata or {}).get("original_start_time")
    return parse_original_start(value, event.id, event.start_time)


def _override(row) -> Override:
    original_start = parse_original_start(row.original_start_time, row.id, row.start_time)
    return Override(row.id, original_start, row.start_time, row.end_time, row.status.value)


def _entry(row, calendar: CalendarInfo, *, series_id, original_start, start=None, end=None) -> Entry:
    return Entry(
        event_id=row.id,
        series_id=series_id,
        original_start=original_start,
        title=row.title,
        location=row.location,
        start=start or row.start_time,
        end=end or row.end_time,
        is_all_day=row.is_all_day,
        timezone=row.timezone,
        sync_status=row.sync_status.value,
        calendar=calendar,
    )


def _occurrence_entry(master, occurrence: Occurrence, overrides_by_id: dict, calendar: CalendarInfo) -> Entry:
    source = overrides_by_id[occurrence.override_id] if occurrence.override_id else master
    return _entry(source, calendar, series_id=master.id, original_start=occurrence.original_start,
                  start=occurrence.start, end=occurrence.end)


@dataclass(frozen=True)
class EventDetails:
    event: CalendarEvent  # the row shown: a plain event, an override, or the series master of an instance
    calendar: CalendarInfo
    start: datetime  # of this occurrence
    end: datetime
    series: CalendarEvent | None  # the master, when the event belongs to a series
    original_start: datetime | None  # which instance of the series

    @property
    def is_generated_instance(self) -> bool:
        return self.series is not None and self.series.id == self.event.id


def owned_event(session: Session, user_id: uuid.UUID, event_id: uuid.UUID) -> tuple[CalendarEvent, CalendarInfo] | None:
    """An event on one of the user's calendars (visible or not), with its calendar; None when not theirs."""
    row = session.execute(
        select(CalendarEvent, *_CALENDAR_COLUMNS)
        .join(CalendarConnection, CalendarEvent.calendar_connection_id == CalendarConnection.id)
        .where(
            CalendarEvent.id == event_id,
            CalendarEvent.deleted_at.is_(None),
            CalendarConnection.user_id == user_id,
            CalendarConnection.deleted_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    return row.CalendarEvent, _calendar_from(row)


def series_instance(master: CalendarEvent, original_start: datetime) -> Occurrence | None:
    """The instance of the series that starts (originally) at `original_start`, if the rule has one."""
    moment = timedelta(seconds=1)
    for occurrence in expand(series_master(master), [], original_start - moment, original_start + moment):
        if occurrence.original_start == original_start:
            return occurrence
    return None


def series_overrides(session: Session, master_id: uuid.UUID) -> list[CalendarEvent]:
    return list(session.scalars(
        select(CalendarEvent).where(CalendarEvent.parent_event_id == master_id, CalendarEvent.deleted_at.is_(None))
    ))


def event_details(
    session: Session, user_id: uuid.UUID, event_id: uuid.UUID, at: datetime | None = None
) -> EventDetails | None:
    """What the detail panel shows; `at` picks one instance of a series master. None when there is nothing."""
    found = owned_event(session, user_id, event_id)
    if found is None:
        return None
    event, calendar = found
    if event.is_recurring:
        if at is None:
            return EventDetails(event, calendar, event.start_time, event.end_time, event, event.start_time)
        instance = series_instance(event, at)
        if instance is None:
            return None
        return EventDetails(event, calendar, instance.start, instance.end, event, at)
    if event.parent_event_id is not None:
        series = session.get(CalendarEvent, event.parent_event_id)
        return EventDetails(event, calendar, event.start_time, event.end_time, series, original_start_of(event))
    return EventDetails(event, calendar, event.start_time, event.end_time, None, None)
