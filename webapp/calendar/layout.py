"""Where each entry goes on a page: time-grid cards (overlaps indented), all-day lanes, month cells, agenda days.

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
# Below this an event is one line ("Standup, 09:00"); from an hour on its location fits as a third line.
ONE_LINE_BELOW_MINUTES = 45
LOCATION_FROM_MINUTES = 60
# Overlapping events are drawn as Google does: each later one indented over the ones still running, never
# narrower than MIN_WIDTH of the day, up to MAX_DEPTH levels; events starting together go side by side, as many
# as MAX_COLUMNS (about 45 px each, the least that reads); the rest fold into "+N".
MAX_COLUMNS = {"day": 6, "3day": 2, "week": 3}
MAX_DEPTH = 4
MIN_WIDTH = 75  # percent of the day column
SAME_START_MINUTES = 30


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
    depth: int = 0  # how many earlier overlapping events it is indented over

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
    hidden_count: int  # entries touching the day that do not fit: "+N more"


@dataclass(frozen=True)
class MonthItem:
    """One entry in a month week: a bar across its days (all-day and multi-day entries), or a dot, start time and
    title in its day (timed entries). Lanes are rows under the day numbers, shared by the whole week."""

    entry: Entry
    column: int  # 0-based day of the week row
    span: int
    lane: int
    is_bar: bool
    starts_earlier: bool  # began before this week row
    ends_later: bool


@dataclass(frozen=True)
class MonthWeek:
    cells: list[MonthCell]
    items: list[MonthItem]  # those that fit, in lanes below MONTH_CELL_LIMIT

    def __iter__(self):  # a week still reads as its seven cells
        return iter(self.cells)

    def __getitem__(self, index: int) -> MonthCell:
        return self.cells[index]


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
    """Overlapping blocks as Google draws them. Blocks that start together (within SAME_START_MINUTES, where a
    card over the other would hide its title) share the width side by side; any later block is indented one step
    further than the deepest still running when it starts and reaches the right edge, so it lies over the earlier
    ones and every title stays in view. The steps of a group of transitively overlapping blocks share MIN_WIDTH's
    complement: an indented card is never narrower than 75 % of the day. Past `max_columns` cards side by side
    the last slot becomes a "+N" for the rest; past MAX_DEPTH levels, a "+N" at the right edge."""
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


def _place_group(group: list[_Block], max_columns: int, placed: list[PlacedEntry], overflows: list[Overflow]):
    rows: list[list[_Block]] = []  # blocks starting together, side by side
    for block in group:
        row = rows[-1] if rows else None
        if row and block.top - row[0].top < SAME_START_MINUTES and block.top < max(other.bottom for other in row):
            row.append(block)
        else:
            rows.append([block])
    depths: list[int] = []
    for index, row in enumerate(rows):
        running = [depths[earlier] for earlier in range(index)
                   if any(other.bottom > row[0].top for other in rows[earlier])]
        depths.append(1 + max(running) if running else 0)
    deepest = min(max(depths), MAX_DEPTH - 1)
    step = (100 - MIN_WIDTH) / deepest if deepest else 0
    too_deep = []
    for row, depth in zip(rows, depths, strict=True):
        if depth >= MAX_DEPTH:
            too_deep.extend(row)
            continue
        left = depth * step
        slots = min(len(row), max_columns)
        width = (100 - left) / slots
        shown = row if len(row) <= max_columns else row[:max_columns - 1]
        for position, block in enumerate(shown):
            placed.append(PlacedEntry(
                entry=block.entry,
                top=block.top / MINUTES_PER_DAY * 100,
                height=(block.bottom - block.top) / MINUTES_PER_DAY * 100,
                left=left + position * width,
                width=width,
                starts_earlier=block.starts_earlier,
                ends_later=block.ends_later,
                minutes=block.bottom - block.top,
                depth=depth,
            ))
        if len(shown) < len(row):  # the last readable slot becomes "+N" for the rest
            overflows.append(_overflow(row[len(shown):], left + len(shown) * width, width))
    cluster: list[_Block] = []
    for block in too_deep:
        if cluster and block.top >= max(other.bottom for other in cluster):
            overflows.append(_overflow(cluster, MIN_WIDTH, 100 - MIN_WIDTH))
            cluster = []
        cluster.append(block)
    if cluster:
        overflows.append(_overflow(cluster, MIN_WIDTH, 100 - MIN_WIDTH))


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


def month_weeks(entries: list[Entry], days: list[date], month: int, zone: ZoneInfo, today: date) -> list[MonthWeek]:
    """Each week row of a month page: bars first (earliest, then longest), then each day's timed entries by time,
    each in the first lane free on all its days, as Google draws a month. A day shows MONTH_CELL_LIMIT lanes; what
    falls below them is counted in that day's "+N more"."""
    weeks = []
    for first in range(0, len(days), 7):
        budget.check()
        week_days = days[first:first + 7]
        candidates = []
        for entry in entries:
            start_day, last_day = entry.day_span(zone)
            if start_day > week_days[-1] or last_day < week_days[0]:
                continue
            column = (max(start_day, week_days[0]) - week_days[0]).days
            span = (min(last_day, week_days[-1]) - week_days[0]).days - column + 1
            is_bar = entry.spans_days or span > 1
            candidates.append(MonthItem(entry, column, span, -1, is_bar, start_day < week_days[0],
                                        last_day > week_days[-1]))
        candidates.sort(key=lambda item: (not item.is_bar, item.column, -item.span, item.entry.start,
                                          item.entry.title))
        lanes: list[set[int]] = []  # the columns taken in each lane
        shown, hidden = [], [0] * 7
        for item in candidates:
            needed = set(range(item.column, item.column + item.span))
            lane = next((index for index, taken in enumerate(lanes) if not taken & needed), len(lanes))
            if lane == len(lanes):
                lanes.append(set())
            lanes[lane] |= needed
            if lane < MONTH_CELL_LIMIT:
                shown.append(MonthItem(item.entry, item.column, item.span, lane, item.is_bar, item.starts_earlier,
                                       item.ends_later))
            else:
                for column in needed:
                    hidden[column] += 1
        cells = [MonthCell(day, day.month == month, day == today, hidden[index])
                 for index, day in enumerate(week_days)]
        weeks.append(MonthWeek(cells, shown))
    return weeks


def agenda_days(entries: list[Entry], days: list[date], zone: ZoneInfo, today: date) -> list[AgendaDay]:
    by_day = entries_by_day(entries, days, zone)
    return [AgendaDay(day, day == today, listed) for day, listed in by_day.items() if listed]
