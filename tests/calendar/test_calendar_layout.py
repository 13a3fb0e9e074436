"""Placing entries: side by side when they overlap, all-day lanes, month cells with "+N more"."""
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import utc
from webapp.calendar.entries import CalendarInfo, Entry
from webapp.calendar.layout import MONTH_CELL_LIMIT, month_weeks, time_grid
from webapp.calendar.periods import make_period

UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
CALENDAR = CalendarInfo(uuid.uuid4(), "Work", "#4285f4", "GOOGLE", True, True, True)
MONDAY = date(2024, 3, 4)
WEEK = [MONDAY + timedelta(days=n) for n in range(7)]


def entry(title: str, start: datetime, end: datetime, *, all_day: bool = False) -> Entry:
    return Entry(uuid.uuid4(), None, None, title, None, start, end, all_day, "UTC", "SYNCED", CALENDAR)


def placed_by_title(grid, day_index: int) -> dict:
    return {placed.entry.title: placed for placed in grid.columns[day_index].entries}


def test_a_later_overlapping_event_is_indented_over_the_earlier_one_at_three_quarters_width_or_more():
    entries = [
        entry("A", utc(2024, 3, 4, 9), utc(2024, 3, 4, 11)),
        entry("B", utc(2024, 3, 4, 10), utc(2024, 3, 4, 12)),
        entry("C", utc(2024, 3, 4, 11), utc(2024, 3, 4, 13)),  # A has ended, B runs: one step further than B
        entry("D", utc(2024, 3, 4, 14), utc(2024, 3, 4, 15)),  # alone: full width
    ]

    placed = placed_by_title(time_grid(entries, WEEK, UTC, utc(2024, 3, 4, 12)), 0)

    assert (placed["A"].left, placed["A"].width, placed["A"].depth) == (0, 100, 0)
    assert (placed["B"].left, placed["B"].width, placed["B"].depth) == (12.5, 87.5, 1)
    assert (placed["C"].left, placed["C"].width, placed["C"].depth) == (25, 75, 2)
    assert (placed["D"].left, placed["D"].width) == (0, 100)
    assert placed["A"].top == 9 / 24 * 100 and placed["A"].height == 2 / 24 * 100
    order = [p.entry.title for p in time_grid(entries, WEEK, UTC, utc(2024, 3, 4, 12)).columns[0].entries]
    assert order == ["A", "B", "C", "D"]  # later cards come later, so they lie over the earlier ones


def test_events_starting_together_go_side_by_side_and_later_ones_cascade_at_three_quarters_or_more():
    entries = [
        entry("Long", utc(2024, 3, 4, 9), utc(2024, 3, 4, 12)),
        entry("Short", utc(2024, 3, 4, 9), utc(2024, 3, 4, 10)),  # starts with Long: beside it, titles both seen
        entry("Middle", utc(2024, 3, 4, 9, 30), utc(2024, 3, 4, 10, 30)),  # half an hour later: over them
        entry("Late", utc(2024, 3, 4, 11), utc(2024, 3, 4, 11, 30)),  # only Long runs: one step in
    ]

    placed = placed_by_title(time_grid(entries, [MONDAY], UTC, utc(2024, 3, 1), max_columns=6), 0)

    assert [placed[t].depth for t in ("Long", "Short", "Middle", "Late")] == [0, 0, 1, 1]
    assert [(placed[t].left, placed[t].width) for t in ("Long", "Short")] == [(0, 50), (50, 50)]
    assert (placed["Middle"].left, placed["Middle"].width) == (25, 75)
    assert (placed["Late"].left, placed["Late"].width) == (25, 75)
    assert placed["Late"].is_one_line and not placed["Long"].is_one_line


def test_an_overnight_event_is_drawn_on_both_days():
    grid = time_grid([entry("Night", utc(2024, 3, 4, 22), utc(2024, 3, 5, 2))], WEEK, UTC, utc(2024, 3, 1))

    monday, tuesday = placed_by_title(grid, 0)["Night"], placed_by_title(grid, 1)["Night"]
    assert monday.top == 22 / 24 * 100 and monday.top + monday.height == pytest.approx(100) and monday.ends_later
    assert tuesday.top == 0 and tuesday.height == 2 / 24 * 100 and tuesday.starts_earlier
    assert grid.banners == []


def test_all_day_and_long_events_go_to_lanes_above_the_grid():
    entries = [
        entry("Trip", utc(2024, 3, 2), utc(2024, 3, 7), all_day=True),  # Sat..Wed: starts before the week
        entry("Offsite", utc(2024, 3, 6), utc(2024, 3, 8), all_day=True),  # Wed..Thu: overlaps Trip on Wed
        entry("Holiday", utc(2024, 3, 8), utc(2024, 3, 9), all_day=True),  # Fri: fits in Trip's lane
        entry("Conference", utc(2024, 3, 9, 8), utc(2024, 3, 11, 18)),  # timed, 58 hours
    ]

    grid = time_grid(entries, WEEK, UTC, utc(2024, 3, 1))
    banners = {banner.entry.title: banner for banner in grid.banners}

    assert (banners["Trip"].column, banners["Trip"].span, banners["Trip"].starts_earlier) == (0, 3, True)
    assert (banners["Offsite"].column, banners["Offsite"].span, banners["Offsite"].lane) == (2, 2, 1)
    assert (banners["Holiday"].column, banners["Holiday"].lane) == (4, 0)
    assert (banners["Conference"].column, banners["Conference"].span, banners["Conference"].ends_later) == (5, 2, True)
    assert grid.lane_count == 2
    assert all(column.entries == [] for column in grid.columns)


def test_wall_clock_positions_on_the_day_clocks_spring_forward():
    sunday = date(2024, 3, 10)
    nine_am = entry("Brunch", datetime(2024, 3, 10, 9, tzinfo=NEW_YORK), datetime(2024, 3, 10, 10, tzinfo=NEW_YORK))

    grid = time_grid([nine_am], [sunday], NEW_YORK, utc(2024, 3, 10, 17))  # 13:00 EDT

    placed = grid.columns[0].entries[0]
    assert placed.top == 9 / 24 * 100 and placed.height == 1 / 24 * 100
    assert grid.columns[0].is_today and grid.columns[0].now_top == 13 / 24 * 100


def test_month_cells_show_three_lanes_and_count_the_rest():
    period = make_period("month", date(2024, 3, 1), UTC, 1)
    busy = [entry(f"E{hour}", utc(2024, 3, 12, hour), utc(2024, 3, 12, hour, 30)) for hour in range(8, 13)]
    busy.append(entry("Day off", utc(2024, 3, 12), utc(2024, 3, 13), all_day=True))

    weeks = month_weeks(busy, period.days, 3, UTC, date(2024, 3, 12))

    week = next(week for week in weeks if any(cell.day == date(2024, 3, 12) for cell in week))
    cell = next(cell for cell in week if cell.day == date(2024, 3, 12))
    shown = sorted((item.lane, item.entry.title, item.is_bar) for item in week.items)
    assert shown == [(0, "Day off", True), (1, "E8", False), (2, "E9", False)]
    assert MONTH_CELL_LIMIT == 3 and cell.hidden_count == 3 and cell.is_today and cell.in_month
    assert not weeks[0][0].in_month  # 26 Feb


def test_a_multi_day_event_is_one_bar_across_its_days_split_at_the_week_row():
    period = make_period("month", date(2024, 3, 1), UTC, 1)
    entries = [
        entry("Conference", utc(2024, 3, 13, 9), utc(2024, 3, 15, 17)),  # Wed..Fri, timed
        entry("Trip", utc(2024, 3, 16), utc(2024, 3, 20), all_day=True),  # Sat..Tue: two week rows
        entry("Late call", utc(2024, 3, 14, 22), utc(2024, 3, 14, 23)),
        entry("Night shift", utc(2024, 3, 14, 22), utc(2024, 3, 15, 2)),  # past midnight: a two-day bar
    ]

    weeks = month_weeks(entries, period.days, 3, UTC, date(2024, 3, 1))

    week = {item.entry.title: item for item in weeks[2].items}  # 11-17 March
    assert (week["Conference"].column, week["Conference"].span, week["Conference"].is_bar) == (2, 3, True)
    assert (week["Trip"].column, week["Trip"].span, week["Trip"].ends_later) == (5, 2, True)
    assert (week["Night shift"].column, week["Night shift"].span, week["Night shift"].is_bar) == (3, 2, True)
    assert week["Night shift"].lane == 1 and week["Late call"].lane == 2 and not week["Late call"].is_bar
    (trip,) = [item for item in weeks[3].items if item.entry.title == "Trip"]
    assert (trip.column, trip.span, trip.starts_earlier, trip.ends_later) == (0, 2, True, False)
    assert len([item for w in weeks for item in w.items if item.entry.title == "Conference"]) == 1


def test_too_many_events_starting_together_fold_into_plus_n_and_so_does_a_fifth_level_of_indent():
    together = [entry(f"O{n}", utc(2024, 3, 4, 9, 5 * n), utc(2024, 3, 4, 10, 30)) for n in range(5)]
    cascade = [entry(f"C{n}", utc(2024, 3, 4, 14 + n), utc(2024, 3, 4, 20)) for n in range(5)]

    week = time_grid(together + cascade, WEEK, UTC, utc(2024, 3, 1), max_columns=3).columns[0]
    day = time_grid(together, [MONDAY], UTC, utc(2024, 3, 1), max_columns=6).columns[0]

    shown = [(p.entry.title, round(p.left, 2), round(p.width, 2)) for p in week.entries]
    assert shown[:2] == [("O0", 0, 33.33), ("O1", 33.33, 33.33)]
    assert [e.title for e in week.overflows[0].entries] == ["O2", "O3", "O4"]
    assert (round(week.overflows[0].left, 2), round(week.overflows[0].width, 2)) == (66.67, 33.33)
    assert week.overflows[0].top == (9 * 60 + 10) / 1440 * 100
    assert [(p.entry.title, p.depth, p.left) for p in week.entries[2:]] == [
        ("C0", 0, 0), ("C1", 1, 25 / 3), ("C2", 2, 50 / 3), ("C3", 3, 25)]
    assert [e.title for e in week.overflows[1].entries] == ["C4"] and week.overflows[1].left == 75
    assert [p.width for p in day.entries] == [20] * 5 and day.overflows == []


def test_short_events_are_one_line_and_hour_long_ones_have_room_for_the_location():
    with_room = Entry(uuid.uuid4(), None, None, "Review", "Room 4", utc(2024, 3, 4, 9), utc(2024, 3, 4, 10), False,
                      "UTC", "SYNCED", CALENDAR)
    standup = entry("Standup", utc(2024, 3, 4, 11), utc(2024, 3, 4, 11, 15))

    placed = placed_by_title(time_grid([with_room, standup], [MONDAY], UTC, utc(2024, 3, 1)), 0)

    assert placed["Standup"].is_one_line and not placed["Standup"].shows_location
    assert not placed["Review"].is_one_line and placed["Review"].shows_location
