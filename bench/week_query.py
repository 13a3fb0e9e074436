"""The calendar reads at the seed's table sizes, against the seed's "~5-10 ms for 1000s of events".

Builds 1000 users x 3 calendars x 100 events (plus two weekly series per user, with overrides) in a throwaway
embedded PostgreSQL migrated like production, then times the week, month and agenda reads for random users:
the SQL alone, and the whole read with recurrence expansion (what a page waits for). Timings are taken in the
app (statement building, driver and row handling included); EXPLAIN ANALYZE shows the server's share.
"""
from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, select, text

from bench.harness import bench_app, percentile
from webapp.calendar.periods import make_period
from webapp.calendar.queries import entries_between, window_statement
from webapp.extensions import db
from webapp.models import User

USERS, CALENDARS_PER_USER, EVENTS_PER_CALENDAR = 1000, 3, 100
SAMPLES = 300
DAYS_SHOWN = {"week": "7", "month": "35-42", "agenda": "30"}
WARM_UP = 30
TARGET = "5-10 ms"
YEAR = 2026

# Events spread over the year, 30 minutes to 2 hours, every tenth one all-day, with a description
# long enough to give rows the seed's estimated ~1-2 KB.
DATASET = [
    ("users", """
        INSERT INTO users (email, password_hash, time_zone, week_start)
        SELECT 'bench' || n || '@example.com', 'not-a-hash',
               (ARRAY['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'UTC'])[1 + n % 4], 1
        FROM generate_series(1, :users) AS n"""),
    ("calendar_connections", """
        INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name, calendar_color, is_primary)
        SELECT u.id, 'GOOGLE', u.email || '/calendar-' || c, 'Calendar ' || c, '#4285f4', c = 1
        FROM users u CROSS JOIN generate_series(1, :calendars) AS c"""),
    ("calendar_events", """
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, description, location,
            start_time, end_time, is_all_day, timezone, status, sync_status)
        SELECT cc.id, 'event-' || n, 'Event ' || n, repeat('Agenda item, notes and a link. ', 40), 'Room ' || n % 9,
               CASE WHEN n % 10 = 0 THEN date_trunc('day', start_at) ELSE start_at END,
               CASE WHEN n % 10 = 0 THEN date_trunc('day', start_at) + interval '1 day'
                    ELSE start_at + (30 + (n % 4) * 30) * interval '1 minute' END,
               n % 10 = 0, 'Europe/Berlin', 'CONFIRMED', 'SYNCED'
        FROM calendar_connections cc
        CROSS JOIN generate_series(1, :events) AS n
        CROSS JOIN LATERAL (
            SELECT make_timestamptz(:year, 1, 1, 7, 0, 0, 'UTC')
                   + (n * 365 / :events) * interval '1 day'
                   + (abs(hashtext(cc.id::text || n)) % 10) * interval '1 hour' AS start_at
        ) AS times"""),
    ("series masters", """
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time,
            timezone, status, sync_status, is_recurring, recurrence_rule, recurrence_frequency, recurrence_interval)
        SELECT cc.id, 'series-' || s, CASE s WHEN 1 THEN 'Standup' ELSE 'One-to-one' END,
               make_timestamptz(:year - 1, 6, 2, 9, 30, 0, 'Europe/Berlin') + (s - 1) * interval '5 hours',
               make_timestamptz(:year - 1, 6, 2, 9, 45, 0, 'Europe/Berlin') + (s - 1) * interval '5 hours 15 minutes',
               'Europe/Berlin', 'CONFIRMED', 'SYNCED', true,
               CASE s WHEN 1 THEN 'RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR' ELSE 'RRULE:FREQ=WEEKLY;BYDAY=TH' END,
               'WEEKLY', 1
        FROM calendar_connections cc CROSS JOIN generate_series(1, 2) AS s
        WHERE cc.is_primary"""),
    ("overrides", """
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time,
            timezone, status, sync_status, parent_event_id, provider_metadata)
        SELECT m.calendar_connection_id, m.provider_event_id || '-' || w, m.title || ' (moved)',
               original + interval '2 hours', original + interval '2 hours 15 minutes', m.timezone,
               CASE WHEN w % 2 = 0 THEN 'CANCELLED' ELSE 'CONFIRMED' END::event_status, 'SYNCED', m.id,
               jsonb_build_object('original_start_time', to_char(original AT TIME ZONE 'UTC',
                                                                 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'))
        FROM calendar_events m
        CROSS JOIN generate_series(1, 12) AS w
        CROSS JOIN LATERAL (SELECT m.start_time + (w * 4) * interval '1 week' AS original) AS instance
        WHERE m.is_recurring"""),
]


def build_dataset(session) -> None:
    parameters = {"users": USERS, "calendars": CALENDARS_PER_USER, "events": EVENTS_PER_CALENDAR, "year": YEAR}
    for name, statement in DATASET:
        started = time.perf_counter()
        count = session.execute(text(statement), parameters).rowcount
        print(f"  {name:<22} {count:>8,} rows in {time.perf_counter() - started:5.1f} s", flush=True)
    session.commit()
    # As the nightly maintenance leaves a live table: statistics, hint bits and the visibility map in place.
    with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def measure(read: Callable[[], object]) -> tuple[float, float, float]:
    """p50, p95 and mean in milliseconds over SAMPLES runs, after a warm-up."""
    for _ in range(WARM_UP):
        read()
    timings = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        read()
        timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 0.5), percentile(timings, 0.95), statistics.fmean(timings)


def run_benchmarks(session) -> list[tuple[str, float, float, float, float]]:
    chooser = random.Random(7)  # the same users and weeks on every run
    users = session.execute(select(User.id, User.time_zone).where(User.email.like("bench%"))).all()

    def random_period(kind: str):
        user = chooser.choice(users)
        day = date(YEAR, 1, 1) + timedelta(days=chooser.randrange(365))
        return user.id, make_period(kind, day, ZoneInfo(user.time_zone), 1)

    def sql_only(kind: str):
        def read():
            user_id, period = random_period(kind)
            return session.execute(window_statement(user_id, period.window_start, period.window_end)).all()
        return read

    def whole_read(kind: str):
        def read():
            user_id, period = random_period(kind)
            return entries_between(session, user_id, period.window_start, period.window_end)
        return read

    rows = []
    for label, read, kind in (
        ("week: window query (SQL)", sql_only, "week"),
        ("week: with series expanded", whole_read, "week"),
        ("month: window query (SQL)", sql_only, "month"),
        ("month: with series expanded", whole_read, "month"),
        ("agenda 30 days: SQL", sql_only, "agenda"),
        ("agenda 30 days: expanded", whole_read, "agenda"),
    ):
        rows.append((label, DAYS_SHOWN[kind], *measure(read(kind))))
    return rows


def explain_week(session) -> str:
    """EXPLAIN ANALYZE of the statement the app really sends (as bound by the driver) for one user's week."""
    user_id = session.scalar(select(User.id).where(User.email == "bench500@example.com"))
    period = make_period("week", date(YEAR, 6, 10), ZoneInfo("Europe/Berlin"), 1)
    connection = session.connection()
    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", capture)
    try:
        session.execute(window_statement(user_id, period.window_start, period.window_end)).all()
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    statement, parameters = sent[0]
    plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters).scalars().all()
    return "\n".join("    " + line for line in plan)


def print_table(rows) -> None:
    print()
    print(f"{'read':<30} {'days':>5} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}   seed target")
    print("-" * 77)
    for label, days, p50, p95, mean in rows:
        print(f"{label:<30} {days:>5} {p50:>8.2f} {p95:>8.2f} {mean:>8.2f}   {TARGET}")
    print()


def main() -> None:
    print(f"week_query: {USERS} users x {CALENDARS_PER_USER} calendars x {EVENTS_PER_CALENDAR} events, "
          f"2 weekly series per user; {SAMPLES} random users and dates per read")
    with bench_app():
        build_dataset(db.session)
        print("\n  plan of one week (EXPLAIN ANALYZE):")
        print(explain_week(db.session))
        print_table(run_benchmarks(db.session))


if __name__ == "__main__":
    main()
