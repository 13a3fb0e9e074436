"""Where each entry goes on a page: time-grid columns side by side, all-day lanes, month cells, agenda days.

Pure functions over `Entry` values; positions are percentages the templates put into inline styles.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from webapp import budget
from webapp.calendar.entries import Entry
from webapp.calendar.periods import local_midnight

MINUTES_PER_DAY = 24 * 60
# Short events still get a block tall enough to read and to click.
MIN_BLOCK_MINUTES = 20
MONTH_CELL_LIMIT = 3
# Below this an event is one line ("Standup · 09:00"); from an hour on its location fits as a third line.
ONE_LINE_BELOW_MINUTES = 45
LOCATION_FROM_MINUTES = 60
# Side-by-side columns per day before the rest fold into "+N": about 60 px each, the least that reads.
MAX_COLUMNS = {"day": 6, "3day": 2, "week": 2}


@dataclass(frozen=True)
class PlacedEntry:
    entry: Entry
    top: float  # percent of the day column
    height: float
    left: float  # percent of the column width
    width: float
    starts_earlier: bool  # began on a previous day
    ends_later: bool  # goes on into the next day
    minutes: int  # drawn length on this day

    @property
    def is_one_line(self) -> bool:
        return self.minutes < ONE_LINE_BELOW_MINUTES

    @property
    def shows_location(self) -> bool:
        return self.minutes >= LOCATION_FROM_MINUTES and bool(self.entry.location)


@dataclass(frozen=True)
class Overflow:
    """Overlapping events beyond the readable columns: a "+N" that opens their list."""

    entries: list[Entry]
    top: float  # percent of the day column, where the first of them starts
    left: float
    width: float


@dataclass(frozen=True)
class DayColumn:
    day: date
    is_today: bool
    entries: list[PlacedEntry]
    now_top: float | None  # percent; only in today's column
    overflows: list[Overflow]


@dataclass(frozen=True)
class Banner:
    """An all-day or multi-day entry in the row above the time grid."""

    entry: Entry
    column: int  # 0-based index of the first day shown
    span: int  # days covered within the page
    lane: int
    starts_earlier: bool
    ends_later: bool


@dataclass(frozen=True)
class TimeGrid:
    columns: list[DayColumn]
    banners: list[Banner]
    lane_count: int


@dataclass(frozen=True)
class MonthCell:
    day: date
    in_month: bool
    is_today: bool
    shown: list[Entry]
    hidden_count: int


@dataclass(frozen=True)
class AgendaDay:
    day: date
    is_today: bool
    entries: list[Entry]


def day_order(entry: Entry) -> tuple:
    """All-day and multi-day first, then by start time."""
    return (not entry.spans_days, entry.start, entry.title)


def _wall_minutes(instant: datetime, zone: ZoneInfo) -> int:
    local = instant.astimezone(zone)
    return local.hour * 60 + local.minute


def time_grid(entries: list[Entry], days: list[date], zone: ZoneInfo, now: datetime,
              max_columns: int = MAX_COLUMNS["week"]) -> TimeGrid:
    today = now.astimezone(zone).date()
    banners = _banners([entry for entry in entries if entry.spans_days], days, zone)
    timed = [entry for entry in entries if not entry.spans_days]
    columns = []
    for day in days:
        budget.check()
        blocks = _day_blocks([entry for entry in timed if entry.touches(day, day, zone)], day, zone)
        now_top = _wall_minutes(now, zone) / MINUTES_PER_DAY * 100 if day == today else None
        placed, overflows = _side_by_side(blocks, max_columns)
        columns.append(DayColumn(day, day == today, placed, now_top, overflows))
    return TimeGrid(columns, banners, max((banner.lane + 1 for banner in banners), default=0))


@dataclass(frozen=True)
class _Block:
    entry: Entry
    top: int  # wall-clock minutes since local midnight
    bottom: int
    starts_earlier: bool
    ends_later: bool


def _day_blocks(entries: list[Entry], day: date, zone: ZoneInfo) -> list[_Block]:
    """The part of each entry that falls on `day`, in wall-clock minutes (a DST day still draws as 24 hours)."""
    day_start, day_end = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    blocks = []
    for entry in entries:
        starts_earlier, ends_later = entry.start < day_start, entry.end > day_end
        top = 0 if starts_earlier else _wall_minutes(entry.start, zone)
        bottom = MINUTES_PER_DAY if ends_later or entry.end == day_end else _wall_minutes(entry.end, zone)
        top = min(top, MINUTES_PER_DAY - MIN_BLOCK_MINUTES)
        bottom = min(max(bottom, top + MIN_BLOCK_MINUTES), MINUTES_PER_DAY)
        blocks.append(_Block(entry, top, bottom, starts_earlier, ends_later))
    return blocks


def _side_by_side(blocks: list[_Block], max_columns: int) -> tuple[list[PlacedEntry], list[Overflow]]:
    """Overlapping blocks share the width, as Google lays them out: each group of transitively overlapping
    blocks is split into as few columns as needed (each block takes the first column free at its start) and a
    block widens to the right over columns that are free for its whole length. Past `max_columns` the last
    readable column becomes a "+N" for everything that does not fit."""
    placed: list[PlacedEntry] = []
    overflows: list[Overflow] = []
    group: list[_Block] = []
    group_bottom = -1
    for block in sorted(blocks, key=lambda b: (b.top, -b.bottom, b.entry.title)):
        if group and block.top >= group_bottom:
            _place_group(group, max_columns, placed, overflows)
            group = []
        group.append(block)
        group_bottom = max(group_bottom, block.bottom)
    if group:
        _place_group(group, max_columns, placed, overflows)
    return placed, overflows


def _overlaps(first: _Block, second: _Block) -> bool:
    return first.top < second.bottom and second.top < first.bottom


def _place_group(group: list[_Block], max_columns: int, placed: list[PlacedEntry], overflows: list[Overflow]):
    column_bottoms: list[int] = []
    column_of = []
    for block in group:
        free = next((index for index, bottom in enumerate(column_bottoms) if bottom <= block.top), None)
        if free is None:
            free = len(column_bottoms)
            column_bottoms.append(block.bottom)
        else:
            column_bottoms[free] = block.bottom
        column_of.append(free)
    # With too many columns, everything from the last readable one on folds into that one column's "+N".
    visible = len(column_bottoms) if len(column_bottoms) <= max_columns else max_columns - 1
    shown_columns = len(column_bottoms) if visible == len(column_bottoms) else max_columns
    width = 100 / shown_columns
    by_column: dict[int, list[_Block]] = {}
    for block, column in zip(group, column_of, strict=True):
        by_column.setdefault(min(column, visible), []).append(block)
    for block, column in zip(group, column_of, strict=True):
        if column >= visible:
            continue
        span = 1
        while column + span < shown_columns and not any(
                _overlaps(block, other) for other in by_column.get(column + span, ())):
            span += 1
        placed.append(PlacedEntry(
            entry=block.entry,
            top=block.top / MINUTES_PER_DAY * 100,
            height=(block.bottom - block.top) / MINUTES_PER_DAY * 100,
            left=column * width,
            width=span * width,
            starts_earlier=block.starts_earlier,
            ends_later=block.ends_later,
            minutes=block.bottom - block.top,
        ))
    hidden = sorted(by_column.get(visible, []) if visible < shown_columns else [], key=lambda b: (b.top, b.bottom))
    cluster: list[_Block] = []
    for block in hidden:
        if cluster and block.top >= max(other.bottom for other in cluster):
            overflows.append(_overflow(cluster, visible * width, width))
            cluster = []
        cluster.append(block)
    if cluster:
        overflows.append(_overflow(cluster, visible * width, width))


def _overflow(cluster: list[_Block], left: float, width: float) -> Overflow:
    return Overflow([block.entry for block in cluster], cluster[0].top / MINUTES_PER_DAY * 100, left, width)


def _banners(entries: list[Entry], days: list[date], zone: ZoneInfo) -> list[Banner]:
    first_shown, last_shown = days[0], days[-1]
    spans = []
    for entry in entries:
        first, last = entry.day_span(zone)
        if first > last_shown or last < first_shown:
            continue  # fetched by the UTC window but dated outside the page
        column = (max(first, first_shown) - first_shown).days
        span = (min(last, last_shown) - first_shown).days - column + 1
        spans.append((entry, column, span, first < first_shown, last > last_shown))
    lane_ends: list[int] = []  # last column taken in each lane
    banners = []
    for entry, column, span, starts_earlier, ends_later in sorted(spans, key=lambda s: (s[1], -s[2], s[0].title)):
        lane = next((index for index, end in enumerate(lane_ends) if end < column), None)
        if lane is None:
            lane = len(lane_ends)
            lane_ends.append(column + span - 1)
        else:
            lane_ends[lane] = column + span - 1
        banners.append(Banner(entry, column, span, lane, starts_earlier, ends_later))
    return banners


def entries_by_day(entries: list[Entry], days: list[date], zone: ZoneInfo) -> dict[date, list[Entry]]:
    """Each day's entries in day order; a multi-day entry is listed on every day it touches."""
    by_day: dict[date, list[Entry]] = {day: [] for day in days}
    for entry in entries:
        budget.check()
        first, last = entry.day_span(zone)
        day = max(first, days[0])
        while day <= min(last, days[-1]):
            by_day[day].append(entry)
            day += timedelta(days=1)
    for listed in by_day.values():
        listed.sort(key=day_order)
    return by_day


def month_weeks(
    entries: list[Entry], days: list[date], month: int, zone: ZoneInfo, today: date
) -> list[list[MonthCell]]:
    by_day = entries_by_day(entries, days, zone)
    cells = [
        MonthCell(day, day.month == month, day == today, by_day[day][:MONTH_CELL_LIMIT],
                  max(0, len(by_day[day]) - MONTH_CELL_LIMIT))
        for day in days
    ]
    return [cells[index:index + 7] for index in range(0, len(cells), 7)]


def agenda_days(entries: list[Entry], days: list[date], zone: ZoneInfo, today: date) -> list[AgendaDay]:
    by_day = entries_by_day(entries, days, zone)
    return [AgendaDay(day, day == today, listed) for day, listed in by_day.items() if listed]
