"""Connecting an iCloud account: its calendars sync side by side in one job, and every one of them arrives."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from tests.factories import PASSWORD, make_user
from tests.helpers import APPLE_USER, csrf_token_from
from webapp.extensions import db
from webapp.models import CalendarConnection, CalendarEvent
from webapp.providers.apple import AppleProvider


def event_ics(uid: str, title: str, start: datetime) -> str:
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    end = (start + timedelta(minutes=45)).strftime("%Y%m%dT%H%M%SZ")
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Almanac//Test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:{stamp}\r\nSUMMARY:{title}\r\nDTSTART:{stamp}\r\nDTEND:{end}\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


def test_an_icloud_accounts_calendars_sync_side_by_side_and_every_one_arrives(
        app, provider_servers, clean_database, redis, monkeypatch):
    import jobs.sync
    from sandbox.radicale_server import create_calendar, put_event

    base = provider_servers.radicale.url
    prefix = uuid.uuid4().hex[:6]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    names = [f"Team {prefix} {number}" for number in range(7)]
    for number, name in enumerate(names):
        collection = create_calendar(base, *APPLE_USER, f"{prefix}-{number}", name, "#34a853")
        for index in range(3):
            ics = event_ics(f"{prefix}-{number}-{index}", f"{name} meeting {index}", start + timedelta(hours=index))
            put_event(base, *APPLE_USER, collection, f"e{index}.ics", ics)
    with app.app_context():
        make_user(db.session, email=f"icloud-{prefix}@example.com")
    browser = app.test_client()
    token = csrf_token_from(browser.get("/login").get_data(as_text=True))
    browser.post("/login", data={"email": f"icloud-{prefix}@example.com", "password": PASSWORD, "csrf_token": token})
    token = csrf_token_from(browser.get("/connections/apple").get_data(as_text=True))
    browser.post("/connections/apple", data={"apple_id": APPLE_USER[0], "app_password": APPLE_USER[1],
                                             "csrf_token": token})
    queue = Queue("sync", connection=redis)
    (job_id,) = queue.job_ids  # one job for the whole account
    assert job_id.startswith("sync-calendars-")

    in_flight, most = [0], [0]
    lock = threading.Lock()
    fetch = AppleProvider.fetch_changes

    def watched_fetch(self, *args, **kwargs):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            time.sleep(0.2)  # long enough for the other threads to be asking too, if they run side by side
            return fetch(self, *args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(AppleProvider, "fetch_changes", watched_fetch)
    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
    SimpleWorker([queue], connection=redis).work(burst=True)

    assert 2 <= most[0] <= jobs.sync.CALENDARS_AT_ONCE
    with app.app_context():
        connections = db.session.scalars(select(CalendarConnection)).all()
        assert connections and all(connection.last_synced_at and not connection.sync_failures
                                   for connection in connections)
        counts = dict(db.session.execute(
            select(CalendarConnection.calendar_name, func.count(CalendarEvent.id))
            .join(CalendarEvent, CalendarEvent.calendar_connection_id == CalendarConnection.id)
            .where(CalendarEvent.deleted_at.is_(None))
            .group_by(CalendarConnection.calendar_name)).all())
    assert {name: counts.get(name) for name in names} == dict.fromkeys(names, 3)
