"""A user's profile and calendar preferences: name, time zone and first day of the week."""
from __future__ import annotations

from sqlalchemy.orm import Session

from webapp.calendar.zones import is_valid_zone
from webapp.models import User


def save_preferences(
    session: Session, user: User, *, first_name: str | None, last_name: str | None, time_zone: str, week_start: int,
    mark_double_bookings: bool = True,
) -> None:
    user.first_name = first_name or None
    user.last_name = last_name or None
    user.time_zone = time_zone
    user.week_start = week_start
    user.mark_double_bookings = mark_double_bookings
    session.flush()


def adopt_browser_time_zone(session: Session, user: User, time_zone: str) -> bool:
    """Take the browser's zone as the user's, only while they have none; True when it was taken."""
    if user.time_zone is not None or not is_valid_zone(time_zone):
        return False
    user.time_zone = time_zone
    session.flush()
    return True
