"""The window read touches only what the window shows: series of any age, with COUNT or UNTIL, overrides moved
in and out, events longer than the plain-event bound, all-day events; and its plan is bounded on both sides
whatever the length of the user's history."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from tests.factories import make_all_day, make_event, make_override, make_series, utc
from tests.helpers import sent_statements
from webapp.calendar.periods import make_period
from webapp.calendar.queries import entries_between
from webapp.models import EventStatus, User
from webapp.models.events import MAX_PLAIN_DURATION

MONDAY = date(2026, 6, 8)  # the week of 8..14 June 2026


def week(db_session, user, anchor=MONDAY, zone="UTC") -> list[tuple[datetime, str]]:
    period = make_period("week", anchor, ZoneInfo(zone), 1)
    return [(entry.start, entry.title)
            for entry in entries_between(db_session, user.id, period.window_start, period.window_end)]


def test_series_started_years_ago_show_the_instances_their_rules_give(db_session, user, calendar):
    make_series(db_session, calendar, utc(2012, 2, 29, 9), "RRULE:FREQ=WEEKLY;BYDAY=MO,WE", title="old weekly")
    make_series(db_session, calendar, utc(2014, 1, 31, 12), "RRULE:FREQ=MONTHLY;BYDAY=2WE", title="monthly")
    make_series(db_session, calendar, utc(2016, 6, 9, 7), "RRULE:FREQ=YEARLY", title="yearly")

    assert week(db_session, user) == [
        (utc(2026, 6, 8, 9), "old weekly"), (utc(2026, 6, 9, 7), "yearly"), (utc(2026, 6, 10, 9), "old weekly"),
        (utc(2026, 6, 10, 12), "monthly"),
    ]


def test_counted_and_until_series_end_where_their_rules_say(db_session, user, calendar):
    # 2026-06-08 is the 522nd Monday from 2016-06-13: COUNT=521 ended the week before.
    make_series(db_session, calendar, utc(2016, 6, 13, 9), "RRULE:FREQ=WEEKLY;COUNT=521", title="counted out")
    make_series(db_session, calendar, utc(2016, 6, 13, 10), "RRULE:FREQ=WEEKLY;COUNT=522", title="last count")
    make_series(db_session, calendar, utc(2020, 1, 1, 11), "RRULE:FREQ=DAILY;UNTIL=20260609T235959Z",
                title="until Tuesday")
    make_series(db_session, calendar, utc(2010, 1, 1, 11), "RRULE:FREQ=DAILY;UNTIL=20151231T235959Z",
                title="ended long ago")

    assert week(db_session, user) == [
        (utc(2026, 6, 8, 10), "last count"), (utc(2026, 6, 8, 11), "until Tuesday"),
        (utc(2026, 6, 9, 11), "until Tuesday"),
    ]


def test_overrides_moved_into_or_out_of_the_window_and_cancelled_ones(db_session, user, calendar):
    daily = make_series(db_session, calendar, utc(2019, 3, 1, 8), "RRULE:FREQ=DAILY", title="daily")
    make_override(db_session, daily, utc(2026, 6, 9, 8), utc(2026, 7, 20, 8), title="moved out")
    make_override(db_session, daily, utc(2021, 6, 9, 8), utc(2026, 6, 12, 17), title="moved in from 2021")
    make_override(db_session, daily, utc(2026, 6, 10, 8), status=EventStatus.CANCELLED)
    make_override(db_session, daily, utc(2026, 6, 11, 8), utc(2026, 6, 11, 9), title="later")
    make_override(db_session, daily, utc(2024, 6, 11, 8), title="another year")

    assert week(db_session, user) == [
        (utc(2026, 6, 8, 8), "daily"), (utc(2026, 6, 11, 9), "later"), (utc(2026, 6, 12, 8), "daily"),
        (utc(2026, 6, 12, 17), "moved in from 2021"), (utc(2026, 6, 13, 8), "daily"), (utc(2026, 6, 14, 8), "daily"),
    ]


def test_an_override_of_a_series_of_long_events_still_replaces_its_instance(db_session, user, calendar):
    """Instances of over a week start too early for the window statement's overrides: they are read apart."""
    twelve_days = 12 * 24 * 60
    cancelled = make_series(db_session, calendar, utc(2026, 1, 29, 9), "RRULE:FREQ=MONTHLY", minutes=twelve_days,
                            title="cancelled in May")
    make_override(db_session, cancelled, utc(2026, 5, 29, 9), status=EventStatus.CANCELLED)
    moved = make_series(db_session, calendar, utc(2026, 1, 29, 10), "RRULE:FREQ=MONTHLY", minutes=twelve_days,
                        title="kept")
    make_override(db_session, moved, utc(2026, 5, 29, 10), utc(2026, 5, 30, 10), title="moved a day")

    assert week(db_session, user) == [(utc(2026, 5, 30, 10), "moved a day")]


def test_events_longer_than_the_plain_bound_and_all_day_ones_crossing_the_window(db_session, user, calendar):
    make_event(db_session, calendar, utc(2026, 1, 1), utc(2026, 12, 31), title="all year")
    make_event(db_session, calendar, utc(2026, 6, 8, 12) - MAX_PLAIN_DURATION, utc(2026, 6, 8, 12),
               title="exactly the bound")
    make_event(db_session, calendar, utc(2026, 6, 8, 11) - MAX_PLAIN_DURATION, utc(2026, 6, 8, 12),
               title="an hour longer")
    make_event(db_session, calendar, utc(2026, 5, 1), utc(2026, 6, 8), title="ends as the week starts")
    make_all_day(db_session, calendar, date(2026, 6, 5), date(2026, 6, 9), title="trip")
    make_all_day(db_session, calendar, date(2026, 6, 14), title="sunday")
    make_series(db_session, calendar, utc(2025, 6, 7), "RRULE:FREQ=YEARLY", minutes=3 * 24 * 60, is_all_day=True,
                title="festival")

    assert week(db_session, user) == [
        (utc(2026, 1, 1), "all year"), (utc(2026, 6, 8, 11) - MAX_PLAIN_DURATION, "an hour longer"),
        (utc(2026, 6, 8, 12) - MAX_PLAIN_DURATION, "exactly the bound"), (utc(2026, 6, 5), "trip"),
        (utc(2026, 6, 7), "festival"), (utc(2026, 6, 14), "sunday"),
    ]


def _history(db_session, email: str, years: int) -> None:
    """One user, three calendars, an event every ~9 hours over `years` years up to 2027, a long event every
    month, and weekly series started and ended all along (each ran a year)."""
    db_session.execute(text("INSERT INTO users (email, password_hash) VALUES (:email, 'x')"), {"email": email})
    db_session.execute(text(
        "INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name) "
        "SELECT u.id, 'GOOGLE', u.email || '-' || c, 'Calendar ' || c FROM users u, generate_series(1, 3) c "
        "WHERE u.email = :email"), {"email": email})
    db_session.execute(text("""
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time,
                                     timezone, status, sync_status)
        SELECT cc.id, 'e' || n, 'Event ' || n, start_at, start_at + CASE WHEN n % 30 = 0 THEN interval '20 days'
                                                                       ELSE interval '1 hour' END,
               'UTC', 'CONFIRMED', 'SYNCED'
        FROM calendar_connections cc JOIN users u ON u.id = cc.user_id
        CROSS JOIN generate_series(1, :per_calendar) n
        CROSS JOIN LATERAL (SELECT timestamptz '2027-01-01' - n * interval '27 hours' AS start_at) t
        WHERE u.email = :email"""), {"email": email, "per_calendar": years * 365 * 24 // 27})
    db_session.execute(text("""
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time,
                                     timezone, status, sync_status, is_recurring, recurrence_rule, series_until)
        SELECT cc.id, 's' || n, 'Series ' || n, start_at, start_at + interval '30 minutes', 'UTC', 'CONFIRMED',
               'SYNCED', true, 'RRULE:FREQ=WEEKLY;COUNT=52', start_at + interval '52 weeks'
        FROM calendar_connections cc JOIN users u ON u.id = cc.user_id
        CROSS JOIN generate_series(1, :series) n
        CROSS JOIN LATERAL (SELECT timestamptz '2027-01-01' - n * interval '40 days' AS start_at) t
        WHERE u.email = :email"""), {"email": email, "series": years * 9 + 10})
    db_session.execute(text("""
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time,
                                     timezone, status, sync_status, parent_event_id, provider_metadata)
        SELECT m.calendar_connection_id, m.provider_event_id || '-' || w, 'Moved', instance + interval '1 hour',
               instance + interval '90 minutes', 'UTC', 'CONFIRMED', 'SYNCED', m.id,
               jsonb_build_object('original_start_time', to_char(instance AT TIME ZONE 'UTC',
                                                                 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'))
        FROM calendar_events m JOIN calendar_connections cc ON cc.id = m.calendar_connection_id
        JOIN users u ON u.id = cc.user_id CROSS JOIN generate_series(1, 20) w
        CROSS JOIN LATERAL (SELECT m.start_time + w * interval '2 weeks' AS instance) i
        WHERE m.is_recurring AND u.email = :email"""), {"email": email})



def _other_users(db_session, users: int = 400) -> None:
    """Everyone else: a calendar each with a few events, so the table looks like a shared one to the planner."""
    db_session.execute(text("INSERT INTO users (email, password_hash) "
                            "SELECT 'other' || n || '@example.com', 'x' FROM generate_series(1, :users) n"),
                       {"users": users})
    db_session.execute(text(
        "INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name) "
        "SELECT id, 'GOOGLE', email, 'Calendar' FROM users WHERE email LIKE 'other%'"))
    db_session.execute(text("""
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time,
                                     timezone, status, sync_status)
        SELECT cc.id, 'o' || n, 'Other ' || n, timestamptz '2026-01-01' + n * interval '3 days',
               timestamptz '2026-01-01' + n * interval '3 days' + interval '1 hour', 'UTC', 'CONFIRMED', 'SYNCED'
        FROM calendar_connections cc CROSS JOIN generate_series(1, 40) n WHERE cc.calendar_id LIKE 'other%'"""))


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _explained_week(db_session, email: str) -> tuple[list, list[dict]]:
    owner = db_session.scalar(select(User).where(User.email == email))
    period = make_period("week", MONDAY, ZoneInfo("Europe/Berlin"), 1)
    connection = db_session.connection()
    with sent_statements(connection) as statements:
        entries = entries_between(db_session, owner.id, period.window_start, period.window_end)
    statement, parameters = statements[0]
    plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()[0]["Plan"]
    return entries, [node for node in _plan_nodes(plan) if node.get("Relation Name") == "calendar_events"
                     or "calendar_events" in node.get("Index Name", "")]


def test_the_week_plan_reads_four_bounded_index_ranges_however_long_the_history(db_session):
    _history(db_session, "ten-years@example.com", years=10)
    _history(db_session, "one-year@example.com", years=1)
    _other_users(db_session)
    db_session.execute(text("ANALYZE users, calendar_connections, calendar_events"))

    long_entries, long_nodes = _explained_week(db_session, "ten-years@example.com")
    short_entries, short_nodes = _explained_week(db_session, "one-year@example.com")

    assert [entry.start for entry in long_entries] == [entry.start for entry in short_entries]
    assert long_entries, "the week shows events"
    for nodes in (long_nodes, short_nodes):
        assert not [node for node in nodes if node["Node Type"] == "Seq Scan"], nodes
        conditions = {node.get("Index Name"): node.get("Index Cond", "") for node in nodes if node.get("Index Name")}
        assert set(conditions) == {"calendar_events_short_events_idx", "calendar_events_long_events_idx",
                                   "calendar_events_series_until_idx",
                                   "calendar_events_override_original_start_idx"}, conditions
        # Plain events: a start_time range bounded below (window start minus the bound) and above.
        plain = conditions["calendar_events_short_events_idx"]
        assert "start_time >" in plain and "start_time <" in plain, plain
        assert "end_time >" in conditions["calendar_events_long_events_idx"]
        assert "series_until" in conditions["calendar_events_series_until_idx"]
        replaced = conditions["calendar_events_override_original_start_idx"]
        assert "original_start_time" in replaced and ">=" in replaced and "<=" in replaced, replaced
        assert all("calendar_connection_id" in condition for condition in conditions.values()), conditions
    rows_read = [sum(node["Actual Rows"] * node.get("Actual Loops", 1) for node in nodes if node.get("Index Name"))
                 for nodes in (long_nodes, short_nodes)]
    assert rows_read[0] == rows_read[1], "ten years of history are not read for this week"
