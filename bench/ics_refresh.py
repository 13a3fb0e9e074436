"""ICS refresh: 1,000 subscriptions (one user each, a small feed each, served from loopback by sandbox.feed_server),
first refreshed in full, then 10 of the feeds change and all 1,000 are refreshed again by 2 workers (threads, each
with its own app context and database session, running webapp.sync.pull.pull_changes as the sync job does).
Reports the wall time and the bytes the feed server sent for the second round: 990 conditional GETs answered 304
and 10 changed copies."""
from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bench.harness import at_most, bench_app, row
from sandbox.feed_server import FeedServer
from sandbox.serve import serve_in_thread
from webapp.extensions import db
from webapp.models import CalendarConnection, CalendarProvider, CalendarSubscription, User
from webapp.sync import pull

WORKERS = 2


def feed(number: int, version: int) -> bytes:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(days=number % 28)
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:e{index}-{number}@bench\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start + timedelta(hours=index):%Y%m%dT%H%M%SZ}\r\nDURATION:PT1H\r\n"
        f"SUMMARY:Fixture {index} v{version}\r\nEND:VEVENT\r\n" for index in range(20))
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nX-WR-CALNAME:Feed {number}\r\n{events}"
            "END:VCALENDAR\r\n").encode()


def refresh_all(app, ids: list[uuid.UUID]) -> list:
    def one(connection_id):
        with app.app_context():
            try:
                return pull.pull_changes(db.session, connection_id)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(one, ids))


def run(quick: bool = False, scale: int = 1) -> dict:
    count, changed = (20, 2) if quick else (1000 * scale, 10 * scale)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per feed request is noise here
    server_app = FeedServer()
    server = serve_in_thread(server_app)
    try:
        with bench_app() as app:
            app.config["PROVIDERS"] = {**app.config["PROVIDERS"], "allow_private_sources": True}
            session = db.session
            ids = []
            for number in range(count):
                server_app.put(f"/feed/{number}.ics", feed(number, 1))
                user = User(email=f"ics{number}@bench.example", password_hash="x")
                session.add(user)
                session.flush()
                connection = CalendarConnection(
                    id=uuid.uuid4(), user_id=user.id, provider=CalendarProvider.ICS, can_write=False,
                    calendar_id=f"{server.url}/feed/{number}.ics", calendar_name=f"Feed {number}",
                    account_email="127.0.0.1")
                session.add(connection)
                session.add(CalendarSubscription(connection_id=connection.id))
                ids.append(connection.id)
            session.commit()
            started = time.perf_counter()
            refresh_all(app, ids)
            first_seconds = time.perf_counter() - started
            for number in range(changed):
                server_app.put(f"/feed/{number}.ics", feed(number, 2))
            sent_before, requests_before, not_modified_before = (server_app.bytes_sent, server_app.requests,
                                                                 server_app.not_modified)
            started = time.perf_counter()
            results = refresh_all(app, ids)
            seconds = time.perf_counter() - started
            sent = server_app.bytes_sent - sent_before
            not_modified = server_app.not_modified - not_modified_before
            updated = sum(result.updated for result in results if result)
    finally:
        server.stop()
    return {
        "title": f"ICS refresh: {count} subscriptions, {count - changed} unchanged, {WORKERS} workers",
        "rows": [
            row("second round wall time", seconds, "s", "<= 60 s" if not quick else "", at_most(60)(seconds)),
            row("second round bytes sent by the feed server", sent, "B"),
            row("304 answers in the second round", not_modified, "responses", f"= {count - changed}",
                not_modified == count - changed),
            row("events updated in the second round", updated, "events", f"= {changed * 20}",
                updated == changed * 20),
            row("first round (full copies) wall time", first_seconds, "s"),
        ],
        "notes": [f"requests in the second round: {server_app.requests - requests_before}",
                  "workers are threads running pull_changes (the sync job's round) with their own sessions"],
    }
