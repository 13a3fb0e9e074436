"""Double bookings: timed, busy events on different calendars whose times overlap. Pure functions over entries.

All-day events and anything a day or longer (drawn in the all-day row) never count, nor do events that leave the
time free, that the user does not attend (declined, or an invitation not answered yet) or deleted (still shown
until the provider confirms), nor pairs the user asked not to flag; cancelled ones are not on the page at all.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from webapp.calendar.entries import Entry


@dataclass(frozen=True)
class Overlaps:
    pairs: tuple[tuple[Entry, Entry], ...]  # earlier-starting entry first
    others: dict[Entry, tuple[Entry, ...]] = field(default_factory=dict)

    def of(self, entry: Entry) -> tuple[Entry, ...]:
        """The entries this one is double-booked with."""
        return self.others.get(entry, ())

    def count_between(self, first_day: date, last_day: date, zone: ZoneInfo) -> int:
        """Double bookings whose overlap begins on these days (in `zone`)."""
        return sum(1 for first, second in self.pairs
                   if first_day <= max(first.start, second.start).astimezone(zone).date() <= last_day)


def can_overlap(entry: Entry) -> bool:
    return (not entry.is_all_day and not entry.is_being_deleted
            and timedelta(0) < entry.end - entry.start < timedelta(days=1))


def find_overlaps(entries: list[Entry], blocks_time: Callable[[Entry], bool],
                  calendars_of: Callable[[Entry], frozenset] | None = None,
                  is_exempt: Callable[[Entry, Entry], bool] | None = None) -> Overlaps:
    """`calendars_of` gives the calendars an entry is on (several for an invitation shown once): two entries
    overlap across calendars unless they are on the same ones, each of which then already shows both.
    `is_exempt`: pairs the user asked not to flag ("don't flag this series")."""
    calendars_of = calendars_of or (lambda entry: frozenset((entry.calendar.id,)))
    is_exempt = is_exempt or (lambda first, second: False)
    candidates = sorted((entry for entry in entries if can_overlap(entry) and blocks_time(entry)),
                        key=lambda entry: (entry.start, entry.end))
    pairs: list[tuple[Entry, Entry]] = []
    running: list[Entry] = []
    for entry in candidates:
        running = [earlier for earlier in running if earlier.end > entry.start]
        pairs += [(earlier, entry) for earlier in running
                  if calendars_of(earlier) != calendars_of(entry) and not is_exempt(earlier, entry)]
        running.append(entry)
    others: dict[Entry, list[Entry]] = {}
    for first, second in pairs:
        others.setdefault(first, []).append(second)
        others.setdefault(second, []).append(first)
    return Overlaps(tuple(pairs), {entry: tuple(listed) for entry, listed in others.items()})
