"""No transaction stays open while a provider answers, and web writes never wait for a sync.

These run with real commits (the app in this process, the sync in a thread), against emulators that answer slowly.
"""
from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from tests.factories import PASSWORD, make_config, new_google_account
from tests.helpers import authorize, csrf_token_from, google_timed, soon, start_connect, wait_for
from webapp import create_app
from webapp.auth.accounts import hash_password
from webapp.extensions import db
from webapp.models import CalendarConnection, CalendarEvent, EventStatus, SyncStatus, User

HOLD_SECONDS = 1.6  # over the 1 s idle-in-transaction limit below
# Long enough for the page to be still on its way after the three web writes below (each must answer in 1 s).
SLOW_PAGE_SECONDS = 6


@pytest.fixture
def strict_app(app, redis_url, provider_servers):
    """The app with idle_in_transaction_session_timeout = 1 s: any transaction held across a slower provider
    answer dies, and the test sees the failure."""
    config = make_config(app.config["SQLALCHEMY_DATABASE_URI"], redis_url, provider_servers.settings())
    config.IDLE_IN_TRANSACTION_TIMEOUT_MS = 1000
    strict = create_app({"CONFIG": config})
    yield strict
    with strict.app_context():
        db.engine.dispose()


def register(client, email: str) -> None:
    """An account made directly (signing up by mail is tested elsewhere), signed in through the real form, whose
    password check must itself run outside any transaction under the 1 s idle limit."""
    with client.application.app_context():
        db.session.add(User(email=email, password_hash=hash_password(PASSWORD)))
        db.session.commit()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


class IdleTransactionWatch:
    """Samples pg_stat_activity: any session of this database idle inside a transaction for longer than
    `threshold` is a transaction waiting on something outside the database."""

    def __init__(self, app, threshold: float = 0.5):
        self.app, self.threshold, self.seen = app, threshold, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self):
        with self.app.app_context(), db.engine.connect() as connection:
            while not self._stop.is_set():
                rows = connection.execute(text(
                    "SELECT left(query, 120) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'idle in transaction' AND now() - state_change > make_interval(secs => :limit)"
                ), {"limit": self.threshold}).scalars().all()
                self.seen += rows
                connection.rollback()
                time.sleep(0.1)


def test_slow_provider_calls_run_outside_transactions(provider_servers, clean_database, redis, strict_app):
    """Every provider call of connecting, pulling, refreshing and pushing answers in 2.5 s, over the 1 s limit."""
    import jobs.sync

    strict = strict_app
    faults, state = provider_servers.google_faults, provider_servers.google_state
    browser = strict.test_client()
    register(browser, f"slow-{uuid.uuid4().hex[:6]}@example.com")
    email = new_google_account(provider_servers, calendars=(("Work", "#4285f4", True),))
    for index in range(3):
        state.add_event(email, google_timed(f"Meeting {index}", soon(days=index + 1)))
    state.set_page_size(1)
    original_job_app = jobs.sync.job_app
    jobs.sync.job_app = lambda: strict
    try:
        with IdleTransactionWatch(strict) as watch:
            # Connecting: the code exchange answers slowly.
            faults.add("hold", "/token", seconds=HOLD_SECONDS)
            assert browser.get(authorize(start_connect(browser), email)).status_code == 302
            with strict.app_context():
                connection_id = db.session.scalars(select(CalendarConnection.id)).one()
            # Pulling: every page answers slowly.
            faults.add("hold", f"/calendar/v3/calendars/{email}/events", seconds=HOLD_SECONDS, times=3)
            assert jobs.sync.sync_connection(str(connection_id))["created"] == 3
            # Refreshing a token that is about to expire: the token endpoint answers slowly.
            with strict.app_context():
                db.session.execute(update(CalendarConnection).values(
                    token_expires_at=datetime.now(UTC) + timedelta(minutes=1)))
                db.session.commit()
            faults.add("hold", "/token", seconds=HOLD_SECONDS)
            assert jobs.sync.sync_connection(str(connection_id)) is not None
            # Pushing a local event: the insert answers slowly.
            with strict.app_context():
                start = soon(days=6)
                event = CalendarEvent(calendar_connection_id=connection_id, provider_event_id=uuid.uuid4().hex,
                                      title="Offsite", start_time=start, end_time=start + timedelta(hours=1),
                                      timezone="UTC", status=EventStatus.CONFIRMED, sync_status=SyncStatus.PENDING)
                db.session.add(event)
                db.session.commit()
                event_id = event.id
            faults.add("hold", f"/calendar/v3/calendars/{email}/events", method="POST", seconds=HOLD_SECONDS)
            assert jobs.sync.push_event(str(event_id)) == "created"
        assert watch.seen == []
        with strict.app_context():
            connection = db.session.get(CalendarConnection, connection_id)
            assert connection.token_expires_at > datetime.now(UTC) + timedelta(minutes=30)
            assert connection.sync_failures == 0
            assert db.session.get(CalendarEvent, event_id).sync_status == SyncStatus.SYNCED
    finally:
        jobs.sync.job_app = original_job_app
        state.set_page_size(None)
        faults.calm()


def test_web_writes_never_wait_for_a_sync(provider_servers, clean_database, redis, monkeypatch, strict_app):
    """A provider page held for 8 s (over the 1 s idle-in-transaction limit): meanwhile the user hides, recolours
    and disconnects calendars of the same account, each answered in under a second, and the slow sync still
    completes."""
    import jobs.sync

    app = strict_app
    faults, state = provider_servers.google_faults, provider_servers.google_state
    browser = app.test_client()
    register(browser, f"busy-{uuid.uuid4().hex[:6]}@example.com")
    email = new_google_account(provider_servers)  # "Work" (primary) and "Family"
    for index in range(2):
        state.add_event(email, google_timed(f"Planning {index}", soon(days=index + 1)))
    browser.get(authorize(start_connect(browser), email))
    with app.app_context():
        rows = {row.calendar_name: row.id for row in db.session.scalars(select(CalendarConnection))}
    work, family = rows["Work"], rows["Family"]
    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
    events_path = f"/calendar/v3/calendars/{email}/events"
    faults.add("hold", events_path, seconds=SLOW_PAGE_SECONDS)
    asked_before = len(state.requests)
    outcome = {}
    sync = threading.Thread(target=lambda: outcome.update(jobs.sync.sync_connection(str(work)) or {}))
    sync.start()
    # The emulator has answered the first page; the fault now streams it slowly while the sync waits.
    wait_for(lambda: any(request.path == events_path for request in state.requests[asked_before:]), 10,
             "the sync asking for its first page")
    token = csrf_token_from(browser.get("/connections/").get_data(as_text=True))
    timings = {}
    try:
        for name, path, data in (
            ("hide", f"/calendar/calendars/{work}/visibility", {"visible": "0"}),
            ("recolour", f"/connections/{work}/color", {"color": "#123456"}),
            ("disconnect", f"/connections/{family}/disconnect", {}),
        ):
            started = time.monotonic()
            response = browser.post(path, data={**data, "csrf_token": token})
            timings[name] = time.monotonic() - started
            assert response.status_code in (200, 302, 303), (name, response.status_code)
        assert sync.is_alive()  # the page is still on its way
    finally:
        sync.join(timeout=120)
        faults.calm()
    assert all(seconds < 1 for seconds in timings.values()), timings
    assert outcome.get("created") == 2
    with app.app_context():
        work_row = db.session.get(CalendarConnection, work)
        assert (work_row.is_visible, work_row.calendar_color, work_row.sync_failures) == (False, "#123456", 0)
        assert db.session.get(CalendarConnection, family).deleted_at is not None
