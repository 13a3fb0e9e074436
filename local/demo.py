"""Demo data: many users with realistic calendars, written with COPY, the same rows for the same seed.

Every user gets `calendars_per_user` calendars of `events_per_calendar` rows spread over one year: timed events,
all-day and multi-day ones, a few longer than a week, weekly/daily/monthly series (some counted, some ending,
some endless, with EXDATE exceptions) with a moved and a cancelled instance each, in several time zones, some
with attendees. With `history_years` one more user, history@example.com, has that density over that many years
before the year, for comparing a long history with a short one. For the benchmarks and for trying the app.
"""
from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
from psycopg.types.json import Jsonb
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.auth.accounts import hash_password
from webapp.extensions import db
from webapp.models import User
from webapp.recurrence import SeriesMaster, expand, series_end

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney", "America/Los_Angeles")
TITLES = ("Standup", "Planning", "1:1", "Design review", "Lunch", "Dentist", "Call with supplier", "Gym",
          "Interview", "Board meeting", "Retro", "Coffee", "Workshop", "Customer demo", "Focus time")
LOCATIONS = (None, None, "Room 1", "Room 4", "Cafe Central", "https://meet.example.com/abc", "Office")
SERIES_RULES = (
    ("RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "WEEKLY"),
    ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "WEEKLY"),
    ("RRULE:FREQ=DAILY;COUNT=30", "DAILY"),
    ("RRULE:FREQ=MONTHLY;BYDAY=1MO", "MONTHLY"),
    ("RRULE:FREQ=WEEKLY;UNTIL={until}", "WEEKLY"),
)
HISTORY_EMAIL = "history@example.com"
EVENT_COLUMNS = (
    "id", "calendar_connection_id", "provider_event_id", "title", "location", "start_time", "end_time",
    "is_all_day", "timezone", "status", "sync_status", "is_recurring", "recurrence_rule", "recurrence_frequency",
    "recurrence_interval", "recurrence_end_date", "recurrence_count", "series_until", "parent_event_id",
    "attendees", "provider_metadata",
)


@dataclass(frozen=True)
class DemoCounts:
    users: int
    calendars: int
    events: int
    seconds: float


class _Writer:
    """Rows for the three tables, from one random generator so a seed always gives the same data."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
        self.users: list[tuple] = []
        self.calendars: list[tuple] = []
        self.events: list[tuple] = []

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def user(self, email: str, password_hash: str, zone: str) -> uuid.UUID:
        user_id = self.uuid()
        self.users.append((user_id, email, password_hash, zone, 1 + self.rng.randrange(2) * 6))
        return user_id

    def calendar(self, user_id: uuid.UUID, position: int, email: str) -> uuid.UUID:
        calendar_id = self.uuid()
        provider = ("GOOGLE", "MICROSOFT", "APPLE")[position % 3]
        name = ("Work", "Personal", "Family", "Sport", "Holidays")[position % 5]
        colour = ("#4285f4", "#0f9d58", "#e8710a", "#9334e6", "#d93025")[position % 5]
        self.calendars.append((calendar_id, user_id, provider, f"{email}/{position}", name, colour, position == 0))
        return calendar_id

    def fill_calendar(self, calendar_id: uuid.UUID, zone_name: str, count: int, first_day: date, days: int,
                      endless_from: date) -> None:
        """`count` rows over `days` days from `first_day`: about one row in 25 a series master with two overrides.
        Series starting before `endless_from` end within a year, as old series do."""
        rng, zone = self.rng, ZoneInfo(zone_name)
        series = max(1, count // 25) if count >= 3 else 0
        for _ in range(series):
            self._series(calendar_id, zone_name, zone, first_day, days, endless_from)
        for n in range(count - 3 * series):
            day = first_day + timedelta(days=rng.randrange(days))
            kind = rng.random()
            if kind < 0.10:
                self._plain(calendar_id, day, day + timedelta(days=1), True, "UTC", n)
            elif kind < 0.14:
                self._plain(calendar_id, day, day + timedelta(days=rng.randint(2, 5)), True, "UTC", n)
            elif kind < 0.16:
                start = _at(day, 9, 0, zone)
                self._plain(calendar_id, start, start + timedelta(days=rng.randint(8, 21)), False, zone_name, n,
                            title="Vacation")
            else:
                start = _at(day, rng.randint(7, 19), rng.choice((0, 15, 30, 45)), zone)
                self._plain(calendar_id, start, start + timedelta(minutes=rng.choice((15, 30, 45, 60, 90, 120))),
                            False, zone_name, n)

    def _plain(self, calendar_id, start, end, all_day: bool, zone_name: str, n: int, title: str | None = None):
        rng = self.rng
        if all_day:
            start, end = (datetime.combine(start, datetime.min.time(), UTC),
                          datetime.combine(end, datetime.min.time(), UTC))
        attendees = None
        if rng.random() < 0.3:
            attendees = Jsonb([{"email": f"guest{rng.randrange(500)}@example.org", "responseStatus": "accepted"}
                               for _ in range(rng.randint(1, 4))])
        self.events.append((
            self.uuid(), calendar_id, f"demo-{self.uuid().hex}", title or rng.choice(TITLES),
            rng.choice(LOCATIONS), start, end, all_day, zone_name, "TENTATIVE" if n % 17 == 0 else "CONFIRMED",
            "SYNCED", False, None, None, None, None, None, None, None, attendees, Jsonb({"etag": f'"{n}"'}),
        ))

    def _series(self, calendar_id, zone_name: str, zone: ZoneInfo, first_day: date, days: int,
                endless_from: date) -> None:
        rng = self.rng
        day = first_day + timedelta(days=rng.randrange(max(1, days - 60)))
        start = _at(day, rng.randint(8, 16), rng.choice((0, 30)), zone)
        end = start + timedelta(minutes=rng.choice((15, 30, 60)))
        rule, frequency = rng.choice(SERIES_RULES)
        if day < endless_from and "COUNT" not in rule and "{until}" not in rule:
            rule += ";UNTIL={until}"
        until = None
        if "{until}" in rule:
            until = start + timedelta(weeks=rng.randint(8, 40))
            rule = rule.format(until=until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
        skipped = _at(day + timedelta(days=21), start.astimezone(zone).hour, start.astimezone(zone).minute, zone)
        if frequency == "WEEKLY" and rng.random() < 0.5:
            rule += f"\nEXDATE;TZID={zone_name}:{skipped.astimezone(zone):%Y%m%dT%H%M%S}"
        master = SeriesMaster(None, start, end, False, zone_name, rule)
        master_id = self.uuid()
        count = 30 if "COUNT=30" in rule else None
        self.events.append((
            master_id, calendar_id, f"demo-{master_id.hex}", rng.choice(TITLES), rng.choice(LOCATIONS), start, end,
            False, zone_name, "CONFIRMED", "SYNCED", True, rule, frequency, 2 if "INTERVAL=2" in rule else 1,
            until, count, series_end(master), None, None, Jsonb({"etag": '"series"'}),
        ))
        instances = [occurrence.start for occurrence in _first_instances(master, start)]
        for instance, cancelled in zip(instances[1:3], (False, True), strict=False):
            moved = instance + timedelta(hours=0 if cancelled else 2)
            self.events.append((
                self.uuid(), calendar_id, f"demo-{self.uuid().hex}", "Moved" if not cancelled else "Cancelled",
                None, moved, moved + (end - start), False, zone_name, "CANCELLED" if cancelled else "CONFIRMED",
                "SYNCED", False, None, None, None, None, None, None, master_id, None,
                Jsonb({"original_start_time": instance.astimezone(UTC).isoformat()}),
            ))


def _first_instances(master: SeriesMaster, start: datetime):
    return expand(master, [], start, start + timedelta(days=120))


def _at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def generate(session: Session, *, users: int, calendars_per_user: int, events_per_calendar: int, seed: int,
             year: int, password: str, history_years: int = 0) -> DemoCounts:
    """Write the demo rows with COPY in the session's transaction (the caller commits)."""
    started = time.perf_counter()
    writer = _Writer(seed)
    password_hash = hash_password(password)  # one hash for all: argon2 takes a tenth of a second each time
    first_day, days = date(year, 1, 1), (date(year + 1, 1, 1) - date(year, 1, 1)).days
    for n in range(1, users + 1):
        email = f"demo{n}@example.com"
        zone = ZONES[n % len(ZONES)]
        user_id = writer.user(email, password_hash, zone)
        for position in range(calendars_per_user):
            writer.fill_calendar(writer.calendar(user_id, position, email), zone, events_per_calendar, first_day,
                                 days, first_day)
    if history_years:
        user_id = writer.user(HISTORY_EMAIL, password_hash, "Europe/Berlin")
        history_start = date(year - history_years, 1, 1)
        for position in range(calendars_per_user):
            writer.fill_calendar(writer.calendar(user_id, position, HISTORY_EMAIL), "Europe/Berlin",
                                 events_per_calendar * (history_years + 1), history_start,
                                 (date(year + 1, 1, 1) - history_start).days, first_day)
    cursor = session.connection().connection.driver_connection.cursor()
    # Millions of rows (each with its search vector computed) take longer than any request may.
    cursor.execute("SET LOCAL statement_timeout = 0")
    with cursor.copy("COPY users (id, email, password_hash, time_zone, week_start) FROM STDIN") as copy:
        for row in writer.users:
            copy.write_row(row)
    with cursor.copy("COPY calendar_connections (id, user_id, provider, calendar_id, calendar_name, "
                     "calendar_color, is_primary) FROM STDIN") as copy:
        for row in writer.calendars:
            copy.write_row(row)
    with cursor.copy(f"COPY calendar_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
        for row in writer.events:
            copy.write_row(row)
    return DemoCounts(len(writer.users), len(writer.calendars), len(writer.events), time.perf_counter() - started)


@click.command("demo-data")
@click.option("--users", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--calendars-per-user", default=3, show_default=True, type=click.IntRange(1))
@click.option("--events-per-calendar", default=100, show_default=True, type=click.IntRange(1))
@click.option("--scale", default=1, show_default=True, type=click.IntRange(1), help="Multiplies the users.")
@click.option("--history-years", default=0, show_default=True, type=click.IntRange(0),
              help=f"Add {HISTORY_EMAIL} with this many years of events before the year.")
@click.option("--seed", default=1, show_default=True, type=int, help="The same seed gives the same data.")
@click.option("--year", default=None, type=int, help="The year the events fall in (default: this year).")
@click.option("--password", default="almanac-demo", show_default=True, help="Every demo user's password.")
def demo_data_command(users, calendars_per_user, events_per_calendar, scale, history_years, seed, year, password):
    """Fill the database with demo users demo1@example.com … and their calendars."""
    if db.session.scalar(select(func.count()).select_from(User).where(User.email == "demo1@example.com")):
        raise click.ClickException("Demo data is already there (demo1@example.com exists).")
    counts = generate(db.session, users=users * scale, calendars_per_user=calendars_per_user,
                      events_per_calendar=events_per_calendar, seed=seed, year=year or datetime.now(UTC).year,
                      history_years=history_years, password=password)
    db.session.commit()
    click.echo(f"{counts.users:,} users, {counts.calendars:,} calendars, {counts.events:,} events "
               f"in {counts.seconds:.1f} s; password: {password}")
