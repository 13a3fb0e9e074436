"""Fault-injection benchmark: `python -m bench.chaos [--short] [--seed N]`.

Against the project's own Google and Microsoft emulators and a real Radicale (each behind a FaultPlan), with two
RQ worker processes and two scheduler loops running: for N cycles, change the provider calendars at random
(create, move, delete, series, overrides, cancelled occurrences, hostile content, expired cursors), create events
in Almanac that must reach the providers, inject 429 with Retry-After, 500, 503, read timeouts and connection
resets, and SIGKILL a worker at random moments. Then the faults stop and every calendar in Almanac must equal
its provider within two sync cycles. The full run also restarts Redis and PostgreSQL under load.

Prints one table: events lost, duplicated and stale, worker kills survived, faults injected, the most syncs of one
calendar ever in flight at once (seen by the providers), and the outage figures.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import requests
from flask_migrate import upgrade
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import select, text

from bench.recurrence import ISSUE_RULES
from local.embedded import start_postgres, start_redis
from sandbox.faults import Fault, FaultInjector, FaultPlan, ReverseProxy, listing_key
from sandbox.google_emulator import GoogleState, create_google_emulator
from sandbox.microsoft_emulator import MicrosoftState, create_microsoft_emulator
from sandbox.radicale_server import create_calendar, put_event, start_radicale
from sandbox.serve import serve_in_thread
from webapp import create_app
from webapp.config import PROJECT_ROOT, Config
from webapp.extensions import db

GOOGLE_CLIENT = ("chaos-client.apps.googleusercontent.com", "chaos-secret")
MICROSOFT_CLIENT = ("0c4a0e57-7f0b-4a4c-9d7e-3f1c2b3a4d5e", "chaos-secret")
APPLE_LOGIN = ("chaos@icloud.example", "abcd-efgh-ijkl-mnop")
PASSWORD = "chaos passphrase 42"
PROVIDER_TIMEOUT = 3.0  # seconds; a stall fault lasts longer, so it is a read timeout
JOB_TIMEOUT = 300


@dataclass(frozen=True)
class Mode:
    users: int
    cycles: int
    cycle_seconds: float
    min_kills: int
    fault_rate: float
    restarts: bool


MODES = {
    "short": Mode(users=1, cycles=3, cycle_seconds=3, min_kills=3, fault_rate=0.15, restarts=False),
    "full": Mode(users=4, cycles=45, cycle_seconds=7, min_kills=200, fault_rate=0.2, restarts=True),
}


@dataclass
class Calendar:
    kind: str  # google | microsoft | apple
    connection_id: uuid.UUID
    handle: str  # Google calendar id, Graph calendar id, or the CalDAV collection path
    created: list[str] = field(default_factory=list)  # provider-side ids (or resource names) we made
    series: list[tuple[str, datetime]] = field(default_factory=list)  # (id, first start) of series we made


@dataclass
class Report:
    lost: int = 0
    duplicated: int = 0
    stale: int = 0
    skipped_unreported: int = 0
    events_compared: int = 0
    local_creations: int = 0
    provider_changes: int = 0
    kills: int = 0
    faults: Counter = field(default_factory=Counter)
    max_concurrent_syncs: int = 0
    cycles_to_converge: int | None = None
    outages: list[dict] = field(default_factory=list)
    stuck_syncing: int = 0
    seconds: float = 0.0
    details: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- the stack


class Stack:
    """PostgreSQL, Redis, the three providers behind fault plans, the app, and its worker processes."""

    def __init__(self, root: Path, stack: ExitStack):
        self.root, self.exit = root, stack
        self.postgres = start_postgres(root / "postgres")  # its data must outlive a restart
        stack.callback(lambda: self.postgres.stop())
        self.redis = start_redis(root / "redis", persist=True)
        stack.callback(lambda: self.redis.stop())
        self.google_state, self.microsoft_state = GoogleState(), MicrosoftState()
        self.google_state.add_client(*GOOGLE_CLIENT)
        self.microsoft_state.add_client(*MICROSOFT_CLIENT)
        self.faults = {name: FaultPlan(listing_key) for name in ("google", "microsoft", "apple")}
        self.google = serve_in_thread(FaultInjector(create_google_emulator(self.google_state), self.faults["google"]))
        self.microsoft = serve_in_thread(FaultInjector(create_microsoft_emulator(self.microsoft_state),
                                                       self.faults["microsoft"]))
        self.radicale = start_radicale(root / "radicale", {APPLE_LOGIN[0]: APPLE_LOGIN[1]})
        self.caldav = serve_in_thread(FaultInjector(ReverseProxy(self.radicale.url), self.faults["apple"]))
        for server in (self.google, self.microsoft, self.caldav):
            stack.callback(server.stop)
        stack.callback(self.radicale.stop)
        self.env = {
            **os.environ,
            "DATABASE_URL": self.postgres.url(), "REDIS_URL": self.redis.url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "TOKEN_ENCRYPTION_KEYS": "chaos:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "GOOGLE_CLIENT_ID": GOOGLE_CLIENT[0], "GOOGLE_CLIENT_SECRET": GOOGLE_CLIENT[1],
            "GOOGLE_AUTH_URL": f"{self.google.url}/o/oauth2/v2/auth", "GOOGLE_TOKEN_URL": f"{self.google.url}/token",
            "GOOGLE_REVOKE_URL": f"{self.google.url}/revoke",
            "GOOGLE_CALENDAR_API_URL": f"{self.google.url}/calendar/v3",
            "GOOGLE_USERINFO_URL": f"{self.google.url}/v1/userinfo",
            "MICROSOFT_CLIENT_ID": MICROSOFT_CLIENT[0], "MICROSOFT_CLIENT_SECRET": MICROSOFT_CLIENT[1],
            "MICROSOFT_AUTHORITY": f"{self.microsoft.url}/common", "MICROSOFT_GRAPH_URL": f"{self.microsoft.url}/v1.0",
            "APPLE_CALDAV_URL": f"{self.caldav.url}/", "PROVIDER_TIMEOUT_SECONDS": str(PROVIDER_TIMEOUT),
            "LOG_LEVEL": "WARNING", "PYTHONPATH": str(PROJECT_ROOT), "PUSH_NOTIFICATIONS": "0",
            "OAUTHLIB_INSECURE_TRANSPORT": "1",  # the emulators speak plain http on loopback
            "ALLOW_PRIVATE_SOURCES": "1",  # and Radicale's proxy is on loopback too
        }
        # oauthlib reads the environment when the in-process web server starts a sign-in (a test run sets it).
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        self.app = create_app({"CONFIG": Config.from_env(self.env)})
        with self.app.app_context():
            upgrade()
            db.engine.dispose()
        self.web = serve_in_thread(self.app)
        stack.callback(self.web.stop)
        self.workers = Workers(self.env, root / "workers.log", count=2)
        stack.callback(self.workers.stop)

    def restart_redis(self, down_seconds: float) -> None:
        self.redis.stop()
        time.sleep(down_seconds)
        self.redis = start_redis(self.root / "redis", persist=True)

    def restart_postgres(self, down_seconds: float) -> None:
        self.postgres.stop()
        time.sleep(down_seconds)
        self.postgres = start_postgres(self.root / "postgres")


class Workers:
    """RQ worker processes (the Procfile's worker command), restarted as soon as one dies."""

    def __init__(self, env: dict, log_path: Path, count: int):
        self.env, self.log = env, log_path.open("ab")
        self.processes: list[subprocess.Popen] = [self._start() for _ in range(count)]
        self.kills = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    def _start(self) -> subprocess.Popen:
        rq = Path(sys.executable).with_name("rq")
        return subprocess.Popen(  # noqa: S603 - our own interpreter's rq, fixed arguments
            [str(rq), "worker", "--url", self.env["REDIS_URL"], "--worker-class", "jobs.worker.GracefulWorker",
             "--with-scheduler", "--maintenance-interval", "10", "sync", "default"],
            cwd=PROJECT_ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                for index, process in enumerate(self.processes):
                    if process.poll() is not None:
                        self.processes[index] = self._start()
            time.sleep(0.2)

    def kill_one(self, rng: random.Random) -> None:
        with self._lock:
            process = rng.choice([p for p in self.processes if p.poll() is None] or [None])
            if process is None:
                return
            process.send_signal(signal.SIGKILL)
            process.wait()
            self.kills += 1

    def stop(self) -> None:
        self._stop.set()
        self._supervisor.join(timeout=5)
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.log.close()


# ---------------------------------------------------------------------------------------------- accounts


def connect_accounts(stack: Stack, users: int) -> list[Calendar]:
    """Each user connects one Google, one Microsoft and one iCloud calendar through the real flows."""
    calendars = []
    for number in range(users):
        browser = stack.app.test_client()
        email = f"chaos{number}@example.com"
        # Accounts are made directly (signing up goes by mail), then signed in through the real form.
        with stack.app.app_context():
            from webapp.auth.accounts import hash_password
            from webapp.models import User

            db.session.add(User(email=email, password_hash=hash_password(PASSWORD)))
            db.session.commit()
            db.session.remove()
        token = _csrf(browser.get("/login").get_data(as_text=True))
        browser.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        google = f"chaos{number}@gmail.com"
        stack.google_state.add_calendar(google, google, "Work", color="#4285f4", primary=True)
        _oauth(browser, "google", google)
        outlook = f"chaos{number}@outlook.com"
        stack.microsoft_state.add_account(outlook)
        _oauth(browser, "microsoft", outlook)
        name = f"chaos{number}"
        create_calendar(stack.radicale.url, *APPLE_LOGIN, name, name.title(), "#34a853")
        token = _csrf(browser.get("/connections/apple").get_data(as_text=True))
        browser.post("/connections/apple", data={"apple_id": APPLE_LOGIN[0], "app_password": APPLE_LOGIN[1],
                                                 "csrf_token": token})
        with stack.app.app_context():
            from webapp.models import CalendarConnection, User

            rows = db.session.execute(select(CalendarConnection).join(User, User.id == CalendarConnection.user_id)
                                      .where(User.email == email)).scalars()
            for row in rows:
                if row.provider.value == "GOOGLE":
                    calendars.append(Calendar("google", row.id, row.calendar_id))
                elif row.provider.value == "MICROSOFT":
                    calendars.append(Calendar("microsoft", row.id, row.calendar_id))
                elif row.calendar_name == name.title():
                    calendars.append(Calendar("apple", row.id, urlsplit(row.calendar_id).path))
            db.session.remove()
    return calendars


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    return match.group(1)


def _oauth(browser, provider: str, email: str) -> None:
    token = _csrf(browser.get("/connections/").get_data(as_text=True))
    consent = browser.post(f"/connections/{provider}/connect", data={"csrf_token": token}).location
    answer = requests.get(f"{consent}&login_hint={email}&emulator_auto=allow", allow_redirects=False, timeout=30)
    location = urlsplit(answer.headers["Location"])
    browser.get(f"{location.path}?{location.query}")


# ---------------------------------------------------------------------------------------------- changes


HOSTILE_TITLES = ("Launch\x00 party", "Bell\x07 \x1b[31mred\x1b[0m", "Tab\tand\nnewline", "Long " + "x" * 700)


class Mutator:
    """Random provider-side changes and Almanac-side creations, all remembered for the final comparison."""

    def __init__(self, stack: Stack, calendars: list[Calendar], rng: random.Random):
        self.stack, self.calendars, self.rng = stack, calendars, rng
        self.local_titles: set[tuple[uuid.UUID, str]] = set()
        self.unreadable: set[str] = set()
        self.changes = 0

    def step(self) -> None:
        calendar = self.rng.choice(self.calendars)
        try:
            getattr(self, f"_{calendar.kind}")(calendar, self.rng.random())
            self.changes += 1
        except Exception:  # noqa: BLE001, S110 - the provider refused this change (e.g. an occurrence deleted twice)
            pass

    def local_creation(self) -> None:
        from webapp.models import CalendarEvent, EventStatus, SyncStatus
        from webapp.sync.queue import enqueue_push

        calendar = self.rng.choice(self.calendars)
        title = f"Local {len(self.local_titles) + 1}"
        start = self._start()
        with self.stack.app.app_context():
            event = CalendarEvent(calendar_connection_id=calendar.connection_id, provider_event_id=uuid.uuid4().hex,
                                  title=title, start_time=start, end_time=start + timedelta(hours=1), timezone="UTC",
                                  status=EventStatus.CONFIRMED, sync_status=SyncStatus.PENDING)
            db.session.add(event)
            db.session.commit()
            self.local_titles.add((calendar.connection_id, title))
            with contextlib.suppress(Exception):  # Redis may be restarting: the next scheduler tick queues it
                enqueue_push(event.id, calendar.connection_id)
            db.session.remove()

    def _start(self) -> datetime:
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return day + timedelta(days=self.rng.randint(-20, 40), hours=self.rng.randint(6, 20))

    def _title(self) -> str:
        return self.rng.choice(HOSTILE_TITLES) if self.rng.random() < 0.15 else f"Event {self.rng.randrange(10**6)}"

    # -- Google
    def _google(self, calendar: Calendar, roll: float) -> None:
        state = self.stack.google_state
        start = self._start()
        body = {"summary": self._title(), "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
                "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "UTC"}}
        if roll < 0.35 or not calendar.created:
            if self.rng.random() < 0.1:
                body["attendees"] = [{"email": f"guest{n}@example.com"} for n in range(250)]
            calendar.created.append(state.add_event(calendar.handle, body)["id"])
        elif roll < 0.5:
            # One series in ten carries a rule that once stalled every page it showed on (issue 19).
            hostile = self.rng.random() < 0.1
            rule = self.rng.choice(ISSUE_RULES) if hostile else "FREQ=DAILY;COUNT=5"
            event = state.add_event(calendar.handle, {**body, "recurrence": ["RRULE:" + rule]})
            calendar.created.append(event["id"])
            if not hostile:  # its instances are edited below; a hostile one has no second instance to edit
                calendar.series.append((event["id"], start))
        elif roll < 0.6 and calendar.series:
            series_id, first = self.rng.choice(calendar.series)
            stamp = (first + timedelta(days=self.rng.randint(1, 4))).strftime("%Y%m%dT%H%M%SZ")
            if self.rng.random() < 0.5:
                state.update_event(calendar.handle, f"{series_id}_{stamp}", {"summary": self._title()})
            else:
                state.delete_event(calendar.handle, f"{series_id}_{stamp}")
        elif roll < 0.8:
            moved = self._start()
            state.update_event(calendar.handle, self.rng.choice(calendar.created), {
                "summary": self._title(), "start": {"dateTime": moved.isoformat(), "timeZone": "UTC"},
                "end": {"dateTime": (moved + timedelta(hours=1)).isoformat(), "timeZone": "UTC"}})
        elif roll < 0.93:
            victim = self.rng.choice(calendar.created)
            calendar.created.remove(victim)
            calendar.series = [s for s in calendar.series if s[0] != victim]
            state.delete_event(calendar.handle, victim)
        elif roll < 0.97:
            state.expire_sync_tokens(calendar.handle)  # the next incremental round gets 410
        else:
            self.unreadable.add(state.add_raw_event(calendar.handle, {"summary": "Broken",
                                                                      "start": {"dateTime": "soon"},
                                                                      "end": {"dateTime": "later"}}))

    # -- Microsoft
    def _microsoft(self, calendar: Calendar, roll: float) -> None:
        state = self.stack.microsoft_state
        start = self._start()
        body = {"subject": self._title(), "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}
        if roll < 0.4 or not calendar.created:
            calendar.created.append(state.add_event(calendar.handle, body))
        elif roll < 0.5:
            recurrence = {"pattern": {"type": "daily", "interval": 1},
                          "range": {"type": "numbered", "startDate": start.date().isoformat(),
                                    "numberOfOccurrences": 4}}
            series_id = state.add_event(calendar.handle, {**body, "recurrence": recurrence})
            calendar.created.append(series_id)
            calendar.series.append((series_id, start))
        elif roll < 0.6 and calendar.series:
            series_id, first = self.rng.choice(calendar.series)
            occurrence = state.occurrence_id(series_id, first + timedelta(days=self.rng.randint(1, 3)))
            state.update_event(occurrence, {"subject": self._title()})
        elif roll < 0.8:
            state.update_event(self.rng.choice(calendar.created), {"subject": self._title()})
        elif roll < 0.95:
            victim = self.rng.choice(calendar.created)
            calendar.created.remove(victim)
            calendar.series = [s for s in calendar.series if s[0] != victim]
            state.delete_event(victim)
        else:
            state.expire_delta_tokens(calendar.handle)

    # -- iCloud (Radicale)
    def _apple(self, calendar: Calendar, roll: float) -> None:
        base = self.stack.radicale.url
        if roll < 0.45 or not calendar.created:
            name = f"{uuid.uuid4().hex}.ics"
            recurring = self.rng.random() < 0.25
            put_event(base, *APPLE_LOGIN, calendar.handle, name, _ics(name, self._title(), self._start(), recurring))
            calendar.created.append(name)
        elif roll < 0.8:
            name = self.rng.choice(calendar.created)
            put_event(base, *APPLE_LOGIN, calendar.handle, name,
                      _ics(name, self._title(), self._start(), self.rng.random() < 0.3, override=True))
        else:
            name = self.rng.choice(calendar.created)
            calendar.created.remove(name)
            requests.delete(f"{base}{calendar.handle}{name}", auth=APPLE_LOGIN, timeout=10)


def _ics(uid: str, title: str, start: datetime, recurring: bool, override: bool = False) -> str:
    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y%m%dT%H%M%SZ")

    summary = title.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")
    master = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"SUMMARY:{summary}",
              f"DTSTART:{stamp(start)}", f"DTEND:{stamp(start + timedelta(hours=1))}"]
    components = [*master, *(["RRULE:FREQ=WEEKLY;COUNT=4"] if recurring else []), "END:VEVENT"]
    if recurring and override:
        moved = start + timedelta(weeks=1, hours=2)
        components += ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"SUMMARY:{summary} (moved)",
                       f"RECURRENCE-ID:{stamp(start + timedelta(weeks=1))}", f"DTSTART:{stamp(moved)}",
                       f"DTEND:{stamp(moved + timedelta(hours=1))}", "END:VEVENT"]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Almanac//Chaos//EN", *components, "END:VCALENDAR"]
    return "\r\n".join(line.replace("\x00", "").replace("\x07", "").replace("\x1b", "") for line in lines) + "\r\n"


# ---------------------------------------------------------------------------------------------- running


def schedule_everything(stack: Stack) -> None:
    """One scheduler tick: a pull for every calendar and a push for every waiting change (as Sync now would)."""
    from webapp.models import CalendarConnection
    from webapp.sync import due
    from webapp.sync.queue import enqueue_push, enqueue_sync

    with stack.app.app_context():
        try:
            connection_ids = db.session.scalars(select(CalendarConnection.id).where(
                CalendarConnection.deleted_at.is_(None), CalendarConnection.is_connected.is_(True))).all()
            pushes = due.events_to_push(db.session)
            db.session.rollback()
            for connection_id in connection_ids:
                enqueue_sync(connection_id)
            for event_id, connection_id in pushes:
                enqueue_push(event_id, connection_id)
        except Exception:  # noqa: BLE001, S110 - Redis or PostgreSQL may be down on purpose; the next tick retries
            pass
        finally:
            db.session.remove()


def scheduler_loops(stack: Stack, stop: threading.Event, interval: float, count: int = 2) -> list[threading.Thread]:
    def loop(offset: float) -> None:
        time.sleep(offset)
        while not stop.is_set():
            schedule_everything(stack)
            stop.wait(interval)

    threads = [threading.Thread(target=loop, args=(index * interval / count,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    return threads


def wait_until_idle(stack: Stack, timeout: float) -> bool:
    """The sync queue drained and no sync holds a lock."""
    from webapp.extensions import redis_client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with stack.app.app_context():
                queue = Queue("sync", connection=redis_client())
                started = StartedJobRegistry(queue=queue).get_job_ids()
                busy = db.session.execute(text(
                    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted LIMIT 1")).first()
                db.session.remove()
                if queue.count == 0 and not started and busy is None:
                    return True
        except Exception:  # noqa: BLE001, S110 - a restart in progress
            pass
        time.sleep(0.5)
    return False


def compare(stack: Stack, calendars: list[Calendar], mutator: Mutator, report: Report, record: bool) -> int:
    """Every calendar as its provider lists it now against what Almanac shows; returns the mismatches."""
    from webapp.credentials import credentials_for
    from webapp.models import CalendarConnection, CalendarEvent
    from webapp.providers import get_provider

    mismatches, details = 0, []
    counts = Counter()
    with stack.app.app_context():
        for calendar in calendars:
            connection = db.session.get(CalendarConnection, calendar.connection_id)
            kind, calendar_id = connection.provider, connection.calendar_id
            reported = {entry.get("id") for entry in connection.skipped_events or []}
            credentials = credentials_for(db.session, calendar.connection_id)
            theirs, skipped, page = {}, set(), None
            with get_provider(kind) as provider:
                while True:
                    listing = provider.fetch_changes(credentials, calendar_id, None, page)
                    theirs |= {event.provider_event_id: (event.title or "(No title)", event.start_time, event.status)
                               for event in listing.events}
                    skipped |= {skip.provider_event_id for skip in listing.skipped}
                    if not listing.next_page:
                        break
                    page = listing.next_page
            ours_rows = db.session.scalars(select(CalendarEvent).where(
                CalendarEvent.calendar_connection_id == calendar.connection_id,
                CalendarEvent.deleted_at.is_(None))).all()
            ours = {row.provider_event_id: (row.title, row.start_time, row.status.value) for row in ours_rows}
            states = {row.title: f"{row.sync_status.value} {(row.provider_metadata or {}).get('push_error', '')}"
                      for row in ours_rows}
            lost = set(theirs) - set(ours) - skipped
            ghosts = set(ours) - set(theirs)
            changed = {pid for pid in set(theirs) & set(ours) if theirs[pid] != ours[pid]}
            counts["lost"] += len(lost)
            counts["stale"] += len(ghosts) + len(changed)
            counts["skipped_unreported"] += len(skipped - reported)
            counts["compared"] += len(theirs)
            titles = Counter(title for title, _, _ in theirs.values())
            for _, title in [key for key in mutator.local_titles if key[0] == calendar.connection_id]:
                if titles[title] == 0:
                    counts["lost"] += 1
                    details.append(f"{calendar.kind}: local creation {title!r} never reached the provider "
                                   f"(here: {states.get(title, 'no row')})")
                counts["duplicated"] += max(0, titles[title] - 1)
            for pid in sorted(lost)[:3]:
                details.append(f"{calendar.kind}: lost {pid}")
            for pid in sorted(ghosts | changed)[:3]:
                details.append(f"{calendar.kind}: stale {pid} ours={ours.get(pid)} theirs={theirs.get(pid)}")
        db.session.remove()
    mismatches = counts["lost"] + counts["stale"] + counts["duplicated"]
    if record:
        report.lost, report.stale, report.duplicated = counts["lost"], counts["stale"], counts["duplicated"]
        report.skipped_unreported, report.events_compared = counts["skipped_unreported"], counts["compared"]
        report.details = details
    return mismatches


def sync_cycle(stack: Stack, timeout: float = 120) -> None:
    schedule_everything(stack)
    wait_until_idle(stack, timeout)
    schedule_everything(stack)  # pushes made in the pass above come back as echoes
    wait_until_idle(stack, timeout)


def outage(stack: Stack, what: str, down_seconds: float = 5.0) -> dict:
    """Stop Redis or PostgreSQL under load: what pages answer while it is down, and how long until they are
    served again."""
    browser = requests.Session()
    token_page = browser.get(f"{stack.web.url}/login", timeout=10).text
    browser.post(f"{stack.web.url}/login", data={"email": "chaos0@example.com", "password": PASSWORD,
                                                 "csrf_token": _csrf(token_page)}, timeout=10)
    statuses, tracebacks = Counter(), 0
    restarted_at, recovered_at = None, None
    stop = threading.Event()

    def poll() -> None:
        nonlocal tracebacks, recovered_at
        while not stop.is_set():
            try:
                response = browser.get(f"{stack.web.url}/connections/", timeout=15)
                statuses[response.status_code] += 1
                tracebacks += "Traceback" in response.text
                if restarted_at and response.status_code == 200 and recovered_at is None:
                    recovered_at = time.monotonic()
            except requests.RequestException:
                statuses["no answer"] += 1
            time.sleep(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    time.sleep(1)
    if what == "redis":
        stack.restart_redis(down_seconds)
    else:
        stack.restart_postgres(down_seconds)
    restarted_at = time.monotonic()
    deadline = restarted_at + 60
    while recovered_at is None and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    poller.join(timeout=20)
    return {"what": what, "statuses": dict(statuses), "tracebacks": tracebacks,
            "recovered_s": round(recovered_at - restarted_at, 1) if recovered_at else None}


def run(mode: Mode, seed: int = 7) -> Report:
    rng = random.Random(seed)
    report, started = Report(), time.monotonic()
    with ExitStack() as exit_stack:
        root = Path(exit_stack.enter_context(tempfile.TemporaryDirectory(prefix="almanac-chaos-")))
        stack = Stack(root, exit_stack)
        calendars = connect_accounts(stack, mode.users)
        mutator = Mutator(stack, calendars, rng)
        for _ in range(len(calendars) * 3):
            mutator.step()
        sync_cycle(stack)

        faults = [Fault("status", status=429, headers={"Retry-After": "1"}),
                  Fault("status", status=429, headers={"Retry-After": "1.5"}),
                  Fault("status", status=500), Fault("status", status=503),
                  Fault("stall", seconds=PROVIDER_TIMEOUT + 1), Fault("reset")]
        for index, plan in enumerate(stack.faults.values()):
            plan.randomly(mode.fault_rate, faults, seed=seed + index)
        stop = threading.Event()
        schedulers = scheduler_loops(stack, stop, interval=mode.cycle_seconds / 2)
        kill_interval = mode.cycles * mode.cycle_seconds / (mode.min_kills * 1.15)
        killer = threading.Thread(target=_kill_loop, args=(stack, stop, rng, kill_interval), daemon=True)
        killer.start()
        for _ in range(mode.cycles):
            for _ in range(max(1, len(calendars) // 2)):
                mutator.step()
            if rng.random() < 0.6:
                mutator.local_creation()
            time.sleep(mode.cycle_seconds)
        while stack.workers.kills < mode.min_kills:  # the kill quota is part of the run, however long it takes
            time.sleep(0.5)
        stop.set()
        killer.join(timeout=10)
        for thread in schedulers:
            thread.join(timeout=30)
        for plan in stack.faults.values():
            plan.calm()
            report.faults.update(plan.injected)
        report.kills = stack.workers.kills

        for cycle in (1, 2):  # the faults stopped: every calendar must equal its provider within two cycles
            sync_cycle(stack)
            if compare(stack, calendars, mutator, report, record=True) == 0:
                report.cycles_to_converge = cycle
                break
        report.max_concurrent_syncs = max(plan.max_in_flight for plan in stack.faults.values())
        report.local_creations = len(mutator.local_titles)
        report.provider_changes = mutator.changes
        report.seconds = time.monotonic() - started
        print(table(report, "chaos phase"), flush=True)  # noqa: T201 - kept even if an outage goes wrong
        if mode.restarts:
            stop_load = threading.Event()
            load = scheduler_loops(stack, stop_load, interval=1.0, count=1)
            for what in ("redis", "postgres"):
                try:
                    report.outages.append(outage(stack, what))
                except Exception as error:  # noqa: BLE001 - reported in the table, not raised
                    report.outages.append({"what": what, "statuses": {}, "tracebacks": 0,
                                           "recovered_s": f"failed ({type(error).__name__})"})
            stop_load.set()
            for thread in load:
                thread.join(timeout=30)
            wait_until_idle(stack, JOB_TIMEOUT)
            report.stuck_syncing = _stuck_syncing(stack)
        report.seconds = time.monotonic() - started
    return report


def _kill_loop(stack: Stack, stop: threading.Event, rng: random.Random, interval: float) -> None:
    while not stop.wait(rng.uniform(0.3, 1.7) * interval):
        stack.workers.kill_one(rng)


def _stuck_syncing(stack: Stack) -> int:
    """Connections the page shows as "Syncing…" once the load stopped and the queue drained: must be none."""
    from webapp.locks import running_syncs
    from webapp.models import CalendarConnection
    from webapp.sync.queue import is_sync_queued
    from webapp.sync.status import sync_state

    with stack.app.app_context():
        connections = db.session.scalars(select(CalendarConnection)).all()
        running = running_syncs(db.session, [connection.id for connection in connections])
        now = datetime.now(UTC)
        stuck = sum(1 for connection in connections if sync_state(
            connection, now=now, is_running=connection.id in running,
            is_queued=is_sync_queued(connection.id)).kind == "syncing")
        db.session.remove()
    return stuck


def table(report: Report, mode_name: str) -> str:
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(report.faults.items()))
    rows = [
        ("mode", mode_name),
        ("events compared", report.events_compared),
        ("events lost", report.lost),
        ("events duplicated", report.duplicated),
        ("events stale", report.stale),
        ("unreadable events not reported", report.skipped_unreported),
        ("provider changes / Almanac creations", f"{report.provider_changes} / {report.local_creations}"),
        ("worker kills survived (SIGKILL)", report.kills),
        ("faults injected", f"{sum(report.faults.values())} ({faults})"),
        ("max concurrent syncs of one calendar", report.max_concurrent_syncs),
        ("sync cycles to converge", report.cycles_to_converge if report.cycles_to_converge else "did not converge"),
    ]
    for outage_result in report.outages:
        rows.append((f"{outage_result['what']} restart: answers (1 s before, down, back)",
                     ", ".join(f"{status}×{count}" for status, count in outage_result["statuses"].items())))
        rows.append((f"{outage_result['what']} restart: tracebacks / recovered in",
                     f"{outage_result['tracebacks']} / {outage_result['recovered_s']} s"))
    if report.outages:
        rows.append(("connections left Syncing", report.stuck_syncing))
    rows.append(("run time", f"{report.seconds:.0f} s"))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    return "\n".join([f"Chaos benchmark ({date.today().isoformat()})", "-" * (width + 30), *lines,
                      *(f"  {detail}" for detail in report.details[:20])])


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--short", action="store_true", help="a quick run (what the test suite does)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    name = "short" if args.short else "full"
    report = run(MODES[name], seed=args.seed)
    print(table(report, name))  # noqa: T201 - a benchmark prints its table
    return report


if __name__ == "__main__":
    main()
