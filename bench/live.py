"""Live updates end to end: `python -m bench.live [--quick]` (or `python -m bench live`).

Everything as a deployment runs it, on this machine: gunicorn as the Procfile starts it (2 workers x 4 threads),
the worker (`live sync default`) and the scheduler, a fresh PostgreSQL and Redis, the Google and Microsoft
emulators (push channels and subscriptions delivered over loopback http) and Radicale. One user with a Google, an
Outlook and an iCloud calendar, 50 events each in the week a Chromium tab shows.

Measured, from the moment a change is made at the provider to the moment the open tab shows it:
  push      50 renames per provider, one at a time (notification, coalesced sync in the worker, the tab's poll
            of the change stamp, its redraw)
  push lost the emulators lose every notification; 50 renames per provider at random moments over 5 minutes:
            the sweep (every 5 minutes, for calendars not synced in the last 5) is what brings them
  CalDAV    50 renames at random moments over 5 minutes: checked every minute while a tab is open
Then the notifications per second the webhooks absorb (valid ones, from 8 keep-alive clients on the same 2 cores)
with their errors, and what idle open tabs cost: their polls per second, the server CPU they use, the gunicorn
threads they keep busy, and the week page's latency beside them.

Quick mode: a few changes each, and the sweep and the CalDAV check queued at once instead of waiting for the clock
(its figures mean nothing; it checks the benchmark still runs).
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psutil
import requests
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from bench.harness import bench_database, percentile, row
from bench.pages import procfile_web_command
from local.embedded import start_redis
from sandbox.google_emulator import GoogleState, create_google_emulator
from sandbox.microsoft_emulator import MicrosoftState, create_microsoft_emulator
from sandbox.radicale_server import create_calendar, put_event, start_radicale
from sandbox.serve import serve_in_thread
from webapp import create_app
from webapp.auth.accounts import hash_password
from webapp.auth.sessions import COOKIE_NAME, start_session
from webapp.config import PROJECT_ROOT, Config
from webapp.extensions import db
from webapp.models import CalendarConnection, User, WatchChannel

GOOGLE_CLIENT = ("bench-live.apps.googleusercontent.com", "bench-live-secret")
MICROSOFT_CLIENT = ("9a7c1e2f-4b3d-4c5e-8f6a-7b8c9d0e1f2a", "bench-live-secret")
GOOGLE_ACCOUNT, MICROSOFT_ACCOUNT = "live.bench@gmail.com", "live.bench@outlook.com"
APPLE_LOGIN = ("live.bench@icloud.com", "live-benc-hpas-s123")
EMAIL, PASSWORD = "live@example.com", "live bench password"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PROVIDERS = ("google", "microsoft", "caldav")
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Sizes:
    changes: int  # per provider
    window: float  # seconds over which the push-lost and CalDAV changes are spread
    give_up: float  # seconds to wait for a change to show before counting it as not shown
    blast_seconds: float
    idle_tabs: int
    idle_seconds: float


FULL = Sizes(changes=50, window=300, give_up=900, blast_seconds=10, idle_tabs=200, idle_seconds=20)
QUICK = Sizes(changes=3, window=0, give_up=120, blast_seconds=2, idle_tabs=20, idle_seconds=3)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    root: Path
    base: str
    env: dict
    app: object
    google: GoogleState
    microsoft: MicrosoftState
    radicale_url: str
    web: subprocess.Popen
    processes: list[subprocess.Popen] = field(default_factory=list)
    collection: str = ""
    events: dict[str, list[str]] = field(default_factory=dict)  # provider -> its 50 event ids (CalDAV: uids)

    def gunicorn_cpu(self) -> float:
        """CPU seconds used so far by gunicorn's master and workers."""
        processes = [psutil.Process(self.web.pid)]
        processes += processes[0].children(recursive=True)
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total


@contextmanager
def stack(quick: bool):
    with ExitStack() as exit_stack:
        root = Path(exit_stack.enter_context(tempfile.TemporaryDirectory(prefix="almanac-bench-live-")))
        database_url = exit_stack.enter_context(bench_database())
        redis = start_redis(root / "redis", persist=False)
        exit_stack.callback(redis.stop)
        google, microsoft = GoogleState(), MicrosoftState()
        google.add_client(*GOOGLE_CLIENT)
        microsoft.add_client(*MICROSOFT_CLIENT)
        google_server = serve_in_thread(create_google_emulator(google))
        microsoft_server = serve_in_thread(create_microsoft_emulator(microsoft))
        exit_stack.callback(google_server.stop)
        exit_stack.callback(microsoft_server.stop)
        radicale = start_radicale(root / "radicale", {APPLE_LOGIN[0]: APPLE_LOGIN[1]})
        exit_stack.callback(radicale.stop)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis.url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "TOKEN_ENCRYPTION_KEYS": "live:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "GOOGLE_CLIENT_ID": GOOGLE_CLIENT[0], "GOOGLE_CLIENT_SECRET": GOOGLE_CLIENT[1],
            "GOOGLE_AUTH_URL": f"{google_server.url}/o/oauth2/v2/auth",
            "GOOGLE_TOKEN_URL": f"{google_server.url}/token",
            "GOOGLE_REVOKE_URL": f"{google_server.url}/revoke",
            "GOOGLE_CALENDAR_API_URL": f"{google_server.url}/calendar/v3",
            "GOOGLE_USERINFO_URL": f"{google_server.url}/v1/userinfo",
            "MICROSOFT_CLIENT_ID": MICROSOFT_CLIENT[0], "MICROSOFT_CLIENT_SECRET": MICROSOFT_CLIENT[1],
            "MICROSOFT_AUTHORITY": f"{microsoft_server.url}/common",
            "MICROSOFT_GRAPH_URL": f"{microsoft_server.url}/v1.0", "APPLE_CALDAV_URL": f"{radicale.url}/",
            "ALLOW_PRIVATE_SOURCES": "1",  # Radicale is on loopback
            "OAUTHLIB_INSECURE_TRANSPORT": "1", "PUBLIC_URL": base, "PUSH_NOTIFICATIONS": "1",
            "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING", "SIGNUP": "closed",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(PROJECT_ROOT), "TZ": "UTC",
        }
        app = create_app({"CONFIG": Config.from_env(env)})
        with app.app_context():
            upgrade()
            db.session.add(User(email=EMAIL, password_hash=hash_password(PASSWORD), time_zone="UTC"))
            db.session.commit()
        log = (root / "processes.log").open("ab")
        web = subprocess.Popen(["bash", "-c", "exec " + procfile_web_command()], cwd=PROJECT_ROOT, env=env,  # noqa: S603,S607
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        running = Stack(root, base, env, app, google, microsoft, radicale.url, web)
        running.processes = [web]
        for command in ([sys.executable, "-m", "jobs.worker", "--url", redis.url, "live", "sync", "default"],
                        [sys.executable, "-m", "jobs.scheduler", "--url", redis.url]):
            running.processes.append(subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log,  # noqa: S603
                                                      stderr=subprocess.STDOUT, start_new_session=True))
        exit_stack.callback(_stop, running.processes)
        _wait_until_up(base, web)
        yield running


def _wait_until_up(base: str, web: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/login", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if web.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("gunicorn did not start")
        time.sleep(0.2)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ---------------------------------------------------------------------------------------------- set-up


def monday() -> date:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


def slot(provider: str, index: int) -> datetime:
    """A slot of its own in the shown week for each event, so none hides another."""
    number = PROVIDERS.index(provider) * 50 + index
    day = monday() + timedelta(days=number % 7)
    return datetime(day.year, day.month, day.day, 1 + number // 7, tzinfo=UTC)


def caldav_event(uid: str, title: str, start: datetime) -> str:
    stamp = "%Y%m%dT%H%M%SZ"
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//live//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:{datetime.now(UTC):{stamp}}\r\nDTSTART:{start:{stamp}}\r\n"
            f"DTEND:{start + timedelta(minutes=55):{stamp}}\r\nSUMMARY:{title}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def seed(running: Stack) -> None:
    google, microsoft = running.google, running.microsoft
    google.add_calendar(GOOGLE_ACCOUNT, GOOGLE_ACCOUNT, "Work", "#039be5", primary=True)
    microsoft.add_account(MICROSOFT_ACCOUNT, "Live Bench")
    outlook = microsoft.default_calendar_id(MICROSOFT_ACCOUNT)
    running.collection = create_calendar(running.radicale_url, *APPLE_LOGIN, "home", "Home", "#34a853")
    running.events = {"google": [], "microsoft": [], "caldav": []}
    for index in range(50):
        start = slot("google", index)
        running.events["google"].append(google.add_event(GOOGLE_ACCOUNT, {
            "summary": f"g{index} seed", "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=55)).isoformat()}})["id"])
        start = slot("microsoft", index)
        running.events["microsoft"].append(microsoft.add_event(outlook, {
            "subject": f"m{index} seed", "start": {"dateTime": f"{start:%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
            "end": {"dateTime": f"{start + timedelta(minutes=55):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"}}))
        uid = f"live-{index}@bench"
        put_event(running.radicale_url, *APPLE_LOGIN, running.collection, f"{uid}.ics",
                  caldav_event(uid, f"c{index} seed", slot("caldav", index)))
        running.events["caldav"].append(uid)


def change(running: Stack, provider: str, index: int, title: str) -> None:
    """Rename one of the week's events at its provider, as someone would on their phone."""
    event_id = running.events[provider][index]
    if provider == "google":
        running.google.update_event(GOOGLE_ACCOUNT, event_id, {"summary": title})
    elif provider == "microsoft":
        running.microsoft.update_event(event_id, {"subject": title})
    else:
        put_event(running.radicale_url, *APPLE_LOGIN, running.collection, f"{event_id}.ics",
                  caldav_event(event_id, title, slot("caldav", index)))


def connect(running: Stack, session: requests.Session) -> None:
    base = running.base
    token = _csrf(session.get(f"{base}/login").text)
    session.post(f"{base}/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    for provider, account in (("google", GOOGLE_ACCOUNT), ("microsoft", MICROSOFT_ACCOUNT)):
        token = _csrf(session.get(f"{base}/connections/").text)
        consent = session.post(f"{base}/connections/{provider}/connect", data={"csrf_token": token},
                               allow_redirects=False).headers["Location"]
        back = requests.get(consent + "&" + urlencode({"login_hint": account, "emulator_auto": "allow"}),
                            allow_redirects=False, timeout=30).headers["Location"]
        parts = urlsplit(back)
        session.get(f"{base}{parts.path}?{parts.query}")
    token = _csrf(session.get(f"{base}/connections/apple").text)
    session.post(f"{base}/connections/apple", data={"apple_id": APPLE_LOGIN[0], "app_password": APPLE_LOGIN[1],
                                                    "csrf_token": token})
    with running.app.app_context():
        def ready() -> bool:
            synced = db.session.scalar(select(func.count()).select_from(CalendarConnection).where(
                CalendarConnection.last_synced_at.is_not(None)))
            channels = db.session.scalar(select(func.count()).select_from(WatchChannel).where(
                WatchChannel.expires_at.is_not(None)))
            db.session.rollback()
            return synced == 3 and channels >= 3  # Google and Outlook calendars, and Google's calendar list
        _wait(ready, 120, "first syncs and push channels")


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


# ---------------------------------------------------------------------------------------------- the tab


class Tab:
    """One Chromium tab on the week, signed in with the session's cookie."""

    def __init__(self, browser, running: Stack, session: requests.Session):
        self.context = browser.new_context(viewport={"width": 1280, "height": 860})
        self.context.add_cookies([{"name": name, "value": value, "url": running.base}
                                  for name, value in session.cookies.items()])
        self.page = self.context.new_page()
        self.page.goto(f"{running.base}/calendar/week/{monday().isoformat()}")
        self.page.wait_for_selector(".event:has-text('g0 seed')")
        self.page.wait_for_load_state("load")

    def text(self) -> str:
        return self.page.evaluate("() => document.querySelector('#calendar .calendar-main').innerText")

    def close(self) -> None:
        self.context.close()


def one_at_a_time(running: Stack, tab: Tab, provider: str, count: int, timeout: float) -> list[float | None]:
    seconds = []
    for index in range(count):
        title = f"{provider[0]}{index} push {uuid.uuid4().hex[:4]}"
        change(running, provider, index, title)
        started = time.monotonic()
        while title not in tab.text():
            if time.monotonic() - started > timeout:
                started = None
                break
            time.sleep(0.02)
        seconds.append(None if started is None else time.monotonic() - started)
        time.sleep(random.uniform(0.2, 1.0))  # noqa: S311 - spacing, not security
    return seconds


def spread(running: Stack, tab: Tab, providers: tuple[str, ...], sizes: Sizes, quick: bool) -> dict[str, list]:
    """Changes at random moments over the window, all watched at once; each one's time until the tab shows it."""
    rng = random.Random(7)  # noqa: S311
    plan = sorted((rng.uniform(0, sizes.window), provider, index) for provider in providers
                  for index in range(sizes.changes))
    started_at, titles, seen = time.monotonic(), {}, {}
    pending = list(plan)
    while pending or len(seen) < len(titles):
        now = time.monotonic()
        while pending and now - started_at >= pending[0][0]:
            _, provider, index = pending.pop(0)
            title = f"{provider[0]}{index} later {uuid.uuid4().hex[:4]}"
            change(running, provider, index, title)
            titles[title] = (provider, time.monotonic())
        if quick and not pending and not getattr(spread, "kicked", False):
            kick_fallbacks(running)
            spread.kicked = True
        shown = tab.text()
        for title, (_provider, made_at) in titles.items():
            if title not in seen and title in shown:
                seen[title] = time.monotonic() - made_at
        if time.monotonic() - started_at > sizes.window + sizes.give_up:
            break
        time.sleep(0.25)
    spread.kicked = False
    result = {provider: [] for provider in providers}
    for title, (provider, _) in titles.items():
        result[provider].append(seen.get(title))
    return result


def kick_fallbacks(running: Stack) -> None:
    """Quick mode only: what the scheduler would do within five minutes (the sweep, of calendars last synced over
    five minutes ago) and within one (the CalDAV check), now."""
    from rq import Queue

    with running.app.app_context():
        db.session.execute(text("UPDATE calendar_connections SET last_synced_at = now() - interval '6 minutes'"))
        db.session.commit()
        from webapp.extensions import redis_client

        queue = Queue("default", connection=redis_client())
        queue.enqueue("jobs.sync.sweep")
        queue.enqueue("jobs.sync.check_open_calendars")


# ---------------------------------------------------------------------------------------------- the webhooks


def blast(running: Stack, seconds: float, clients: int = 8) -> dict[str, dict]:
    """Valid notifications as fast as `clients` keep-alive connections send them; per provider."""
    port = urlsplit(running.base).port
    google = [channel for channel in running.google.channels() if channel["calendar_id"]]
    graph = running.microsoft.subscriptions()
    kinds = {
        "google": lambda n: ("POST", "/webhooks/google", b"", {
            "X-Goog-Channel-ID": google[n % len(google)]["id"],
            "X-Goog-Channel-Token": google[n % len(google)]["token"],
            "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": str(n), "Content-Length": "0"}),
        "microsoft": lambda n: ("POST", "/webhooks/microsoft", json.dumps({"value": [{
            "subscriptionId": graph[n % len(graph)]["id"], "clientState": graph[n % len(graph)]["clientState"],
            "changeType": "updated", "resource": "Users/x/Events/y", "resourceData": {"id": "y"}}]}).encode(),
            {"Content-Type": "application/json"}),
    }
    results = {}
    for name, make in kinds.items():
        statuses, lock, stop_at = [], threading.Lock(), time.monotonic() + seconds

        def client(number: int, make=make, statuses=statuses, lock=lock, stop_at=stop_at) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine, sent = [], number * 1_000_000
            while time.monotonic() < stop_at:
                method, path, body, headers = make(sent)
                sent += 1
                try:
                    connection.request(method, path, body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    mine.append(response.status)
                except (OSError, http.client.HTTPException):
                    mine.append(0)
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.close()
            with lock:
                statuses.extend(mine)

        cpu = running.gunicorn_cpu()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        accepted = sum(1 for status in statuses if status in (200, 202))
        results[name] = {"rate": accepted / elapsed, "errors": len(statuses) - accepted,
                         "cpu": (running.gunicorn_cpu() - cpu) / elapsed}
    return results


# ---------------------------------------------------------------------------------------------- idle tabs


def idle_tabs(running: Stack, count: int, seconds: float) -> dict:
    """`count` tabs polling the stamp at the page's pace while nothing changes: what they cost alone (polls/s, CPU,
    latency, threads kept busy), and the week page's latency without them and beside them."""
    with running.app.app_context():
        user = db.session.scalar(select(User).where(User.email == EMAIL))
        cookies = [start_session(db.session, user, absolute_days=1, user_agent="bench", ip_address=None)
                   for _ in range(count + 1)]
        db.session.commit()
        from webapp import changes
        from webapp.extensions import redis_client

        stamp = changes.current(redis_client(), user.id)
        interval = running.app.config["LIVE_POLL_SECONDS"]
    port = urlsplit(running.base).port
    week = f"/calendar/week/{monday().isoformat()}"
    lock = threading.Lock()

    def get(connection, path: str, cookie: str):
        """One GET on a keep-alive connection; gunicorn closes idle ones after 2 s, so reconnect once, as a browser
        does."""
        for attempt in (1, 2):
            try:
                connection.request("GET", path, headers={"Cookie": f"{COOKIE_NAME}={cookie}"})
                response = connection.getresponse()
                response.read()
                return connection, response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                if attempt == 2:
                    return connection, 0
        return connection, 0

    def pages(stop: threading.Event, samples: list[float]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            began = time.perf_counter()
            connection, _ = get(connection, week, cookies[-1])
            samples.append((time.perf_counter() - began) * 1000)
            stop.wait(0.5)
        connection.close()

    polls: list[float] = []
    statuses: list[int] = []

    def tab(number: int, stop: threading.Event) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        stop.wait(random.uniform(0, interval))  # noqa: S311 - tabs opened at different moments
        while not stop.is_set():
            began = time.perf_counter()
            connection, status = get(connection, f"/live/stamp?since={stamp}", cookies[number])
            with lock:
                polls.append((time.perf_counter() - began) * 1000)
                statuses.append(status)
            stop.wait(interval)
        connection.close()

    def run_for(duration: float, tabs: bool, page_samples: list[float] | None) -> tuple[int, float, float]:
        stop = threading.Event()
        threads = [threading.Thread(target=tab, args=(n, stop)) for n in range(count)] if tabs else []
        if page_samples is not None:
            threads.append(threading.Thread(target=pages, args=(stop, page_samples)))
        for thread in threads:
            thread.start()
        if tabs:
            time.sleep(interval)  # every tab has started
        with lock:
            first = len(polls)
        cpu, began = running.gunicorn_cpu(), time.monotonic()
        time.sleep(duration)
        elapsed, used = time.monotonic() - began, running.gunicorn_cpu() - cpu
        with lock:
            answered = len(polls) - first
        stop.set()
        for thread in threads:
            thread.join()
        return answered, elapsed, used

    alone: list[float] = []
    run_for(seconds, tabs=False, page_samples=alone)
    answered, elapsed, used = run_for(seconds, tabs=True, page_samples=None)
    latencies = list(polls)
    beside: list[float] = []
    run_for(seconds, tabs=True, page_samples=beside)
    rate = answered / elapsed
    mean_ms = sum(latencies) / max(len(latencies), 1)
    return {"tabs": count, "rate": rate, "per_tab_rate": rate / count, "cpu_share": used / elapsed,
            "cpu_ms_per_poll": used * 1000 / max(answered, 1), "poll_p50": percentile(latencies or [0], 0.5),
            "poll_p95": percentile(latencies or [0], 0.95), "threads_busy": rate * mean_ms / 1000,
            "not_204": sum(1 for status in statuses if status != 204),
            "page_p95_alone": percentile(alone or [0], 0.95), "page_p95_beside": percentile(beside or [0], 0.95)}


def quiet(running: Stack, timeout: float = 120) -> None:
    """Until the worker has nothing queued or running (what the last phase set off must not load the next)."""
    from rq import Queue

    with running.app.app_context():
        from webapp.extensions import redis_client

        queues = [Queue(name, connection=redis_client()) for name in ("live", "sync", "default")]
        _wait(lambda: all(queue.count == 0 and queue.started_job_registry.count == 0 for queue in queues), timeout,
              "an idle worker")


# ---------------------------------------------------------------------------------------------- the run


def summary(samples: list[float | None]) -> tuple[float, float, float, int]:
    shown = [sample for sample in samples if sample is not None]
    if not shown:
        return 0.0, 0.0, 0.0, len(samples)
    return percentile(shown, 0.5), percentile(shown, 0.95), max(shown), len(samples) - len(shown)


def run(quick: bool, scale: int = 1) -> dict:
    from playwright.sync_api import sync_playwright

    sizes = QUICK if quick else FULL
    rows, notes = [], []
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulators' request lines
    with stack(quick) as running, sync_playwright() as playwright:
        seed(running)
        session = requests.Session()
        connect(running, session)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        tab = Tab(browser, running, session)
        try:
            for provider, label in (("google", "Google"), ("microsoft", "Outlook")):
                p50, p95, most, missed = summary(one_at_a_time(running, tab, provider, sizes.changes, 60))
                rows += [row(f"push {label}: p50 to visible", p50, "s"),
                         row(f"push {label}: p95 to visible", p95, "s", "<= 5 s", p95 <= 5 and not missed),
                         row(f"push {label}: max to visible", most, "s"),
                         row(f"push {label}: not shown within 60 s", missed, "", "0", missed == 0)]
            running.google.lose_notifications(True)
            running.microsoft.lose_notifications(True)
            later = spread(running, tab, ("google", "microsoft", "caldav"), sizes, quick)
            running.google.lose_notifications(False)
            running.microsoft.lose_notifications(False)
            for provider, label in (("google", "push lost, Google"), ("microsoft", "push lost, Outlook")):
                p50, p95, most, missed = summary(later[provider])
                rows += [row(f"{label}: p50 to visible", p50, "s"), row(f"{label}: p95 to visible", p95, "s"),
                         row(f"{label}: max to visible", most, "s", "<= 600 s (sweep)", most <= 600 and not missed),
                         row(f"{label}: not shown", missed, "", "0", missed == 0)]
            p50, p95, most, missed = summary(later["caldav"])
            rows += [row("CalDAV: p50 to visible", p50, "s"),
                     row("CalDAV: p95 to visible", p95, "s", "<= 60 s", p95 <= 60 and not missed),
                     row("CalDAV: max to visible", most, "s"), row("CalDAV: not shown", missed, "", "0", missed == 0)]
        finally:
            tab.close()
            browser.close()
        quiet(running)
        absorbed = blast(running, sizes.blast_seconds)
        quiet(running)
        for provider, label in (("google", "Google"), ("microsoft", "Graph")):
            figures = absorbed[provider]
            rows += [row(f"webhook {label}: notifications/s absorbed", figures["rate"], "/s"),
                     row(f"webhook {label}: errors", figures["errors"], "", "0", figures["errors"] == 0),
                     row(f"webhook {label}: gunicorn CPU", figures["cpu"] * 100, "% of a core")]
        idle = idle_tabs(running, sizes.idle_tabs, sizes.idle_seconds)
        rows += [row("idle tab: polls/s each", idle["per_tab_rate"], "/s"),
                 row(f"idle tabs ({idle['tabs']}): polls/s in all", idle["rate"], "/s"),
                 row(f"idle tabs ({idle['tabs']}): gunicorn CPU", idle["cpu_share"] * 100, "% of a core"),
                 row("idle tab: server CPU per poll", idle["cpu_ms_per_poll"], "ms"),
                 row("idle tab: poll p50", idle["poll_p50"], "ms"),
                 row("idle tab: poll p95", idle["poll_p95"], "ms"),
                 row(f"idle tabs ({idle['tabs']}): gunicorn threads busy on average", idle["threads_busy"], "of 8",
                     "< 1", idle["threads_busy"] < 1),
                 row("idle tabs: polls not answered 204", idle["not_204"], "", "0", idle["not_204"] == 0),
                 row("week page p95 alone", idle["page_p95_alone"], "ms"),
                 row(f"week page p95 beside {idle['tabs']} idle tabs", idle["page_p95_beside"], "ms")]
        notes.append(f"  {procfile_web_command()}; worker: live sync default; 2 cores shared with the emulators, "
                     "Chromium and the load generators")
    return {"title": f"live updates: change at the provider -> open week tab{' (quick)' if quick else ''}",
            "rows": rows, "notes": notes}


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main([*sys.argv[1:], "live"]))
