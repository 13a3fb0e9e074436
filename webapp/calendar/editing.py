"""Local changes to events. Each function changes rows and flushes; the caller records the audit row, commits,
and then queues the push (webapp.sync.queue.enqueue_push) that takes the change to the provider."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.calendar.descriptions import provider_description
from webapp.calendar.display import editable_title
from webapp.calendar.queries import EventDetails, series_master
from webapp.calendar.repeat import Repeat, other_rule_lines, repeat_from_rule, rule_line
from webapp.calendar.zones import UTC_NAME, zone_or_utc
from webapp.models import CalendarConnection, CalendarEvent, EventStatus, RecurrenceFrequency, SyncStatus
from webapp.recurrence import expand, expansion_limit, parse_rule_summary, series_end

THIS_EVENT, ALL_EVENTS, FOLLOWING = "this", "all", "following"


@dataclass(frozen=True)
class EventInput:
    title: str
    is_all_day: bool
    start: datetime  # aware UTC; an all-day event at 00:00 UTC of its first day
    end: datetime  # exclusive; an all-day event at 00:00 UTC of the day after its last
    timezone: str
    location: str | None = None
    description: str | None = None
    repeat: Repeat | None = None
    keep_rule: bool = False  # keep the series' stored rule, which the simple repeat form cannot show


def new_provider_event_id() -> str:
    """A client-chosen id the providers accept: 32 lowercase hex characters (valid base32hex for Google)."""
    return uuid.uuid4().hex


def _apply(event: CalendarEvent, data: EventInput) -> None:
    event.title = data.title
    event.is_all_day = data.is_all_day
    event.start_time = data.start
    event.end_time = data.end
    event.timezone = data.timezone
    event.location = data.location
    event.description = data.description
    event.sync_status = SyncStatus.PENDING


def _set_rule(event: CalendarEvent, rule: str | None) -> None:
    """The rule and what is stored about it; after the times are set, as the series' end depends on them."""
    summary = parse_rule_summary(rule)
    event.is_recurring = rule is not None
    event.recurrence_rule = rule
    event.recurrence_frequency = RecurrenceFrequency(summary["frequency"]) if summary["frequency"] else None
    event.recurrence_interval = summary["interval"]
    event.recurrence_end_date = summary["until"]
    event.recurrence_count = summary["count"]
    event.series_until = series_end(series_master(event)) if rule is not None else None
    event.series_limit = expansion_limit(series_master(event)) if rule is not None else None


def _rule_for(data: EventInput, stored_rule: str | None) -> str | None:
    if data.keep_rule and stored_rule:
        return stored_rule
    if data.repeat is None:
        return None
    zone = zone_or_utc(UTC_NAME if data.is_all_day else data.timezone)
    if stored_rule and repeat_from_rule(stored_rule, zone) == data.repeat:
        return stored_rule  # unchanged: keep its exact text, EXDATEs included
    start_local = data.start.astimezone(zone)
    return "\n".join([rule_line(data.repeat, start_local, data.is_all_day), *other_rule_lines(stored_rule)])


def moved_input(details: EventDetails, scope: str, start: datetime, end: datetime) -> EventInput:
    """The event (or, for `scope` "all", its series) as it is, at a new time: what a drag or a keyboard move saves.

    An untitled event stays untitled: the placeholder we show is never written back as its title."""
    source = details.series if scope == ALL_EVENTS else details.event
    return EventInput(
        title=editable_title(source.title),
        is_all_day=False,
        start=start,
        end=end,
        timezone=source.timezone,
        location=source.location,
        description=source.description,
        keep_rule=scope == ALL_EVENTS,
    )


def create_event(session: Session, connection_id: uuid.UUID, data: EventInput) -> CalendarEvent:
    event = CalendarEvent(
        calendar_connection_id=connection_id,
        provider_event_id=new_provider_event_id(),
        status=EventStatus.CONFIRMED,
    )
    _apply(event, data)
    _set_rule(event, _rule_for(data, None))
    session.add(event)
    session.flush()
    return event


def edit_event(session: Session, details: EventDetails, scope: str, data: EventInput) -> CalendarEvent:
    """Change a plain event, one instance of a series (an override row), or the whole series (its master).
    Returns the row whose push carries the change."""
    # The description was edited as text: it goes back in the format the provider gave it (HTML stays HTML).
    previous = details.series if scope == ALL_EVENTS or details.is_generated_instance else details.event
    data = replace(data, description=provider_description(data.description, previous.description))
    if details.series is None:
        event = details.event
        _apply(event, data)
        _set_rule(event, _rule_for(data, event.recurrence_rule))
    elif scope == ALL_EVENTS:
        event = details.series
        _apply(event, data)
        rule = _rule_for(data, event.recurrence_rule)
        _set_rule(event, rule)
        if rule is None:
            _soft_delete_overrides(session, event.id)  # no series, no instances to override
    elif details.is_generated_instance:
        event = _new_override(details)
        _apply(event, data)
        session.add(event)
    else:
        event = details.event
        _apply(event, data)
    session.flush()
    return event


def delete_event(session: Session, details: EventDetails, scope: str) -> CalendarEvent:
    """Delete a plain event or a whole series (with its overrides), or one instance of a series. The event stays,
    marked as being deleted, until the provider confirms (webapp.sync.deletions): then it goes, or the instance's
    override becomes cancelled, as a provider's cancelled occurrence. Returns the row whose push carries it."""
    if details.series is None or scope == ALL_EVENTS:
        event = details.series or details.event
    elif details.is_generated_instance:
        event = _new_override(details)
        session.add(event)
    else:
        event = details.event
    event.deletion_requested_at = datetime.now(UTC)
    event.sync_status = SyncStatus.PENDING
    session.flush()
    return event


def tracked_row(details: EventDetails) -> CalendarEvent:
    """The row whose push the event panel follows: the series, while the whole series is being deleted."""
    series = details.series
    return series if series is not None and series.deletion_requested_at is not None else details.event


def is_being_deleted(details: EventDetails) -> bool:
    """The event, or the series it belongs to, is deleted here and waits for the provider: no more changes."""
    return tracked_row(details).deletion_requested_at is not None or details.event.deletion_requested_at is not None


def deleted_event_provider(session: Session, user_id: uuid.UUID, event_id: uuid.UUID) -> str | None:
    """The provider ("GOOGLE", …) of one of the user's events whose deletion is done; None for anything else."""
    provider = session.scalar(
        select(CalendarConnection.provider)
        .join(CalendarEvent, CalendarConnection.id == CalendarEvent.calendar_connection_id)
        .where(CalendarEvent.id == event_id, CalendarEvent.deleted_at.is_not(None),
               CalendarConnection.user_id == user_id, CalendarConnection.deleted_at.is_(None))
    )
    return provider.value if provider else None


def _new_override(details: EventDetails) -> CalendarEvent:
    """A child row standing in for one instance of the series, as the providers model a changed occurrence."""
    master = details.series
    return CalendarEvent(
        calendar_connection_id=master.calendar_connection_id,
        provider_event_id=new_provider_event_id(),
        parent_event_id=master.id,
        # What the push needs to address the instance at the provider, as the pull stores it.
        provider_metadata={
            "original_start_time": details.original_start.astimezone(UTC).isoformat(),
            "parent_provider_event_id": master.provider_event_id,
        },
        title=master.title,
        description=master.description,
        location=master.location,
        start_time=details.start,
        end_time=details.end,
        is_all_day=master.is_all_day,
        timezone=master.timezone,
        status=EventStatus.CONFIRMED,
        sync_status=SyncStatus.PENDING,
        is_recurring=False,
    )


def _soft_delete_overrides(session: Session, master_id: uuid.UUID) -> None:
    # Their provider copies go with the master; no push of their own.
    session.execute(
        update(CalendarEvent)
        .where(CalendarEvent.parent_event_id == master_id, CalendarEvent.deleted_at.is_(None))
        .values(deleted_at=datetime.now(UTC))
    )


def set_calendar_visibility(session: Session, user_id: uuid.UUID, connection_id: uuid.UUID, visible: bool) -> bool:
    """Show or hide one of the user's calendars; False when it is not theirs."""
    connection = session.scalar(
        select(CalendarConnection).where(
            CalendarConnection.id == connection_id,
            CalendarConnection.user_id == user_id,
            CalendarConnection.deleted_at.is_(None),
        )
    )
    if connection is None:
        return False
    connection.is_visible = visible
    session.flush()
    return True


# ---------------------------------------------------------------------------------------------- this and following


def _rrule_parts(line: str) -> list[tuple[str, str]]:
    return [tuple(part.split("=", 1)) for part in line.split(":", 1)[1].split(";") if "=" in part]


def _with_parts(parts: list[tuple[str, str]]) -> str:
    return "RRULE:" + ";".join(f"{key}={value}" for key, value in parts)


def ended_rule(rule: str, split_at: datetime, is_all_day: bool) -> str:
    """The series' rule ending before the instance at `split_at` (UNTIL in UTC, or the day before for an all-day
    series); COUNT gives way to it. EXDATE lines stay; later dates in them no longer matter."""
    until = f"{(split_at - timedelta(days=1)):%Y%m%d}" if is_all_day else \
        f"{(split_at - timedelta(seconds=1)).astimezone(UTC):%Y%m%dT%H%M%SZ}"
    lines = []
    for line in rule.splitlines():
        if line.strip().upper().startswith("RRULE:"):
            parts = [(key, value) for key, value in _rrule_parts(line.strip()) if key.upper() not in ("UNTIL", "COUNT")]
            lines.append(_with_parts([*parts, ("UNTIL", until)]))
        elif line.strip():
            lines.append(line.strip())
    return "\n".join(lines)


def following_rule(master: CalendarEvent, split_at: datetime, data: EventInput) -> str | None:
    """The rule of the series that goes on from the instance at `split_at`: the repeat the form asks for, or the
    old rule unchanged (a COUNT reduced by the instances before the split)."""
    zone = zone_or_utc(UTC_NAME if data.is_all_day else data.timezone)
    if data.repeat is None and not data.keep_rule:
        return None
    old = master.recurrence_rule or ""
    if data.repeat is not None and repeat_from_rule(old, zone) != data.repeat:
        return rule_line(data.repeat, data.start.astimezone(zone), data.is_all_day)
    lines = []
    for line in old.splitlines():
        if not line.strip().upper().startswith("RRULE:"):
            continue  # EXDATEs and RDATEs named the old series' instances
        parts = _rrule_parts(line.strip())
        count = next((int(value) for key, value in parts if key.upper() == "COUNT" and value.isdigit()), None)
        if count is not None:
            before = len(expand(series_master(master), [], master.start_time, split_at))
            parts = [(key, str(max(1, count - before)) if key.upper() == "COUNT" else value) for key, value in parts]
        lines.append(_with_parts(parts))
    return "\n".join(lines) or None


def split_series(session: Session, details: EventDetails, data: EventInput | None) -> CalendarEvent:
    """"This and following", as each provider's own apps do it: the series ends before this instance (its rule
    gets an UNTIL; overrides from there on go with the instances), and for an edit a new series starts at this
    instance with the changes. Returns the row whose push carries the edit (the new series), or the ended series
    for a deletion; the caller pushes both (`following_rows`)."""
    master = details.series
    split_at = details.original_start
    if master.recurrence_rule:
        _set_rule(master, ended_rule(master.recurrence_rule, split_at, master.is_all_day))
    master.sync_status = SyncStatus.PENDING
    session.execute(
        update(CalendarEvent)
        .where(CalendarEvent.parent_event_id == master.id, CalendarEvent.deleted_at.is_(None),
               CalendarEvent.provider_metadata["original_start_time"].astext >= split_at.astimezone(UTC).isoformat())
        .values(deleted_at=datetime.now(UTC))
    )
    if data is None:
        session.flush()
        return master
    follower = CalendarEvent(calendar_connection_id=master.calendar_connection_id,
                             provider_event_id=new_provider_event_id(), status=EventStatus.CONFIRMED,
                             attendees=master.attendees, reminders=master.reminders)
    _apply(follower, data)
    _set_rule(follower, following_rule(master, split_at, data))
    session.add(follower)
    session.flush()
    return follower


def outlook_series_of(event: CalendarEvent) -> str | None:
    """Outlook's series master id for one of its occurrences (Graph hands out occurrences, never the series)."""
    return (event.provider_metadata or {}).get("seriesMasterId")


def split_outlook_series(session: Session, event: CalendarEvent, data: EventInput | None) -> CalendarEvent:
    """"This and following" for an Outlook occurrence: the push asks Graph to end the series before it (and, for
    an edit, to start a new one from it with the changes: webapp.providers.microsoft.split_series). This row
    carries the request; the occurrences after it change with the next pull."""
    metadata = dict(event.provider_metadata or {})
    metadata["series_split"] = {"master": outlook_series_of(event),
                                "from": event.start_time.astimezone(UTC).isoformat()}
    event.provider_metadata = metadata
    if data is None:
        event.deletion_requested_at = datetime.now(UTC)
        event.sync_status = SyncStatus.PENDING
    else:
        _apply(event, data)
    session.flush()
    return event


# ---------------------------------------------------------------------------------------------- invitations

RESPONSES = ("accepted", "tentative", "declined")


def own_attendee(event: CalendarEvent, addresses: tuple[str, ...]) -> dict | None:
    """The attendee entry that is the account's (its email, or the user's own)."""
    wanted = {address.lower() for address in addresses if address}
    return next((attendee for attendee in event.attendees or []
                 if (attendee.get("email") or "").lower() in wanted), None)


def respond(session: Session, event: CalendarEvent, addresses: tuple[str, ...], response: str) -> CalendarEvent | None:
    """The user's Yes, No or Maybe to an invitation: their attendee entry and answer change here at once, and the
    push takes the answer to the provider its way. None when the user is not among the guests."""
    own = own_attendee(event, addresses)
    if own is None or response not in RESPONSES:
        return None
    event.attendees = [dict(attendee, responseStatus=response) if attendee is own else attendee
                       for attendee in event.attendees]
    metadata = dict(event.provider_metadata or {})
    metadata["self_response"] = response
    metadata["rsvp"] = {"response": response, "email": own["email"]}
    event.provider_metadata = metadata
    event.sync_status = SyncStatus.PENDING
    session.flush()
    return event
