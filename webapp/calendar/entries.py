"""Plain values the calendar pages show: a user's calendars and the event occurrences in a window."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from webapp.calendar.colours import DEFAULT_PALETTE, text_colour_on

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def safe_colour(value: str | None, position: int = 0) -> str:
    """A calendar's colour, the one source every page draws it from (cards, lists, pickers, feeds), fit for an
    inline style: only #rrggbb ever reaches the page. Every calendar gets a stored colour when it is connected
    (webapp.calendar.colours.distinct_colour); without one, a palette colour chosen by `position`."""
    if value and _HEX_COLOUR.match(value):
        return value.lower()
    return DEFAULT_PALETTE[position % len(DEFAULT_PALETTE)]


def all_day_dates(start: datetime, end: datetime) -> tuple[date, date]:
    """First and last day of an all-day event, stored as 00:00 UTC of its first day to 00:00 UTC after its last."""
    first = start.date()
    return first, max(first, (end - timedelta(days=1)).date())


@dataclass(frozen=True)
class CalendarInfo:
    id: uuid.UUID
    name: str
    colour: str  # always #rrggbb
    provider: str  # "GOOGLE" | "MICROSOFT" | "APPLE"
    is_visible: bool
    is_connected: bool
    can_write: bool
    is_removed_at_provider: bool = False  # deleted or unshared there: shown until the user removes it here
    account: str | None = None  # the provider account's email (the Apple ID for iCloud)

    @property
    def is_writable(self) -> bool:
        return self.is_connected and self.can_write and not self.is_removed_at_provider

    @property
    def text_colour(self) -> str:
        """Text on a card filled with the calendar's colour, at 4.5:1 or better."""
        return text_colour_on(self.colour)


@dataclass(frozen=True)
class Entry:
    """One occurrence on the calendar: a plain event, an instance of a series, or an override of one."""

    event_id: uuid.UUID  # the row the detail panel opens (the series master for a generated instance)
    series_id: uuid.UUID | None  # the master, for anything that belongs to a series
    original_start: datetime | None  # which instance of the series this is
    title: str
    location: str | None
    start: datetime  # aware UTC
    end: datetime  # exclusive
    is_all_day: bool
    timezone: str
    sync_status: str  # "PENDING" | "SYNCED" | "FAILED" | "DELETED"
    calendar: CalendarInfo
    is_being_deleted: bool = False  # deleted here, the provider has not confirmed yet (see webapp.sync.deletions)

    @property
    def is_generated_instance(self) -> bool:
        """An instance expanded from the master's rule (no row of its own): its URL names it by `at`."""
        return self.series_id is not None and self.event_id == self.series_id

    @property
    def spans_days(self) -> bool:
        """Shown in the all-day row: all-day events and anything lasting a day or more."""
        return self.is_all_day or self.end - self.start >= timedelta(days=1)

    def day_span(self, zone: ZoneInfo) -> tuple[date, date]:
        """First and last day (inclusive) the entry touches in `zone`; all-day events keep their own dates."""
        if self.is_all_day:
            return all_day_dates(self.start, self.end)
        first = self.start.astimezone(zone).date()
        if self.end <= self.start:
            return first, first
        # The end is exclusive: an event ending at midnight does not touch the next day.
        return first, (self.end - timedelta(microseconds=1)).astimezone(zone).date()

    def touches(self, first_day: date, last_day: date, zone: ZoneInfo) -> bool:
        starts, ends = self.day_span(zone)
        return starts <= last_day and ends >= first_day


@dataclass(frozen=True)
class Account:
    """The calendars of one provider account, as the sidebar and the pickers group them."""

    provider: str
    email: str | None
    calendars: list[CalendarInfo]


def by_account(calendars: list[CalendarInfo]) -> list[Account]:
    """Calendars grouped by (provider, account), the groups in the order their first calendar comes."""
    groups: dict[tuple[str, str | None], list[CalendarInfo]] = {}
    for calendar in calendars:
        groups.setdefault((calendar.provider, (calendar.account or "").lower() or None), []).append(calendar)
    return [Account(provider, email, listed) for (provider, email), listed in groups.items()]


def default_calendar(writable: list[CalendarInfo], chosen: uuid.UUID | None) -> uuid.UUID | None:
    """Where a new event goes: the user's choice (Settings, or the last new event's) while it takes events, else the
    first writable calendar (primary first)."""
    if any(calendar.id == chosen for calendar in writable):
        return chosen
    return writable[0].id if writable else None
