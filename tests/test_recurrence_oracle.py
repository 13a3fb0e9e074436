"""Our series expansion (webapp.recurrence) against an independent one: recurring-ical-events reading the same
series written out as iCalendar. Both must show the same occurrences, at the same instants, in the same window."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from webapp.recurrence import Override, SeriesMaster, expand


@dataclass(frozen=True)
class Case:
    start: datetime | date  # wall clock in `zone` (a date for an all-day series)
    rule: str  # RRULE/RDATE/EXDATE lines as we store them
    window: tuple[date, date]
    zone: str = "UTC"
    length: timedelta = timedelta(hours=1)
    # (original start, new start or None for a cancelled instance), wall clock in `zone`
    overrides: tuple[tuple[datetime, datetime | None], ...] = field(default_factory=tuple)


CASES = {
    "weekly three days across the spring DST change": Case(
        datetime(2026, 2, 23, 9), "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR", (date(2026, 2, 20), date(2026, 4, 1)),
        zone="America/New_York"),
    "daily with a count and two excluded days across the autumn DST change": Case(
        datetime(2026, 10, 20, 8, 30), "RRULE:FREQ=DAILY;COUNT=10\nEXDATE;TZID=Europe/Berlin:20261023T083000,"
        "20261026T083000", (date(2026, 10, 1), date(2026, 11, 15)), zone="Europe/Berlin"),
    "the 31st of every month skips the short months": Case(
        datetime(2026, 1, 31, 18), "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20261231T235959Z",
        (date(2026, 1, 1), date(2027, 2, 1)), zone="Europe/London", length=timedelta(minutes=45)),
    "the last Friday of the month": Case(
        datetime(2026, 1, 30, 16), "RRULE:FREQ=MONTHLY;BYDAY=-1FR", (date(2026, 3, 15), date(2026, 9, 1)),
        zone="Australia/Sydney"),
    "every other week on Tuesday and Sunday with the week starting on Sunday": Case(
        datetime(2026, 3, 3, 7), "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU",
        (date(2026, 3, 1), date(2026, 5, 1)), zone="Asia/Kolkata"),
    "extra dates beside the rule": Case(
        datetime(2026, 5, 4, 12), "RRULE:FREQ=WEEKLY;COUNT=4\nRDATE;TZID=America/Chicago:20260507T150000,"
        "20260601T120000", (date(2026, 5, 1), date(2026, 7, 1)), zone="America/Chicago"),
    "29 February in leap years only": Case(
        datetime(2024, 2, 29, 10), "RRULE:FREQ=YEARLY;COUNT=3", (date(2024, 1, 1), date(2033, 1, 1))),
    "an UNTIL in UTC ends a series that runs on local time": Case(
        datetime(2026, 3, 26, 23, 30), "RRULE:FREQ=DAILY;UNTIL=20260329T213000Z", (date(2026, 3, 20), date(2026, 4, 5)),
        zone="Europe/Berlin"),
    "a moved and a cancelled instance": Case(
        datetime(2026, 6, 1, 10), "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6", (date(2026, 5, 25), date(2026, 7, 20)),
        zone="America/Los_Angeles",
        overrides=((datetime(2026, 6, 8, 10), datetime(2026, 6, 9, 14)), (datetime(2026, 6, 22, 10), None))),
    "an all-day weekly series with an excluded day": Case(
        date(2026, 4, 6), "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20260514\nEXDATE;VALUE=DATE:20260416",
        (date(2026, 4, 1), date(2026, 6, 1)), length=timedelta(days=1)),
    "an override moved before the series' first instance": Case(
        datetime(2026, 2, 20, 10), "RRULE:FREQ=MONTHLY;UNTIL=20260420T235959Z;BYMONTHDAY=20",
        (date(2026, 2, 9), date(2026, 2, 16)), zone="Europe/Berlin",
        overrides=((datetime(2026, 2, 20, 10), datetime(2026, 2, 13, 10)),)),
    "an override moved after the series' last instance": Case(
        datetime(2026, 3, 2, 9), "RRULE:FREQ=WEEKLY;COUNT=2", (date(2026, 3, 23), date(2026, 3, 30)),
        overrides=((datetime(2026, 3, 9, 9), datetime(2026, 3, 25, 9)),)),
    "an override of an instance a newer version of the series excludes": Case(
        datetime(2026, 3, 9, 9), "RRULE:FREQ=DAILY;COUNT=5\nEXDATE:20260311T090000Z",
        (date(2026, 3, 9), date(2026, 3, 16)),
        overrides=((datetime(2026, 3, 11, 9), datetime(2026, 3, 11, 15)),)),
    "an all-day three-day event every month": Case(
        date(2026, 1, 15), "RRULE:FREQ=MONTHLY;COUNT=5", (date(2026, 2, 16), date(2026, 5, 16)),
        length=timedelta(days=3)),
}


def ical_value(moment: datetime | date) -> str:
    return moment.strftime("%Y%m%dT%H%M%S") if isinstance(moment, datetime) else moment.strftime("%Y%m%d")


def as_ical(case: Case) -> icalendar.Calendar:
    """The series as a provider would send it: the master with its rule lines, then one component per override."""
    def when(name: str, moment: datetime | date) -> str:
        if isinstance(moment, datetime):
            return f"{name};TZID={case.zone}:{ical_value(moment)}"
        return f"{name};VALUE=DATE:{ical_value(moment)}"

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Almanac tests//EN", "BEGIN:VEVENT", "UID:series@test",
             "DTSTAMP:20260101T000000Z", when("DTSTART", case.start), when("DTEND", case.start + case.length),
             *case.rule.splitlines(), "END:VEVENT"]
    for original, moved in case.overrides:
        lines += ["BEGIN:VEVENT", "UID:series@test", "DTSTAMP:20260101T000000Z", when("RECURRENCE-ID", original)]
        if moved is None:
            lines += [when("DTSTART", original), when("DTEND", original + case.length), "STATUS:CANCELLED"]
        else:
            lines += [when("DTSTART", moved), when("DTEND", moved + case.length)]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return icalendar.Calendar.from_ical("\r\n".join(lines) + "\r\n")


def instant(case: Case, moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=ZoneInfo(case.zone)).astimezone(UTC)
    return datetime.combine(moment, time(), UTC)


def window(case: Case) -> tuple[datetime, datetime]:
    return instant(case, case.window[0]), instant(case, case.window[1])


def ours(case: Case) -> list[tuple[datetime, datetime]]:
    start = instant(case, case.start)
    master = SeriesMaster("series", start, start + case.length, not isinstance(case.start, datetime), case.zone,
                          case.rule)
    overrides = [Override(f"override-{index}", instant(case, original), instant(case, moved or original),
                          instant(case, moved or original) + case.length, "CONFIRMED" if moved else "CANCELLED")
                 for index, (original, moved) in enumerate(case.overrides)]
    return [(found.start, found.end) for found in expand(master, overrides, *window(case))]


def oracle(case: Case) -> list[tuple[datetime, datetime]]:
    found = []
    for component in recurring_ical_events.of(as_ical(case)).between(*window(case)):
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        start, end = component["DTSTART"].dt, component["DTEND"].dt
        if isinstance(start, datetime):
            found.append((start.astimezone(UTC), end.astimezone(UTC)))
        else:
            found.append((instant(case, start), instant(case, end)))
    return sorted(found)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_expansion_matches_an_independent_implementation(case):
    expected = oracle(case)
    assert expected, "the window should hold some occurrences"
    assert ours(case) == expected


def test_the_comparison_notices_a_difference():
    # Same series, one EXDATE dropped from our copy only: the oracle must disagree.
    case = CASES["daily with a count and two excluded days across the autumn DST change"]
    trimmed = Case(case.start, "RRULE:FREQ=DAILY;COUNT=10\nEXDATE;TZID=Europe/Berlin:20261023T083000", case.window,
                   zone=case.zone)
    extra = set(ours(trimmed)) - set(oracle(case))
    assert [start.astimezone(ZoneInfo(case.zone)).date() for start, _ in extra] == [date(2026, 10, 26)]
