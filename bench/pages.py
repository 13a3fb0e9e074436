"""The week page under gunicorn started as the Procfile starts it, 16 logged-in clients, on demo data.

Full pages of random weeks of the demo year, steps to the next week as the "next" button takes them (htmx,
sending back which sidebar the page shows), and revisits of weeks already seen (If-None-Match: 304), each client a
different user with a keep-alive connection; then the same full-page load on bench/bare_app.py (a bare Flask page
doing two indexed queries) under the same gunicorn settings, for the ratio. Requests/s, p50/p95, errors and bytes
are printed, and the CPU one page costs the web process (process_time through the test client).
"""
from __future__ import annotations

import http.client
import os
import random
import re
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from redis import Redis
from sqlalchemy import select

from bench.harness import bench_app, bench_database, row, summarise
from local.demo import generate
from local.embedded import start_redis
from webapp.auth.sessions import COOKIE_NAME, start_session
from webapp.changes import bump
from webapp.extensions import db
from webapp.models import User

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2026
CLIENTS = 16
SECONDS, QUICK_SECONDS, WARM_UP_SECONDS = 12.0, 1.0, 2.0


def procfile_web_command(app_module: str = "wsgi:app") -> str:
    """The Procfile's web line (the command production runs), serving `app_module`."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip().replace("wsgi:app", app_module)
    raise RuntimeError("the Procfile has no web process")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(app_module: str, environment: dict, log_path: Path, port: int | None = None):
    """gunicorn on a free loopback port (or `port`), stopped by its pid on exit; yields the port."""
    port = port or free_port()
    env = {**os.environ, **environment, "HOST": "127.0.0.1", "PORT": str(port),
           "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT)}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(["bash", "-c", "exec " + procfile_web_command(app_module)],  # noqa: S603,S607
                                   cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start; see {log_path}") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


FULL, WALK, REVISIT = "full page", "htmx step to the next week", "revisit (If-None-Match)"
KEPT = re.compile(rb'data-kept="([^"]+)"')


def load(port: int, cookies: list[str], mode: str, seconds: float, seed: int) -> dict:
    """CLIENTS keep-alive clients for `seconds`; latency, errors and bytes. FULL: full pages of random weeks. WALK:
    each client steps week after week as the "next" button does (htmx, sending back the sidebar it shows).
    REVISIT: each client asks again for four weeks it has seen, naming the versions it holds (a 304 expected)."""
    samples: list[float] = []
    sizes: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(number: int) -> None:
        chooser = random.Random(seed * 100 + number)  # noqa: S311 (the same weeks on every run)
        cookie = {"Cookie": f"{COOKIE_NAME}={cookies[number % len(cookies)]}"}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        day = date(YEAR, 1, 1) + timedelta(days=chooser.randrange(300))
        seen = {}  # path -> ETag, for REVISIT
        kept = b""
        if mode != FULL:
            for offset in range(4 if mode == REVISIT else 1):
                path = f"/calendar/week/{(day + timedelta(days=7 * offset)).isoformat()}"
                connection.request("GET", path, headers=cookie)
                response = connection.getresponse()
                body = response.read()
                seen[path] = response.getheader("ETag")
                kept = KEPT.search(body).group(1)
        mine, my_sizes, my_errors = [], [], []
        while time.monotonic() < stop_at:
            headers = dict(cookie)
            if mode == FULL:
                path = f"/calendar/week/{(date(YEAR, 1, 1) + timedelta(days=chooser.randrange(365))).isoformat()}"
            elif mode == WALK:
                day = day + timedelta(days=7) if day.year == YEAR else date(YEAR, 1, 1)
                path = f"/calendar/week/{day.isoformat()}"
                headers |= {"HX-Request": "true", "HX-Target": "calendar", "X-Calendar-Kept": kept.decode()}
            else:
                path = chooser.choice(sorted(seen))
                headers["If-None-Match"] = seen[path] or ""
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                my_errors.append(type(error).__name__)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != (304 if mode == REVISIT else 200):
                my_errors.append(str(response.status))
            if mode == WALK and (found := KEPT.search(body)):
                kept = found.group(1)
            my_sizes.append(len(body))
        connection.close()
        with lock:
            samples.extend(mine)
            sizes.extend(my_sizes)
            errors.extend(my_errors)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    timings = summarise(samples or [0.0])
    return {"rate": len(samples) / elapsed, "p50": timings.p50, "p95": timings.p95, "errors": len(errors),
            "bytes": sum(sizes) / max(1, len(sizes)), "requests": len(samples)}


def logged_in_cookies(count: int) -> list[str]:
    users = db.session.scalars(select(User).where(User.email.like("demo%")).order_by(User.email).limit(count))
    cookies = [start_session(db.session, user, absolute_days=1, user_agent="bench", ip_address=None)
               for user in users]
    db.session.commit()
    return cookies


def measure(port: int, cookies: list[str], quick: bool, modes=(FULL, WALK, REVISIT)) -> dict[str, dict]:
    seconds = QUICK_SECONDS if quick else SECONDS
    load(port, cookies, FULL, QUICK_SECONDS if quick else WARM_UP_SECONDS, seed=1)
    return {mode: load(port, cookies, mode, seconds, seed=2 + n) for n, mode in enumerate(modes)}


def cpu_per_page(app, cookies: list[str], requests: int) -> dict[str, float]:
    """process_time per request in this process, through the test client (no network, one thread): what one page
    costs the web process in CPU, the figure that load on the machine moves least."""
    clients = []
    for cookie in cookies[:8]:
        client = app.test_client()
        client.set_cookie(COOKIE_NAME, cookie)
        clients.append(client)
    chooser = random.Random(4)  # noqa: S311
    weeks = [date(YEAR, 1, 1) + timedelta(days=chooser.randrange(365)) for _ in range(requests)]
    figures = {}
    for name, headers in (("full page", {}), ("htmx partial", {"HX-Request": "true", "HX-Target": "calendar"})):
        for n, day in enumerate(weeks[:20]):  # warm: templates compiled, statements cached
            clients[n % len(clients)].get(f"/calendar/week/{day.isoformat()}", headers=headers)
        started = time.process_time()
        for n, day in enumerate(weeks):
            clients[n % len(clients)].get(f"/calendar/week/{day.isoformat()}", headers=headers)
        figures[name] = (time.process_time() - started) / len(weeks) * 1000
    return figures


def run(quick: bool, scale: int) -> dict:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="almanac-bench-pages-") as scratch, bench_database() as database_url:
        redis = start_redis(Path(scratch) / "redis", persist=False)
        try:
            with bench_app(database_url) as app:
                generate(db.session, users=(20 if quick else 1000) * scale, calendars_per_user=3,
                         events_per_calendar=20 if quick else 100, seed=1, year=YEAR, password="bench-password")
                db.session.commit()
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql("VACUUM ANALYZE")
                cookies = logged_in_cookies(CLIENTS)
                # Every user has a change stamp, as anyone who has connected a calendar or saved an event does.
                bump(Redis.from_url(redis.url), db.session.scalars(select(User.id)).all())
                app.config["REDIS_URL"] = redis.url
                cpu = cpu_per_page(app, cookies, 50 if quick else 400)
                config = app.config
            environment = {"DATABASE_URL": database_url, "REDIS_URL": redis.url,
                           "SECRET_KEY": config["SECRET_KEY"], "TOKEN_ENCRYPTION_KEYS": config["TOKEN_ENCRYPTION_KEYS"],
                           "BARE_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"]}
            log_path = Path(scratch) / "gunicorn.log"
            with gunicorn("wsgi:app", environment, log_path) as port:
                loads = measure(port, cookies, quick)
            with gunicorn("bench.bare_app:app", environment, log_path) as port:
                bare = measure(port, cookies, quick, modes=(FULL,))[FULL]
            log_tail = [line for line in log_path.read_text(errors="replace").splitlines()
                        if re.search(r"Traceback|Error|CRITICAL", line)][-5:]
        finally:
            redis.stop()
    full, partial, revisit = loads[FULL], loads[WALK], loads[REVISIT]
    partial_share = partial["bytes"] / full["bytes"] if full["bytes"] else 0.0
    return {
        "title": f"week page under gunicorn ({procfile_web_command()}), {CLIENTS} logged-in clients, "
                 f"scale {scale}{' (quick)' if quick else ''}",
        "rows": [
            row("full page req/s", full["rate"], "req/s", ">= 300", full["rate"] >= 300),
            row("full page p50", full["p50"], "ms"),
            row("full page p95", full["p95"], "ms", "<= 25 ms", full["p95"] <= 25),
            row("full page errors", full["errors"], "", "0", full["errors"] == 0),
            row("full page bytes", full["bytes"], "B"),
            row("htmx step to the next week req/s", partial["rate"], "req/s"),
            row("htmx step to the next week p95", partial["p95"], "ms", "<= 15 ms", partial["p95"] <= 15),
            row("htmx partial errors", partial["errors"], "", "0", partial["errors"] == 0),
            row("htmx step to the next week bytes", partial["bytes"], "B"),
            row("step / full page bytes", partial_share * 100, "%", "<= 20 %", partial_share <= 0.2),
            row("revisit (304) req/s", revisit["rate"], "req/s"),
            row("revisit (304) p95", revisit["p95"], "ms"),
            row("revisits not answered 304", revisit["errors"], "", "0", revisit["errors"] == 0),
            row("bare two-query page req/s", bare["rate"], "req/s"),
            row("bare two-query page p95", bare["p95"], "ms"),
            row("full page req/s / bare", full["rate"] / bare["rate"], "x", ">= 0.65",
                full["rate"] / bare["rate"] >= 0.65),
            row("full page p95 / bare", full["p95"] / bare["p95"], "x"),
            row("CPU per full page (process_time, in process)", cpu["full page"], "ms", "<= 5 ms",
                cpu["full page"] <= 5),
            row("CPU per htmx partial (process_time, in process)", cpu["htmx partial"], "ms"),
        ],
        "notes": [f"  requests: full {full['requests']:,}, steps {partial['requests']:,}, revisits "
                  f"{revisit['requests']:,}, bare {bare['requests']:,}; machine load (1 min) before the run "
                  f"{load_before:.2f}",
                  *("  gunicorn log: " + line for line in log_tail)],
    }
