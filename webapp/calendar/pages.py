"""Everything one calendar page shows, from the user's settings, the view kind and the day in the URL."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from webapp.calendar.entries import CalendarInfo
from webapp.calendar.layout import AgendaDay, MonthCell, TimeGrid, agenda_days, month_weeks, time_grid
from webapp.calendar.periods import Period, make_period, today_in
from webapp.calendar.queries import entries_between, user_calendars
from webapp.calendar.together import Together, arrange
from webapp.calendar.zones import zone_or_utc


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID
    time_zone: str | None  # None until the browser's zone is known or the user picks one
    week_start: int  # ISO weekday
    marks_double_bookings: bool = True

    @classmethod
    def of(cls, user) -> Viewer:
        return cls(user.id, user.time_zone, user.week_start or 1, user.mark_double_bookings)

    @property
    def zone(self):
        return zone_or_utc(self.time_zone)


@dataclass(frozen=True)
class CalendarPage:
    period: Period
    today: date
    calendars: list[CalendarInfo]
    grid: TimeGrid | None = None  # day and week
    month: list[list[MonthCell]] | None = None
    agenda: list[AgendaDay] | None = None
    together: Together | None = None  # double bookings and merged invitations (webapp.calendar.together)

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
    if kind in ("day", "week"):
        return CalendarPage(period, today, calendars, grid=time_grid(entries, period.days, zone, now),
                            together=together)
    if kind == "month":
        return CalendarPage(period, today, calendars, together=together,
                            month=month_weeks(entries, period.days, period.anchor.month, zone, today))
    return CalendarPage(period, today, calendars, agenda=agenda_days(entries, period.days, zone, today),
                        together=together)
