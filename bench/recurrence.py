"""Series expansion under any rule: how long the worst one takes, and whether it agrees with recurring-ical-events.

Hypothesis generates RRULEs from RFC 5545's grammar (every FREQ Almanac expands, INTERVAL, COUNT or UNTIL,
every BY-part with in-range values, WKST), a first instance anywhere from 1970 to 2060 in one of three zones or
all-day, and a window from a year before it to two centuries after. Each series is expanded cold (nothing kept
from an earlier rule) the way a page does: its end for the stored `series_until`, then the window. Where
recurring-ical-events (dateutil underneath) finishes within ORACLE_SECONDS, both must list the same instants.

Rules are compared with three known differences left out: BYDAY mixing plain weekdays and ordinals (dateutil
keeps only days that are both, RFC 5545 means either), a negative BYWEEKNO in a WEEKLY rule (dateutil misses
the week that starts in December and is the next year's first), and rules Almanac keeps to their first instance
(more than MAX_TIMES_PER_DAY times a day) or shows in part. The two rules of issue 19 are timed on their own.

    python -m bench recurrence            # 100,000 rules (about 40 minutes), every tenth checked by the oracle
    python -m bench --quick recurrence    # 300 rules, all checked
"""
from __future__ import annotations

import gc
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bench.harness import percentile, row
from webapp.recurrence import MAX_OCCURRENCES, SERIES_END_SLACK, SeriesMaster, expand, expansion_limit, series_end
from webapp.rrule import WEEKDAYS, recurrence

ORACLE_SECONDS = 1
TARGET_MS = 20.0
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
# The two rules issue 19 found stalling the server, first instance 60 days before the window.
ISSUE_RULES = (
    "FREQ=DAILY;COUNT=999999999;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE="
    + ",".join(map(str, range(60))) + ";BYSECOND=" + ",".join(map(str, range(60))),
    "FREQ=DAILY;COUNT=5;BYMONTH=2;BYMONTHDAY=30",
)


@dataclass(frozen=True)
class Example:
    rule: str  # RRULE value
    start: datetime | date  # wall clock in `zone`; a date for an all-day series
    zone: str
    window_start: datetime  # aware UTC
    window_end: datetime

    def master(self) -> SeriesMaster:
        if isinstance(self.start, datetime):
            start = self.start.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC)
            return SeriesMaster("series", start, start + timedelta(hours=1), False, self.zone, "RRULE:" + self.rule)
        start = datetime.combine(self.start, datetime.min.time(), UTC)
        return SeriesMaster("series", start, start + timedelta(days=1), True, "UTC", "RRULE:" + self.rule)


def _values(low: int, high: int, signed: bool, most: int):
    value = st.integers(low, high)
    if signed:
        value = st.one_of(value, st.integers(-high, -low))
    return st.lists(value, min_size=1, max_size=most, unique=True).map(lambda items: ",".join(map(str, items)))


@st.composite
def examples(draw) -> Example:
    frequency = draw(st.sampled_from(("YEARLY", "MONTHLY", "WEEKLY", "DAILY")))
    all_day = draw(st.integers(0, 4)) == 0
    zone = "UTC" if all_day else draw(st.sampled_from(ZONES))
    first = draw(st.datetimes(datetime(1970, 1, 1), datetime(2060, 12, 31)).map(lambda moment: moment.replace(
        microsecond=0)))
    start: datetime | date = first.date() if all_day else first
    parts = [f"FREQ={frequency}"]

    def maybe(name: str, values, chance: int = 4) -> None:
        if draw(st.integers(0, chance - 1)) == 0:
            parts.append(f"{name}={draw(values)}")

    maybe("INTERVAL", st.one_of(st.integers(1, 12), st.integers(13, 5000)), 3)
    ending = draw(st.sampled_from(("endless", "count", "until")))
    if ending == "count":
        parts.append(f"COUNT={draw(st.one_of(st.integers(1, 60), st.integers(61, 10**9)))}")
    elif ending == "until":
        until = first + timedelta(days=draw(st.integers(-30, 365 * 40)))
        parts.append("UNTIL=" + (until.strftime("%Y%m%d") if all_day else
                                 until.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")))
    maybe("BYMONTH", _values(1, 12, False, 4))
    maybe("BYWEEKNO", _values(1, 53, True, 3), 6)
    maybe("BYYEARDAY", _values(1, 366, True, 3), 6)
    maybe("BYMONTHDAY", _values(1, 31, True, 4))
    if draw(st.integers(0, 2)) == 0:
        if frequency in ("MONTHLY", "YEARLY") and draw(st.booleans()):
            reach = 5 if frequency == "MONTHLY" or "BYMONTH=" in ";".join(parts) else 53
            ordinal = st.one_of(st.integers(1, reach), st.integers(-reach, -1))
            days = st.lists(st.tuples(ordinal, st.sampled_from(WEEKDAYS)), min_size=1, max_size=3, unique=True)
            parts.append("BYDAY=" + ",".join(f"{n}{day}" for n, day in draw(days)))
        else:
            days = st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)
            parts.append("BYDAY=" + ",".join(draw(days)))
    if not all_day:  # at most 4 x 3 x 2 = 24 times a day: denser rules keep their first instance only
        maybe("BYHOUR", _values(0, 23, False, 4))
        maybe("BYMINUTE", _values(0, 59, False, 3))
        maybe("BYSECOND", _values(0, 59, False, 2), 6)
    maybe("BYSETPOS", _values(1, 366, True, 3), 5)
    maybe("WKST", st.sampled_from(WEEKDAYS), 5)
    window_start = datetime.combine(first.date(), datetime.min.time(), UTC) + timedelta(
        days=draw(st.one_of(st.integers(-365, 800), st.integers(800, 365 * 200))))
    window_start = min(window_start, datetime(9990, 1, 1, tzinfo=UTC))
    window_end = window_start + timedelta(days=draw(st.sampled_from((1, 7, 35, 400))))
    return Example(";".join(parts), start, zone, window_start, window_end)


def expand_cold(example: Example) -> tuple[list[datetime], float]:
    """What a page does with a series first met: its end (stored by the sync), then the window; CPU milliseconds
    of this thread (the machine's other load does not count)."""
    recurrence.cache_clear()
    gc.disable()  # a collection of Hypothesis' own garbage is not the expansion's time (timeit does the same)
    try:
        started = time.thread_time()
        master = example.master()
        series_end(master)
        found = [occurrence.start for occurrence in expand(master, [], example.window_start, example.window_end)]
        elapsed = time.thread_time() - started
    finally:
        gc.enable()
    return found, elapsed * 1000


class OracleTooSlow(Exception):
    pass


@contextmanager
def deadline(seconds: int):
    """SIGALRM in the main thread: dateutil walks impossible rules to the year 9999 and cannot be told to stop."""
    def give_up(signum, frame):
        signal.alarm(1)  # again in a second, should this one be swallowed (raised inside a gc callback)
        raise OracleTooSlow

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def oracle(example: Example) -> list[datetime] | None:
    """recurring-ical-events' instants in the window; None when it takes longer than ORACLE_SECONDS."""
    if isinstance(example.start, datetime):
        value = example.start.strftime("%Y%m%dT%H%M%S")
        when = [f"DTSTART;TZID={example.zone}:{value}",
                f"DTEND;TZID={example.zone}:{(example.start + timedelta(hours=1)).strftime('%Y%m%dT%H%M%S')}"]
    else:
        when = [f"DTSTART;VALUE=DATE:{example.start:%Y%m%d}",
                f"DTEND;VALUE=DATE:{example.start + timedelta(days=1):%Y%m%d}"]
    text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Almanac bench//EN", "BEGIN:VEVENT",
                        "UID:series@bench", "DTSTAMP:20260101T000000Z", *when, f"RRULE:{example.rule}",
                        "END:VEVENT", "END:VCALENDAR", ""])
    try:
        with deadline(ORACLE_SECONDS):
            components = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
                example.window_start, example.window_end)
    except OracleTooSlow:
        return None
    found = []
    for component in components:
        start = component["DTSTART"].dt
        found.append(start.astimezone(UTC) if isinstance(start, datetime) else datetime.combine(
            start, datetime.min.time(), UTC))
    return sorted(found)


def comparable(example: Example, ours: list[datetime]) -> bool:
    """Whether both sides mean the same thing (see the module's docstring) and dateutil can finish: with no
    instance after the window it walks to the year 9999."""
    parts = dict(part.split("=", 1) for part in example.rule.split(";"))
    weekdays = parts.get("BYDAY", "").split(",") if "BYDAY" in parts else []
    mixed = any(day[:-2] for day in weekdays) and any(not day[:-2] for day in weekdays)
    # dateutil reads a week that starts in December with its December year's numbers only ("TODO: Check
    # -numweeks for next year" in its source): a negative BYWEEKNO misses the next year's first days.
    late_week = parts["FREQ"] == "WEEKLY" and "-" in parts.get("BYWEEKNO", "")
    master = example.master()
    if mixed or late_week or len(ours) >= MAX_OCCURRENCES or expansion_limit(master) is not None:
        return False
    # dateutil stops at the first instance after the window, or at the series' end: one of them must be near.
    horizon = example.window_end + timedelta(days=365 * 30)
    end = series_end(master)
    return (end is not None and end < horizon and end != master.end_time + SERIES_END_SLACK) or any(
        occurrence.start != master.start_time for occurrence in expand(master, [], example.window_end, horizon))


@dataclass
class Tally:
    times_ms: list[float]
    worst: tuple[float, str]
    compared: int = 0
    oracle_gave_up: int = 0
    disagreements: list[str] | None = None
    cut_short: int = 0


def check(example: Example, tally: Tally, compare: bool) -> None:
    ours, elapsed = expand_cold(example)
    tally.times_ms.append(elapsed)
    if elapsed > tally.worst[0]:
        tally.worst = (elapsed, f"{example.rule} from {example.start} ({example.zone})")
    if expansion_limit(example.master()) is not None:
        tally.cut_short += 1
    if not compare or not comparable(example, ours):
        return
    expected = oracle(example)
    if expected is None:
        tally.oracle_gave_up += 1
        return
    tally.compared += 1
    if ours != expected:
        tally.disagreements.append(f"{example}: ours {ours[:3]}… ({len(ours)}), oracle {expected[:3]}… "
                                   f"({len(expected)})")


PAGES = ("/calendar/week/2026-12-07", "/calendar/month/2026-12", "/calendar/agenda?start=2026-12-07",
         "/search?q=stand", "/calendar/month/2500-12")


def time_pages(quick: bool) -> list[dict]:
    """The pages issue 19 found stalling, for a demo user (3 calendars, 100 events each, weekly series) whose
    calendar also holds both rules, through the test client: the whole request, rendering included."""
    from bench.harness import bench_app, timed
    from local.demo import generate
    from webapp.auth.sessions import COOKIE_NAME, start_session
    from webapp.extensions import db
    from webapp.models import CalendarConnection, CalendarEvent, EventStatus, SyncStatus, User

    rows = []
    with bench_app() as app:
        generate(db.session, users=1, calendars_per_user=3, events_per_calendar=100, seed=19, year=2026,
                 password="bench-password")
        user = db.session.query(User).one()
        calendar = db.session.query(CalendarConnection).filter_by(user_id=user.id).first()
        for rule in ISSUE_RULES:
            start = datetime(2026, 10, 8, 9, tzinfo=UTC)
            master = SeriesMaster(None, start, start + timedelta(minutes=30), False, "Europe/Berlin", "RRULE:" + rule)
            db.session.add(CalendarEvent(
                calendar_connection_id=calendar.id, provider_event_id=rule[:40], title="Hostile series",
                start_time=start, end_time=master.end_time, timezone="Europe/Berlin", status=EventStatus.CONFIRMED,
                sync_status=SyncStatus.SYNCED, is_recurring=True, recurrence_rule=master.recurrence_rule,
                series_until=series_end(master), series_limit=expansion_limit(master)))
        token = start_session(db.session, user, absolute_days=1, user_agent="bench", ip_address=None)
        db.session.commit()
        client = app.test_client()
        client.set_cookie(COOKIE_NAME, token)
        for url in PAGES:
            def get(url=url):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)

            timings = timed(get, 5 if quick else 200, warm_up=1)
            rows.append(row(f"page {url} with both rules: p95", timings.p95, "ms", "<= 100 ms", timings.p95 <= 100))
    return rows


def run(quick: bool, scale: int) -> dict:
    count = 300 if quick else 100_000 * scale
    every = 1 if quick else 10
    tally = Tally([], (0.0, ""), disagreements=[])
    seen = [0]

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(examples())
    def explore(example: Example) -> None:
        seen[0] += 1
        check(example, tally, seen[0] % every == 0)

    explore()
    rows = [
        row(f"{len(tally.times_ms):,} generated rules: worst expansion (CPU)", tally.worst[0], "ms",
            f"<= {TARGET_MS:g} ms", tally.worst[0] <= TARGET_MS),
        row("p99 expansion", percentile(tally.times_ms, 0.99), "ms"),
        row("median expansion", percentile(tally.times_ms, 0.5), "ms"),
        row("compared with recurring-ical-events", tally.compared, "rules"),
        row("disagreements", len(tally.disagreements), "rules", "0", not tally.disagreements),
        row(f"oracle gave up (over {ORACLE_SECONDS} s)", tally.oracle_gave_up, "rules"),
        row("series shown in part (rule too long to work out)", tally.cut_short, "rules"),
    ]
    for rule in ISSUE_RULES:
        first = datetime(2026, 10, 8, 9)
        example = Example(rule, first, "Europe/Berlin", datetime(2026, 12, 7, tzinfo=UTC),
                          datetime(2026, 12, 14, tzinfo=UTC))
        worst = max(expand_cold(example)[1] for _ in range(3 if quick else 20))
        rows.append(row(f"issue 19 rule {rule[:40]}…: worst of runs (CPU)", worst, "ms", f"<= {TARGET_MS:g} ms",
                        worst <= TARGET_MS))
    rows += time_pages(quick)
    return {"title": "series expansion of generated RRULEs, cold (nothing kept between rules)", "rows": rows,
            "notes": [f"worst rule: {tally.worst[1]}", *tally.disagreements[:20]]}
