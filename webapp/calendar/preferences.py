"""A user's profile and calendar preferences: name, time zone, first day of the week and working hours."""
from __future__ import annotations

import uuid
from datetime import time

from sqlalchemy.orm import Session

from webapp.models import User
from webapp.zones import is_iana_zone


def save_preferences(
    session: Session, user: User, *, first_name: str | None, last_name: str | None, time_zone: str, week_start: int,
    work_day: tuple[time, time] | None = None, mark_double_bookings: bool = True,
    default_calendar_id: uuid.UUID | None = None, clock_24h: bool | None = None,
) -> None:
    user.first_name = first_name or None
    user.last_name = last_name or None
    user.time_zone = time_zone
    user.week_start = week_start
    if work_day is not None:
        user.work_day_start, user.work_day_end = minutes_of(work_day[0]), minutes_of(work_day[1])
    user.mark_double_bookings = mark_double_bookings
    if default_calendar_id is not None:
        user.default_calendar_id = default_calendar_id
    if clock_24h is not None:
        user.clock_24h = clock_24h
    session.flush()


def minutes_of(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def time_of(minutes: int) -> time:
    return time(minutes // 60, minutes % 60) if minutes < 1440 else time(23, 59)


def adopt_browser_time_zone(session: Session, user: User, time_zone: str) -> bool:
    """Take the browser's zone as the user's, only while they have none; True when it was taken."""
    if user.time_zone is not None or not is_iana_zone(time_zone):
        return False
    user.time_zone = time_zone
    session.flush()
    return True


def adopt_browser_clock(session: Session, user: User, *, twelve_hour: bool) -> bool:
    """Take the browser locale's clock as the user's, only while they have none; True when it was taken."""
    if user.clock_24h is not None:
        return False
    user.clock_24h = not twelve_hour
    session.flush()
    return True
