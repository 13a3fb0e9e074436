"""Which days each view shows and the UTC window it queries, in the user's zone."""
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import utc
from webapp.calendar.periods import BadDate, make_period, parse_day, parse_month

NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(("week_start", "first"), [(1, date(2024, 3, 4)), (7, date(2024, 3, 3)), (6, date(2024, 3, 2))])
def test_week_starts_on_the_users_first_day(week_start, first):
    period = make_period("week", date(2024, 3, 7), UTC, week_start)

    assert period.first_day == first and period.last_day == first + timedelta(days=6)
    assert period.previous == first - timedelta(days=7) and period.next == first + timedelta(days=7)


def test_week_window_is_local_midnight_to_local_midnight_and_one_hour_short_across_spring_forward():
    period = make_period("week", date(2024, 3, 10), NEW_YORK, 1)  # Mon 4 .. Sun 10 March; DST starts on the 10th

    assert period.window_start == utc(2024, 3, 4, 5)  # 00:00 EST
    assert period.window_end == utc(2024, 3, 11, 4)  # 00:00 EDT
    assert period.window_end - period.window_start == timedelta(hours=167)


def test_month_grid_covers_whole_weeks_around_the_month():
    period = make_period("month", date(2024, 3, 1), UTC, 1)

    assert (period.first_day, period.last_day) == (date(2024, 2, 26), date(2024, 3, 31))
    assert len(period.days) % 7 == 0
    assert (period.previous, period.next) == (date(2024, 2, 1), date(2024, 4, 1))
    assert period.title == "March 2024"


def test_agenda_shows_thirty_days_and_pages_by_thirty():
    period = make_period("agenda", date(2024, 3, 1), UTC, 1)

    assert len(period.days) == 30 and period.last_day == date(2024, 3, 30)
    assert period.next == date(2024, 3, 31) and period.previous == date(2024, 1, 31)


@pytest.mark.parametrize(("first", "last", "title"), [
    (date(2024, 3, 4), date(2024, 3, 10), "4 – 10 Mar 2024"),
    (date(2024, 2, 26), date(2024, 3, 3), "26 Feb – 3 Mar 2024"),
    (date(2024, 12, 30), date(2025, 1, 5), "30 Dec 2024 – 5 Jan 2025"),
])
def test_week_titles(first, last, title):
    assert make_period("week", first, UTC, first.isoweekday()).title == title


@pytest.mark.parametrize("text", ["2024-02-30", "2024-3-1", "20240301", "yesterday", "1800-01-01", ""])
def test_bad_days_are_refused(text):
    with pytest.raises(BadDate):
        parse_day(text)


@pytest.mark.parametrize("text", ["2024-13", "2024-00", "2024-3", "3000-01"])
def test_bad_months_are_refused(text):
    with pytest.raises(BadDate):
        parse_month(text)
