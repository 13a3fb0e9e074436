"""The week read a page waits for (window query, overrides, series expanded), on `flask demo-data` data.

1,000 random (user, week) pairs of the demo year, timed as entries_between in the app (statement, driver, row
handling and expansion included), then 1,000 weeks of history@example.com, whose calendars hold ten years
before that year at the same density: its p99 should match everyone's. The SQL alone and the plan of one
week are printed beside them.
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from bench.harness import bench_app, row, timed
from local.demo import HISTORY_EMAIL, generate
from webapp.calendar.periods import make_period
from webapp.calendar.queries import WINDOW_STATEMENT, entries_between, window_parameters
from webapp.extensions import db
from webapp.models import User

YEAR = 2026
USERS, CALENDARS_PER_USER, EVENTS_PER_CALENDAR, HISTORY_YEARS = 1000, 3, 100, 10
PAIRS, WARM_UP = 1000, 100


def p99_target(scale: int) -> tuple[str, float]:
    return ("<= 2 ms", 2.0) if scale >= 10 else ("<= 1 ms", 1.0)


def build(quick: bool, scale: int) -> str:
    counts = generate(db.session, users=(20 if quick else USERS) * scale, calendars_per_user=CALENDARS_PER_USER,
                      events_per_calendar=20 if quick else EVENTS_PER_CALENDAR, seed=1, year=YEAR,
                      history_years=2 if quick else HISTORY_YEARS, password="bench-password")
    db.session.commit()
    # As the nightly maintenance leaves a live table: statistics, hint bits and the visibility map in place.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    return (f"{counts.users:,} users, {counts.calendars:,} calendars, {counts.events:,} events written "
            f"in {counts.seconds:.1f} s")


def week_pairs(users: list, count: int, seed: int) -> list[tuple]:
    """(user id, window start, window end) of random weeks of the demo year, in each user's zone."""
    chooser = random.Random(seed)  # noqa: S311 (the same weeks on every run)
    pairs = []
    for _ in range(count):
        user = chooser.choice(users)
        day = date(YEAR, 1, 1) + timedelta(days=chooser.randrange(365))
        period = make_period("week", day, ZoneInfo(user.time_zone), user.week_start)
        pairs.append((user.id, period.window_start, period.window_end))
    return pairs


def time_reads(read, pairs: list[tuple]):
    """The harness loop over the pairs in order (the warm-up reads the first ones)."""
    position = iter(pairs * 2)

    def one():
        read(*next(position))

    return timed(one, len(pairs) - WARM_UP, warm_up=WARM_UP)


def explain_history_week() -> list[str]:
    user = db.session.execute(select(User.id).where(User.email == HISTORY_EMAIL)).scalar_one()
    period = make_period("week", date(YEAR, 6, 10), ZoneInfo("Europe/Berlin"), 1)
    connection = db.session.connection()
    compiled = WINDOW_STATEMENT.compile(connection)
    parameters = compiled.construct_params(window_parameters(user, period.window_start, period.window_end))
    plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + compiled.string, parameters)
    return ["  plan of one week of " + HISTORY_EMAIL + ":"] + ["    " + line for line in plan.scalars()]


def run(quick: bool, scale: int) -> dict:
    with bench_app():
        built = build(quick, scale)
        session = db.session
        users = session.execute(select(User.id, User.time_zone, User.week_start)
                                .where(User.email.like("demo%"))).all()
        history = session.execute(select(User.id, User.time_zone, User.week_start)
                                  .where(User.email == HISTORY_EMAIL)).all()
        pairs = week_pairs(users, 200 if quick else PAIRS, seed=7)
        history_pairs = week_pairs(history, 200 if quick else PAIRS, seed=8)

        def whole(user_id, start, end):
            return entries_between(session, user_id, start, end)

        def sql_only(user_id, start, end):
            return session.connection().execute(WINDOW_STATEMENT, window_parameters(user_id, start, end)).all()

        everyone = time_reads(whole, pairs)
        long_history = time_reads(whole, history_pairs)
        sql = time_reads(sql_only, pairs)
        shown = sum(len(whole(*pair)) for pair in pairs[:200]) / 200
        server = session.execute(text("SHOW server_version")).scalar_one()
        notes = [f"  {built}; {len(pairs):,} (user, week) pairs, {WARM_UP} of them warm-up; "
                 f"{shown:.1f} entries a week on average; PostgreSQL {server}", *explain_history_week()]
    target, limit = p99_target(scale)
    ratio = long_history.p99 / everyone.p99
    return {
        "title": f"week read incl. series expansion, scale {scale} ({'quick' if quick else 'seed sizes'})",
        "rows": [
            row("week read p50", everyone.p50, "ms"),
            row("week read p95", everyone.p95, "ms"),
            row("week read p99", everyone.p99, "ms", target, everyone.p99 <= limit),
            row("10-year-history user p50", long_history.p50, "ms"),
            row("10-year-history user p99", long_history.p99, "ms", target, long_history.p99 <= limit),
            row("history p99 / everyone's p99", ratio, "x", "0.90-1.10", 0.9 <= ratio <= 1.1),
            row("window SQL alone p50", sql.p50, "ms"),
            row("window SQL alone p99", sql.p99, "ms"),
        ],
        "notes": notes,
    }
