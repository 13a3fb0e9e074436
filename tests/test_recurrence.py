from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import utc
from webapp.calendar.display import describe
from webapp.recurrence import (
    MAX_OCCURRENCES,
    Occurrence,
    Override,
    SeriesMaster,
    expand,
    parse_rule_summary,
)

NEW_YORK = ZoneInfo("America/New_York")



def series(start: datetime, rule: str | None, *, minutes: int = 60, zone: str = "America/New_York") -> SeriesMaster:
    start = start.astimezone(UTC)
    return SeriesMaster("m", start, start + timedelta(minutes=minutes), False, zone, rule)


def all_day_series(first_day: date, rule: str | None, days: int = 1) -> SeriesMaster:
    start = datetime.combine(first_day, datetime.min.time(), UTC)
    return SeriesMaster("m", start, start + timedelta(days=days), True, "UTC", rule)


def starts(occurrences: list[Occurrence]) -> list[datetime]:
    return [occurrence.start for occurrence in occurrences]


def test_new_york_weekly_meeting_keeps_wall_time_when_dst_starts():
    master = series(datetime(2024, 3, 4, 9, tzinfo=NEW_YORK), "RRULE:FREQ=WEEKLY;BYDAY=MO")

    found = expand(master, [], utc(2024, 3, 1), utc(2024, 3, 20))

    assert starts(found) == [utc(2024, 3, 4, 14), utc(2024, 3, 11, 13), utc(2024, 3, 18, 13)]
    assert all(o.end - o.start == timedelta(hours=1) for o in found)
    assert {o.start.astimezone(NEW_YORK).hour for o in found} == {9}


def test_new_york_weekly_meeting_keeps_wall_time_when_dst_ends():
    master = series(datetime(2024, 10, 21, 9, tzinfo=NEW_YORK), "RRULE:FREQ=WEEKLY")

    found = expand(master, [], utc(2024, 10, 27), utc(2024, 11, 12))

    assert starts(found) == [utc(2024, 10, 28, 13), utc(2024, 11, 4, 14), utc(2024, 11, 11, 14)]


def test_berlin_spring_forward_shifts_utc_and_resolves_the_missing_hour():
    berlin = ZoneInfo("Europe/Berlin")
    master = series(datetime(2024, 3, 29, 2, 30, tzinfo=berlin), "RRULE:FREQ=DAILY;COUNT=4", zone="Europe/Berlin")

    found = expand(master, [], utc(2024, 3, 1), utc(2024, 5, 1))

    # 31 March 02:30 does not exist in Berlin; RFC 5545 reads it with the offset before the gap (03:30 CEST).
    assert starts(found) == [utc(2024, 3, 29, 1, 30), utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30),
                             utc(2024, 4, 1, 0, 30)]
    assert found[2].start.astimezone(berlin).hour == 3


@pytest.mark.parametrize("exdate", [
    "EXDATE;TZID=America/New_York:20240311T090000",
    "EXDATE:20240311T130000Z",
    "EXDATE;TZID=Europe/London:20240311T130000",
    "EXDATE;VALUE=DATE:20240311",
])
def test_exdate_excludes_whatever_zone_or_value_type_it_is_written_in(exdate):
    master = series(datetime(2024, 3, 4, 9, tzinfo=NEW_YORK), f"RRULE:FREQ=WEEKLY;COUNT=3\n{exdate}")

    found = expand(master, [], utc(2024, 1, 1), utc(2025, 1, 1))

    assert starts(found) == [utc(2024, 3, 4, 14), utc(2024, 3, 18, 13)]


def test_exdate_list_on_one_line_and_rdate_adds_an_instance():
    rule = ("RRULE:FREQ=DAILY;COUNT=5\nEXDATE;TZID=America/New_York:20240102T090000,20240104T090000\n"
            "RDATE;TZID=America/New_York:20240110T150000")
    master = series(datetime(2024, 1, 1, 9, tzinfo=NEW_YORK), rule)

    found = expand(master, [], utc(2024, 1, 1), utc(2024, 2, 1))

    assert [o.start.astimezone(NEW_YORK).day for o in found] == [1, 3, 5, 10]
    assert found[-1].start == utc(2024, 1, 10, 20)


def test_count_counts_dtstart_and_until_is_inclusive():
    start = datetime(2024, 3, 4, 9, tzinfo=NEW_YORK)
    counted = expand(series(start, "RRULE:FREQ=WEEKLY;COUNT=3"), [], utc(2024, 1, 1), utc(2025, 1, 1))
    until = expand(series(start, "RRULE:FREQ=WEEKLY;UNTIL=20240318T130000Z"), [], utc(2024, 1, 1), utc(2025, 1, 1))

    assert starts(counted) == [utc(2024, 3, 4, 14), utc(2024, 3, 11, 13), utc(2024, 3, 18, 13)]
    assert starts(until) == starts(counted)


def test_until_as_a_date_keeps_that_whole_day():
    master = series(datetime(2024, 3, 4, 9, tzinfo=NEW_YORK), "RRULE:FREQ=DAILY;UNTIL=20240306")

    assert len(expand(master, [], utc(2024, 1, 1), utc(2025, 1, 1))) == 3


def test_override_moved_into_the_window_from_outside_appears_once():
    master = series(datetime(2024, 3, 4, 9, tzinfo=NEW_YORK), "RRULE:FREQ=WEEKLY;COUNT=4")
    moved = Override("o1", utc(2024, 3, 25, 13), utc(2024, 3, 13, 17), utc(2024, 3, 13, 18))

    found = expand(master, [moved], utc(2024, 3, 10), utc(2024, 3, 17))

    assert [(o.start, o.override_id) for o in found] == [(utc(2024, 3, 11, 13), None), (utc(2024, 3, 13, 17), "o1")]
    assert found[1].original_start == utc(2024, 3, 25, 13)
    assert found[1].master_id == "m"


def test_override_moved_out_of_the_window_hides_its_original_instance():
    master = series(datetime(2024, 3, 4, 9, tzinfo=NEW_YORK), "RRULE:FREQ=WEEKLY;COUNT=4")
    moved = Override("o1", utc(2024, 3, 11, 13), utc(2024, 4, 30, 13), utc(2024, 4, 30, 14))

    assert expand(master, [moved], utc(2024, 3, 10), utc(2024, 3, 17)) == []


def test_cancelled_override_removes_the_instance():
    master = series(datetime(2024, 3, 4, 9, tzinfo=NEW_YORK), "RRULE:FREQ=WEEKLY;COUNT=3")
    cancelled = Override("o1", utc(2024, 3, 11, 13), utc(2024, 3, 11, 13), utc(2024, 3, 11, 14), "CANCELLED")

    found = expand(master, [cancelled], utc(2024, 1, 1), utc(2025, 1, 1))

    assert starts(found) == [utc(2024, 3, 4, 14), utc(2024, 3, 18, 13)]


def test_all_day_yearly_series_expands_by_date():
    master = all_day_series(date(2020, 7, 4), "RRULE:FREQ=YEARLY")

    found = expand(master, [], utc(2024, 1, 1), utc(2026, 1, 1))

    assert [(o.start, o.end) for o in found] == [(utc(2024, 7, 4), utc(2024, 7, 5)), (utc(2025, 7, 4), utc(2025, 7, 5))]


def test_all_day_leap_day_series_only_occurs_in_leap_years_and_honours_date_exdates():
    master = all_day_series(date(2016, 2, 29), "RRULE:FREQ=YEARLY\nEXDATE;VALUE=DATE:20200229")

    found = expand(master, [], utc(2016, 1, 1), utc(2029, 1, 1))

    assert starts(found) == [utc(2016, 2, 29), utc(2024, 2, 29), utc(2028, 2, 29)]


def test_all_day_override_matches_by_date():
    master = all_day_series(date(2024, 5, 6), "RRULE:FREQ=WEEKLY;COUNT=3")
    moved = Override("o1", utc(2024, 5, 13), utc(2024, 5, 15), utc(2024, 5, 16))

    found = expand(master, [moved], utc(2024, 5, 1), utc(2024, 6, 1))

    assert [(o.start, o.override_id) for o in found] == [
        (utc(2024, 5, 6), None), (utc(2024, 5, 15), "o1"), (utc(2024, 5, 20), None)]


def test_window_overlap_is_half_open_and_long_events_that_started_before_count():
    master = series(datetime(2024, 3, 4, 9, tzinfo=NEW_YORK), "RRULE:FREQ=DAILY", minutes=24 * 60 * 3)

    found = expand(master, [], utc(2024, 3, 10, 14), utc(2024, 3, 11, 13))

    # 7 March's instance ends exactly at window start and 11 March's starts exactly at window end: both out.
    assert starts(found) == [utc(2024, 3, 8, 14), utc(2024, 3, 9, 14), utc(2024, 3, 10, 13)]


def test_single_event_without_rule():
    master = series(utc(2024, 3, 4, 14), None)

    assert starts(expand(master, [], utc(2024, 3, 4), utc(2024, 3, 5))) == [utc(2024, 3, 4, 14)]
    assert expand(master, [], utc(2024, 3, 4, 15), utc(2024, 3, 5)) == []
    assert expand(master, [], utc(2024, 3, 4), utc(2024, 3, 4, 14)) == []


def test_runaway_rules_are_capped():
    master = series(utc(2000, 1, 1, 12), "RRULE:FREQ=DAILY", zone="UTC")

    assert len(expand(master, [], utc(2000, 1, 1), utc(2040, 1, 1))) == MAX_OCCURRENCES


@pytest.mark.parametrize("frequency", ["SECONDLY", "MINUTELY", "HOURLY"])
def test_sub_daily_frequencies_keep_only_the_first_instance(frequency):
    master = series(utc(2024, 1, 1, 12), f"RRULE:FREQ={frequency}", zone="UTC")

    assert starts(expand(master, [], utc(2024, 1, 1), utc(2024, 1, 3))) == [utc(2024, 1, 1, 12)]


def test_unparsable_rule_keeps_the_first_instance():
    master = series(utc(2024, 1, 1, 12), "RRULE:FREQ=WEEKLY;BYDAY=XX", zone="UTC")

    assert starts(expand(master, [], utc(2024, 1, 1), utc(2024, 2, 1))) == [utc(2024, 1, 1, 12)]


def test_malformed_until_and_exdate_values_are_ignored():
    master = series(utc(2024, 1, 1, 12), "RRULE:FREQ=DAILY;COUNT=3\nEXDATE:2024-01-02", zone="UTC")
    unbounded = series(utc(2024, 1, 1, 12), "RRULE:FREQ=DAILY;UNTIL=soon", zone="UTC")

    assert len(expand(master, [], utc(2024, 1, 1), utc(2024, 2, 1))) == 3
    assert len(expand(unbounded, [], utc(2024, 1, 1), utc(2024, 1, 8))) == 7
    assert parse_rule_summary("RRULE:FREQ=DAILY;UNTIL=soon")["until"] is None
    assert describe("RRULE:FREQ=DAILY;UNTIL=soon", date(2024, 1, 1)) == "Daily"


@pytest.mark.parametrize(("rule", "start", "expected"), [
    ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;UNTIL=20260401T035959Z", datetime(2026, 1, 5, 9, tzinfo=NEW_YORK),
     "Every 2 weeks on Monday until 31 Mar 2026"),
    ("RRULE:FREQ=DAILY;COUNT=10", datetime(2026, 1, 5, 9), "Daily, 10 times"),
    ("RRULE:FREQ=MONTHLY;BYMONTHDAY=15", datetime(2026, 1, 15, 9), "Every month on day 15"),
    ("RRULE:FREQ=MONTHLY", datetime(2026, 1, 15, 9), "Every month on day 15"),
    ("RRULE:FREQ=YEARLY", date(2026, 7, 4), "Every year on 4 Jul"),
    ("RRULE:FREQ=WEEKLY;BYDAY=MO,WE", datetime(2026, 1, 5, 9), "Weekly on Monday and Wednesday"),
    ("RRULE:FREQ=WEEKLY", datetime(2026, 1, 8, 9), "Weekly on Thursday"),
    ("RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", datetime(2026, 1, 5, 9), "Every weekday"),
    ("RRULE:FREQ=MONTHLY;BYDAY=2TU", datetime(2026, 1, 13, 9), "Every month on the second Tuesday"),
    ("RRULE:FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1", datetime(2026, 1, 30, 9), "Every month on the last Friday"),
    ("RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", datetime(2026, 11, 26, 9),
     "Every year on the fourth Thursday of November"),
    ("RRULE:FREQ=DAILY;INTERVAL=3;COUNT=1", datetime(2026, 1, 5, 9), "Every 3 days, once"),
    ("RRULE:FREQ=HOURLY", datetime(2026, 1, 5, 9), "Custom recurrence"),
    ("RDATE:20260110T090000Z", datetime(2026, 1, 5, 9), "Custom dates"),
    (None, datetime(2026, 1, 5, 9), "Does not repeat"),
])
def test_describe(rule, start, expected):
    assert describe(rule, start) == expected


def test_parse_rule_summary():
    rule = "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;UNTIL=20260331T235959Z\nEXDATE:20260112T140000Z"

    assert parse_rule_summary(rule) == {
        "frequency": "WEEKLY", "interval": 2, "until": utc(2026, 3, 31, 23, 59, 59), "count": None}
    assert parse_rule_summary("RRULE:FREQ=DAILY;COUNT=10") == {
        "frequency": "DAILY", "interval": 1, "until": None, "count": 10}
    assert parse_rule_summary("RRULE:FREQ=YEARLY;UNTIL=20300704")["until"] == utc(2030, 7, 4)
    assert parse_rule_summary("RRULE:FREQ=MINUTELY")["frequency"] is None
    assert parse_rule_summary(None) == {"frequency": None, "interval": None, "until": None, "count": None}


# ---------------------------------------------------------------------------- reads far from the series' start

JUMP_RULES = [
    "FREQ=DAILY", "FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
    "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,SA", "FREQ=MONTHLY", "FREQ=MONTHLY;INTERVAL=5",
    "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=YEARLY", "FREQ=YEARLY;INTERVAL=4", "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "FREQ=DAILY;BYHOUR=8,17",
    "FREQ=WEEKLY;UNTIL=20300701T000000",
]


@pytest.mark.parametrize("rule", JUMP_RULES)
@pytest.mark.parametrize("first", [datetime(2012, 1, 31, 9, 30), datetime(2016, 2, 29, 23, 15)])
def test_a_series_read_years_after_its_start_finds_the_instances_its_rule_gives(rule, first):
    """The read starts near the window (not at the first instance); the instances must be the rule's own."""
    from dateutil.rrule import rrulestr

    master = series(first.replace(tzinfo=UTC), "RRULE:" + rule, zone="UTC")
    for window_start in (utc(2024, 2, 26), utc(2026, 12, 28, 5), utc(2030, 6, 30, 23)):
        window_end = window_start + timedelta(days=9)
        expected = [moment.replace(tzinfo=UTC) for moment in rrulestr(rule, dtstart=first).between(
            (window_start - timedelta(hours=1)).replace(tzinfo=None), window_end.replace(tzinfo=None))
            if moment.replace(tzinfo=UTC) + timedelta(hours=1) > window_start]

        assert starts(expand(master, [], window_start, window_end)) == expected


def test_a_counted_series_read_long_after_its_start_still_stops_at_its_count():
    master = series(datetime(2015, 1, 5, 9, tzinfo=NEW_YORK), "RRULE:FREQ=WEEKLY;COUNT=600")

    found = expand(master, [], utc(2026, 6, 1), utc(2026, 7, 1))

    assert [o.start.astimezone(NEW_YORK).date() for o in found] == [
        date(2026, 6, 1), date(2026, 6, 8), date(2026, 6, 15), date(2026, 6, 22), date(2026, 6, 29)]
    assert expand(master, [], utc(2026, 6, 30), utc(2028, 1, 1)) == []  # June 29th was the 600th


def test_series_end_is_the_end_of_the_last_instance_or_none_for_endless_series():
    from webapp.recurrence import series_end

    counted = series(datetime(2026, 1, 5, 9, tzinfo=NEW_YORK), "RRULE:FREQ=WEEKLY;COUNT=3")
    until = series(datetime(2026, 1, 5, 9, tzinfo=NEW_YORK), "RRULE:FREQ=DAILY;UNTIL=20260301T000000Z")
    with_later_rdate = series(datetime(2026, 1, 5, 9, tzinfo=NEW_YORK),
                              "RRULE:FREQ=DAILY;COUNT=2\nRDATE;TZID=America/New_York:20270105T090000")
    endless = series(datetime(2026, 1, 5, 9, tzinfo=NEW_YORK), "RRULE:FREQ=WEEKLY;COUNT=2\nRRULE:FREQ=MONTHLY")

    last_counted = datetime(2026, 1, 19, 10, tzinfo=NEW_YORK)  # third Monday, an hour long
    assert last_counted <= series_end(counted) <= last_counted + timedelta(days=1)
    assert utc(2026, 3, 1) <= series_end(until) <= utc(2026, 3, 3)
    assert datetime(2027, 1, 5, 10, tzinfo=NEW_YORK) <= series_end(with_later_rdate)
    assert series_end(endless) is None
    assert series_end(all_day_series(date(2026, 5, 1), "RRULE:FREQ=YEARLY;COUNT=2", days=3)) >= utc(2027, 5, 4)
    # Its last instance falls on the last day of the year 9999 (found by bench.recurrence): endless, not an error.
    to_the_end = series(datetime(2000, 12, 1, 4, 46, 55, tzinfo=UTC),
                        "RRULE:FREQ=WEEKLY;INTERVAL=3;COUNT=7899;BYYEARDAY=-1,249,280", zone="UTC")
    assert series_end(to_the_end) is None
