"""The calendar's reads: a user's calendars, the occurrences overlapping a window, and one event's details."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Text, and_, any_, bindparam, func, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from webapp.calendar.entries import CalendarInfo, Entry, safe_colour
from webapp.models import CalendarConnection, CalendarEvent, EventStatus
from webapp.models.base import Timestamp
from webapp.models.events import MAX_PLAIN_DURATION
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
    CalendarConnection.provider_removed_at,
    CalendarConnection.account_email,
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
    CalendarEvent.deletion_requested_at,
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
        is_removed_at_provider=row.provider_removed_at is not None,
        account=row.account_email,
    )


def user_calendars(session: Session, user_id: uuid.UUID) -> list[CalendarInfo]:
    """Every calendar of the user that is not removed, primary first, for the calendar list and the forms."""
    rows = session.execute(
        select(*_CALENDAR_COLUMNS)
        .where(CalendarConnection.user_id == user_id, CalendarConnection.deleted_at.is_(None))
        .order_by(CalendarConnection.is_primary.desc(), CalendarConnection.calendar_name, CalendarConnection.id)
    ).all()
    return [_calendar_from(row) for row in rows]


def _original_start(event):
    """The instance an override replaces, as stored (text), spelled as calendar_events_override_original_start_idx
    has it."""
    return event.provider_metadata.op("->>", return_type=Text())(literal_column("'original_start_time'"))


def _text_bound(name: str):
    return bindparam(name, type_=Text())


def _window_columns(event, calendar) -> tuple:
    return (event.id, event.title, event.location, event.start_time, event.end_time, event.is_all_day,
            event.timezone, event.sync_status, event.is_recurring, event.recurrence_rule, event.parent_event_id,
            event.status, _original_start(event).label("original_start_time"), event.deletion_requested_at,
            calendar.id.label("calendar_id"), calendar.calendar_name, calendar.calendar_color, calendar.provider,
            calendar.is_visible, calendar.is_connected, calendar.can_write, calendar.provider_removed_at,
            calendar.account_email)


def _user_rows(event, calendar):
    """The user's live rows on calendars shown in the views."""
    return (
        select(*_window_columns(event, calendar))
        .join_from(CalendarEvent.__table__, CalendarConnection.__table__, event.calendar_connection_id == calendar.id)
        .where(calendar.user_id == bindparam("user_id"), calendar.is_connected, calendar.is_visible,
               calendar.deleted_at.is_(None), event.deleted_at.is_(None))
    )


def _window_statement():
    """Everything a window shows, in one statement built once: four index range scans per visible calendar,
    each bounded on both sides, so a long history is never read.

    - events and overrides lasting at most MAX_PLAIN_DURATION overlapping the window: start_time in
      (window_start - that, window_end) on calendar_events_short_events_idx;
    - longer ones (is_long, few): end_time after window_start on calendar_events_long_events_idx;
    - series masters not ended before the window (series_until, NULL = endless) on their partial index;
    - overrides replacing an instance that may overlap the window, by the instance's start (original_start_time:
      ISO 8601 in UTC as every writer stores it, so text order is time order) on their partial index.
    Override rows are the ones with a parent_event_id; cancelled ones only hide their instance.
    """
    event, calendar = CalendarEvent.__table__.c, CalendarConnection.__table__.c
    window_start = bindparam("window_start", type_=Timestamp())
    window_end = bindparam("window_end", type_=Timestamp())
    # When a series ends, endless ones at infinity: one range on calendar_events_series_until_idx (an OR with
    # IS NULL would leave the bound as a mere filter).
    series_ends = func.coalesce(event.series_until, literal_column("'infinity'::timestamptz"))
    original_start = _original_start(event)
    rows = _user_rows(event, calendar)
    shown_or_override = or_(event.parent_event_id.is_not(None), event.status != EventStatus.CANCELLED)
    overlapping = rows.where(event.start_time < window_end, event.end_time > window_start, ~event.is_recurring)
    return union_all(
        overlapping.where(~event.is_long, event.start_time > bindparam("short_events_after", type_=Timestamp()),
                          shown_or_override),
        overlapping.where(event.is_long, shown_or_override),
        rows.where(event.is_recurring, event.parent_event_id.is_(None), event.status != EventStatus.CANCELLED,
                   event.start_time < window_end, series_ends > window_start),
        rows.where(event.parent_event_id.is_not(None),
                   original_start.between(_text_bound("replaced_from"), _text_bound("replaced_until"))),
    )


WINDOW_STATEMENT = _window_statement()
# Series masters by id: those of overrides that moved into a window their series does not reach (before its first
# instance, after its UNTIL).
MASTERS_STATEMENT = _user_rows(CalendarEvent.__table__.c, CalendarConnection.__table__.c).where(
    CalendarEvent.__table__.c.id == any_(bindparam("master_ids")), CalendarEvent.__table__.c.is_recurring)
# Instances of series up to this long are matched with their overrides by the window statement itself.
_OVERRIDE_REACH = MAX_PLAIN_DURATION + timedelta(days=1)


def window_parameters(user_id: uuid.UUID, window_start: datetime, window_end: datetime) -> dict:
    return {"user_id": user_id, "window_start": window_start, "window_end": window_end,
            "short_events_after": window_start - MAX_PLAIN_DURATION,
            "replaced_from": _iso(window_start - _OVERRIDE_REACH),
            "replaced_until": _iso(window_end + timedelta(days=1))}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def entries_between(
    session: Session, user_id: uuid.UUID, window_start: datetime, window_end: datetime
) -> list[Entry]:
    """Everything on the user's visible calendars overlapping [window_start, window_end), series expanded.

    One statement whatever the data (a second for series whose instances last over a week, a third for overrides
    moved into the window from a series that does not reach it: before its first instance or after its end). Rows
    are read as plain tuples (no ORM objects).
    """
    connection = session.connection()
    entries: list[Entry] = []
    masters = []
    overrides: dict[uuid.UUID, dict] = {}
    calendars: dict[uuid.UUID, CalendarInfo] = {}
    for row in connection.execute(WINDOW_STATEMENT, window_parameters(user_id, window_start, window_end)):
        calendar = calendars.get(row.calendar_id) or calendars.setdefault(row.calendar_id, _calendar_from(row))
        if row.parent_event_id is not None:
            overrides.setdefault(row.parent_event_id, {})[row.id] = row
        elif row.is_recurring:
            masters.append((row, calendar))
        else:
            entries.append(_entry(row, calendar, series_id=None, original_start=None))
    loaded = {master.id for master, _ in masters}
    unreached = [master_id for master_id, children in overrides.items() if master_id not in loaded and any(
        child.status != EventStatus.CANCELLED and child.start_time < window_end and child.end_time > window_start
        for child in children.values())]
    if unreached:
        for row in connection.execute(MASTERS_STATEMENT, {"user_id": user_id, "master_ids": unreached}):
            masters.append((row, calendars.get(row.calendar_id) or calendars.setdefault(row.calendar_id,
                                                                                       _calendar_from(row))))
    long_series = [master.id for master, _ in masters if master.end_time - master.start_time > MAX_PLAIN_DURATION]
    if long_series:
        longest = max(master.end_time - master.start_time for master, _ in masters)
        for master_id, children in _window_overrides(connection, long_series, window_start - longest,
                                                     window_end).items():
            overrides.setdefault(master_id, {}).update((child.id, child) for child in children)
    for master, calendar in masters:
        by_id = overrides.get(master.id, {})
        for occurrence in expand(
            series_master(master), [_override(child) for child in by_id.values()], window_start, window_end
        ):
            entries.append(_occurrence_entry(master, occurrence, by_id, calendar))
    entries.sort(key=lambda entry: (entry.start, -entry.end.timestamp(), entry.title, entry.event_id))
    return entries


def _overrides_statement():
    """The overrides of some series that show in a window or replace an instance that would: either they
    overlap it, or the instance they replace starts in it (see _window_statement)."""
    event = CalendarEvent.__table__.c
    original_start = _original_start(event)
    return select(
        event.id, event.title, event.location, event.start_time, event.end_time, event.is_all_day,
        event.timezone, event.sync_status, event.parent_event_id, event.status,
        original_start.label("original_start_time"), event.deletion_requested_at,
    ).where(
        event.parent_event_id == any_(bindparam("master_ids")),
        event.deleted_at.is_(None),
        or_(
            and_(event.start_time < bindparam("shown_until", type_=Timestamp()),
                 event.end_time > bindparam("shown_from", type_=Timestamp())),
            original_start.between(_text_bound("replaced_from"), _text_bound("replaced_until")),
        ),
    )


OVERRIDES_STATEMENT = _overrides_statement()


def _window_overrides(connection, master_ids: list[uuid.UUID], earliest_instance: datetime,
                      window_end: datetime) -> dict[uuid.UUID, list]:
    """Overrides of series whose instances last longer than the window statement reaches back for."""
    day = timedelta(days=1)
    rows = connection.execute(OVERRIDES_STATEMENT, {
        "master_ids": master_ids, "shown_from": earliest_instance - day, "shown_until": window_end + day,
        "replaced_from": _iso(earliest_instance - day), "replaced_until": _iso(window_end + day),
    })
    grouped: dict[uuid.UUID, list] = {}
    for row in rows:
        grouped.setdefault(row.parent_event_id, []).append(row)
    return grouped


def _overrides_by_master(session: Session, master_ids: list[uuid.UUID]) -> dict[uuid.UUID, list]:
    """Every live override of the series (search looks for a series' nearest occurrence at any time)."""
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


def _entry(row, calendar: CalendarInfo, *, series_id, original_start, start=None, end=None,
           deleting_master=None) -> Entry:
    # An override of a series being deleted goes with it: it shows the series' deletion and its progress.
    state = deleting_master if deleting_master is not None else row
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
        sync_status=state.sync_status.value,
        calendar=calendar,
        is_being_deleted=state.deletion_requested_at is not None,
    )


def _occurrence_entry(master, occurrence: Occurrence, overrides_by_id: dict, calendar: CalendarInfo) -> Entry:
    source = overrides_by_id[occurrence.override_id] if occurrence.override_id else master
    return _entry(source, calendar, series_id=master.id, original_start=occurrence.original_start,
                  start=occurrence.start, end=occurrence.end,
                  deleting_master=master if master.deletion_requested_at is not None else None)


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
