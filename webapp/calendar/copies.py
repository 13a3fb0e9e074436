"""The same invitation on several calendars (invited at work and at home; the organiser's copy and a guest's):
copies share an iCalendar UID (Google iCalUID, Graph iCalUId, CalDAV UID) and the occurrence start. A page shows
one copy, with every calendar it is on; the detail panel lists the copies so the user can open (and edit) each.

The copy shown is the one the user organises, else the first writable one, else the first, in the order of the
user's calendar list.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.calendar.entries import CalendarInfo
from webapp.calendar.queries import _CALENDAR_COLUMNS, EventDetails, _calendar_from, series_instance
from webapp.calendar.urls import format_at
from webapp.models import CalendarConnection, CalendarEvent, EventStatus

T = TypeVar("T", bound="Occurrence")


class Occurrence(Protocol):
    """What merging needs of an entry on a page or a search result."""

    event_id: uuid.UUID
    start: datetime
    calendar: CalendarInfo


def merge_copies(items: list[T], uid_of: Callable[[T], str | None], organises: Callable[[T], bool],
                 calendar_rank: Callable[[CalendarInfo], int]) -> tuple[list[T], dict[T, tuple[T, ...]]]:
    """The items with each invitation once, and for each merged one all its copies, the shown one first."""
    groups: dict[tuple, list[T]] = {}
    for item in items:
        uid = uid_of(item)
        if uid:
            groups.setdefault((uid, item.start), []).append(item)
    copies: dict[T, tuple[T, ...]] = {}
    hidden: set[T] = set()
    for members in groups.values():
        if len(members) < 2 or len({member.calendar.id for member in members}) < len(members):
            continue  # two rows of one calendar are two events, however alike
        ordered = sorted(members, key=lambda member: (
            not organises(member), not member.calendar.is_writable, calendar_rank(member.calendar),
            str(member.event_id)))
        copies[ordered[0]] = tuple(ordered)
        hidden.update(ordered[1:])
    return [item for item in items if item not in hidden], copies


@dataclass(frozen=True)
class EventCopy:
    """One calendar's copy of the occurrence the panel shows."""

    event_id: uuid.UUID
    at: str | None  # names the occurrence, for an instance a series generates
    calendar: CalendarInfo
    is_this: bool  # the copy the panel shows


def copies_of(session: Session, user_id: uuid.UUID, details: EventDetails) -> list[EventCopy]:
    """Every copy of the shown occurrence on the user's calendars, this one included, in calendar-list order;
    empty when the event has no UID or no copy elsewhere."""
    uid = (details.event.provider_metadata or {}).get("ical_uid")
    if not uid:
        return []
    event, calendar = CalendarEvent, CalendarConnection
    rows = session.execute(
        select(event, *_CALENDAR_COLUMNS)
        .join(calendar, event.calendar_connection_id == calendar.id)
        .where(
            event.provider_metadata["ical_uid"].astext == uid,
            calendar.user_id == user_id, calendar.deleted_at.is_(None),
            event.deleted_at.is_(None), event.status != EventStatus.CANCELLED,
        )
        # Per calendar, a row of its own (a plain event or an override) before a series' generated instance.
        .order_by(calendar.is_primary.desc(), calendar.calendar_name, calendar.id, event.is_recurring)
    ).all()
    found: dict[uuid.UUID, EventCopy] = {}
    for row in rows:
        info = _calendar_from(row)
        if info.id in found:
            continue
        copy = _copy_starting(row.CalendarEvent, info, details)
        if copy:
            found[info.id] = copy
    return list(found.values()) if len(found) > 1 else []


def _copy_starting(row: CalendarEvent, calendar: CalendarInfo, details: EventDetails) -> EventCopy | None:
    """This row's occurrence that starts when the shown one does, if it has one."""
    if not row.is_recurring:
        if row.start_time != details.start:
            return None
        return EventCopy(row.id, None, calendar, row.id == details.event.id)
    instance = series_instance(row, details.start)
    if instance is None:
        return None
    return EventCopy(row.id, format_at(instance.original_start), calendar,
                     details.is_generated_instance and row.id == details.event.id)
