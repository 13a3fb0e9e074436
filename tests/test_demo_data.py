"""`flask demo-data`: the rows it promises (kinds, zones, series with overrides), the same ones for a seed."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from local.demo import HISTORY_EMAIL, demo_data_command, generate
from webapp.calendar.periods import make_period
from webapp.calendar.queries import entries_between
from webapp.models import User

KINDS = """
    SELECT count(*) FILTER (WHERE parent_event_id IS NULL AND NOT is_recurring AND NOT is_all_day AND NOT is_long)
               AS timed,
           count(*) FILTER (WHERE is_all_day AND end_time - start_time = interval '1 day') AS all_day,
           count(*) FILTER (WHERE is_all_day AND end_time - start_time > interval '1 day') AS multi_day,
           count(*) FILTER (WHERE is_long) AS long,
           count(*) FILTER (WHERE is_recurring) AS series,
           count(*) FILTER (WHERE is_recurring AND recurrence_count IS NOT NULL) AS counted,
           count(*) FILTER (WHERE is_recurring AND recurrence_end_date IS NOT NULL) AS ending,
           count(*) FILTER (WHERE recurrence_rule LIKE '%EXDATE%') AS exceptions,
           count(*) FILTER (WHERE parent_event_id IS NOT NULL AND status = 'CANCELLED') AS cancelled_instances,
           count(*) FILTER (WHERE parent_event_id IS NOT NULL AND status <> 'CANCELLED') AS moved_instances,
           count(*) FILTER (WHERE attendees IS NOT NULL) AS with_attendees,
           count(DISTINCT timezone) AS zones
    FROM calendar_events"""


def fingerprint(db_session) -> list:
    return db_session.execute(text(
        "SELECT u.email, c.calendar_name, e.title, e.start_time, e.end_time, e.recurrence_rule "
        "FROM calendar_events e JOIN calendar_connections c ON c.id = e.calendar_connection_id "
        "JOIN users u ON u.id = c.user_id ORDER BY e.id")).all()


def test_demo_data_has_every_kind_of_event_in_the_promised_numbers(db_session):
    counts = generate(db_session, users=12, calendars_per_user=2, events_per_calendar=60, seed=3, year=2026,
                      password="demo-password", history_years=2)
    db_session.commit()

    assert (counts.users, counts.calendars, counts.events) == (13, 26, 24 * 60 + 2 * 60 * 3)
    assert db_session.scalar(text("SELECT count(*) FROM calendar_events")) == counts.events
    kinds = db_session.execute(text(KINDS)).one()._asdict()
    assert all(kinds[kind] > 0 for kind in kinds), kinds
    assert kinds["zones"] >= 4
    history_span = db_session.execute(text(
        "SELECT min(e.start_time), max(e.start_time) FROM calendar_events e "
        "JOIN calendar_connections c ON c.id = e.calendar_connection_id JOIN users u ON u.id = c.user_id "
        "WHERE u.email = :email"), {"email": HISTORY_EMAIL}).one()
    assert history_span[0].year == 2024 and history_span[1].year == 2026


def test_a_demo_user_sees_every_week_of_the_year_filled_with_series_expanded(db_session):
    generate(db_session, users=3, calendars_per_user=3, events_per_calendar=100, seed=5, year=2026,
             password="demo-password")
    db_session.commit()
    user = db_session.query(User).filter_by(email="demo1@example.com").one()
    zone = ZoneInfo(user.time_zone)

    weeks = [entries_between(db_session, user.id, period.window_start, period.window_end)
             for period in (make_period("week", date(2026, 1, 5) + timedelta(weeks=n), zone, 1) for n in range(52))]

    assert sum(len(entries) for entries in weeks) > 300  # 300 rows a year, and series repeat
    assert sum(1 for entries in weeks if entries) > 45
    assert any(entry.series_id for entries in weeks for entry in entries)


def test_the_command_fills_once_and_says_so(app, db_session):
    runner = app.test_cli_runner()

    result = runner.invoke(demo_data_command, ["--users", "2", "--calendars-per-user", "1",
                                               "--events-per-calendar", "10", "--scale", "2", "--seed", "4"])
    again = runner.invoke(demo_data_command, ["--users", "2"])

    assert result.exit_code == 0, result.output
    assert "4 users, 4 calendars, 40 events" in result.output
    assert again.exit_code != 0 and "already there" in again.output
    assert db_session.scalar(text("SELECT count(*) FROM users WHERE email LIKE 'demo%'")) == 4


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(db_session):
    generate(db_session, users=4, calendars_per_user=2, events_per_calendar=30, seed=11, year=2026,
             password="demo-password")
    first = fingerprint(db_session)
    db_session.rollback()
    generate(db_session, users=4, calendars_per_user=2, events_per_calendar=30, seed=11, year=2026,
             password="demo-password")
    again = fingerprint(db_session)
    db_session.rollback()
    generate(db_session, users=4, calendars_per_user=2, events_per_calendar=30, seed=12, year=2026,
             password="demo-password")
    other = fingerprint(db_session)

    assert first == again and len(first) == 4 * 2 * 30
    assert other != first
