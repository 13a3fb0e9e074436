"""The window query: overlap not containment, only the user's visible calendars, series expanded with their
overrides, all-day events by date, DST weeks, and an index scan on realistic data."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from tests.factories import (
    make_all_day,
    make_connection,
    make_event,
    make_override,
    make_series,
    make_user,
    set_user,
    utc,
)
from tests.helpers import sent_statements
from webapp.calendar.pages import Viewer, calendar_page
from webapp.calendar.periods import make_period
from webapp.calendar.queries import entries_between
from webapp.models import CalendarProvider, EventStatus, User

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = date(2024, 3, 4)  # week of 4..10 March 2024 (DST starts in New York on Sunday 10 March)


def week_titles(db_session, user, zone_name=None, week_start=1, anchor=MONDAY) -> list[str]:
    zone = ZoneInfo(zone_name or "UTC")
    period = make_period("week", anchor, zone, week_start)
    return [entry.title for entry in entries_between(db_session, user.id, period.window_start, period.window_end)]


def page_of(db_session, user, kind="week", anchor=MONDAY, now=utc(2024, 3, 6, 12)):
    return calendar_page(db_session, Viewer.of(user), kind, anchor, now)


def test_events_crossing_either_edge_of_the_week_belong_to_it(db_session, user, calendar):
    make_event(db_session, calendar, utc(2024, 3, 3, 23), utc(2024, 3, 4, 1), title="crosses start")
    make_event(db_session, calendar, utc(2024, 3, 10, 23), utc(2024, 3, 11, 1), title="crosses end")
    make_event(db_session, calendar, utc(2024, 3, 1), utc(2024, 3, 15), title="spans the week")
    make_event(db_session, calendar, utc(2024, 3, 6, 9), title="inside")
    make_event(db_session, calendar, utc(2024, 3, 3, 23), utc(2024, 3, 4), title="ends as the week starts")
    make_event(db_session, calendar, utc(2024, 3, 11), utc(2024, 3, 11, 1), title="starts as the week ends")

    assert week_titles(db_session, user) == ["spans the week", "crosses start", "inside", "crosses end"]


def test_only_the_users_visible_connected_calendars_count(db_session, user, calendar):
    hidden = make_connection(db_session, user, calendar_name="Hidden", is_visible=False)
    disconnected = make_connection(db_session, user, calendar_name="Old", is_connected=False)
    removed = make_connection(db_session, user, calendar_name="Removed", deleted_at=utc(2024, 1, 1))
    stranger = make_connection(db_session, make_user(db_session), calendar_name="Theirs")
    monday_nine = utc(2024, 3, 4, 9)
    for connection in (hidden, disconnected, removed, stranger):
        make_event(db_session, connection, monday_nine, title=connection.calendar_name)
    make_event(db_session, calendar, monday_nine, title="deleted", deleted_at=utc(2024, 3, 1))
    make_event(db_session, calendar, monday_nine, title="cancelled", status=EventStatus.CANCELLED)
    make_event(db_session, calendar, monday_nine, title="mine")

    assert week_titles(db_session, user) == ["mine"]


@pytest.mark.parametrize("zone_name", ["America/Los_Angeles", "Australia/Sydney", "UTC"])
def test_all_day_events_on_the_week_boundary_are_shown_by_date_in_any_zone(db_session, user, calendar, zone_name):
    set_user(db_session, user, time_zone=zone_name)
    make_all_day(db_session, calendar, date(2024, 3, 3), title="Sunday before")
    make_all_day(db_session, calendar, date(2024, 3, 4), title="first day")
    make_all_day(db_session, calendar, date(2024, 3, 10), title="last day")
    make_all_day(db_session, calendar, date(2024, 3, 11), title="Monday after")
    make_all_day(db_session, calendar, date(2024, 3, 1), date(2024, 3, 5), title="trip into the week")
    make_all_day(db_session, calendar, date(2024, 3, 9), date(2024, 3, 12), title="trip out of the week")

    banners = {banner.entry.title: banner for banner in page_of(db_session, user).grid.banners}

    assert set(banners) == {"first day", "last day", "trip into the week", "trip out of the week"}
    assert (banners["first day"].column, banners["last day"].column) == (0, 6)
    assert (banners["trip into the week"].column, banners["trip into the week"].span) == (0, 2)
    assert (banners["trip out of the week"].column, banners["trip out of the week"].span) == (5, 2)


def test_a_week_containing_the_dst_change_in_the_users_zone(db_session, user, calendar):
    set_user(db_session, user, time_zone="America/New_York")
    local = lambda *args: datetime(*args, tzinfo=NEW_YORK)  # noqa: E731
    make_event(db_session, calendar, local(2024, 3, 3, 23, 30), local(2024, 3, 3, 23, 45), title="Sunday before")
    make_event(db_session, calendar, local(2024, 3, 4, 0, 30), local(2024, 3, 4, 1), title="first minutes")
    make_event(db_session, calendar, local(2024, 3, 10, 23, 30), local(2024, 3, 10, 23, 45), title="last minutes")
    make_event(db_session, calendar, local(2024, 3, 11, 0, 30), local(2024, 3, 11, 1), title="Monday after")
    make_series(db_session, calendar, local(2024, 3, 8, 9), "RRULE:FREQ=DAILY;COUNT=4", title="standup",
                timezone="America/New_York")

    columns = page_of(db_session, user, anchor=date(2024, 3, 10)).grid.columns

    placed = {(column.day.day, p.entry.title): p for column in columns for p in column.entries}
    assert set(placed) == {(4, "first minutes"), (10, "last minutes"), (8, "standup"), (9, "standup"),
                           (10, "standup")}
    # 09:00 before and after the clocks change, though the UTC instants differ by an hour.
    assert placed[(9, "standup")].top == placed[(10, "standup")].top == 9 / 24 * 100
    assert placed[(9, "standup")].entry.start == utc(2024, 3, 9, 14)
    assert placed[(10, "standup")].entry.start == utc(2024, 3, 10, 13)


def test_series_instances_fill_the_window_with_overrides_replacing_them(db_session, user, calendar):
    weekly = make_series(db_session, calendar, utc(2024, 1, 1, 9), "RRULE:FREQ=DAILY", title="daily")
    make_override(db_session, weekly, utc(2024, 3, 5, 9), utc(2024, 3, 5, 15), title="moved")
    make_override(db_session, weekly, utc(2024, 3, 6, 9), status=EventStatus.CANCELLED)
    make_override(db_session, weekly, utc(2024, 3, 7, 9), title="deleted override", deleted_at=utc(2024, 3, 1))
    make_override(db_session, weekly, utc(2024, 2, 20, 9), utc(2024, 3, 8, 18), title="moved into the week")

    period = make_period("week", MONDAY, ZoneInfo("UTC"), 1)
    entries = entries_between(db_session, user.id, period.window_start, period.window_end)

    shown = [(entry.start, entry.title) for entry in entries]
    assert shown == [
        (utc(2024, 3, 4, 9), "daily"),
        (utc(2024, 3, 5, 15), "moved"),
        (utc(2024, 3, 7, 9), "daily"),  # a deleted override no longer replaces its instance
        (utc(2024, 3, 8, 9), "daily"),
        (utc(2024, 3, 8, 18), "moved into the week"),
        (utc(2024, 3, 9, 9), "daily"),
        (utc(2024, 3, 10, 9), "daily"),
    ]
    generated = entries[0]
    assert generated.is_generated_instance and generated.event_id == weekly.id
    moved = entries[1]
    assert moved.series_id == weekly.id and not moved.is_generated_instance
    assert moved.original_start == utc(2024, 3, 5, 9)


def test_ended_series_are_not_expanded_but_series_ending_in_the_window_are(db_session, user, calendar):
    make_series(db_session, calendar, utc(2023, 1, 2, 9), "RRULE:FREQ=WEEKLY;UNTIL=20231231T235959Z",
                title="ended last year", recurrence_end_date=utc(2023, 12, 31, 23, 59, 59))
    make_series(db_session, calendar, utc(2024, 2, 5, 9), "RRULE:FREQ=WEEKLY;UNTIL=20240304T090000Z",
                title="last one this week", recurrence_end_date=utc(2024, 3, 4, 9))
    make_series(db_session, calendar, utc(2024, 3, 11, 9), "RRULE:FREQ=WEEKLY", title="starts next week")

    assert week_titles(db_session, user) == ["last one this week"]


def test_all_day_yearly_series_lands_on_its_date_east_of_utc(db_session, user, calendar):
    set_user(db_session, user, time_zone="Pacific/Auckland")
    make_series(db_session, calendar, datetime(2000, 3, 6, tzinfo=UTC), "RRULE:FREQ=YEARLY", minutes=24 * 60,
                is_all_day=True, title="birthday")

    banners = page_of(db_session, user).grid.banners

    assert [(banner.entry.title, banner.column) for banner in banners] == [("birthday", 2)]  # Wednesday 6 March


def _bulk_insert(db_session, users: int, calendars_per_user: int, events_per_calendar: int) -> None:
    """Realistic volume in a few statements: events every ~2 days over a year on every calendar."""
    db_session.execute(text(
        "INSERT INTO users (email, password_hash) "
        "SELECT 'bulk' || n || '@example.com', 'x' FROM generate_series(1, :users) AS n"), {"users": users})
    db_session.execute(text(
        "INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name, calendar_color) "
        "SELECT u.id, 'GOOGLE', 'bulk-' || c || '-' || u.id, 'Calendar ' || c, '#4285f4' "
        "FROM users u CROSS JOIN generate_series(1, :calendars) AS c WHERE u.email LIKE 'bulk%'"),
        {"calendars": calendars_per_user})
    db_session.execute(text(
        "INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time, "
        "  timezone, status, sync_status) "
        "SELECT cc.id, 'bulk-' || n, 'Event ' || n, "
        "  timestamptz '2024-01-01 08:00Z' + n * interval '51 hours', "
        "  timestamptz '2024-01-01 09:00Z' + n * interval '51 hours', 'UTC', 'CONFIRMED', 'SYNCED' "
        "FROM calendar_connections cc CROSS JOIN generate_series(1, :events) AS n "
        "WHERE cc.calendar_id LIKE 'bulk-%'"), {"events": events_per_calendar})
    db_session.execute(text("ANALYZE users, calendar_connections, calendar_events"))


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def test_week_query_uses_the_date_range_index_on_realistic_data(db_session):
    _bulk_insert(db_session, users=40, calendars_per_user=3, events_per_calendar=170)  # 20,400 events
    owner = db_session.scalar(select(User).where(User.email == "bulk7@example.com"))
    period = make_period("week", date(2024, 6, 10), ZoneInfo("Europe/Berlin"), 1)
    connection = db_session.connection()
    with sent_statements(connection) as statements:
        entries = entries_between(db_session, owner.id, period.window_start, period.window_end)

    assert len(entries) == 3 * 3  # one event every 51 hours, on each of three calendars
    assert len(statements) == 1  # no series in the window: no override query either
    statement, parameters = statements[0]
    plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()[0]["Plan"]
    scans = [(node["Node Type"], node.get("Relation Name"), node.get("Index Name")) for node in _plan_nodes(plan)]
    assert not [scan for scan in scans if scan[0] == "Seq Scan" and scan[1] == "calendar_events"], scans
    assert any(scan[2] == "calendar_events_short_events_idx" for scan in scans), scans


def test_provider_colours_are_used_and_missing_ones_get_a_stable_fallback(db_session, user, calendar):
    plain = make_connection(db_session, user, calendar_name="Plain", calendar_color=None,
                            provider=CalendarProvider.APPLE)
    make_event(db_session, calendar, utc(2024, 3, 4, 9))
    make_event(db_session, plain, utc(2024, 3, 4, 10))
    period = make_period("week", MONDAY, ZoneInfo("UTC"), 1)

    first, second = (entries_between(db_session, user.id, period.window_start, period.window_end)
                     for _ in range(2))

    assert first[0].calendar.colour == "#4285f4"
    assert first[1].calendar.colour.startswith("#") and first[1].calendar.colour == second[1].calendar.colour


# ---------------------------------------------------------------------------- overrides where they moved


def test_an_override_moved_before_its_series_starts_shows_in_the_week_it_moved_to(db_session, user, calendar):
    # As a real ICS file had it: the series' only instance (20 Feb) moved to 13 Feb, a week before its start.
    master = make_series(db_session, calendar, utc(2026, 2, 20, 10),
                         "RRULE:FREQ=MONTHLY;UNTIL=20260220T235959Z;BYMONTHDAY=20", title="Board meeting")
    make_override(db_session, master, utc(2026, 2, 20, 10), utc(2026, 2, 13, 10), title="Board meeting (moved)")

    assert week_titles(db_session, user, anchor=date(2026, 2, 9)) == ["Board meeting (moved)"]
    assert week_titles(db_session, user, anchor=date(2026, 2, 16)) == []


def test_an_override_moved_after_its_series_ends_shows_in_the_week_it_moved_to(db_session, user, calendar):
    master = make_series(db_session, calendar, utc(2026, 3, 2, 9), "RRULE:FREQ=WEEKLY;COUNT=2", title="Retro")
    make_override(db_session, master, utc(2026, 3, 9, 9), utc(2026, 3, 25, 9), title="Retro (late)")

    assert week_titles(db_session, user, anchor=date(2026, 3, 9)) == []
    assert week_titles(db_session, user, anchor=date(2026, 3, 23)) == ["Retro (late)"]


def test_an_instance_the_series_now_excludes_stays_excluded_though_an_override_exists(db_session, user, calendar):
    # The override was made for 11 March; a newer version of the series lists that day in EXDATE.
    master = make_series(db_session, calendar, utc(2026, 3, 9, 9),
                         "RRULE:FREQ=DAILY;COUNT=5\nEXDATE:20260311T090000Z", title="Daily")
    make_override(db_session, master, utc(2026, 3, 11, 9), utc(2026, 3, 11, 15), title="Daily (afternoon)")

    assert week_titles(db_session, user, anchor=date(2026, 3, 9)) == ["Daily"] * 4


def test_hostile_rules_cost_a_bounded_read_and_show_what_they_can(db_session, user, calendar):
    every_second = ("RRULE:FREQ=DAILY;COUNT=999999999;BYHOUR=" + ",".join(map(str, range(24)))
                    + ";BYMINUTE=" + ",".join(map(str, range(60))) + ";BYSECOND=" + ",".join(map(str, range(60))))
    make_series(db_session, calendar, utc(2026, 1, 6, 8), every_second, title="Every second")
    make_series(db_session, calendar, utc(2026, 1, 6, 9), "RRULE:FREQ=DAILY;COUNT=5;BYMONTH=2;BYMONTHDAY=30",
                title="30 February")
    make_series(db_session, calendar, utc(2026, 3, 2, 10), "RRULE:FREQ=WEEKLY", title="Weekly")

    # Each is kept to its first instance; everything else on the calendar still shows.
    assert week_titles(db_session, user, anchor=date(2026, 1, 5)) == ["Every second", "30 February"]
    assert week_titles(db_session, user, anchor=date(2026, 3, 2)) == ["Weekly"]
    assert week_titles(db_session, user, anchor=date(2500, 12, 6)) == ["Weekly"]
