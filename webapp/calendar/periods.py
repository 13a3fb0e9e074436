"""Which days a calendar page shows and the UTC window to query for them, in the user's time zone."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

VIEW_KINDS = ("day", "3day", "week", "month", "agenda")
# Views drawn as a time grid, and the days the three-day view moves by.
GRID_KINDS = ("day", "3day", "week")
THREE_DAYS = 3
AGENDA_DAYS = 30
# Far enough for any real calendar, near enough that previous/next arithmetic never leaves `date`'s range.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2500
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")


class BadDate(ValueError):
    """A URL named a day or month that is not a real date in the supported range."""


def parse_day(text: str | None) -> date:
    if not text or not _DAY.match(text):
        raise BadDate("Dates look like 2026-03-31.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadDate(f"{text} is not a real date.") from None
    return _in_range(day)


def parse_month(text: str | None) -> date:
    if not text or not _MONTH.match(text):
        raise BadDate("Months look like 2026-03.")
    year, month = int(text[:4]), int(text[5:])
    if not 1 <= month <= 12:
        raise BadDate(f"{text} is not a real month.")
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:  # before date(): year 0 is not a date at all
        raise BadDate(f"Dates between {EARLIEST_YEAR} and {LATEST_YEAR} only.")
    return date(year, month, 1)


def _in_range(day: date) -> date:
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise BadDate(f"Dates between {EARLIEST_YEAR} and {LATEST_YEAR} only.")
    return day


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day begins (a day without midnight begins when the clocks jump)."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def today_in(zone: ZoneInfo, now: datetime) -> date:
    return now.astimezone(zone).date()


def week_start_of(day: date, week_start: int) -> date:
    """First day of `day`'s week, for a week beginning on ISO weekday `week_start` (1 = Monday)."""
    return day - timedelta(days=(day.isoweekday() - week_start) % 7)


@dataclass(frozen=True)
class Period:
    kind: str  # one of VIEW_KINDS
    anchor: date  # the day the URL names; the 1st for a month
    first_day: date
    last_day: date  # inclusive
    previous: date  # anchor of the previous page
    next: date
    zone: ZoneInfo

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    @property
    def window_start(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def window_end(self) -> datetime:
        return local_midnight(self.last_day + timedelta(days=1), self.zone)

    @property
    def title(self) -> str:
        if self.kind == "day":
            return f"{self.anchor:%A} {self.anchor.day} {_MONTH_NAMES[self.anchor.month - 1]} {self.anchor.year}"
        if self.kind == "month":
            return f"{_MONTH_NAMES[self.anchor.month - 1]} {self.anchor.year}"
        return date_range_label(self.first_day, self.last_day)


def date_range_label(first: date, last: date) -> str:
    """ "4 – 10 Mar 2024", "26 Feb – 3 Mar 2024", "30 Dec 2024 – 5 Jan 2025"."""
    if first.year != last.year:
        return f"{first.day} {first:%b} {first.year} – {last.day} {last:%b} {last.year}"
    if first.month != last.month:
        return f"{first.day} {first:%b} – {last.day} {last:%b} {last.year}"
    return f"{first.day} – {last.day} {last:%b} {last.year}"


def make_period(kind: str, anchor: date, zone: ZoneInfo, week_start: int) -> Period:
    if kind == "day":
        return Period(kind, anchor, anchor, anchor, anchor - timedelta(days=1), anchor + timedelta(days=1), zone)
    if kind == "3day":
        span = timedelta(days=THREE_DAYS)
        return Period(kind, anchor, anchor, anchor + span - timedelta(days=1), anchor - span, anchor + span, zone)
    if kind == "week":
        first = week_start_of(anchor, week_start)
        return Period(kind, anchor, first, first + timedelta(days=6), first - timedelta(days=7),
                      first + timedelta(days=7), zone)
    if kind == "month":
        first_of_month = anchor.replace(day=1)
        next_month = (first_of_month + timedelta(days=32)).replace(day=1)
        previous_month = (first_of_month - timedelta(days=1)).replace(day=1)
        # Whole weeks, so the grid has no holes; the days of the neighbouring months are shown greyed.
        grid_first = week_start_of(first_of_month, week_start)
        grid_last = week_start_of(next_month - timedelta(days=1), week_start) + timedelta(days=6)
        return Period(kind, first_of_month, grid_first, grid_last, previous_month, next_month, zone)
    if kind == "agenda":
        span = timedelta(days=AGENDA_DAYS)
        return Period(kind, anchor, anchor, anchor + span - timedelta(days=1), anchor - span, anchor + span, zone)
    raise ValueError(f"unknown view kind {kind!r}")
