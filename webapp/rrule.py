"""RFC 5545 RRULE values expanded with bounded work, whatever the rule says. Pure functions, no DB.

dateutil steps from one period to the next until it finds an instance, so a rule whose dates never occur
(`FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30`) walks every day to the year 9999, and a COUNT is counted instance by
instance from the first one. A rule is untrusted input (it arrives with anyone's invitation), so this module
expands rules in a way whose cost does not depend on what the rule says:

- Every BY-day part (BYMONTH, BYWEEKNO, BYYEARDAY, BYMONTHDAY, BYDAY) is a test of a single date. Whether a
  date passes depends only on its position in its year, and on the year's *shape* (leap or not, weekday of
  1 January, and for week numbers whether the neighbouring years are leap years). There are at most 56
  shapes, so a rule's matching days are computed at most 56 times, 366 tests each.
- Periods (a day, week, month or year, every INTERVAL of them from DTSTART) are walked a year at a time. What
  a year holds depends only on its shape and where the INTERVAL lattice falls in it, so it is computed once
  per such pair and then looked up: walking to the year 9999 is a few thousand lookups, and a COUNT is summed
  a year at a time rather than stepped instance by instance.
- More than MAX_TIMES_PER_DAY times a day (BYHOUR x BYMINUTE x BYSECOND) is refused before anything is
  expanded (`RuleTooDense`): no calendar series needs them, and they multiply every other cost.

Semantics follow dateutil, which most calendar software (and recurring-ical-events, our test oracle) shares:
ordinals of BYDAY count within the month (MONTHLY, or YEARLY with BYMONTH) or the year, and are ignored in
WEEKLY and DAILY rules; BY-parts the RFC only defines for some frequencies act as filters in the others;
BYSETPOS picks among a period's (day, time) pairs in order; the first weekly period starts on DTSTART's day.
One deliberate difference: `BYDAY=MO,2TU` means Mondays *and* second Tuesdays (RFC 5545); dateutil keeps only
days that are both.
"""
from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_TIMES_PER_DAY = 24
LAST_YEAR = date.max.year
_DAY = 86400


class RuleError(ValueError):
    """A rule this module cannot expand: unparsable, out of the RFC's ranges, or of an unsupported kind."""


class RuleTooDense(RuleError):
    """A rule with more instances a day than any calendar needs (sub-daily BY-lists)."""


@dataclass(frozen=True)
class Rule:
    """One RRULE value, checked against RFC 5545's ranges. Empty tuples are parts the rule leaves out."""

    frequency: str
    interval: int = 1
    count: int | None = None
    until: str | None = None  # as written: only the caller knows the series' zone to read it in
    months: tuple[int, ...] = ()
    week_numbers: tuple[int, ...] = ()
    year_days: tuple[int, ...] = ()
    month_days: tuple[int, ...] = ()
    weekdays: tuple[tuple[int, int], ...] = ()  # (weekday 0=Monday, ordinal; 0 = every such weekday)
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    seconds: tuple[int, ...] = ()
    set_positions: tuple[int, ...] = ()
    week_start: int = 0


_RANGES = {  # part: (attribute, lowest, highest, may be negative)
    "BYMONTH": ("months", 1, 12, False),
    "BYWEEKNO": ("week_numbers", 1, 53, True),
    "BYYEARDAY": ("year_days", 1, 366, True),
    "BYMONTHDAY": ("month_days", 1, 31, True),
    "BYHOUR": ("hours", 0, 23, False),
    "BYMINUTE": ("minutes", 0, 59, False),
    "BYSECOND": ("seconds", 0, 59, False),
    "BYSETPOS": ("set_positions", 1, 366, True),
}


def parse_rule(value: str) -> Rule:
    """An RRULE value ("FREQ=WEEKLY;BYDAY=MO,WE") as a Rule; RuleError when it is not one we can expand."""
    parts: dict[str, str] = {}
    for part in value.split(";"):
        name, _, text = part.partition("=")
        name = name.strip().upper()
        if not name or name.startswith("X-"):
            continue
        if name in parts:
            raise RuleError(f"{name} given twice")
        parts[name] = text.strip()
    frequency = parts.pop("FREQ", "").upper()
    if frequency not in FREQUENCIES:
        raise RuleError(f"unsupported frequency {frequency!r}")
    fields: dict = {"frequency": frequency}
    if "INTERVAL" in parts:
        fields["interval"] = _number(parts.pop("INTERVAL"), 1, None)
    if "COUNT" in parts:
        fields["count"] = _number(parts.pop("COUNT"), 1, None)
    if "UNTIL" in parts:
        fields["until"] = parts.pop("UNTIL")
    if "WKST" in parts:
        fields["week_start"] = _weekday(parts.pop("WKST"))
    if "BYDAY" in parts:
        fields["weekdays"] = tuple(sorted({_ordinal_weekday(item) for item in _items(parts.pop("BYDAY"))}))
    for name, (attribute, lowest, highest, signed) in _RANGES.items():
        if name in parts:
            values = {_number(item, lowest, highest, signed) for item in _items(parts.pop(name))}
            fields[attribute] = tuple(sorted(values))
    if parts:
        raise RuleError(f"unsupported parts {sorted(parts)}")
    return Rule(**fields)


def _items(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise RuleError("empty list item")
    return items


def _number(text: str, lowest: int, highest: int | None, signed: bool = False) -> int:
    if not text.lstrip("+-").isdigit() or len(text) > 12:
        raise RuleError(f"not a number: {text!r}")
    number = int(text)
    if not (lowest <= abs(number) if signed else lowest <= number) or (highest and abs(number) > highest):
        raise RuleError(f"out of range: {number}")
    if signed and number == 0:
        raise RuleError("zero is not a position")
    return number


def _weekday(text: str) -> int:
    try:
        return WEEKDAYS.index(text.upper())
    except ValueError:
        raise RuleError(f"not a weekday: {text!r}") from None


def _ordinal_weekday(text: str) -> tuple[int, int]:
    ordinal = text[:-2]
    return _weekday(text[-2:]), (_number(ordinal, 1, 53, signed=True) if ordinal else 0)


# ---------------------------------------------------------------------------- the shape of a year


def _year_length(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


@lru_cache(maxsize=512)
def _days_of(year_shape: tuple[bool, int]) -> tuple[tuple[int, int, int, int, int, int, int], ...]:
    """For each day of a year of this shape (leap, weekday of 1 January): month, day of month and day from the
    month's end (-1 = last), weekday, and the weekday's ordinal counted from the month's start and end and from
    the year's start and end."""
    leap, first_weekday = year_shape
    lengths = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    year_length = sum(lengths)
    days = []
    offset = 0
    for month, length in enumerate(lengths, start=1):
        for month_day in range(1, length + 1):
            weekday = (first_weekday + offset) % 7
            days.append((month, month_day, month_day - length - 1, weekday,
                         (month_day - 1) // 7 + 1, -((length - month_day) // 7 + 1),
                         offset // 7 + 1, -((year_length - 1 - offset) // 7 + 1)))
            offset += 1
    return tuple(days)


def _shape(year: int) -> tuple[bool, int]:
    return calendar.isleap(year), date(year, 1, 1).weekday()


def _first_week_start(year: int, week_start: int) -> int:
    """Ordinal of the first day of week 1 of `year`: the first week (from `week_start`) with four of its days in
    the year (RFC 5545, BYWEEKNO)."""
    january_first = date(year, 1, 1).toordinal()
    back = (date(year, 1, 1).weekday() - week_start) % 7
    return january_first - back if back <= 3 else january_first + 7 - back


# ---------------------------------------------------------------------------- expansion

# Years one read may step through (after skipping years the INTERVAL misses and repeating cycles): past it, the
# series is shown as far as it was computed and reported as cut short.
YEAR_STEPS = 2000


class Recurrence:
    """A rule from a first instance on a naive wall clock, ready to list its instances between two moments.

    Build through `recurrence()` so that what was learnt about a rule (its years, where a COUNT ends) is kept
    for the next read. Instances are the rule's own; DTSTART as an instance of the series is the caller's.
    `is_cut_short` says a read reached YEAR_STEPS: what follows the last instance found is not shown.
    """

    def __init__(self, rule: Rule, start: datetime, until: datetime | None):
        self.rule = rule
        self.start = start
        self.until = until
        self.frequency = rule.frequency
        self.interval = rule.interval
        weekdays = rule.weekdays
        month_days: tuple[int, ...] = rule.month_days
        months: tuple[int, ...] = rule.months
        if not (rule.week_numbers or rule.year_days or rule.month_days or weekdays):
            # A rule that names no day repeats on DTSTART's (RFC 5545: values not given are taken from DTSTART).
            if rule.frequency == "YEARLY":
                months, month_days = months or (start.month,), (start.day,)
            elif rule.frequency == "MONTHLY":
                month_days = (start.day,)
            elif rule.frequency == "WEEKLY":
                weekdays = ((start.weekday(), 0),)
        self._months = frozenset(months)
        self._month_days = frozenset(day for day in month_days if day > 0)
        self._month_days_from_end = frozenset(day for day in month_days if day < 0)
        ordinals_apply = rule.frequency in ("YEARLY", "MONTHLY")
        self._plain_weekdays = frozenset(day for day, ordinal in weekdays if ordinal == 0 or not ordinals_apply)
        self._nth_weekdays = frozenset((day, n) for day, n in weekdays if n and ordinals_apply)
        self._nth_in_month = rule.frequency == "MONTHLY" or bool(rule.months)
        hours, minutes, seconds = rule.hours or (start.hour,), rule.minutes or (start.minute,), \
            rule.seconds or (start.second,)
        if len(hours) * len(minutes) * len(seconds) > MAX_TIMES_PER_DAY:
            raise RuleTooDense(f"{len(hours) * len(minutes) * len(seconds)} times a day")
        self._times = tuple(sorted(hour * 3600 + minute * 60 + second
                                   for hour in hours for minute in minutes for second in seconds))
        self._daily_times = tuple(_picked(list(self._times), rule.set_positions))
        self._start_ordinal = start.toordinal()
        self._start_seconds = start.hour * 3600 + start.minute * 60 + start.second
        self._start_week = self._start_ordinal - (start.weekday() - rule.week_start) % 7
        self._start_month = start.year * 12 + start.month - 1
        self._matching: dict[tuple, frozenset[int]] = {}
        self._years: dict[tuple, tuple[int, ...]] = {}
        self.is_cut_short = False
        # Dates that can never occur (30 February) are known before any year is walked.
        self._has_days = (any(self._matching_days(year) for year in _representative_years(bool(rule.week_numbers)))
                          and (rule.frequency != "DAILY" or bool(self._daily_times)))
        self._last: datetime | None = start  # a rule whose days never come has no instance after DTSTART
        if self._has_days:
            self._last = self._find_last() if rule.count is not None or until is not None else None

    # -- public reads

    def between(self, lower: datetime, upper: datetime) -> Iterator[datetime]:
        """The instances from `lower` to `upper` (both included), in order."""
        if not self._has_days:
            return
        upper = min(upper, self.until or upper, self._last or upper)
        year = self._next_year(max(self.start.year, lower.year - 1))
        for _ in range(YEAR_STEPS):
            if year > min(upper.year, LAST_YEAR):
                return
            january_first = datetime(year, 1, 1)
            seconds = self._instances(year)
            low = bisect_left(seconds, (lower - january_first).total_seconds())
            high = bisect_right(seconds, (upper - january_first).total_seconds())
            for offset in seconds[low:high]:
                yield january_first + timedelta(seconds=offset)
            year = self._next_year(year + 1)
        self.is_cut_short = True

    def last(self) -> datetime | None:
        """The last instance (or a moment not before it); None when the rule goes on to the year 9999."""
        return self._last or self.until

    # -- years

    def _next_year(self, year: int) -> int:
        """The first year from `year` in which a period on the INTERVAL lattice starts (LAST_YEAR + 1: none)."""
        interval = self.interval
        if year > LAST_YEAR:
            return year
        if self.frequency == "YEARLY":
            return self.start.year + -(-(year - self.start.year) // interval) * interval
        if self.frequency == "MONTHLY":
            month = self._start_month + -(-(year * 12 - self._start_month) // interval) * interval
            return month // 12
        first_day, step = (self._start_week, 7 * interval) if self.frequency == "WEEKLY" else \
            (self._start_ordinal, interval)
        ordinal = first_day + -(-(_january_first(year) - first_day) // step) * step
        return date.fromordinal(ordinal).year if ordinal <= _LAST_ORDINAL else LAST_YEAR + 1

    def _previous_year(self, year: int) -> int:
        """The last year up to `year` in which a period on the INTERVAL lattice starts (below DTSTART's: none)."""
        interval = self.interval
        if year < self.start.year:
            return year
        if self.frequency == "YEARLY":
            return self.start.year + (year - self.start.year) // interval * interval
        if self.frequency == "MONTHLY":
            return (self._start_month + (year * 12 + 11 - self._start_month) // interval * interval) // 12
        first_day, step = (self._start_week, 7 * interval) if self.frequency == "WEEKLY" else \
            (self._start_ordinal, interval)
        ordinal = first_day + (_january_first(year + 1) - 1 - first_day) // step * step
        return date.fromordinal(ordinal).year

    def _phase(self, year: int) -> int:
        """Where the INTERVAL lattice stands at the start of `year`."""
        interval = self.interval
        if self.frequency == "YEARLY":
            return (year - self.start.year) % interval
        if self.frequency == "MONTHLY":
            return (year * 12 - self._start_month) % interval
        if self.frequency == "WEEKLY":
            return -(-(_january_first(year) - self._start_week) // 7) % interval
        return (_january_first(year) - self._start_ordinal) % interval

    def _instances(self, year: int) -> tuple[int, ...]:
        """Instances of the periods that start in `year`, as seconds from its 1 January (a week that starts in
        December runs on into January), in order; COUNT and UNTIL are the caller's."""
        if year == self.start.year:
            return self._compute_year(year)  # the first year has DTSTART to honour, so it is not shared
        key = (self._shape_key(year), self._shape_key(year + 1) if self.frequency == "WEEKLY" else None,
               self._phase(year))
        found = self._years.get(key)
        if found is None:
            found = self._years[key] = self._compute_year(year)
        return found

    def _shape_key(self, year: int) -> tuple:
        if year > LAST_YEAR:
            return ()
        if not self.rule.week_numbers:
            return _shape(year)
        # Week numbers reach into the neighbouring years (week 1 may start in December, the last week end in
        # January): their lengths matter too.
        return (*_shape(year), year > 1 and calendar.isleap(year - 1), year < LAST_YEAR and calendar.isleap(year + 1))

    def _compute_year(self, year: int) -> tuple[int, ...]:
        january_first = _january_first(year)
        matching = self._matching_days(year)
        if self.frequency == "DAILY":
            # A day is its own period: BYSETPOS picks among its times, the same ones every day.
            first = january_first + (self._start_ordinal - january_first) % self.interval
            days = [ordinal - january_first for ordinal in range(max(first, self._start_ordinal),
                                                                 january_first + _year_length(year), self.interval)
                    if ordinal - january_first in matching]
            found = [day * _DAY + time for day in days for time in self._daily_times]
        else:
            next_year = january_first + _year_length(year)
            following = self._matching_days(year + 1) if self.frequency == "WEEKLY" else frozenset()
            found = []
            for period in self._periods(year):
                days = [ordinal - january_first for ordinal in period
                        if (ordinal - january_first in matching if ordinal < next_year
                            else ordinal - next_year in following)]
                if days:
                    found += _picked([day * _DAY + time for day in days for time in self._times],
                                     self.rule.set_positions)
        if year == self.start.year:
            first_instance = (self._start_ordinal - january_first) * _DAY + self._start_seconds
            found = [offset for offset in found if offset >= first_instance]
        return tuple(found)

    def _periods(self, year: int) -> Iterator[range]:
        """Day ordinals of each weekly, monthly or yearly period on the lattice that starts in `year`."""
        january_first = _january_first(year)
        next_year = january_first + _year_length(year)
        interval = self.interval
        if self.frequency == "YEARLY":
            yield range(january_first, next_year)
        elif self.frequency == "MONTHLY":
            for month in range(1, 13):
                if (year * 12 + month - 1 - self._start_month) % interval == 0:
                    first = date(year, month, 1).toordinal()
                    yield range(first, first + calendar.monthrange(year, month)[1])
        else:
            week = self._start_week + -(-(january_first - self._start_week) // (7 * interval)) * 7 * interval
            if year == self.start.year:
                # The first period runs from DTSTART's own day to the week's end, as in dateutil (BYSETPOS counts
                # from there), even when its week began in December.
                yield range(self._start_ordinal, self._start_week + 7)
                week = self._start_week + 7 * interval
            for first in range(week, next_year, 7 * interval):
                yield range(first, min(first + 7, _LAST_ORDINAL + 1))

    # -- days

    def _matching_days(self, year: int) -> frozenset[int]:
        """Offsets (0 = 1 January) of the days of `year` that pass every BY-day part."""
        if year > LAST_YEAR:
            return frozenset()
        key = self._shape_key(year)
        found = self._matching.get(key)
        if found is None:
            found = self._matching[key] = frozenset(self._compute_matching_days(year))
        return found

    def _compute_matching_days(self, year: int) -> Iterator[int]:
        months, month_days, from_end = self._months, self._month_days, self._month_days_from_end
        plain, nth, nth_in_month = self._plain_weekdays, self._nth_weekdays, self._nth_in_month
        year_length = _year_length(year)
        year_days = frozenset(day if day > 0 else year_length + 1 + day for day in self.rule.year_days)
        weeks = self._week_numbers(year) if self.rule.week_numbers else None
        for offset, (month, month_day, month_day_back, weekday, nth_m, nth_m_back, nth_y, nth_y_back) in enumerate(
                _days_of(_shape(year))):
            if months and month not in months:
                continue
            if (month_days or from_end) and month_day not in month_days and month_day_back not in from_end:
                continue
            if year_days and offset + 1 not in year_days:
                continue
            if weeks is not None and offset not in weeks:
                continue
            if (plain or nth) and weekday not in plain:
                forward, back = (nth_m, nth_m_back) if nth_in_month else (nth_y, nth_y_back)
                if (weekday, forward) not in nth and (weekday, back) not in nth:
                    continue
            yield offset

    def _week_numbers(self, year: int) -> frozenset[int]:
        """Offsets of the days of `year` whose week (numbered in its own week-numbering year) is in BYWEEKNO."""
        week_start = self.rule.week_start
        january_first = _january_first(year)
        year_length = _year_length(year)
        offsets = set()
        for week_year in range(max(year - 1, 1), min(year + 1, LAST_YEAR - 1) + 1):
            first = _first_week_start(week_year, week_start)
            weeks = (_first_week_start(week_year + 1, week_start) - first) // 7
            for number in self.rule.week_numbers:
                number = number if number > 0 else weeks + 1 + number
                if 1 <= number <= weeks:
                    begin = first + (number - 1) * 7 - january_first
                    offsets.update(offset for offset in range(begin, begin + 7) if 0 <= offset < year_length)
        return frozenset(offsets)

    # -- where the series ends

    def _find_last(self) -> datetime | None:
        """The COUNT-th instance, or the last one up to UNTIL; None when the series goes on to the year 9999."""
        last = None
        if self.rule.count is not None and self.rule.count <= self._most_instances():
            last = self._counted_last()
        if self.until is not None and (last is None or last > self.until):
            last = self._last_until(self.until)
        return last

    def _most_instances(self) -> int:
        """More instances than the rule can have before the year 10000: a COUNT above it never ends the series."""
        interval = self.interval
        periods, days = {
            "YEARLY": ((LAST_YEAR - self.start.year) // interval + 1, 366),
            "MONTHLY": ((LAST_YEAR * 12 + 11 - self._start_month) // interval + 1, 31),
            "WEEKLY": ((_LAST_ORDINAL - self._start_week) // (7 * interval) + 1, 7),
            "DAILY": ((_LAST_ORDINAL - self._start_ordinal) // interval + 1, 1),
        }[self.frequency]
        per_period = len(self.rule.set_positions) if self.rule.set_positions else days * len(self._times)
        return periods * min(per_period, days * len(self._times))

    def _counted_last(self) -> datetime | None:
        """Sums the instances a year at a time. From the second year, a year's instances depend only on its place
        in the 400-year Gregorian cycle and the lattice's phase: when that pair comes round again the walk has
        found a cycle, and skips whole cycles (or stops, if the cycle holds no instance)."""
        remaining = self.rule.count
        seen: dict[tuple[int, int], tuple[int, int]] = {}
        last_found = self.start
        year = self._next_year(self.start.year)
        for _ in range(YEAR_STEPS):
            if year > LAST_YEAR:
                return None
            if year > self.start.year:
                state = (year % 400, self._phase(year))
                if state in seen:
                    cycle_start, remaining_then = seen.pop(state)
                    per_cycle = remaining_then - remaining
                    if per_cycle == 0:
                        return last_found  # a whole cycle without an instance: there are no more
                    cycles = (remaining - 1) // per_cycle
                    if cycles:
                        year += cycles * (year - cycle_start)
                        remaining -= cycles * per_cycle
                        seen.clear()
                        continue
                seen[state] = (year, remaining)
            seconds = self._instances(year)
            if len(seconds) >= remaining:
                return datetime(year, 1, 1) + timedelta(seconds=seconds[remaining - 1])
            if seconds:
                last_found = datetime(year, 1, 1) + timedelta(seconds=seconds[-1])
            remaining -= len(seconds)
            year = self._next_year(year + 1)
        self.is_cut_short = True
        return last_found

    def _last_until(self, until: datetime) -> datetime | None:
        """The last instance up to UNTIL (DTSTART when there is none), walking back a year at a time; None when
        the walk was cut short."""
        year = self._previous_year(min(until.year, LAST_YEAR))
        for _ in range(YEAR_STEPS):
            if year < self.start.year:
                return self.start
            january_first = datetime(year, 1, 1)
            seconds = self._instances(year)
            high = bisect_right(seconds, (until - january_first).total_seconds())
            if high:
                return january_first + timedelta(seconds=seconds[high - 1])
            year = self._previous_year(year - 1)
        self.is_cut_short = True
        return None

_LAST_ORDINAL = date.max.toordinal()


def _picked(candidates: list[int], positions: tuple[int, ...]) -> list[int]:
    """BYSETPOS: the candidates (in order) at these positions, 1 the first and -1 the last; all without it."""
    if not positions:
        return candidates
    return sorted({candidates[position - 1 if position > 0 else position] for position in positions
                   if -len(candidates) <= position <= len(candidates)})


def _january_first(year: int) -> int:
    previous = year - 1
    return previous * 365 + previous // 4 - previous // 100 + previous // 400 + 1


@lru_cache(maxsize=2)
def _representative_years(with_neighbours: bool) -> tuple[int, ...]:
    """One year of each shape the Gregorian calendar has (with its neighbours' lengths, for week numbers)."""
    shapes: dict[tuple, int] = {}
    for year in range(2001, 2401):
        shape = _shape(year)
        if with_neighbours:
            shape = (*shape, calendar.isleap(year - 1), calendar.isleap(year + 1))
        shapes.setdefault(shape, year)
    return tuple(shapes.values())


@lru_cache(maxsize=4096)
def recurrence(value: str, start: datetime, until: datetime | None) -> Recurrence:
    """The expansion of an RRULE value from `start` (naive wall clock) to `until`, built once and kept: reads
    of the same series share what earlier reads computed. RuleError when the rule cannot be expanded."""
    return Recurrence(parse_rule(value), start, until)
