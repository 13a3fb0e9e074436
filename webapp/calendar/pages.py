"""Everything one calendar page shows, from the user's settings, the view kind and the day in the URL."""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from webapp.calendar.entries import CalendarInfo
from webapp.calendar.layout import (
    MAX_COLUMNS,
    MINUTES_PER_DAY,
    AgendaDay,
    MonthWeek,
    TimeGrid,
    agenda_days,
    month_weeks,
    time_grid,
)
from webapp.calendar.periods import GRID_KINDS, Period, make_period, today_in
from webapp.calendar.queries import entries_between, user_calendars
from webapp.calendar.together import Together, arrange
from webapp.calendar.zones import zone_or_utc


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID
    time_zone: str | None  # None until the browser's zone is known or the user picks one
    week_start: int  # ISO weekday
    work_day: tuple[int, int] = (8 * 60, 18 * 60)  # minutes after local midnight
    marks_double_bookings: bool = True

    @classmethod
    def of(cls, user) -> Viewer:
        return cls(user.id, user.time_zone, user.week_start or 1, (user.work_day_start, user.work_day_end),
                   user.mark_double_bookings)

    @property
    def zone(self):
        return zone_or_utc(self.time_zone)


@dataclass(frozen=True)
class CalendarPage:
    period: Period
    today: date
    calendars: list[CalendarInfo]
    grid: TimeGrid | None = None  # day and week
    month: list[MonthWeek] | None = None
    agenda: list[AgendaDay] | None = None
    work_day: tuple[int, int] = (8 * 60, 18 * 60)
    week_start: int = 1
    together: Together | None = None  # double bookings and merged invitations (webapp.calendar.together)
    # A fingerprint of everything the page shows of the calendars (not of the clock): an open tab redraws only
    # when it changed (static/calendar.js).
    digest: str = ""

    @property
    def scroll_minute(self) -> int:
        """Where the time grid opens: the working day, or earlier for an event that begins earlier on a day shown.
        An event carried over from the day before (past midnight) never pulls it to 00:00; markers in the grid
        point to anything still out of view."""
        first = min((placed.top for column in self.grid.columns for placed in column.entries
                     if not placed.starts_earlier), default=None)
        start = self.work_day[0]
        if first is not None:
            start = min(start, round(first * MINUTES_PER_DAY / 100))
        return max(0, start - 15)

    @property
    def work_day_percent(self) -> tuple[float, float]:
        return self.work_day[0] / MINUTES_PER_DAY * 100, self.work_day[1] / MINUTES_PER_DAY * 100

    @property
    def mini_month(self) -> MiniMonth:
        return mini_month(self.focus_day if self.period.kind != "month" else self.period.anchor, self.today,
                          self.period, self.week_start)

    @property
    def weekday_initials(self) -> list[str]:
        return weekday_initials(self.week_start)

    @property
    def focus_day(self) -> date:
        """The day the other views open on: today when this page shows it, else the day in the URL."""
        if self.period.kind == "month":
            shows_today = (self.today.year, self.today.month) == (self.period.anchor.year, self.period.anchor.month)
        else:
            shows_today = self.period.first_day <= self.today <= self.period.last_day
        return self.today if shows_today else self.period.anchor

    @property
    def can_create(self) -> bool:
        return any(calendar.is_writable for calendar in self.calendars)

    def side_digests(self, form_token: str) -> SideDigests:
        """Fingerprints of the sidebar's two parts as this page draws them: a navigation whose browser shows the
        same keeps its own (static/app.js sends them back), so a step to the next week carries neither."""
        mini = (self.period.kind, self.mini_month.first, self.today, self.week_start)
        return SideDigests(_digest(mini), _digest((self.calendars, form_token)))


@dataclass(frozen=True)
class SideDigests:
    mini_month: str
    calendar_list: str

    @property
    def header(self) -> str:
        return f"{self.mini_month}.{self.calendar_list}"

    def kept(self, header: str | None) -> tuple[bool, bool]:
        """Which parts the browser that sent `header` already shows: (mini-month, calendar list)."""
        mini_month, _, calendar_list = (header or "").partition(".")
        return mini_month == self.mini_month, calendar_list == self.calendar_list


def _digest(value) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def calendar_page(session: Session, viewer: Viewer, kind: str, anchor: date, now: datetime) -> CalendarPage:
    zone = viewer.zone
    period = make_period(kind, anchor, zone, viewer.week_start)
    today = today_in(zone, now)
    calendars = user_calendars(session, viewer.user_id)
    entries = entries_between(session, viewer.user_id, period.window_start, period.window_end)
    # The UTC window also catches all-day events dated just outside the page; keep what is dated on it.
    entries = [entry for entry in entries if entry.touches(period.first_day, period.last_day, zone)]
    together = arrange(session, viewer, entries, calendars)
    entries = together.entries
    digest = hashlib.sha256(repr((calendars, together)).encode()).hexdigest()[:24]
    common = {"period": period, "today": today, "calendars": calendars, "work_day": viewer.work_day,
              "week_start": viewer.week_start, "together": together, "digest": digest}
    if kind in GRID_KINDS:
        return CalendarPage(**common, grid=time_grid(entries, period.days, zone, now, MAX_COLUMNS[kind]))
    if kind == "month":
        return CalendarPage(**common, month=month_weeks(entries, period.days, period.anchor.month, zone, today))
    return CalendarPage(**common, agenda=agenda_days(entries, period.days, zone, today))


@dataclass(frozen=True)
class MiniDay:
    day: date
    in_month: bool
    is_today: bool
    is_shown: bool  # on the page the calendar shows now


@dataclass(frozen=True)
class MiniMonth:
    """The sidebar's small month for jumping to any date."""

    first: date  # the 1st of the month
    weeks: list[list[MiniDay]]
    previous: date
    next: date


def mini_month(day: date, today: date, period: Period, week_start: int) -> MiniMonth:
    first = day.replace(day=1)
    grid = make_period("month", first, period.zone, week_start)
    days = [MiniDay(d, d.month == first.month, d == today, period.first_day <= d <= period.last_day and
                    period.kind != "month") for d in grid.days]
    return MiniMonth(first, [days[i:i + 7] for i in range(0, len(days), 7)], grid.previous, grid.next)


def weekday_initials(week_start: int) -> list[str]:
    monday = date(2024, 1, 1)
    return [f"{monday + timedelta(days=(week_start - 1 + n) % 7):%a}"[:2] for n in range(7)]
