"""The jobs as RQ runs them: queued by the connect flow and run by a real worker; a worker SIGKILLed mid-sync."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from tests.factories import PASSWORD, make_user, new_google_account
from tests.helpers import authorize, csrf_token_from, google_timed, soon, start_connect, wait_for
from webapp.config import PROJECT_ROOT
from webapp.extensions import db
from webapp.locks import running_syncs
from webapp.models import CalendarConnection, CalendarEvent


def test_connect_queues_the_first_sync_and_a_worker_runs_it(app, google, redis, monkeypatch, db_session):
    import jobs.sync

    connection, calendar_id, state = google
    connection_id = connection.id
    state.add_event(calendar_id, google_timed("From the worker", soon()))
    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
    queue = Queue("sync", connection=redis)
    (job,) = queue.jobs  # the account's calendars in one job
    assert job.func_name == "jobs.sync.sync_calendars" and job.args == ([str(connection_id)],)
    SimpleWorker([queue], connection=redis).work(burst=True)
    titles = db_session.scalars(select(CalendarEvent.title).where(
        CalendarEvent.calendar_connection_id == connection_id)).all()
    assert titles == ["From the worker"]


KILLER = textwrap.dedent("""
    import os, signal, sys
    import webapp.sync.pull as pull

    real_store = pull.store_page
    pages = []

    def store_then_die(*args, **kwargs):
        pages.append(1)
        if len(pages) == 3:  # two pages already stored, each in its own short transaction; the third fetched
            os.kill(os.getpid(), signal.SIGKILL)
        return real_store(*args, **kwargs)

    pull.store_page = store_then_die
    import jobs.sync
    jobs.sync.sync_connection(sys.argv[1])
""")


def worker_environment(app, provider_servers) -> dict:
    google = provider_servers.settings()["google"]
    return {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"], "TOKEN_ENCRYPTION_KEYS": app.config["TOKEN_ENCRYPTION_KEYS"],
        "GOOGLE_CLIENT_ID": google["client_id"], "GOOGLE_CLIENT_SECRET": google["client_secret"],
        "GOOGLE_AUTH_URL": google["auth_url"], "GOOGLE_TOKEN_URL": google["token_url"],
        "GOOGLE_REVOKE_URL": google["revoke_url"], "GOOGLE_CALENDAR_API_URL": google["api_url"],
        "GOOGLE_USERINFO_URL": google["userinfo_url"], "LOG_LEVEL": "WARNING",
    }


def test_worker_killed_mid_sync_loses_and_duplicates_nothing(app, provider_servers, clean_database, redis,
                                                            monkeypatch):
    import jobs.sync

    browser = app.test_client()
    with app.app_context():
        make_user(db.session, email="crash@example.com")
    token = csrf_token_from(browser.get("/login").get_data(as_text=True))
    browser.post("/login", data={"email": "crash@example.com", "password": PASSWORD, "csrf_token": token})
    email = new_google_account(provider_servers, calendars=(("Work", "#4285f4", True),))
    browser.get(authorize(start_connect(browser), email))
    state = provider_servers.google_state
    for index in range(7):
        state.add_event(email, google_timed(f"Event {index}", soon(days=index + 1)))
    state.set_page_size(2)
    with app.app_context():
        connection_id = db.session.scalars(select(CalendarConnection.id)).one()
    try:
        killed = subprocess.run([sys.executable, "-c", KILLER, str(connection_id)], cwd=PROJECT_ROOT,
                                env=worker_environment(app, provider_servers), capture_output=True, timeout=60)
        assert killed.returncode == -9, killed.stderr.decode()[-2000:]
        with app.app_context():
            # The two stored pages stay; the cursor (committed only with the last page) does not move.
            assert db.session.scalar(select(func.count()).select_from(CalendarEvent)) == 4
            assert db.session.get(CalendarConnection, connection_id).sync_token is None
            # The dead worker's lock goes with its database connection, as soon as PostgreSQL sees it closed
            # (a moment on a busy machine): no stale lock to expire.
            wait_for(lambda: not running_syncs(db.session, [connection_id]), 5, "the dead worker's lock released")

        monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
        assert jobs.sync.sync_connection(str(connection_id))["created"] == 3
        assert jobs.sync.sync_connection(str(connection_id))["created"] == 0
        with app.app_context():
            titles = db.session.scalars(select(CalendarEvent.title).order_by(CalendarEvent.title)).all()
        assert titles == [f"Event {index}" for index in range(7)]
    finally:
        state.set_page_size(None)
