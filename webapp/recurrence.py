"""Recurring series -> the occurrences a calendar view shows, and what a stored rule says. Pure functions, no DB.

A series is expanded in its own IANA zone, on wall-clock time, so a 09:00 New York meeting stays at 09:00
New York when DST starts (its UTC instant moves by an hour). All-day series are expanded on dates.
Rules are the stored RRULE/RDATE/EXDATE content lines (RFC 5545), newline-separated.
"""
from __future__ import annotations

import heapq
import logging
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from webapp import budget
from webapp.rrule import FREQUENCIES, MAX_TIMES_PER_DAY, Recurrence, RuleError, RuleTooDense, recurrence
from webapp.zones import is_iana_zone

log = logging.getLogger(__name__)

# Per expand() call: more than the widest view (six weeks) holds of a series at its densest (24 times a day), so
# no page is cut short, while what one series costs a read stays a few milliseconds whatever its rule.
MAX_OCCURRENCES = 1200
EXPANDABLE_FREQUENCIES = FREQUENCIES
# Slack on a series' stored end for zone and DST conversions of its last instance.
SERIES_END_SLACK = timedelta(days=1)
@dataclass(frozen=True)
class SeriesMaster:
    event_id: Hashable
    start_time: datetime  # aware UTC; all-day series at 00:00 UTC of the first day
    end_time: datetime  # exclusive
    is_all_day: bool
    timezone: str  # IANA name the series repeats in
    recurrence_rule: str | None  # RRULE/RDATE/EXDATE lines, newline-separated


@dataclass(frozen=True)
class Override:
    event_id: Hashable
    original_start_time: datetime  # aware UTC: the instance this replaces
    start_time: datetime
    end_time: datetime
    status: str = "CONFIRMED"  # CANCELLED removes the instance


@dataclass(frozen=True)
class Occurrence:
    master_id: Hashable
    override_id: Hashable | None
    start: datetime  # aware UTC
    end: datetime
    original_start: datetime


def expand(
    master: SeriesMaster, overrides: list[Override], window_start: datetime, window_end: datetime
) -> list[Occurrence]:
    """Occurrences overlapping [window_start, window_end): start < window_end and end > window_start."""
    budget.check()
    clock = _SeriesClock(master)
    rules = _RuleLines(master.recurrence_rule or "", clock)
    duration = master.end_time - master.start_time
    replaced = {clock.instance_key(override.original_start_time) for override in overrides}
    occurrences = []
    for start in clock.starts(rules, window_start - duration, window_end):
        if len(occurrences) % 256 == 255:
            budget.check()
        if clock.instance_key(start) in replaced:
            continue
        end = start + duration
        if start < window_end and end > window_start:
            occurrences.append(Occurrence(master.event_id, None, start, end, start))
        if len(occurrences) >= MAX_OCCURRENCES:
            log.warning("recurrence expansion capped at %d event_id=%s", MAX_OCCURRENCES, master.event_id)
            break
    # An override shows wherever it now is, even if its original instance lies outside the window, unless the
    # series has since excluded that instance (a newer version of the series lists it in EXDATE).
    occurrences += [
        Occurrence(master.event_id, override.event_id, override.start_time, override.end_time,
                   override.original_start_time)
        for override in overrides
        if override.status != "CANCELLED" and override.start_time < window_end and override.end_time > window_start
        and not rules.excludes(clock, override.original_start_time)
    ]
    occurrences.sort(key=lambda occurrence: (occurrence.start, occurrence.original_start))
    return occurrences[:MAX_OCCURRENCES]


def series_end(master: SeriesMaster) -> datetime | None:
    """When the series' last instance ends (aware UTC, with a day of slack), or None when it never ends.

    Stored with the master (calendar_events.series_until) so a window read skips series that ended before it.
    """
    clock = _SeriesClock(master)
    rules = _RuleLines(master.recurrence_rule or "", clock)
    last = clock.local_start
    for expansion in rules.expansions():
        if expansion is None:
            continue  # expanded as its first instance only
        rule_last = expansion.last()
        if rule_last is None:
            return None
        last = max(last, rule_last)
    last = max([last, *rules.rdates])
    try:
        return clock.to_utc(last) + (master.end_time - master.start_time) + SERIES_END_SLACK
    except OverflowError:
        return None  # its last instance ends past the year 9999: as good as never


def expansion_limit(master: SeriesMaster) -> str | None:
    """Why the series cannot be shown in full, in plain words that follow "Too many occurrences to show:" (None
    when it can): its rule repeats more often than a calendar can draw, or takes too long to work out."""
    clock = _SeriesClock(master)
    rules = _RuleLines(master.recurrence_rule or "", clock)
    expansions = rules.expansions()
    if rules.too_dense:
        return f"it repeats more than {MAX_TIMES_PER_DAY} times a day, so only its first occurrence is shown"
    if any(expansion is not None and expansion.is_cut_short for expansion in expansions):
        return "its repeat rule takes too long to work out, so it is shown as far as it was worked out"
    return None


def parse_rule_summary(recurrence_rule: str | None) -> dict:
    """The first RRULE's frequency (DAILY..YEARLY or None), interval, UNTIL (aware UTC) and COUNT."""
    parts = first_rule_parts(recurrence_rule)
    if parts is None:
        return {"frequency": None, "interval": None, "until": None, "count": None}
    frequency = parts.get("FREQ")
    until = parse_value(parts.get("UNTIL", ""), UTC)
    return {
        "frequency": frequency if frequency in EXPANDABLE_FREQUENCIES else None,
        "interval": int_part(parts.get("INTERVAL"), 1),
        "until": _as_utc(until) if until else None,
        "count": int_part(parts.get("COUNT"), None),
    }


# ---------------------------------------------------------------------------- expansion


class _SeriesClock:
    """Converts between UTC instants and the series' wall clock (naive local datetimes)."""

    def __init__(self, master: SeriesMaster):
        self.is_all_day = master.is_all_day
        # All-day series repeat on dates: a UTC wall clock at midnight is plain date arithmetic.
        self.zone = UTC if master.is_all_day else _zone(master.timezone)
        self.local_start = self.to_local(master.start_time)
        if self.is_all_day:
            self.local_start = datetime.combine(self.local_start.date(), time())

    def to_local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def to_utc(self, local: datetime) -> datetime:
        # fold=0: a time in the spring-forward gap moves forward, an ambiguous one takes its first meaning.
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def instance_key(self, instant: datetime) -> datetime | date:
        return instant.astimezone(UTC).date() if self.is_all_day else instant.astimezone(UTC)

    def starts(self, rules: _RuleLines, range_start: datetime, range_end: datetime) -> Iterator[datetime]:
        """UTC starts of the series' instances between roughly range_start and range_end (a day of slack), in
        order: DTSTART (always an instance), RDATEs and each rule's instances, merged as they come, so a caller that
        has enough stops the expansion there."""
        lower = self.to_local(range_start) - timedelta(days=1)
        upper = self.to_local(range_end) + timedelta(days=1)
        listed = sorted(moment for moment in {self.local_start, *rules.rdates} if lower <= moment <= upper)
        ruled = [expansion.between(lower, upper) for expansion in rules.expansions() if expansion is not None]
        previous = None
        for local in heapq.merge(listed, *ruled):
            if local != previous and not rules.excludes_local(local):
                yield self.to_utc(local)
            previous = local

    def local_until(self, value: str | None) -> datetime | None:
        until = parse_value(value or "", self.zone)
        if until is None:
            return None
        if isinstance(until, datetime):
            return self.to_local(until)
        # UNTIL is inclusive: a DATE bound on a timed series keeps that whole day.
        return datetime.combine(until, time() if self.is_all_day else time.max.replace(microsecond=0))


class _RuleLines:
    """RRULE values, RDATEs and EXDATEs of a stored rule, all on the series' wall clock."""

    def __init__(self, recurrence_rule: str, clock: _SeriesClock):
        self.rrules: list[str] = []
        self.rdates: list[datetime] = []
        self.excluded: set[datetime] = set()
        self.excluded_dates: set[date] = set()
        self.too_dense = False
        self._clock = clock
        for line in recurrence_rule.splitlines():
            name, params, value = _split_line(line)
            if name == "RRULE":
                self.rrules.append(value)
            elif name in ("RDATE", "EXDATE"):
                self._add_dates(name, params, value, clock)

    def expansions(self) -> list[Recurrence | None]:
        """Each RRULE ready to expand; None for one that is kept as its first instance only (unsupported,
        unparsable, or repeating more often than a calendar can show: `too_dense`)."""
        found = []
        for value in self.rrules:
            parts = _rule_parts(value)
            until = self._clock.local_until(parts.pop("UNTIL", None))
            text = ";".join(f"{key}={part}" for key, part in parts.items())
            try:
                found.append(recurrence(text, self._clock.local_start, until))
            except RuleTooDense:
                self.too_dense = True
                found.append(None)
            except RuleError as error:
                log.warning("ignoring unusable RRULE %r: %s", value[:200], error)
                found.append(None)
        return found

    def excludes(self, clock: _SeriesClock, instant: datetime) -> bool:
        return self.excludes_local(clock.to_local(instant))

    def excludes_local(self, local: datetime) -> bool:
        return local in self.excluded or local.date() in self.excluded_dates

    def _add_dates(self, name: str, params: dict[str, str], value: str, clock: _SeriesClock) -> None:
        zone = _zone(params["TZID"], clock.zone) if "TZID" in params else clock.zone
        for item in value.split(","):
            # A PERIOD ("start/end") counts from its start.
            moment = parse_value(item.split("/")[0], zone)
            if moment is None:
                log.warning("ignoring unparsable %s value %r", name, item)
            elif name == "RDATE":
                self.rdates.append(self._to_clock(moment, clock))
            elif not isinstance(moment, datetime):
                self.excluded_dates.add(moment)
            elif clock.is_all_day:
                self.excluded_dates.add(moment.date())  # the date as written, in its own zone
            else:
                self.excluded.add(clock.to_local(moment))

    @staticmethod
    def _to_clock(moment: datetime | date, clock: _SeriesClock) -> datetime:
        if not isinstance(moment, datetime):
            return datetime.combine(moment, clock.local_start.time())
        return datetime.combine(moment.date(), time()) if clock.is_all_day else clock.to_local(moment)


def _split_line(line: str) -> tuple[str, dict[str, str], str]:
    """"EXDATE;TZID=America/New_York:20240311T090000" -> ("EXDATE", {"TZID": ...}, "20240311T090000")."""
    head, _, value = line.strip().partition(":")
    name, *raw_params = head.split(";")
    params = {}
    for raw in raw_params:
        key, _, param_value = raw.partition("=")
        params[key.upper()] = param_value.strip('"')
    return name.upper(), params, value.strip()


def parse_value(value: str, zone: tzinfo) -> datetime | date | None:
    """A DATE, or a DATE-TIME made aware ("Z" is UTC, a floating time is read in `zone`); None if malformed."""
    value = value.strip()
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").date()
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zone)
    except ValueError:
        return None


def _zone(name: str, fallback: tzinfo = UTC) -> tzinfo:
    if is_iana_zone(name):
        return ZoneInfo(name)
    log.warning("unknown time zone %r; using %s", name, fallback)
    return fallback


def _as_utc(moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC)
    return datetime.combine(moment, time(), UTC)


def _rule_parts(rule: str) -> dict[str, str]:
    parts = {}
    for part in rule.split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            parts[key.strip().upper()] = value.strip()
    return parts


def first_rule_parts(recurrence_rule: str | None) -> dict[str, str] | None:
    for line in (recurrence_rule or "").splitlines():
        name, _, value = _split_line(line)
        if name == "RRULE":
            return _rule_parts(value)
    return None


def int_part(value: str | None, default: int | None) -> int | None:
    try:
        return int(value) if value else default
    except ValueError:
        return default
